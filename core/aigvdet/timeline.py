"""AIGVDet's timeline outputs: per-frame times and fused probabilities, a per-second summary, localised segments.

The curve is the fused per-frame probability (``scoring.fused_per_frame``); segments are its runs at or above
the decision threshold, found by the cross-detector ``core.forensics.timeline``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from core import atomic
from core.aigvdet.pipeline import VideoResult
from core.aigvdet.scoring import pair_of_frame
from core.forensics.evidence import TimeSeries
from core.forensics.timeline import Segment, per_second, segments_above

CSV_COLUMNS = ("time_s", "rgb", "flow", "fused")


def fused_segments(
    result: VideoResult, threshold: float, min_gap_s: float = 0.0, min_len_s: float = 0.0
) -> list[Segment]:
    """Segments where the fused per-frame probability is at or above ``threshold``.

    Whole videos and segments: each frame holds until the next one, the last for one frame period. Sampled
    pairs: each sample holds until the next sample, the last for the median spacing of the samples.
    """
    last_s = 1.0 / result.fps if result.fps > 0 and not result.analysis.get("sample_pairs") else None
    return segments_above(result.time_s, result.fused_probs, threshold, min_gap_s, min_len_s, last_s=last_s)


def timeline_report(result: VideoResult, threshold: float, min_gap_s: float = 0.0, min_len_s: float = 0.0) -> dict:
    """The keys ``demo.py --timeline`` adds to the JSON report."""
    fused = result.fused_probs
    return {
        "time_s": list(result.time_s),
        "pair_time_s": list(result.pair_time_s),
        "fused_probs": fused.tolist(),
        "per_second": per_second(TimeSeries(np.asarray(result.time_s), fused, "fused")),
        "segments": [segment.as_dict() for segment in fused_segments(result, threshold, min_gap_s, min_len_s)],
    }


def timeline_rows(result: VideoResult) -> list[dict]:
    """One row per analysed frame: its time, its RGB probability, its pair's flow probability, the fused value."""
    flow = np.asarray(result.flow_probs)[pair_of_frame(result.frame_count, len(result.flow_probs))]
    return [
        {"time_s": t, "rgb": rgb, "flow": float(f), "fused": float(fused)}
        for t, rgb, f, fused in zip(result.time_s, result.rgb_probs, flow, result.fused_probs)
    ]


def write_timeline_csv(result: VideoResult, path: str | os.PathLike) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_open(target, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(timeline_rows(result))
    return target
