"""Pictures of AIGVDet's evidence for a report: the most and the least suspicious frame, each with its flow image.

"Suspicious" is the fused per-frame probability (``scoring.fused_per_frame``). The scored frames are not kept in
memory while a video is scored, so the chosen frames are read again afterwards by seeking (PyAV,
``core.media.seek``) and their pair's flow is computed again: two frame pairs' work, whatever the video's length.
A frame's flow is the one its fused value used: the pair starting at it (the last frame: the pair ending at it).
The flow is drawn with the Middlebury colour wheel (hue: direction, saturation: speed relative to the
field's fastest motion) without the channel reversal the classifier sees, and without RAFT's padding.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from core.flow.extractor import frames_to_tensor
from core.flow.padding import sintel_padding
from core.flow.visualize import flow_to_image
from core.forensics.evidence import Illustration
from core.media.in_memory import VideoSource
from core.media.seek import FrameIndex, index_frames, read_frames_at

if TYPE_CHECKING:  # the pipeline imports this module
    from core.aigvdet.pipeline import AIGVDetPipeline, VideoResult

log = logging.getLogger(__name__)

CHOICES = (("most suspicious frame", np.nanargmax), ("least suspicious frame", np.nanargmin))


def _frame_at(index: FrameIndex, time_s: float) -> int | None:
    """The index of the frame shown at ``time_s`` (within the index's tolerance), or None."""
    position = int(np.argmin(np.abs(index.time_s - time_s)))
    return position if abs(index.time_s[position] - time_s) <= index.time_tolerance_s else None


def flow_picture(pipeline: AIGVDetPipeline, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The colour-wheel image of the flow from ``first`` to ``second`` (RGB uint8), at the frames' size."""
    pipeline.flows.reset()
    flow = pipeline.flows.push(frames_to_tensor([first, second], pipeline.device))[0]
    pipeline.flows.reset()
    height, width = first.shape[:2]
    left, _, top, _ = sintel_padding(height, width)
    field = flow.permute(1, 2, 0).float().cpu().numpy()[top : top + height, left : left + width]
    return flow_to_image(np.ascontiguousarray(field))


def suspicious_frames(
    pipeline: AIGVDetPipeline, result: VideoResult, source: VideoSource | None = None
) -> list[Illustration]:
    """Illustrations of the frames with the highest and lowest fused probability, and their pairs' flows, read
    again from ``source`` (default: the result's path; pass the in-memory video a perturbed result came from).

    Returns an empty list (with a log line) when the frames cannot be found again by their timestamps.
    """
    fused = result.fused_probs
    if fused.size == 0 or not result.flow_probs or len(result.time_s) != result.frame_count:
        return []
    picks: list[tuple[str, int]] = []
    for group, choose in CHOICES:
        frame = int(choose(fused))
        if all(frame != chosen for _, chosen in picks):
            picks.append((group, frame))
    index = index_frames(result.path if source is None else source)
    wanted: dict[str, tuple[int, int, int]] = {}  # group -> (frame, pair's first frame, pair's second frame)
    for group, frame in picks:
        pair = min(frame, len(result.flow_probs) - 1)
        shown, first = _frame_at(index, result.time_s[frame]), _frame_at(index, result.pair_time_s[pair])
        if shown is None or first is None or first + 1 >= len(index):
            log.warning("%s: the %s cannot be found again by its time: not illustrated", result.path, group)
            continue
        wanted[group] = (shown, first, first + 1)
    needed = sorted({number for frames in wanted.values() for number in frames})
    images = {number: image for number, _, image in read_frames_at(index, needed, "pyav")}
    illustrations = []
    for group, frame in picks:
        if group not in wanted:
            continue
        shown, first, second = wanted[group]
        pair = min(frame, len(result.flow_probs) - 1)
        caption = f"fused {fused[frame]:.3f} (RGB {result.rgb_probs[frame]:.3f}, flow {result.flow_probs[pair]:.3f})"
        illustrations.append(Illustration("frame", result.time_s[frame], images[shown], group, caption))
        illustrations.append(
            Illustration(
                "optical flow",
                result.pair_time_s[pair],
                flow_picture(pipeline, images[first], images[second]),
                group,
                f"flow from {result.pair_time_s[pair]:.2f} s to the next frame",
            )
        )
    return illustrations
