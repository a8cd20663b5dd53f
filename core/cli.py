"""Small helpers shared by the top-level scripts' argument parsers."""

from __future__ import annotations

import argparse
import logging

import torch

from core.errors import ToolkitError

log = logging.getLogger(__name__)


def str2bool(value: str | bool) -> bool:
    """Parse yes/no flags the way the reference scripts accept them (``--aug_norm false``)."""
    if isinstance(value, bool):
        return value
    lowered = value.lower()
    if lowered in ("true", "yes", "on", "t", "y", "1"):
        return True
    if lowered in ("false", "no", "off", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {value!r}")


def resolve_device(use_cpu: bool = False, device: str | None = None) -> torch.device:
    """``--use_cpu`` wins; then an explicit ``--device``; then (no device, or "auto") CUDA when present, else the CPU."""
    if use_cpu:
        return torch.device("cpu")
    if device and device != "auto":
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise ToolkitError(f"invalid --device {device!r}: {exc}") from None
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise ToolkitError(f"--device {device} asked for, but CUDA is not available here (use --use_cpu)")
        return resolved
    if torch.cuda.is_available():
        return torch.device("cuda")
    log.info("CUDA is not available; running on the CPU")
    return torch.device("cpu")


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
