"""Training data: frame folders, the reference's augmentations (blur, cv2 JPEG, crop/pad, flip), samplers."""

from __future__ import annotations

import random
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from core.aigvdet.preprocess import IMAGENET_MEAN, IMAGENET_STD
from core.aigvdet.training import ConfigError
from core.aigvdet.training.data import (
    FrameFolder,
    FrameTransform,
    ShardedSampler,
    ValidationSampler,
    build_dataset,
    gaussian_blur,
    jpeg_cv2,
)
from tests.training_helpers import tiny_config, write_frame_dataset


def image(height=40, width=50, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def cfg_with(tmp_path, *opts):
    return tiny_config(tmp_path, tmp_path / "exp", "run", "blur_prob", "0", "jpg_prob", "0", *opts)


def unnormalize(tensor):
    return tensor * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)


@pytest.mark.parametrize("train", [True, False])
def test_images_smaller_than_the_crop_are_padded(tmp_path, train):
    cfg = cfg_with(tmp_path, "cropSize", "32", "aug_flip", "False")
    small = image(20, 44)  # short height, long width
    out = FrameTransform(cfg, train=train)(small, random.Random(0))
    assert out.shape == (3, 32, 32)
    pixels = (unnormalize(out) * 255).round()
    assert torch.all(pixels[:, :6] == 0) and torch.all(pixels[:, 26:] == 0)  # 12 rows of padding, 6 + 6
    rows = pixels[:, 6:26].permute(1, 2, 0).numpy().astype(np.uint8)
    offsets = [left for left in range(44 - 32 + 1) if np.array_equal(small[:, left : left + 32], rows)]
    assert offsets == ([offsets[0]] if train else [6])  # a random window for training, the centre to validate


def test_training_crops_are_random_and_flips_happen(tmp_path):
    cfg = cfg_with(tmp_path, "cropSize", "16")
    transform, picture, rng = FrameTransform(cfg, train=True), image(), random.Random(1)
    crops = {transform(picture, rng).numpy().tobytes() for _ in range(20)}
    assert len(crops) > 10
    flip_cfg = cfg_with(tmp_path, "cropSize", "40", "aug_crop", "True")
    square = image(40, 40)
    seen = {
        bool(
            torch.equal(
                FrameTransform(flip_cfg, True)(square, random.Random(s)), FrameTransform(flip_cfg, False)(square)
            )
        )
        for s in range(12)
    }
    assert seen == {True, False}  # unflipped and flipped outputs both occur


def test_jpeg_goes_through_opencv_at_the_configured_quality(tmp_path):
    cfg = cfg_with(tmp_path, "jpg_prob", "1", "jpg_qual", "30", "cropSize", "40", "aug_flip", "False")
    picture = image(40, 40)
    out = FrameTransform(cfg, train=True)(picture, random.Random(0))
    ok, encoded = cv2.imencode(".jpg", picture[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 30])
    expected = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1]
    got = (unnormalize(out) * 255).round().permute(1, 2, 0).numpy()
    assert np.abs(got - expected).max() < 1e-3 and np.abs(got - picture).mean() > 5
    assert np.array_equal(jpeg_cv2(picture, 30), expected)
    # Validation never compresses (the reference applies blur and JPEG to training images only).
    val = FrameTransform(cfg, train=False)(picture)
    assert np.abs((unnormalize(val) * 255).round().permute(1, 2, 0).numpy() - picture).max() < 1e-3


def test_blur_is_scipy_gaussian_per_channel_with_the_sampled_sigma(tmp_path):
    picture = image(30, 30)
    expected = np.stack([gaussian_filter(picture[:, :, c], sigma=0.5) for c in range(3)], axis=2)
    assert np.array_equal(gaussian_blur(picture, 0.5), expected)
    cfg = cfg_with(tmp_path, "blur_prob", "1", "blur_sig", "0.0,3.0", "cropSize", "30", "aug_flip", "False")
    transform = FrameTransform(cfg, train=True)
    changes = [
        np.abs(
            (unnormalize(transform(picture, random.Random(s))) * 255).round().permute(1, 2, 0).numpy() - picture
        ).mean()
        for s in range(6)
    ]
    assert len({round(c, 3) for c in changes}) > 3 and max(changes) > 10  # sigma drawn from [0, 3]


def test_frame_folders_label_real_0_fake_1_and_name_missing_folders(tmp_path):
    write_frame_dataset(tmp_path, videos=2, frames=3)
    dataset = build_dataset(cfg_with(tmp_path), "train")
    assert len(dataset) == 12 and Counter(dataset.targets) == {0: 6, 1: 6}
    folder = dataset.datasets[0]
    assert folder.classes == ["0_real", "1_fake"]
    assert all(("0_real" in path) == (label == 0) for path, label in folder.samples)
    with pytest.raises(ConfigError, match="nowhere"):
        FrameFolder(tmp_path / "train" / "nowhere", folder.transform)
    (tmp_path / "train" / "toy" / "2_other").mkdir()
    with pytest.raises(ConfigError, match="2_other"):
        FrameFolder(tmp_path / "train" / "toy", folder.transform)


def test_class_balance_and_epoch_dependent_shards():
    targets = [0] * 90 + [1] * 10
    balanced = ShardedSampler(targets, class_balance=True, seed=3)
    drawn = Counter(targets[i] for _ in range(20) for i in balanced)
    assert 0.4 < drawn[1] / sum(drawn.values()) < 0.6 and len(list(balanced)) == 100
    shards = [ShardedSampler(targets, num_replicas=2, rank=r, seed=3) for r in (0, 1)]
    assert sorted(list(shards[0]) + list(shards[1])) == list(range(100))
    first = list(shards[0])
    shards[0].set_epoch(1)
    assert list(shards[0]) != first
    assert list(ShardedSampler(targets, shuffle=False)) == list(range(100))
    val = [list(ValidationSampler(7, 2, r)) for r in (0, 1)]
    assert sorted(val[0] + val[1]) == list(range(7))
