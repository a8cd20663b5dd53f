"""How RAFT's correlation is computed, given a memory budget, and what a frame size will cost.

The all-pairs volume of a pair of frames holds (H/8 * W/8)^2 float32 values plus its pooled pyramid
(x 1.33): 1.1 GB at 720p, 5.6 GB at 1080p, 89 GB at 4K. ``auto`` keeps it (the reference's arithmetic,
fastest) while it fits the budget and otherwise computes the windows on the fly (``corr_onthefly``),
whose memory grows with the frame area only. Before a video's flow starts, ``plan_flow_memory`` says
whether the whole computation can fit the memory that is free, so a run fails at once with a clear
message instead of after minutes, or by the kernel's OOM killer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from core.errors import ToolkitError

CORR_MODES = ("auto", "all_pairs", "on_the_fly")
DEFAULT_CORR_MODE = "auto"
# Largest all-pairs pyramid ``auto`` builds on a CPU: 720p (1.1 GB) keeps it, 1080p (5.6 GB) does not.
DEFAULT_CPU_BUDGET_BYTES = 4 * 2**30
# On a GPU: this share of the memory that is free (to the driver and in PyTorch's cache) when deciding.
CUDA_FREE_FRACTION = 0.5

# Peak memory of RAFT (large) on a CPU, in bytes per padded frame pixel, measured from 640x360 to 1920x1088
# with the scripts' allocator setting (core.memory): the encoders' activations (and normalised input) per
# frame encoded together, the refinement per pair (update block, convex upsampling, lookup buffers; an
# all-pairs volume comes on top), and per frame of a chunk its uint8 pixels and its 1/8-resolution features.
ENCODER_BYTES_PER_PIXEL = 480
REFINE_BYTES_PER_PIXEL = {"all_pairs": 120, "on_the_fly": 160}
CHUNK_BYTES_PER_PIXEL = 3 + 256 * 4 / 64


class FlowMemoryError(ToolkitError):
    """RAFT's optical flow does not fit the memory available for the frames given."""


def pyramid_factor(levels: int) -> float:
    """Size of a pooled pyramid relative to its finest level (1 + 1/4 + 1/16 + ...)."""
    return sum(0.25**i for i in range(levels))


def all_pairs_bytes(pairs: int, feature_height: int, feature_width: int, levels: int = 4) -> int:
    """Bytes of the all-pairs correlation pyramid of ``pairs`` frame pairs with features of that size."""
    cells = feature_height * feature_width
    return int(pairs * cells * cells * 4 * pyramid_factor(levels))


def check_corr_mode(mode: str) -> str:
    if mode not in CORR_MODES:
        raise ValueError(f"unknown correlation mode {mode!r}; expected one of {', '.join(CORR_MODES)}")
    return mode


def available_memory_bytes(device: torch.device | str) -> int | None:
    """Memory that allocations on ``device`` can still get, or None where it cannot be known."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    if device.type != "cpu":
        return None
    available = None
    try:
        with open("/proc/meminfo") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle if line.strip()}
        available = info["MemAvailable"] + info.get("SwapFree", 0)
    except (OSError, KeyError, ValueError, IndexError):
        return None
    # A container's own limit (cgroup v2) may be lower than what the machine has free.
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, open("/sys/fs/cgroup/memory.current") as current:
            text = limit.read().strip()
            if text != "max":
                available = min(available, int(text) - int(current.read().strip()))
    except (OSError, ValueError):
        pass
    return available


def default_budget_bytes(device: torch.device | str) -> int:
    """The budget ``auto`` uses when none is given: a constant on a CPU, a share of free memory on a GPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(CUDA_FREE_FRACTION * (available_memory_bytes(device) or 0))
    return DEFAULT_CPU_BUDGET_BYTES


def resolve_corr_mode(
    mode: str, pairs: int, feature_height: int, feature_width: int, levels: int, budget_bytes: int
) -> str:
    """``all_pairs`` or ``on_the_fly``: ``auto`` keeps the all-pairs volume while it fits ``budget_bytes``."""
    if check_corr_mode(mode) != "auto":
        return mode
    fits = all_pairs_bytes(pairs, feature_height, feature_width, levels) <= budget_bytes
    return "all_pairs" if fits else "on_the_fly"


