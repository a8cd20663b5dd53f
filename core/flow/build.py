"""One place that turns the flow options every AIGVDet command shares into a flow extractor."""

from __future__ import annotations

import logging
import os

import torch

from core.flow.classical import ClassicalFlow
from core.flow.extractor import DEFAULT_ITERS, FlowExtractor, load_raft

log = logging.getLogger(__name__)


def raft_checkpoint(path: str | os.PathLike | None, small: bool = False) -> str:
    """``path``, or where the official checkpoint of the variant goes: checkpoints/raft-things.pth (large) or
    checkpoints/raft-small.pth (small)."""
    return os.fspath(path) if path else f"checkpoints/raft-{'small' if small else 'things'}.pth"


def build_flow(
    method: str,
    raft_path: str | os.PathLike,
    device: torch.device,
    small: bool = False,
    mixed_precision: bool = False,
    iters: int = DEFAULT_ITERS,
    batch_size: int = 8,
    corr_mode: str = "auto",
    corr_budget_bytes: int | None = None,
    channels_last: bool = False,
) -> FlowExtractor | ClassicalFlow:
    """RAFT from ``raft_path`` (``method`` "raft") or OpenCV's weight-free DIS/Farneback flow on ``device``."""
    if method == "raft":
        raft = load_raft(
            raft_path,
            small=small,
            mixed_precision=mixed_precision,
            device=device,
            corr_mode=corr_mode,
            corr_budget_bytes=corr_budget_bytes,
            channels_last=channels_last,
        )
        return FlowExtractor(raft, iters=iters, batch_size=batch_size)
    log.warning("optical flow by OpenCV %s: not what the official flow checkpoint was trained on", method)
    return ClassicalFlow(method, device=device)
