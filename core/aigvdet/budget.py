"""How many frame pairs AIGVDet can analyse on a CPU within a time budget: every pair, or N evenly spaced ones.

On a CPU, one RAFT pair of 1280x720 frames costs about 13 s in float32 (two cores), so every pair of a minute of
720p video takes hours. :func:`plan_budget` turns a video's frame count and size, the device and a budget in
seconds into a plan: every pair when they fit (short or small clips are analysed exactly as without a budget),
else as many evenly spaced pairs as fit. On a GPU the plan is always every pair.

The cost model is one measured constant scaled by the pixel count (RAFT's work grows with the frame area; the
classifiers' 448x448 crops cost the same at any size), see :data:`CPU_RAFT_S_PER_720P_PAIR`. It is an estimate
for planning, not a promise: a faster CPU finishes early, a busy one late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Measured with bench/bench_long_video.py (docs/benchmarks.md): demo.py, 16 pairs of a 60 s 1280x720 video,
# RAFT-large with 20 iterations, float32, a quiet 2-core Xeon: 13.5 s per pair all in (start-up, seeking,
# both ResNet-50s). The ResNets' share (two 448x448 crops, ~33 GFLOP at ~150 GFLOP/s) is about 0.25 s.
CPU_S_PER_720P_PAIR = 13.5
CPU_CLASSIFIERS_S_PER_PAIR = 0.25
CPU_RAFT_S_PER_720P_PAIR = CPU_S_PER_720P_PAIR - CPU_CLASSIFIERS_S_PER_PAIR
PIXELS_720P = 1280 * 720
# The default budget on a CPU: a minute of 720p gets ~16 pairs, a few minutes of work.
DEFAULT_CPU_BUDGET_S = 240.0


def cpu_seconds_per_pair(width: int, height: int) -> float:
    """Estimated float32 CPU seconds for one frame pair of ``width`` x ``height`` (RAFT scaled by the area)."""
    return CPU_CLASSIFIERS_S_PER_PAIR + CPU_RAFT_S_PER_720P_PAIR * (width * height) / PIXELS_720P


@dataclass(frozen=True)
class BudgetPlan:
    """What to analyse: ``sample_pairs`` evenly spaced pairs of ``total_pairs``, or every pair (None)."""

    total_pairs: int
    sample_pairs: int | None
    per_pair_s: float | None  # the estimate used (None on a GPU: no estimate, every pair)
    budget_s: float | None
    device: str
    extra_pairs: int = 0  # pairs computed besides the planned ones (a report's illustrations), in the estimates

    @property
    def sampled(self) -> bool:
        return self.sample_pairs is not None

    @property
    def pairs(self) -> int:
        return self.total_pairs if self.sample_pairs is None else self.sample_pairs

    @property
    def all_s(self) -> float | None:
        """Estimated seconds for every pair (and the extra ones)."""
        return None if self.per_pair_s is None else self.per_pair_s * (self.total_pairs + self.extra_pairs)

    @property
    def planned_s(self) -> float | None:
        """Estimated seconds for the planned pairs (and the extra ones)."""
        return None if self.per_pair_s is None else self.per_pair_s * (self.pairs + self.extra_pairs)

    def describe(self) -> str:
        """One line for a reader, e.g. "16 of 1499 frame pairs, evenly spaced, chosen to fit a 240 s budget on CPU"."""
        if not self.sampled:
            return f"all {self.total_pairs} frame pairs"
        return (
            f"{self.sample_pairs} of {self.total_pairs} frame pairs, evenly spaced, chosen to fit a "
            f"{self.budget_s:g} s budget on {self.device.upper()}"
        )

    def record(self) -> dict:
        """The plan as data, for reports."""
        return {
            "total_pairs": self.total_pairs,
            "sample_pairs": self.sample_pairs,
            "per_pair_s": None if self.per_pair_s is None else round(self.per_pair_s, 3),
            "budget_s": self.budget_s,
            "device": self.device,
            "estimated_s": None if self.planned_s is None else round(self.planned_s, 1),
            "estimated_all_s": None if self.all_s is None else round(self.all_s, 1),
            "description": self.describe(),
        }


def plan_budget(
    frame_count: int, width: int, height: int, device: str, budget_s: float | None, extra_pairs: int = 0
) -> BudgetPlan:
    """The pairs of a ``frame_count``-frame ``width`` x ``height`` video that fit ``budget_s`` seconds on ``device``
    (a device type: "cpu", "cuda", ...).

    Every pair on any device but the CPU, without a budget (None or 0), or when they all fit; else
    ``floor(budget / per-pair estimate) - extra_pairs`` evenly spaced pairs, at least one. ``extra_pairs``: pairs
    the analysis computes besides the sampled ones (a report's illustrations), counted in the budget.
    """
    total = max(frame_count - 1, 0)
    if device != "cpu":
        return BudgetPlan(total, None, None, None, device)
    per_pair = cpu_seconds_per_pair(width, height)
    if not budget_s or budget_s <= 0:
        return BudgetPlan(total, None, per_pair, None, device, extra_pairs)
    fitting = max(math.floor(budget_s / per_pair) - extra_pairs, 1)
    return BudgetPlan(total, None if fitting >= total else fitting, per_pair, budget_s, device, extra_pairs)


def duration_text(seconds: float) -> str:
    """``seconds`` rounded for a reader: "40 s", "3 min", "5.6 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_message(plan: BudgetPlan, duration_s: float, width: int, height: int) -> str:
    """The line logged before long work starts, e.g. "60.0 s of 1280x720 video, 1499 pairs: all would take ~5.6 h
    on this CPU; analysing 15 evenly spaced pairs (~4 min) to fit a 240 s budget"."""
    head = f"{duration_s:.1f} s of {width}x{height} video, {plan.total_pairs} pairs"
    if plan.all_s is None:
        return f"{head}: analysing every pair on {plan.device}"
    if not plan.sampled:
        return f"{head}: all would take ~{duration_text(plan.all_s)} on this CPU; analysing every pair"
    return (
        f"{head}: all would take ~{duration_text(plan.all_s)} on this CPU; analysing {plan.sample_pairs} evenly "
        f"spaced pair{'s' if plan.sample_pairs > 1 else ''} (~{duration_text(plan.planned_s)}) to fit a "
        f"{plan.budget_s:g} s budget"
    )
