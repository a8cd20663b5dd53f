"""How many whole-video windows the audio-visual detector can score on a CPU within a time budget.

The sync model's encoders run once per 5-frame step; on a CPU a step of the official-size model costs about a
quarter of a second (:data:`CPU_S_PER_STEP`), so every window of a minute of video takes about six minutes.
:func:`windows_within` gives the number of ``max_len``-step windows that fit a budget; the detector then scores
that many evenly spaced windows, the first (the authors' score) always among them
(:func:`core.avforensics.whole_video.sample_windows`), and says which stretches were not analysed. On a GPU,
and without a budget, every window is scored.
"""

from __future__ import annotations

import math

# Measured with bench/bench_whole_video.py (docs/detect.md): 60 s of video, 1496 steps, official-size models with
# random weights, 382.7 s wall on a quiet 2-core CPU with 2 threads: 0.256 s per step (decoding and all windows in).
CPU_S_PER_STEP = 0.256


def windows_within(budget_s: float | None, max_len: int, device: str) -> int | None:
    """Windows of ``max_len`` steps that fit ``budget_s`` seconds on ``device`` (a device type), at least one;
    None (every window) on any device but the CPU or without a budget."""
    if device != "cpu" or not budget_s or budget_s <= 0:
        return None
    return max(1, math.floor(budget_s / (CPU_S_PER_STEP * max_len)))


def describe_sampling(windows: int, total: int, window_s: float, budget_s: float | None) -> str:
    """A line for a reader, e.g. "9 of 59 windows (2 s each), evenly spaced, chosen to fit a 120 s budget on CPU"."""
    text = f"{windows} of {total} windows ({window_s:g} s each), evenly spaced"
    return text + (f", chosen to fit a {budget_s:g} s budget on CPU" if budget_s else "")
