"""Timelines of any detector's per-time evidence: per-second summaries and localised segments.

Pure functions of timestamps and values (NumPy only), so every detector's ``TimeSeries`` can use them.

How samples are read as a curve over time: each sample holds from its own time until the next sample's
time (a frame is on screen until the next one replaces it); the last sample holds for ``last_s`` seconds,
by default the median spacing of the samples (0 for a single sample). So a sample's *duration* can differ
from sample to sample (variable frame rate, sparse sampling), and segments start and end on sample times.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from core.forensics.evidence import TimeSeries

_SLACK = 1e-9  # times are sums of float steps: a gap of 0.48 s may come out as 0.4800000000000001


@dataclass(frozen=True)
class Segment:
    """A run of the curve at or above a threshold: ``[start_s, end_s)``, its highest value and its
    time-weighted mean (over every sample inside, including those of merged gaps)."""

    start_s: float
    end_s: float
    peak: float
    mean: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def as_dict(self) -> dict:
        return asdict(self)


def _checked(time_s: np.ndarray | list[float], values: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    times, vals = np.asarray(time_s, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if times.ndim != 1 or vals.shape != times.shape:
        raise ValueError(f"need 1-D timestamps and values of equal length, got shapes {times.shape} and {vals.shape}")
    if times.size and (not np.isfinite(times).all() or (np.diff(times) < 0).any()):
        raise ValueError("timestamps must be finite and non-decreasing")
    return times, vals


def sample_durations(time_s: np.ndarray | list[float], last_s: float | None = None) -> np.ndarray:
    """How long each sample holds: until the next sample; the last one for ``last_s`` (default: the median
    spacing, 0 for a single sample)."""
    times = np.asarray(time_s, dtype=np.float64)
    if times.size == 0:
        return np.zeros(0)
    gaps = np.diff(times)
    if last_s is None:
        last_s = float(np.median(gaps)) if gaps.size else 0.0
    if last_s < 0:
        raise ValueError(f"the last sample's duration cannot be negative, got {last_s}")
    return np.append(gaps, last_s)


def per_second(series: TimeSeries, bin_s: float = 1.0) -> list[dict]:
    """One row per ``bin_s``-second bin that holds samples, in time order: ``second`` (the bin's start, a
    multiple of ``bin_s``), ``count``, ``mean``, ``min``, ``max`` of the samples whose time falls in
    ``[second, second + bin_s)``. NaN samples (e.g. a step nothing predicts) are left out of the count and the
    numbers; a bin of only NaN has count 0 and NaN numbers."""
    if bin_s <= 0:
        raise ValueError(f"bin width must be positive, got {bin_s}")
    times, values = _checked(series.time_s, series.values)
    bins = np.floor(times / bin_s + _SLACK).astype(np.int64)  # 2 / 25 * 25 may come out as 1.9999999999999998
    rows = []
    for bin_index in np.unique(bins):
        inside = values[bins == bin_index]
        finite = inside[np.isfinite(inside)]
        stats = (float(finite.mean()), float(finite.min()), float(finite.max())) if finite.size else (math.nan,) * 3
        rows.append(
            {
                "second": float(bin_index * bin_s),
                "count": int(finite.size),
                "mean": stats[0],
                "min": stats[1],
                "max": stats[2],
            }
        )
    return rows


def segments_above(
    time_s: np.ndarray | list[float],
    values: np.ndarray | list[float],
    threshold: float,
    min_gap_s: float = 0.0,
    min_len_s: float = 0.0,
    last_s: float | None = None,
) -> list[Segment]:
    """Runs of samples with ``value >= threshold`` (NaN never is) as segments in seconds.

    A run starts at its first sample's time and ends where its last sample stops holding (the next sample's
    time; see the module docstring). Runs separated by a gap of at most ``min_gap_s`` seconds are merged
    (the gap's samples then count in the mean); merged segments shorter than ``min_len_s`` are dropped.
    """
    if min_gap_s < 0 or min_len_s < 0:
        raise ValueError(f"min_gap_s and min_len_s cannot be negative, got {min_gap_s} and {min_len_s}")
    times, vals = _checked(time_s, values)
    if times.size == 0:
        return []
    durations = sample_durations(times, last_s)
    ends = times + durations
    above = vals >= threshold  # False for NaN
    # Index ranges [first, last] of the runs of consecutive samples above the threshold.
    edges = np.diff(np.concatenate(([0], above.astype(np.int8), [0])))
    runs = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))
    merged: list[list[int]] = []
    for first, last in runs:
        if merged and times[first] - ends[merged[-1][1]] <= min_gap_s + _SLACK:
            merged[-1][1] = last
        else:
            merged.append([first, last])
    segments = []
    for first, last in merged:
        start, end = float(times[first]), float(ends[last])
        if end - start < min_len_s - _SLACK:
            continue
        inside = slice(first, last + 1)
        weights, inside_vals = durations[inside], vals[inside]
        finite = np.isfinite(inside_vals)
        if weights[finite].sum() > 0:
            mean = float(np.average(inside_vals[finite], weights=weights[finite]))
        else:  # zero-length samples only (a single sample): the plain mean
            mean = float(inside_vals[finite].mean())
        segments.append(Segment(start, end, float(np.nanmax(inside_vals)), mean))
    return segments
