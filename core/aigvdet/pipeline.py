"""AIGVDet on a video stream: RGB branch on every frame, flow branch on every consecutive pair, fused.

One pass over the video, chunk by chunk, nothing on disk unless asked: a chunk of frames goes to the
device once and feeds both the RGB classifier and RAFT; the flows become classifier images in memory
(the same pixels the reference's PNG round trip produces, see ``core.flow.visualize``). Memory is
bounded by the chunk size, whatever the video's length.

Long videos: a time segment, or N evenly spaced consecutive pairs (the RGB branch on each pair's first
frame, the flow branch on the pair), read by seeking (``core.aigvdet.sampling``, ``core.media.seek``).
Every probability carries the decoder's timestamp of its frame (a pair: of its first frame).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.aigvdet.budget import BudgetPlan, estimate_message, plan_budget
from core.aigvdet.classifier import classify_images
from core.aigvdet.data.layout import FrameFlowWriter
from core.aigvdet.illustrations import suspicious_frames
from core.aigvdet.preprocess import CROP_SIZE, crop_region
from core.aigvdet.sampling import FramePlan, pairs_of, plan_frames
from core.aigvdet.scoring import FusedScore, fused_per_frame, verdict
from core.errors import InputError, SettingsError
from core.flow.classical import ClassicalFlow
from core.flow.extractor import FlowExtractor, frames_to_tensor
from core.flow.raft import frame_size_problem
from core.flow.visualize import flow_to_classifier_rgb
from core.forensics.evidence import Evidence, ScoreKind, TimeSeries, VideoFacts
from core.media.in_memory import VideoSource
from core.media.integrity import frame_shortfall
from core.media.read_ahead import ReadAhead
from core.media.seek import index_frames, read_frames_at
from core.media.video import VideoReader, chunked
from core.runs.progress import progress_bar

log = logging.getLogger(__name__)


@dataclass
class VideoResult(FusedScore):
    """Per-frame probabilities of both branches for one video, and the video's properties.

    ``time_s[i]`` is the decoder's time of the frame of ``rgb_probs[i]``, ``pair_time_s[j]`` that of the first
    frame of the pair of ``flow_probs[j]``. ``analysis`` says what was analysed when it was not every frame.
    """

    path: str
    fps: float
    width: int
    height: int
    rgb_probs: list[float] = field(default_factory=list)
    flow_probs: list[float] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)
    pair_time_s: list[float] = field(default_factory=list)
    analysis: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # e.g. a truncated file (``core.media.integrity``)

    @property
    def frame_count(self) -> int:
        return len(self.rgb_probs)

    @property
    def fused_probs(self) -> np.ndarray:
        """Per analysed frame: 0.5 x its RGB probability + 0.5 x its pair's (``scoring.fused_per_frame``)."""
        return fused_per_frame(self.rgb_probs, self.flow_probs)

    def report(self, threshold: float) -> dict:
        """The JSON report of demo.py."""
        return (
            {
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
            | ({"analysis": self.analysis} if self.analysis else {})
            | ({"warnings": self.warnings} if self.warnings else {})
        )


@contextmanager
def _pairs_advance(flows: FlowExtractor | ClassicalFlow, bar: tqdm) -> Iterator[None]:
    """Move ``bar`` by one frame per RAFT pair refined (a chunk of large frames takes minutes on a CPU)."""
    if not isinstance(flows, FlowExtractor):
        yield
        return
    flows.on_pairs = bar.update
    try:
        yield
    finally:
        flows.on_pairs = None


class AIGVDetPipeline:
    """Score videos with AIGVDet's two branches.

    Args:
        rgb_model: the spatial (RGB frame) classifier, eval mode.
        flow_model: the optical-flow classifier, eval mode.
        flow_extractor: RAFT wrapped for consecutive pairs (or a weight-free ``ClassicalFlow``); its device
            is the pipeline's device.
        normalize: ImageNet normalisation of classifier inputs (the reference's ``--aug_norm``).
        batch_size: frames per chunk (classifier batch and RAFT pairs).
        classifier_dtype: autocast dtype for the ResNets (None: float32, the reference's numbers).
        channels_last: channels-last memory format for the ResNets (faster convolutions; RAFT has its own).
        flow_image_workers: threads turning flows into colour images (NumPy releases the GIL).
        crop_size: side of the classifiers' centre crop (448 for the official weights).
        threshold: the fused probability from which a video is called fake (the reference's 0.5).
        illustrate: ``analyse_video`` adds the most and least suspicious frames and their flow images to the
            evidence (``core.aigvdet.illustrations``: two frame pairs read and computed again).
        sample_pairs: ``analyse_video`` (the interface: reports, batch scoring) analyses that many evenly spaced
            consecutive pairs of each video instead of every frame (None: every frame; see ``score_video``).
        time_budget_s: on a CPU with RAFT, ``analyse_video`` analyses as many evenly spaced pairs as fit this many
            seconds when every pair would not (``core.aigvdet.budget``; None: every pair). ``sample_pairs`` wins.
        pairs_column: batch tables get a ``pairs`` column ("analysed/total", ``table_fields``).
    """

    name: ClassVar[str] = "aigvdet"
    score_kind: ClassVar[ScoreKind] = ScoreKind.PROBABILITY
    # Extra frame pairs ``illustrate`` computes (the most and least suspicious), counted in the time budget.
    ILLUSTRATION_PAIRS: ClassVar[int] = 2

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
        illustrate: bool = False,
        sample_pairs: int | None = None,
        time_budget_s: float | None = None,
        pairs_column: bool = False,
    ) -> None:
        if sample_pairs is not None and sample_pairs < 1:
            raise SettingsError(f"the number of sampled frame pairs must be at least 1, got {sample_pairs}")
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
        self.illustrate = illustrate
        self.sample_pairs = sample_pairs
        self.time_budget_s = time_budget_s
        self.table_fields: tuple[str, ...] = ("pairs",) if pairs_column else ()

    def classify(self, model: nn.Module, images: torch.Tensor) -> list[float]:
        """Sigmoid probabilities of uint8 (N, 3, H, W) images."""
        return classify_images(model, images, self.normalize, self.classifier_dtype, self.channels_last, self.crop_size)

    def classify_flows(
        self, flows: torch.Tensor, pool: ThreadPoolExecutor, whole_images: bool = False
    ) -> tuple[list[float], list[np.ndarray]]:
        """Flow-branch probabilities of padded flows (M, 2, H, W), and the colour images they were computed on."""
        flows_hwc = flows.permute(0, 2, 3, 1).float().cpu().numpy()
        # Unless the images are written out, colour only the part the classifier's crop keeps.
        region = None if whole_images else crop_region(*flows_hwc.shape[1:3], self.crop_size)
        flow_images = list(pool.map(partial(flow_to_classifier_rgb, region=region), flows_hwc))
        probs = self.classify(self.flow_model, torch.from_numpy(np.stack(flow_images)).permute(0, 3, 1, 2))
        return probs, flow_images

    def score_pairs(
        self, pairs: Iterable[tuple[float, np.ndarray, np.ndarray]], result: VideoResult, total: int | None = None
    ) -> VideoResult:
        """Fill ``result`` from separate frame pairs ``(time_s, first, second)``: the RGB branch on each first
        frame, the flow branch on each pair's flow; both probabilities of a pair get its first frame's time."""
        with (
            ReadAhead(pairs, depth=self.batch_size) as ahead,  # the next pairs decode while these are scored
            ThreadPoolExecutor(self.flow_image_workers) as pool,
            progress_bar(total, Path(result.path).name, unit="pair") as bar,
        ):
            for chunk in chunked(ahead, self.batch_size):
                result.rgb_probs += self.classify(self.rgb_model, frames_to_tensor([p[1] for p in chunk], self.device))
                flows = []
                for _, first, second in chunk:
                    self.flows.reset()  # pairs are not consecutive: no frame carries over
                    flows.append(self.flows.push(frames_to_tensor([first, second], self.device)))
                result.flow_probs += self.classify_flows(torch.cat(flows), pool)[0]
                times = [p[0] for p in chunk]
                result.time_s += times
                result.pair_time_s += times
                bar.update(len(chunk))
        self.flows.reset()
        return result

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
            ReadAhead(frames, depth=self.batch_size) as ahead,  # the next chunk decodes while this one is scored
            ThreadPoolExecutor(self.flow_image_workers) as pool,
            progress_bar(total, Path(result.path).name) as bar,
            _pairs_advance(self.flows, bar),
        ):
            for chunk in chunked(ahead, self.batch_size):
                first_index = result.frame_count
                images = frames_to_tensor(chunk, self.device)
                result.rgb_probs += self.classify(self.rgb_model, images)
                flows = self.flows.push(images)
                if len(flows):
                    first_pair = len(result.flow_probs)
                    probs, flow_images = self.classify_flows(flows, pool, whole_images=writer.writes_flows)
                    result.flow_probs += probs
                    # The pair (t, t+1) is named after frame t.
                    writer.write_flows(first_pair, flow_images)
                writer.write_frames(first_index, chunk)
                bar.update(result.frame_count - bar.n)  # the frames whose pairs moved it, and the rest of the chunk
        return result

    def _check_size(self, path: str | os.PathLike, width: int, height: int) -> None:
        problem = frame_size_problem(width, height) if isinstance(self.flows, FlowExtractor) else None
        if problem:
            raise InputError(f"{path} is {width}x{height}: {problem} (the reference produces NaN flow below that)")

    def score_video(
        self,
        path: VideoSource,
        rgb_dir: str | os.PathLike | None = None,
        flow_dir: str | os.PathLike | None = None,
        backend: str = "auto",
        start_s: float | None = None,
        end_s: float | None = None,
        sample_pairs: int | None = None,
    ) -> VideoResult:
        """Decode ``path`` and score it; raises InputError for unusable videos.

        By default every frame, decoded as one stream. ``start_s``/``end_s`` keep the frames shown in that
        segment; ``sample_pairs`` analyses that many evenly spaced consecutive pairs (see ``sampling``); both
        read by seeking. Frame and flow folders can be written for whole videos and segments, not samples.
        """
        if start_s is not None or end_s is not None or sample_pairs is not None:
            return self._score_plan(path, rgb_dir, flow_dir, backend, start_s, end_s, sample_pairs)
        with VideoReader(path, backend) as video:
            info = video.info
            self._check_size(path, info.width, info.height)
            result = VideoResult(str(path), info.fps, info.width, info.height)
            self.score_frames(video, result, rgb_dir, flow_dir, total=info.frame_count)
            result.time_s = video.timestamps[: result.frame_count]
            result.pair_time_s = result.time_s[: len(result.flow_probs)]
        if result.frame_count < 2:
            raise InputError(
                f"{path} has {result.frame_count} decodable frame(s); AIGVDet needs at least 2 for optical flow"
            )
        shortfall = frame_shortfall(path, result.frame_count)
        if shortfall:
            result.warnings.append(shortfall)
        return result

    def _score_plan(
        self,
        path: VideoSource,
        rgb_dir: str | os.PathLike | None,
        flow_dir: str | os.PathLike | None,
        backend: str,
        start_s: float | None,
        end_s: float | None,
        sample_pairs: int | None,
    ) -> VideoResult:
        index = index_frames(path)
        self._check_size(path, index.width, index.height)
        plan: FramePlan = plan_frames(index, start_s, end_s, sample_pairs)
        if plan.sampled and (rgb_dir or flow_dir):
            raise InputError("frame and flow folders are written for whole videos or segments, not sampled pairs")
        result = VideoResult(str(path), index.fps, index.width, index.height, analysis=plan.describe())
        shortfall = frame_shortfall(path, len(index))  # the index holds the frames whose data is there
        if shortfall:
            result.warnings.append(shortfall)
        frames = read_frames_at(index, plan.frames, "opencv" if backend == "opencv" else "pyav")
        if plan.sampled:
            self.score_pairs(pairs_of(frames, plan.pair_starts), result, total=len(plan.pair_starts))
        else:
            times: list[float] = []
            stream = (times.append(time_s) or frame for _, time_s, frame in frames)
            self.score_frames(stream, result, rgb_dir, flow_dir, total=len(plan.frames))
            result.time_s, result.pair_time_s = times, times[: len(result.flow_probs)]
        log.info("%s: analysed %d of %d frames", path, len(plan.frames), plan.video_frames)
        return result

    def analyse_video(
        self,
        path: VideoSource,
        *,
        start_s: float | None = None,
        end_s: float | None = None,
        sample_pairs: int | None = None,
    ) -> Evidence:
        """The detector interface (``core.forensics``): the fused score and both branches' per-time probabilities,
        timed by the decoder's timestamps (a flow pair by its first frame). Options as ``score_video``;
        ``sample_pairs`` defaults to the pipeline's."""
        sample_pairs = self.sample_pairs if sample_pairs is None else sample_pairs
        budget = None
        if sample_pairs is None and start_s is None and end_s is None:
            budget = self.budget_plan(path)
            sample_pairs = budget.sample_pairs if budget is not None else None
        result = self.score_video(path, start_s=start_s, end_s=end_s, sample_pairs=sample_pairs)
        if budget is not None and budget.sampled:
            result.analysis["budget"] = budget.record()
            result.analysis["sampling"] = budget.describe()
        evidence = evidence_of(result, self.threshold)
        if self.table_fields:
            total = result.analysis.get("video_frames", result.frame_count) - 1
            evidence.details["pairs"] = f"{len(result.flow_probs)}/{total}"
        if self.illustrate:
            evidence.illustrations = suspicious_frames(self, result, path)
        return evidence

    def budget_plan(self, path: VideoSource) -> BudgetPlan | None:
        """The plan of ``time_budget_s`` for ``path`` (None: no budget applies, or the video cannot be indexed,
        which the analysis then reports as usual). Logs the estimate when the work is long or is cut down."""
        if not self.time_budget_s or self.device.type != "cpu" or not isinstance(self.flows, FlowExtractor):
            return None
        try:
            index = index_frames(path)
        except InputError:
            return None
        extra = self.ILLUSTRATION_PAIRS if self.illustrate else 0
        plan = plan_budget(len(index), index.width, index.height, "cpu", self.time_budget_s, extra)
        duration_s = len(index) / index.fps if index.fps > 0 else float(index.time_s[-1])
        message = estimate_message(plan, duration_s, index.width, index.height)
        log.log(logging.INFO if plan.sampled or (plan.all_s or 0) >= 60 else logging.DEBUG, "%s: %s", path, message)
        return plan


