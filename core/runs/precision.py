"""Precision names, defined once: what the scripts' precision flags, the training configs and autocast accept."""

from __future__ import annotations

from contextlib import nullcontext
from typing import ContextManager

import torch

# Name -> autocast dtype (None: plain float32, the reference's arithmetic).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(precision: str) -> torch.dtype | None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


def autocast(device: torch.device, precision: str, cuda_only: bool = True) -> ContextManager:
    """Autocast to ``precision`` on ``device``; by default the CPU always runs float32 (training there is for
    tests and small runs, where reduced precision is slow and only changes the numbers)."""
    dtype = autocast_dtype(precision)
    if dtype is None or (cuda_only and device.type != "cuda"):
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
