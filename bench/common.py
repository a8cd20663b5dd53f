"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import csv
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from core.aigvdet import build_classifier, load_classifier


def append_csv_row(path: str | Path, row: dict) -> None:
    """Append ``row`` to a CSV file, writing the header first when the file is new (timm-style results).

    A row with columns the file does not have yet (a benchmark that gained an option) widens the file: it is
    rewritten with the union of the columns, earlier rows left empty in the new ones, so no row is misread."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    columns = list(row)
    if target.exists():
        with target.open(newline="") as handle:
            reader = csv.DictReader(handle)
            old_columns, old_rows = list(reader.fieldnames or []), list(reader)
        if old_columns and set(columns) - set(old_columns):
            columns = old_columns + [name for name in columns if name not in old_columns]
            partial = target.with_name(target.name + ".partial")
            with partial.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns, restval="")
                writer.writeheader()
                writer.writerows(old_rows)
            partial.replace(target)
        elif old_columns:
            columns = old_columns
    new = not target.exists()
    with target.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        if new:
            writer.writeheader()
        writer.writerow(row)


def result_row(bench: str, **values) -> dict:
    """A benchmark CSV row: when (UTC), which benchmark and which CPU, then ``values``."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"date": stamp, "bench": bench, "cpu": platform.processor() or "cpu", **values}


def add_long_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The long-video benchmarks' input: a video of the user's, or the synthetic one made once and kept."""
    parser.add_argument("--video", default=None, help="video to use (default: a synthetic one, made once)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic video")
    parser.add_argument("--size", default="720x1280", help="HxW of the synthetic video")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--cache_dir", default="outputs/bench", help="where the synthetic video is kept")


def classifier_pair(args, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """The RGB and optical-flow classifiers in eval mode on ``device``: the checkpoints the options name, else
    random ResNet-50s (built RGB first, so one seed gives the same pair in every benchmark)."""
    rgb_model = load_classifier(args.model_original_path) if args.model_original_path else build_classifier()
    flow_model = load_classifier(args.model_optical_flow_path) if args.model_optical_flow_path else build_classifier()
    return rgb_model.to(device).eval(), flow_model.to(device).eval()
