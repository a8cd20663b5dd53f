"""The audio-visual detector's command-line options, defined once, and the detector built from them.

``detect.py``, ``score.py`` and ``report.py`` add these options with :func:`add_avforensics_arguments` and build
the detector with :func:`detector_from_args`: the same flags (the authors' ``--max-len``, ``--lam`` and checkpoint
paths, and ours) mean the same everywhere. Whole-video settings are checked by
:class:`core.avforensics.whole_video.WholeVideoSettings` (one ``error:`` line in a script).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import torch

from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths
from core.avforensics.runner import RunSettings
from core.avforensics.whole_video import WholeVideoSettings
from core.media.faces.clip import FACE_CROPS

# The flag that names each checkpoint role, for messages about a missing file.
CHECKPOINT_FLAGS = {
    "sync model": "--sync_model_path",
    "offset-distribution model": "--dist_model_path",
    "audio-visual-feature model": "--avfeature_model_path",
    "PCA": "--pca_path",
}


def add_avforensics_arguments(
    parser: argparse.ArgumentParser, whole_video_flag: bool = True
) -> argparse._ArgumentGroup:
    """The checkpoints, scoring, face and whole-video options of the audio-visual detector; returns the group.

    ``whole_video_flag``: offer ``--whole_video`` (a script that always scores whole videos, like report.py, has
    no use for it; its window options stay)."""
    group = parser.add_argument_group("audio-visual detector")
    group.add_argument("--sync_model_path", default="checkpoints/sync_model.pth")
    group.add_argument("--dist_model_path", default="checkpoints/dist_regressive_model.pth")
    group.add_argument("--avfeature_model_path", default="checkpoints/avfeature_regressive_model.pth")
    group.add_argument(
        "--pca_path", default="checkpoints/pca.pkl", help="the authors' pca.pkl, or an .npz of its arrays"
    )
    group.add_argument(
        "--max-len",
        "--max_len",
        dest="max_len",
        type=int,
        default=50,
        help="time steps scored per video, or per window (the official models fit at most 50)",
    )
    group.add_argument(
        "--lam", type=float, default=0.0, help="weight of the audio-visual-feature score added to the offset score"
    )
    group.add_argument(
        "--face_crop",
        choices=FACE_CROPS,
        default="auto",
        help="never: score the whole frame (the authors' input); always: track the faces and score the speaker's "
        "224x224 crop; auto: leave videos that already are face crops whole, crop the others",
    )
    group.add_argument(
        "--all_faces", action="store_true", help="score every face track (one row each), not just the speaker's"
    )
    group.add_argument("--window_batch", type=int, default=8, help="5-frame windows per video-encoder batch")
    if whole_video_flag:
        group.add_argument(
            "--whole_video",
            action="store_true",
            help="score the whole clip in sliding windows of --max-len steps: adds score_max and score_mean, "
            "a 25 Hz anomaly timeline and localised segments",
        )
    group.add_argument(
        "--window_stride",
        type=int,
        default=WholeVideoSettings.stride,
        help="whole video: steps between window starts (25 steps = 1 s)",
    )
    group.add_argument(
        "--min_context",
        type=int,
        default=WholeVideoSettings.min_context,
        help="whole video: steps of context a window must give a step to count in its timeline value",
    )
    group.add_argument(
        "--segment_threshold",
        type=float,
        default=None,
        help="whole video: anomaly level above which the timeline is a segment (default: median + 2.5 x 1.4826 "
        "x MAD of each video's own timeline, smoothed over 0.52 s)",
    )
    return group


def avforensics_checkpoints(args: argparse.Namespace) -> CheckpointPaths:
    return CheckpointPaths(args.sync_model_path, args.dist_model_path, args.avfeature_model_path, args.pca_path)


def whole_video_of(args: argparse.Namespace, whole_video: bool | None = None) -> WholeVideoSettings | None:
    """The whole-video settings the options ask for (``whole_video`` overrides ``--whole_video``), or None."""
    wanted = getattr(args, "whole_video", False) if whole_video is None else whole_video
    if not wanted:
        return None
    return WholeVideoSettings(args.window_stride, args.min_context, args.segment_threshold)


def detector_from_args(
    args: argparse.Namespace,
    device: torch.device,
    progress: bool = False,
    illustrate: bool = False,
    whole_video: bool | None = None,
    time_budget_s: float | None = None,
) -> AVForensicsDetector:
    """The detector of :func:`add_avforensics_arguments`' options (``time_budget_s``: see the detector)."""
    return AVForensicsDetector.from_checkpoints(
        avforensics_checkpoints(args),
        lam=args.lam,
        max_len=args.max_len,
        device=device,
        window_batch=args.window_batch,
        progress=progress,
        face_crop=args.face_crop,
        whole_video=whole_video_of(args, whole_video),
        illustrate=illustrate,
        time_budget_s=time_budget_s,
    )


def run_settings_from_args(args: argparse.Namespace, **settings: Any) -> RunSettings:
    """detect.py's run settings: each :class:`RunSettings` field from the option of the same name (the output
    folder as a path, the whole-video settings of :func:`whole_video_of`), then ``settings``."""
    named = {field.name: getattr(args, field.name) for field in dataclasses.fields(RunSettings) if field.name in args}
    named.update(output_dir=Path(args.output_dir), whole_video=whole_video_of(args))
    return RunSettings(**{**named, **settings})
