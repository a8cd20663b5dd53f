"""AIGVDet on a video stream: RGB branch on every frame, flow branch on every consecutive pair, fused.

One pass over the video, chunk by chunk, nothing on disk unless asked: a chunk of frames goes to the
device once and feeds both the RGB classifier and RAFT; the flows become classifier images in memory
(the same pixels the reference's PNG round trip produces, see ``core.flow.visualize``). Memory is
bounded by the chunk size, whatever the video's length.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar, Iterable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.aigvdet.classifier import classify_images
from core.aigvdet.data.layout import FrameFlowWriter
from core.aigvdet.preprocess import CROP_SIZE, crop_region
from core.aigvdet.scoring import FusedScore, verdict
from core.errors import InputError
from core.flow.classical import ClassicalFlow
from core.flow.extractor import FlowExtractor, frames_to_tensor
from core.flow.raft import min_frame_side
from core.flow.visualize import flow_to_classifier_rgb
from core.forensics.evidence import Evidence, ScoreKind, TimeSeries, VideoFacts
from core.media.video import VideoReader, chunked

log = logging.getLogger(__name__)


@dataclass
class VideoResult(FusedScore):
    """Per-frame probabilities of both branches for one video, and the video's properties."""

    path: str
    fps: float
    width: int
    height: int
    rgb_probs: list[float] = field(default_factory=list)
    flow_probs: list[float] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return len(self.rgb_probs)

    def report(self, threshold: float) -> dict:
        """The JSON report of demo.py."""
        return {
            "path": self.path,
            "frame_count": self.frame_count,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "original_probs": self.rgb_probs,
            "optical_probs": self.flow_probs,
            "original_prob": self.rgb_prob,
            "optical_prob": self.flow_prob,
            "predict": self.predict,
            "threshold": threshold,
            "verdict": verdict(self.predict, threshold),
        }