def all_pairs_batch_limit(feature_height: int, feature_width: int, levels: int, budget_bytes: int) -> int:
    """How many pairs' all-pairs pyramids fit ``budget_bytes`` together (0: not even one)."""
    return int(budget_bytes // max(1, all_pairs_bytes(1, feature_height, feature_width, levels)))


def estimate_flow_peak_bytes(
    height: int, width: int, mode: str, pairs: int = 1, frames: int = 2, chunk_frames: int = 8
) -> int:
    """Likely peak memory of RAFT's flow for padded ``height`` x ``width`` frames, beyond the model itself.

    ``frames`` are encoded together, ``pairs`` refined together, ``chunk_frames`` held at once. Measured
    peaks were 0.9x to 1.5x this (heap fragmentation varies), so a run refused for exceeding the free
    memory could not have fit; the video decoder and the classifiers are not counted.
    """
    if mode not in ("all_pairs", "on_the_fly"):
        raise ValueError(f"estimate needs a resolved mode (all_pairs or on_the_fly), got {mode!r}")
    area = height * width
    volume = all_pairs_bytes(pairs, height // 8, width // 8) if mode == "all_pairs" else 0
    encode = frames * ENCODER_BYTES_PER_PIXEL * area
    refine = pairs * REFINE_BYTES_PER_PIXEL[mode] * area + volume
    kept = chunk_frames * CHUNK_BYTES_PER_PIXEL * area
    return int(max(encode, refine) + kept)


@dataclass(frozen=True)
class FlowMemoryPlan:
    """What ``plan_flow_memory`` decided for one frame size."""

    height: int
    width: int
    mode: str  # resolved: all_pairs or on_the_fly
    budget_bytes: int
    all_pairs_bytes: int  # of one pair
    estimate_bytes: int
    available_bytes: int | None

    def describe(self) -> str:
        return (
            f"{self.width}x{self.height} frames: {self.mode.replace('_', '-')} correlation, about "
            f"{gigabytes(self.estimate_bytes)} at the peak (an all-pairs volume would take "
            f"{gigabytes(self.all_pairs_bytes)} per pair; budget {gigabytes(self.budget_bytes)})"
        )


def gigabytes(count: float) -> str:
    return f"{count / 2**30:.1f} GiB"


def plan_flow_memory(
    height: int,
    width: int,
    device: torch.device | str,
    mode: str = DEFAULT_CORR_MODE,
    budget_bytes: int | None = None,
    levels: int = 4,
    pairs: int = 1,
    frames: int = 2,
    chunk_frames: int = 8,
) -> FlowMemoryPlan:
    """Choose the correlation for padded ``height`` x ``width`` frames and check the whole flow fits.

    Raises FlowMemoryError when the estimated peak exceeds the memory available on ``device``.
    """
    budget = default_budget_bytes(device) if budget_bytes is None else int(budget_bytes)
    resolved = resolve_corr_mode(mode, pairs, height // 8, width // 8, levels, budget)
    plan = FlowMemoryPlan(
        height=height,
        width=width,
        mode=resolved,
        budget_bytes=budget,
        all_pairs_bytes=all_pairs_bytes(1, height // 8, width // 8, levels),
        estimate_bytes=estimate_flow_peak_bytes(height, width, resolved, pairs, frames, chunk_frames),
        available_bytes=available_memory_bytes(device),
    )
    if plan.available_bytes is not None and plan.estimate_bytes > plan.available_bytes:
        advice = ""
        if resolved == "all_pairs":
            other = estimate_flow_peak_bytes(height, width, "on_the_fly", 1, 1, chunk_frames)
            advice = f"; the on-the-fly correlation would need about {gigabytes(other)}"
        raise FlowMemoryError(
            f"optical flow of {width}x{height} frames needs about {gigabytes(plan.estimate_bytes)} with the "
            f"{resolved.replace('_', '-')} correlation, but only {gigabytes(plan.available_bytes)} is free "
            f"on {torch.device(device)}{advice}"
        )
    return plan


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (CUDA's OutOfMemoryError, the CPU allocator's RuntimeError)."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("tried to allocate" in text or "out of memory" in text)


@contextmanager
def out_of_memory_as_error(what: str, hint: str = "") -> Iterator[None]:
    """Turn an allocation failure inside the block into a FlowMemoryError naming ``what``.

    ``hint`` (a script's advice, e.g. its flags) is appended to that message and to FlowMemoryErrors
    raised inside the block.
    """
    suffix = f"; {hint}" if hint else ""
    try:
        yield
    except FlowMemoryError as exc:
        if not hint:
            raise
        raise FlowMemoryError(f"{exc}{suffix}") from exc
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FlowMemoryError(f"out of memory in {what} ({first_line}){suffix}") from exc


def gib_to_bytes(value: float | None) -> int | None:
    """A budget given in GiB -> bytes (None stays None: the default budget)."""
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"memory budget must be a non-negative number of GiB, got {value}")
    return int(value * 2**30)
