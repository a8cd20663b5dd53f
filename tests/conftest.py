"""Shared fixtures: tiny synthetic videos and random weights saved in the official layouts."""

from __future__ import annotations

import os

# Before torch starts OpenMP: waiting threads sleep instead of spinning, which on a busy 2-core machine made
# single tests 10-20x slower (a descheduled thread stalls its spinning partners).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from tests import factories  # noqa: E402

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

torch.set_num_threads(max(1, min(4, torch.get_num_threads())))


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    """RAFT (large, small) and resnet18 classifiers with random weights, saved as the originals are."""
    folder = tmp_path_factory.mktemp("weights")
    factories.save_raft(folder / "raft-things.pth", factories.random_raft(1))
    factories.save_raft(folder / "raft-small.pth", factories.random_raft(2, small=True))
    factories.save_classifier(folder / "original.pth", factories.random_classifier(3, "resnet18"))
    factories.save_classifier(folder / "optical.pth", factories.random_classifier(4, "resnet18"), nested=False)
    return folder


@pytest.fixture(scope="session")
def small_video(tmp_path_factory) -> Path:
    """5 frames of 130x150: sides not multiples of 8, smaller than the 448 crop."""
    folder = tmp_path_factory.mktemp("videos")
    return factories.write_video(folder / "clip.avi", factories.moving_texture_frames(5, 130, 150, seed=7))
