"""Tiny datasets and configs for the training tests (CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.aigvdet.training import build_config


def write_frame_dataset(
    root: Path,
    name: str = "toy",
    videos: int = 3,
    frames: int = 2,
    size: int = 24,
    splits=("train", "val"),
    seed: int = 0,
) -> Path:
    """``root/<split>/<name>/{0_real,1_fake}/video_i/0000j.png``: real dark, fake bright (easy to learn)."""
    rng = np.random.default_rng(seed)
    for split in splits:
        for label, base in (("0_real", 60), ("1_fake", 180)):
            for v in range(videos):
                folder = root / split / name / label / f"video_{v:05d}"
                folder.mkdir(parents=True, exist_ok=True)
                for f in range(frames):
                    image = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
                    cv2.imwrite(str(folder / f"{f:05d}.png"), image)
    return root


def tiny_opts(data_root: Path, exp_root: Path, *extra: str, epochs: int = 2) -> list[str]:
    """train.py's trailing options for resnet18 on 16x16 crops, batch 4, no workers, on the toy dataset."""
    return [
        "dataset_root",
        str(data_root),
        "exp_root",
        str(exp_root),
        "datasets",
        "toy",
        "datasets_test",
        "toy",
        "arch",
        "resnet18",
        "pretrained",
        "False",
        "cropSize",
        "16",
        "batch_size",
        "4",
        "num_workers",
        "0",
        "nepoch",
        str(epochs),
        *extra,
    ]


def tiny_config(data_root: Path, exp_root: Path, exp_name: str = "run", *extra: str):
    """resnet18 on 16x16 crops, batch 4, no workers, no augmentation noise unless asked."""
    return build_config(exp_name, None, None, tiny_opts(data_root, exp_root, *extra))