class AIGVDetPipeline:
    """Score videos with AIGVDet's two branches.

    Args:
        rgb_model: the spatial (RGB frame) classifier, eval mode.
        flow_model: the optical-flow classifier, eval mode.
        flow_extractor: RAFT wrapped for consecutive pairs (or a weight-free ``ClassicalFlow``); its device
            is the pipeline's device.
        normalize: ImageNet normalisation of classifier inputs (the reference's ``--aug_norm``).
        batch_size: frames per chunk (classifier batch and RAFT pairs).
        classifier_dtype: autocast dtype for the ResNets on CUDA (None: float32, the reference's numbers).
        channels_last: channels-last memory format for the ResNets (faster convolutions on GPU).
        flow_image_workers: threads turning flows into colour images (NumPy releases the GIL).
        crop_size: side of the classifiers' centre crop (448 for the official weights).
        threshold: the fused probability from which a video is called fake (the reference's 0.5).
    """

    name: ClassVar[str] = "aigvdet"
    score_kind: ClassVar[ScoreKind] = ScoreKind.PROBABILITY

    def __init__(
        self,
        rgb_model: nn.Module,
        flow_model: nn.Module,
        flow_extractor: FlowExtractor | ClassicalFlow,
        normalize: bool = True,
        batch_size: int = 8,
        classifier_dtype: torch.dtype | None = None,
        channels_last: bool = False,
        flow_image_workers: int = 4,
        crop_size: int = CROP_SIZE,
        threshold: float = 0.5,
    ) -> None:
        self.device = flow_extractor.device
        memory_format = torch.channels_last if channels_last else torch.preserve_format
        self.rgb_model = rgb_model.to(self.device, memory_format=memory_format).eval()
        self.flow_model = flow_model.to(self.device, memory_format=memory_format).eval()
        self.flows = flow_extractor
        self.normalize = normalize
        self.batch_size = batch_size
        self.classifier_dtype = classifier_dtype
        self.channels_last = channels_last
        self.flow_image_workers = flow_image_workers
        self.crop_size = crop_size
        self.threshold = threshold

    def classify(self, model: nn.Module, images: torch.Tensor) -> list[float]:
        """Sigmoid probabilities of uint8 (N, 3, H, W) images."""
        return classify_images(model, images, self.normalize, self.classifier_dtype, self.channels_last, self.crop_size)

    def score_frames(
        self,
        frames: Iterable[np.ndarray],
        result: VideoResult,
        rgb_dir: str | os.PathLike | None = None,
        flow_dir: str | os.PathLike | None = None,
        total: int | None = None,
    ) -> VideoResult:
        """Fill ``result`` with both branches' probabilities for a stream of RGB uint8 frames."""
        writer = FrameFlowWriter(rgb_dir, flow_dir)
        self.flows.reset()
        with (
            ThreadPoolExecutor(self.flow_image_workers) as pool,
            tqdm(total=total or None, unit="frame", desc=Path(result.path).name, leave=False, disable=None) as bar,
        ):
            for chunk in chunked(frames, self.batch_size):
                first_index = result.frame_count
                images = frames_to_tensor(chunk, self.device)
                result.rgb_probs += self.classify(self.rgb_model, images)
                flows = self.flows.push(images)
                if len(flows):
                    first_pair = len(result.flow_probs)
                    flows_hwc = flows.permute(0, 2, 3, 1).float().cpu().numpy()
                    # Unless the images are written out, colour only the part the classifier's crop keeps.
                    region = None if writer.writes_flows else crop_region(*flows_hwc.shape[1:3], self.crop_size)
                    flow_images = list(pool.map(partial(flow_to_classifier_rgb, region=region), flows_hwc))
                    result.flow_probs += self.classify(
                        self.flow_model, torch.from_numpy(np.stack(flow_images)).permute(0, 3, 1, 2)
                    )
                    # The pair (t, t+1) is named after frame t.
                    writer.write_flows(first_pair, flow_images)
                writer.write_frames(first_index, chunk)
                bar.update(len(chunk))
        return result

    def score_video(
        self,
        path: str | os.PathLike,
        rgb_dir: str | os.PathLike | None = None,
        flow_dir: str | os.PathLike | None = None,
        backend: str = "auto",
    ) -> VideoResult:
        """Decode ``path`` as a stream and score it; raises InputError for unusable videos."""
        with VideoReader(path, backend) as video:
            info = video.info
            padded = [side + (-side) % 8 for side in (info.height, info.width)]
            if isinstance(self.flows, FlowExtractor) and min(padded) < min_frame_side():
                raise InputError(
                    f"{path} is {info.width}x{info.height}: RAFT needs both sides of at least "
                    f"{min_frame_side() - 7} pixels (the reference produces NaN flow below that)"
                )
            result = VideoResult(str(path), info.fps, info.width, info.height)
            self.score_frames(video, result, rgb_dir, flow_dir, total=info.frame_count)
        if result.frame_count < 2:
            raise InputError(
                f"{path} has {result.frame_count} decodable frame(s); AIGVDet needs at least 2 for optical flow"
            )
        return result

    def analyse_video(self, path: str | os.PathLike) -> Evidence:
        """The detector interface (``core.forensics``): the fused score and both branches' per-time probabilities.

        A frame's time is its index over the container's frame rate; a flow pair is timed by its first frame.
        """
        return evidence_of(self.score_video(path), self.threshold)


def evidence_of(result: VideoResult, threshold: float) -> Evidence:
    """The interface's view of one scored video."""
    frame_s = np.arange(result.frame_count, dtype=np.float64) / (result.fps if result.fps > 0 else 1.0)
    return Evidence(
        detector=AIGVDetPipeline.name,
        score=result.predict,
        score_kind=AIGVDetPipeline.score_kind,
        facts=VideoFacts(result.path, result.width, result.height, result.fps, result.frame_count),
        series={
            "rgb": TimeSeries(frame_s, np.asarray(result.rgb_probs), "RGB-branch fake probability per frame"),
            "flow": TimeSeries(
                frame_s[:-1],
                np.asarray(result.flow_probs),
                "flow-branch fake probability per consecutive pair (t, t+1)",
            ),
        },
        threshold=threshold,
        details={"rgb_prob": result.rgb_prob, "flow_prob": result.flow_prob},
        warnings=[] if result.fps > 0 else ["the container gives no frame rate: times are frame indices"],
    )
