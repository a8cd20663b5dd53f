"""core.forensics.timeline on cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.forensics import TimeSeries
from core.forensics.timeline import Segment, per_second, sample_durations, segments_above

TIMES = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
VALUES = [0.1, 0.6, 0.7, 0.2, 0.9, 0.3]


def test_runs_above_the_threshold_become_segments():
    # Runs: samples 1-2 (held from 1 s to 3 s) and sample 4 (4 s to 5 s).
    assert segments_above(TIMES, VALUES, 0.5) == [
        Segment(1.0, 3.0, 0.7, pytest.approx(0.65)),
        Segment(4.0, 5.0, 0.9, 0.9),
    ]
    # A value equal to the threshold is above it (the verdict rule: score >= threshold is fake).
    assert segments_above(TIMES, VALUES, 0.7) == [Segment(2.0, 3.0, 0.7, 0.7), Segment(4.0, 5.0, 0.9, 0.9)]
    assert segments_above(TIMES, VALUES, 0.95) == []
    assert segments_above([], [], 0.5) == []


def test_gaps_are_merged_and_short_segments_dropped():
    # The gap from 3 s to 4 s is 1 s: merged at min_gap_s=1, the gap's sample (0.2) counts in the mean.
    merged = segments_above(TIMES, VALUES, 0.5, min_gap_s=1.0)
    assert merged == [Segment(1.0, 5.0, 0.9, pytest.approx((0.6 + 0.7 + 0.2 + 0.9) / 4))]
    assert len(segments_above(TIMES, VALUES, 0.5, min_gap_s=0.99)) == 2
    assert segments_above(TIMES, VALUES, 0.5, min_len_s=1.5) == [Segment(1.0, 3.0, 0.7, pytest.approx(0.65))]
    assert segments_above(TIMES, VALUES, 0.5, min_gap_s=1.0, min_len_s=3.5) == merged  # length 4 after merging


def test_irregular_times_weigh_the_mean_by_duration():
    # Durations 0.1 and 0.9; the last sample holds for the median spacing (of 0.1 and 0.9: 0.5).
    np.testing.assert_allclose(sample_durations([0.0, 0.1, 1.0]), [0.1, 0.9, 0.5])
    np.testing.assert_allclose(sample_durations([0.0, 0.1, 1.0], last_s=0.04), [0.1, 0.9, 0.04])
    [segment] = segments_above([0.0, 0.1, 1.0], [0.6, 1.0, 0.2], 0.5)
    assert (segment.start_s, segment.end_s, segment.peak) == (0.0, 1.0, 1.0)
    assert segment.mean == pytest.approx((0.6 * 0.1 + 1.0 * 0.9) / 1.0)
    # The last sample's duration sets the end of a segment that reaches the end.
    assert segments_above([0.0, 0.1, 0.5, 0.6], [1, 1, 0, 1], 0.5, last_s=0.2) == [
        Segment(0.0, 0.5, 1.0, 1.0),
        Segment(0.6, pytest.approx(0.8), 1.0, 1.0),
    ]


def test_single_samples_nan_and_bad_input():
    assert segments_above([2.0], [0.8], 0.5) == [Segment(2.0, 2.0, 0.8, 0.8)]  # one sample: zero length
    assert segments_above([0.0, 1.0, 2.0], [0.9, math.nan, 0.9], 0.5) == [
        Segment(0.0, 1.0, 0.9, 0.9),
        Segment(2.0, 3.0, 0.9, 0.9),
    ]
    [merged] = segments_above([0.0, 1.0, 2.0], [0.9, math.nan, 0.7], 0.5, min_gap_s=1.0)
    assert (merged.start_s, merged.end_s, merged.peak, merged.mean) == (0.0, 3.0, 0.9, pytest.approx(0.8))
    with pytest.raises(ValueError, match="non-decreasing"):
        segments_above([0.0, 2.0, 1.0], [1, 1, 1], 0.5)
    with pytest.raises(ValueError, match="equal length"):
        segments_above([0.0, 1.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="negative"):
        segments_above(TIMES, VALUES, 0.5, min_gap_s=-1)
    assert Segment(1.0, 3.5, 0.7, 0.6).duration_s == 2.5
    assert Segment(1.0, 3.5, 0.7, 0.6).as_dict() == {"start_s": 1.0, "end_s": 3.5, "peak": 0.7, "mean": 0.6}


def test_per_second_rows():
    series = TimeSeries(np.array([0.0, 0.5, 0.99, 1.0, 2.5, 2.75]), np.array([1.0, 2.0, 3.0, 4.0, 5.0, math.nan]), "x")
    assert per_second(series) == [
        {"second": 0.0, "count": 3, "mean": 2.0, "min": 1.0, "max": 3.0},
        {"second": 1.0, "count": 1, "mean": 4.0, "min": 4.0, "max": 4.0},
        {"second": 2.0, "count": 1, "mean": 5.0, "min": 5.0, "max": 5.0},  # the NaN is neither counted nor averaged
    ]
    half = per_second(TimeSeries(np.array([0.0, 0.6, 0.7]), np.array([1.0, 2.0, 4.0]), "x"), bin_s=0.5)
    assert [(row["second"], row["mean"]) for row in half] == [(0.0, 1.0), (0.5, 3.0)]
    [empty] = per_second(TimeSeries(np.array([3.2]), np.array([math.nan]), "x"))
    assert empty["second"] == 3.0 and empty["count"] == 0 and math.isnan(empty["mean"])
    [edge] = per_second(TimeSeries(np.array([0.1 * 3 / 0.3 - 1e-12]), np.array([1.0]), "x"))  # 1 s less float dust
    assert edge["second"] == 1.0
    assert per_second(TimeSeries(np.zeros(0), np.zeros(0), "x")) == []
    with pytest.raises(ValueError, match="positive"):
        per_second(series, bin_s=0)


def test_timeline_figure_and_spliced_clips(tmp_path):
    pytest.importorskip("matplotlib")
    from bench.eval_aigvdet_localisation import make_clip
    from core.aigvdet.synthetic.world import WorldSpec
    from core.forensics.timeline_plot import plot_timeline

    spec = WorldSpec(height=32, width=32)
    frames, (start, end) = make_clip(0, True, spec, 6.0, seed=1000)
    assert len(frames) == 48 and frames[0].shape == (32, 32, 3)
    assert 1.0 <= start and end <= 5.0 and 1.5 <= end - start <= 2.5  # 1 s of real video on each side
    untouched, truth = make_clip(0, False, spec, 6.0, seed=1000)
    assert truth is None and len(untouched) == 48
    curve = TimeSeries(np.arange(48) / 8.0, np.linspace(0, 1, 48), "fused")
    written = plot_timeline(
        tmp_path / "t.png",
        {"fused": curve},
        0.5,
        segments_above(curve.time_s, curve.values, 0.5),
        [(start, end)],
        title="test",
        emphasise="fused",
    )
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