def any_sampled(paths: Iterable[VideoSource], time_budget_s: float, extra_pairs: int = 0) -> bool:
    """Whether a CPU ``time_budget_s`` would sample any of ``paths`` (a batch decides its table's columns before
    it starts; videos that cannot be indexed count as not sampled, their analysis says why)."""
    for path in paths:
        try:
            index = index_frames(path)
        except InputError:
            continue
        if plan_budget(len(index), index.width, index.height, "cpu", time_budget_s, extra_pairs).sampled:
            return True
    return False


def evidence_of(result: VideoResult, threshold: float) -> Evidence:
    """The interface's view of one scored video (``fused``: see ``scoring.fused_per_frame``)."""
    warnings = []
    if len(result.time_s) == result.frame_count:
        frame_s, pair_s = np.asarray(result.time_s, dtype=np.float64), np.asarray(result.pair_time_s, np.float64)
    else:  # a result filled without timestamps: index over the frame rate
        frame_s = np.arange(result.frame_count, dtype=np.float64) / (result.fps if result.fps > 0 else 1.0)
        pair_s = frame_s[: len(result.flow_probs)]
        if result.fps <= 0:
            warnings.append("no timestamps and no frame rate: times are frame indices")
    return Evidence(
        detector=AIGVDetPipeline.name,
        score=result.predict,
        score_kind=AIGVDetPipeline.score_kind,
        facts=VideoFacts(result.path, result.width, result.height, result.fps, result.frame_count),
        series={
            "rgb": TimeSeries(frame_s, np.asarray(result.rgb_probs), "RGB-branch fake probability per frame"),
            "flow": TimeSeries(
                pair_s, np.asarray(result.flow_probs), "flow-branch fake probability per consecutive pair (t, t+1)"
            ),
            "fused": TimeSeries(
                frame_s,
                result.fused_probs,
                "fused fake probability per frame: 0.5 x RGB + 0.5 x the pair starting at it",
            ),
        },
        threshold=threshold,
        details={"rgb_prob": result.rgb_prob, "flow_prob": result.flow_prob}
        | ({"analysis": result.analysis} if result.analysis else {}),
        warnings=warnings + result.warnings,
    )
