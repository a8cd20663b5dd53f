"""Padding of frames to sides that are multiples of 8, as RAFT's ``InputPadder`` in 'sintel' mode."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sintel_padding(height: int, width: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) replicate padding that makes both sides multiples of 8, split evenly."""
    pad_h = (-height) % 8
    pad_w = (-width) % 8
    return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2


def pad_to_multiple_of_8(frames: torch.Tensor) -> torch.Tensor:
    """Replicate-pad (N, C, H, W) frames; AIGVDet keeps the padded flow (it never unpads)."""
    left, right, top, bottom = sintel_padding(*frames.shape[-2:])
    if not (left or right or top or bottom):
        return frames
    return F.pad(frames, [left, right, top, bottom], mode="replicate")
