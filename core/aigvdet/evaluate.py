"""AIGVDet on a frame/flow dataset: per-frame and per-video probabilities (the summary: ``core.metrics``).

Same numbers as the reference ``test.py`` (per-video means of sigmoid probabilities over the sorted
image files of each folder, fused 0.5/0.5, ``predict >= threshold`` is fake), computed with batched,
multi-worker loading. Folders the reference would crash on are skipped with a recorded reason.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from core.aigvdet.classifier import classify_images
from core.aigvdet.data.layout import CLASS_FOLDERS, VideoFolders, list_images
from core.aigvdet.images import ImageCropDataset
from core.aigvdet.preprocess import CROP_SIZE
from core.aigvdet.scoring import FusedScore

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


def classify_files(
    model: nn.Module,
    paths: list[str],
    batch_size: int = 32,
    num_workers: int = 4,
    desc: str = "images",
    crop_size: int = CROP_SIZE,
    **classify_options,
) -> list[float]:
    """Probabilities of image files, in order, loaded by a DataLoader and classified in batches; NaN for
    a file that cannot be read."""
    if not paths:
        return []
    device = next(model.parameters()).device
    loader = DataLoader(
        ImageCropDataset(paths, crop_size),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    probs = [math.nan] * len(paths)
    with tqdm(total=len(paths), unit="img", desc=desc, disable=None) as bar:
        for crops, indices, readable in loader:
            for index, ok, prob in zip(
                indices, readable, classify_images(model, crops, crop_size=crop_size, **classify_options)
            ):
                probs[index] = prob if ok else math.nan
            bar.update(len(indices))
    return probs


def evaluate_videos(
    videos: list[VideoEvaluation],
    rgb_model: nn.Module,
    flow_model: nn.Module,
    batch_size: int = 32,
    num_workers: int = 4,
    **classify_options,
) -> tuple[list[VideoEvaluation], list[SkippedVideo]]:
    """Fill each video's per-frame probabilities of both branches (all files of a branch in one stream).

    Returns the scored videos and those skipped because one of their images could not be read.
    """
    # Each branch's files of all videos go through one loader stream; the probabilities are then dealt back.
    rgb_probs = iter(
        classify_files(
            rgb_model,
            [p for v in videos for p in v.rgb_paths],
            batch_size,
            num_workers,
            desc="RGB images",
            **classify_options,
        )
    )
    flow_probs = iter(
        classify_files(
            flow_model,
            [p for v in videos for p in v.flow_paths],
            batch_size,
            num_workers,
            desc="flow images",
            **classify_options,
        )
    )
    for video in videos:
        video.rgb_probs = [next(rgb_probs) for _ in video.rgb_paths]
        video.flow_probs = [next(flow_probs) for _ in video.flow_paths]
    scored, skipped = [], []
    for video in videos:
        unreadable = [
            path
            for path, prob in zip(video.rgb_paths + video.flow_paths, video.rgb_probs + video.flow_probs)
            if math.isnan(prob)
        ]
        if unreadable:
            reason = f"unreadable image(s): {', '.join(unreadable[:3])}{' ...' if len(unreadable) > 3 else ''}"
            log.warning("skipping %s/%s: %s", CLASS_FOLDERS[video.label], video.name, reason)
            skipped.append(SkippedVideo(video.name, video.label, reason))
        else:
            scored.append(video)
    return scored, skipped
