"""Seeding, defined once for every trainer."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed every global generator a trainer might draw from (torch, CPU and CUDA; numpy; ``random``).

    The trainers' own draws (windows, crops, shuffles) use generators seeded from (seed, epoch, index), and
    torch's global one gives the initial weights; numpy's and Python's global generators are seeded too so
    that no library call can make a run depend on what ran before it in the same process.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
