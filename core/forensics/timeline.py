"""Localised segments of a per-time evidence curve: runs above a threshold, merged across short gaps.

Generic (numbers only, any detector): sample ``i`` of a curve holds from ``time_s[i]`` until the next sample
(the last one for the median sample spacing). A sample is above when ``value >= threshold`` (the interface's
"score >= threshold is fake" rule); NaN samples never are. Runs of above samples become segments; two segments
separated by a gap of at most ``min_gap_s`` seconds become one; segments shorter than ``min_len_s`` are dropped.
A segment's ``peak`` and ``mean`` are over every finite sample inside it, merged gaps included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SLACK = 1e-9  # times are sums of float steps: a gap of 0.48 s may come out as 0.4800000000000001


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    peak: float
    mean: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def sample_ends(time_s: np.ndarray) -> np.ndarray:
    """End time of each sample: the next sample's time, the last one's plus the median spacing (0 for one sample)."""
    time_s = np.asarray(time_s, dtype=np.float64)
    if time_s.size == 0:
        return time_s.copy()
    spacing = float(np.median(np.diff(time_s))) if time_s.size > 1 else 0.0
    return np.r_[time_s[1:], time_s[-1] + spacing]


def segments_above(
    time_s: np.ndarray, values: np.ndarray, threshold: float, min_gap_s: float = 0.0, min_len_s: float = 0.0
) -> list[Segment]:
    """Segments where ``values >= threshold`` (see the module docstring), in time order."""
    time_s, values = np.asarray(time_s, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if time_s.shape != values.shape or time_s.ndim != 1:
        raise ValueError(f"need 1-D time_s and values of equal length, got {time_s.shape} and {values.shape}")
    ends = sample_ends(time_s)
    above = np.zeros(values.size, dtype=bool)
    np.greater_equal(values, threshold, out=above, where=np.isfinite(values))
    edges = np.diff(np.r_[0, above.astype(np.int8), 0])
    runs = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))  # [first, last + 1) sample indices
    merged: list[list[int]] = []
    for first, stop in runs:
        if merged and time_s[first] - ends[merged[-1][1] - 1] <= min_gap_s + _SLACK:
            merged[-1][1] = stop
        else:
            merged.append([first, stop])
    segments = []
    for first, stop in merged:
        start_s, end_s = float(time_s[first]), float(ends[stop - 1])
        if end_s - start_s < min_len_s - _SLACK:
            continue
        inside = values[first:stop]
        inside = inside[np.isfinite(inside)]
        segments.append(Segment(start_s, end_s, float(inside.max()), float(inside.mean())))
    return segments
