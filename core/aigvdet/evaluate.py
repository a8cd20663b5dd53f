"""AIGVDet on a frame/flow dataset: per-frame and per-video probabilities (the summary: ``core.metrics``).

Same numbers as the reference ``test.py`` (per-video means of sigmoid probabilities over the sorted
image files of each folder, fused 0.5/0.5, ``predict >= threshold`` is fake), computed with batched,
multi-worker loading. Folders the reference would crash on are skipped with a recorded reason.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from core.aigvdet.classifier import classify_images
from core.aigvdet.data.layout import CLASS_FOLDERS, VideoFolders, list_images
from core.aigvdet.images import ImageCropDataset
from core.aigvdet.preprocess import CROP_SIZE
from core.aigvdet.scoring import FusedScore
from core.runs.progress import progress_bar

log = logging.getLogger(__name__)


@dataclass
class VideoEvaluation(FusedScore):
    name: str
    label: int
    rgb_paths: list[str]
    flow_paths: list[str]
    rgb_probs: list[float] = field(default_factory=list)
    flow_probs: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class SkippedVideo:
    name: str
    label: int
    reason: str


def collect_videos(videos: list[VideoFolders]) -> tuple[list[VideoEvaluation], list[SkippedVideo]]:
    """List each video's image files; videos that cannot be scored are returned apart with the reason."""
    usable, skipped = [], []
    for video in videos:
        frames = list_images(video.rgb_dir)
        flows = list_images(video.flow_dir) if video.flow_dir.is_dir() else []
        reason = None
        if not frames:
            reason = f"no RGB frames (*.jpg, *.png, *.JPEG) in {video.rgb_dir}"
        elif not video.flow_dir.is_dir():
            reason = f"optical-flow folder missing: {video.flow_dir}"
        elif not flows:
            reason = f"no optical-flow images in {video.flow_dir}"
        if reason:
            log.warning("skipping %s/%s: %s", CLASS_FOLDERS[video.label], video.name, reason)
            skipped.append(SkippedVideo(video.name, video.label, reason))
        else:
            usable.append(VideoEvaluation(video.name, video.label, frames, flows))
    return usable, skipped


def _collate(batch):
    crops, indices, readable = zip(*batch)
    return torch.stack(crops), list(indices), list(readable)


def _probabilities(
    model: nn.Module,
    paths: list[str],
    batch_size: int,
    num_workers: int,
    crop_size: int = CROP_SIZE,
    bar: tqdm | None = None,
    **classify_options,
) -> Iterator[float]:
    """Probabilities of image files, in order (NaN for a file that cannot be read), batch by batch as consumed."""
    if not paths:
        return
    device = next(model.parameters()).device
    loader = DataLoader(
        ImageCropDataset(paths, crop_size),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    for crops, indices, readable in loader:  # batches come in order: the sampler is sequential
        for ok, prob in zip(readable, classify_images(model, crops, crop_size=crop_size, **classify_options)):
            yield prob if ok else math.nan
        if bar is not None:
            bar.update(len(indices))


def _unreadable(video: VideoEvaluation) -> SkippedVideo | None:
    unreadable = [
        path
        for path, prob in zip(video.rgb_paths + video.flow_paths, video.rgb_probs + video.flow_probs)
        if math.isnan(prob)
    ]
    if not unreadable:
        return None
    reason = f"unreadable image(s): {', '.join(unreadable[:3])}{' ...' if len(unreadable) > 3 else ''}"
    log.warning("skipping %s/%s: %s", CLASS_FOLDERS[video.label], video.name, reason)
    return SkippedVideo(video.name, video.label, reason)


def iter_evaluations(
    videos: list[VideoEvaluation],
    rgb_model: nn.Module,
    flow_model: nn.Module,
    batch_size: int = 32,
    num_workers: int = 4,
    **classify_options,
) -> Iterator[tuple[VideoEvaluation, SkippedVideo | None]]:
    """Each video as soon as both branches' probabilities of all its images are in: ``(video, None)``, or
    ``(video, why it is skipped)`` when one of its images could not be read.

    Each branch's files of all videos go through one loader stream (the batches are those of one stream per
    branch, whatever the videos); the two streams run side by side, sharing ``num_workers``.
    """
    rgb_paths = [p for v in videos for p in v.rgb_paths]
    flow_paths = [p for v in videos for p in v.flow_paths]
    with progress_bar(len(rgb_paths) + len(flow_paths), "images", "img", leave=True) as bar:
        options = dict(batch_size=batch_size, bar=bar, **classify_options)
        rgb = _probabilities(rgb_model, rgb_paths, num_workers=(num_workers + 1) // 2, **options)
        flow = _probabilities(flow_model, flow_paths, num_workers=num_workers // 2, **options)
        for video in videos:
            video.rgb_probs = [next(rgb) for _ in video.rgb_paths]
            video.flow_probs = [next(flow) for _ in video.flow_paths]
            yield video, _unreadable(video)


def evaluate_videos(
    videos: list[VideoEvaluation], rgb_model: nn.Module, flow_model: nn.Module, **options
) -> tuple[list[VideoEvaluation], list[SkippedVideo]]:
    """Fill each video's per-frame probabilities of both branches (``options``: those of ``iter_evaluations``).

    Returns the scored videos and those skipped because one of their images could not be read.
    """
    scored, skipped = [], []
    for video, skip in iter_evaluations(videos, rgb_model, flow_model, **options):
        if skip is None:
            scored.append(video)
        else:
            skipped.append(skip)
    return scored, skipped
