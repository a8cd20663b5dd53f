"""Whole-video audio-visual scoring: per-step terms, windows, the anomaly curve, segments, detect.py outputs."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import detect
from core.avforensics.budget import CPU_S_PER_STEP, windows_within
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.scoring import pad_to_length, score_window, sequence_scores, step_terms
from core.avforensics.synthetic import render_clip, write_av, write_partial_fakes
from core.avforensics.whole_video import (
    WholeVideoSettings,
    anomaly_curve,
    relative_threshold,
    sample_windows,
    score_whole_video,
    smooth,
    step_times,
    window_ranges,
    window_starts,
)
from core.cli import run_cli
from core.forensics.evidence import TimeSeries
from core.forensics.timeline import Segment, per_second, segments_above
from core.media.av_clip import load_av_clip
from tests.avforensics_factories import random_pca, random_regressive_model, save_small_av_checkpoints, small_sync_model


def _scores_before_per_step_terms(logits, pca_features, distribution_model, feature_model, max_len):
    """``sequence_scores`` as it was written before the per-step terms existed (pins the default score)."""
    steps = logits.shape[0]
    sequence, mask = pad_to_length(torch.from_numpy(np.asarray(logits, dtype=np.float64)), max_len)
    features, _ = pad_to_length(torch.from_numpy(np.asarray(pca_features, dtype=np.float64)), max_len)
    sequence, features = sequence[None], features[None]
    input_mask = mask[None, :-1]
    predictions = steps - 1
    target = torch.softmax(sequence[:, 1:].float(), dim=2)
    predicted = torch.log_softmax(distribution_model(sequence[:, :-1].float(), input_mask), dim=2)
    kl = F.kl_div(predicted, target, reduction="none")[0, :predictions].sum(dim=1).mean()
    target_features = F.normalize(features[:, 1:], p=2.0, dim=2)
    input_features = F.normalize(features[:, :-1], p=2.0, dim=2).float()
    predicted_features = feature_model(input_features, input_mask)
    mse = F.mse_loss(predicted_features.double(), target_features, reduction="none")[0, :predictions].sum(dim=1).mean()
    return float(kl), float(mse)


@pytest.mark.parametrize("steps", [2, 17, 50])
def test_score_is_the_mean_of_the_per_step_terms_bit_for_bit(steps):
    rng = np.random.default_rng(steps)
    logits, features = rng.standard_normal((steps, 31)) * 3, rng.standard_normal((steps, 31))
    dist, feat = random_regressive_model(1), random_regressive_model(2)
    with torch.no_grad():
        before = _scores_before_per_step_terms(logits, features, dist, feat, 50)
    scores = sequence_scores(logits, features, dist, feat, 50)
    assert (scores.distribution_kl, scores.feature_mse) == before
    terms = step_terms(logits, features, dist, feat, 50)
    assert terms.distribution_kl.shape == terms.feature_error.shape == (steps - 1,)
    assert terms.distribution_kl.dtype == np.float32 and terms.feature_error.dtype == np.float64
    assert float(torch.from_numpy(terms.distribution_kl).mean()) == scores.distribution_kl
    assert float(torch.from_numpy(terms.feature_error).mean()) == scores.feature_mse
    together, together_terms = score_window(logits, features, dist, feat, 50)
    assert together == scores
    np.testing.assert_array_equal(together_terms.distribution_kl, terms.distribution_kl)
    np.testing.assert_allclose(terms.combined(2.0).mean(), scores.distribution_kl + 2.0 * scores.feature_mse, rtol=1e-6)


@pytest.mark.parametrize(
    "steps, length, stride, expected",
    [
        (30, 50, 25, [0]),
        (50, 50, 25, [0]),
        (100, 50, 25, [0, 25, 50]),
        (120, 50, 25, [0, 25, 50, 70]),
        (51, 50, 100, [0, 1]),
    ],
)
def test_window_starts(steps, length, stride, expected):
    assert window_starts(steps, length, stride).tolist() == expected


def test_anomaly_curve_averages_windows_with_enough_context_and_falls_back_to_the_best():
    # Windows of 6 steps at stride 3 over 9 steps: window 0 predicts steps 1..5, window 1 steps 4..8.
    starts = np.array([0, 3])
    terms = [np.array([1.0, 2, 3, 4, 5]), np.array([10.0, 20, 30, 40, 50])]
    curve, windows = anomaly_curve(starts, terms, 9, min_context=2)
    # step 1: only 1 step of context anywhere -> window 0's value; step 4: window 1 gives it 1 step (too few);
    # step 5: window 0 (5 steps) and window 1 (2 steps) average.
    np.testing.assert_array_equal(curve, [np.nan, 1, 2, 3, 4, 12.5, 30, 40, 50])
    assert windows.tolist() == [0, 1, 1, 1, 1, 2, 1, 1, 1]


def test_segments_above_merges_short_gaps_and_drops_short_runs():
    time_s = np.arange(20) * 0.1
    values = np.zeros(20)
    values[[3, 4, 5, 7, 8]] = [2, 3, 2, 4, 2]  # a gap of one sample (0.1 s) at 6
    values[15] = 5  # a lone sample: 0.1 s long
    values[12] = np.nan
    assert segments_above(time_s, values, 2.0, min_gap_s=0.1, min_len_s=0.2) == [
        Segment(pytest.approx(0.3), pytest.approx(0.9), 4.0, pytest.approx(13 / 6))
    ]
    split = segments_above(time_s, values, 2.0, min_gap_s=0.0, min_len_s=0.0)
    assert [(round(s.start_s, 6), round(s.end_s, 6), s.peak) for s in split] == [
        (0.3, 0.6, 3),
        (0.7, 0.9, 4),
        (1.5, 1.6, 5),
    ]
    assert segments_above(time_s[:1], values[:1], 0.0) == [Segment(0.0, 0.0, 0.0, 0.0)]
    assert segments_above(time_s, np.full(20, np.nan), 0.0) == []


def test_smooth_ignores_nan_and_keeps_it():
    values = np.array([np.nan, 3.0, 0.0, 0.0, 6.0])
    np.testing.assert_allclose(smooth(values, 3), [np.nan, 1.5, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(smooth(values, 1), values)


def test_per_second_summary_and_relative_threshold():
    time_s = step_times(60)  # (k + 2) / 25: steps 0..22 in second 0, 23..47 in second 1, 48..59 in second 2
    values = np.arange(60, dtype=np.float64)
    values[0] = np.nan
    rows = per_second(TimeSeries(time_s, values, "anomaly"))  # the summary detect.py writes per second
    assert [(r["second"], r["count"], r["max"]) for r in rows] == [(0, 22, 22.0), (1, 25, 47.0), (2, 12, 59.0)]
    assert rows[1]["mean"] == pytest.approx(35.0)
    assert relative_threshold(np.array([1.0, 2, 3, 4, 100, np.nan]), 2.0) == pytest.approx(3 + 2 * 1.4826 * 1)
    flat = np.array([1.0, 1, 1, 5])
    threshold = relative_threshold(flat, 5.0)  # no spread: just above the median
    assert threshold > 1.0 and segments_above(np.arange(4.0), flat, threshold) == [Segment(3.0, 4.0, 5.0, 5.0)]


class _InSyncPrior(nn.Module):
    """Predicts 'in sync' (offset 0 peaked) at every step whatever came before: stands in for a model of real videos."""

    def forward(self, sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = torch.full_like(sequence, -4.0)
        out[..., 15] = 4.0
        return out


class _Zero(nn.Module):
    def forward(self, sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(sequence)


def test_curve_and_segments_find_a_known_anomalous_span():
    rng = np.random.default_rng(0)
    steps = 250  # 10 s
    peaks = np.full(steps, 15)
    peaks[120:170] = 23  # steps 120..169 out of sync by 8 frames
    logits = rng.standard_normal((steps, 31))
    logits[np.arange(steps), peaks] += 8.0
    features = rng.standard_normal((steps, 31))
    first, result = score_whole_video(logits, features, _InSyncPrior(), _Zero(), 50, 0.0, WholeVideoSettings())
    assert first == sequence_scores(logits[:50], features[:50], _InSyncPrior(), _Zero(), 50)
    assert result.window_starts.tolist() == list(range(0, 201, 25))
    assert result.window_scores[0] == first.combined(0.0)
    assert result.score_max > 2 * first.combined(0.0) and result.score_max == result.window_scores.max()
    assert result.score_mean == pytest.approx(result.window_scores.mean())
    assert np.isnan(result.anomaly[0]) and np.isfinite(result.anomaly[1:]).all()
    assert result.windows[0] == 0 and set(result.windows[1:].tolist()) <= {1, 2}
    assert len(result.segments) == 1
    segment = result.segments[0]
    # The 13-step moving average spreads each edge by at most 6 steps.
    assert (120 + 2 - 6) / 25 - 1e-9 <= segment.start_s <= (120 + 2) / 25
    assert (169 + 3) / 25 <= segment.end_s <= (169 + 3 + 6) / 25 + 1e-9
    assert segment.peak >= segment.mean > result.threshold
    unsmoothed = score_whole_video(
        logits, features, _InSyncPrior(), _Zero(), 50, 0.0, WholeVideoSettings(smooth_steps=1, threshold=4.0)
    )[1].segments
    assert [(round(s.start_s, 6), round(s.end_s, 6)) for s in unsmoothed] == [((120 + 2) / 25, (169 + 3) / 25)]
    given = score_whole_video(logits, features, _InSyncPrior(), _Zero(), 50, 0.0, WholeVideoSettings(threshold=1e9))[1]
    assert given.segments == [] and given.threshold_rule == "given"


def _tiny_detector(whole: WholeVideoSettings | None, time_budget_s: float | None = None) -> AVForensicsDetector:
    return AVForensicsDetector(
        small_sync_model(),
        random_regressive_model(4),
        random_regressive_model(5),
        random_pca(6, dim=128),
        frame_size=32,
        progress=False,
        lam=0.5,
        whole_video=whole,
        time_budget_s=time_budget_s,
    )


def test_whole_video_evidence_keeps_the_first_window_score_bit_for_bit(tmp_path):
    clip = render_clip(1, frames=75, size=32)
    path = write_av(tmp_path / "clip.mkv", clip.frames, clip.audio)
    default = _tiny_detector(None).analyse_video(path)
    whole = _tiny_detector(WholeVideoSettings(stride=10)).analyse_video(path)
    assert default.facts.frames == 69 and whole.facts.frames == 75
    assert whole.score == default.score
    np.testing.assert_array_equal(whole.series["sync_logits"].values[:50], default.series["sync_logits"].values)
    anomaly = whole.series["anomaly"]
    assert len(anomaly) == 71 and anomaly.time_s[0] == pytest.approx(2 / 25)
    assert whole.details["windows"] == 4 and whole.details["score_max"] >= whole.details["score_mean"]
    assert "anomaly" not in default.series and "score_max" not in default.details


@pytest.fixture(scope="module")
def small_checkpoints(tmp_path_factory):
    return save_small_av_checkpoints(tmp_path_factory.mktemp("avf_small"))


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_detect_whole_video_outputs_and_unchanged_default_outputs(tmp_path, small_checkpoints):
    clip = render_clip(2, frames=60, size=32)
    video = write_av(tmp_path / "a clip.mkv", clip.frames, clip.audio)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{video.name}\nmissing.mkv\n")
    common = ["--test_video_path", str(listing), "--device", "cpu", "--lam", "1", "--no_progress"] + small_checkpoints
    assert run_cli(detect.main, detect.get_args_parser(), common + ["--output_dir", str(tmp_path / "d")]) == 0
    assert (
        run_cli(
            detect.main,
            detect.get_args_parser(),
            common + ["--output_dir", str(tmp_path / "w"), "--whole_video", "--window_stride", "10"],
        )
        == 0
    )

    default_dir, whole_dir = tmp_path / "d", tmp_path / "w"
    assert (default_dir / "scores.csv").read_text().splitlines()[0] == "path,score,steps,status,face_crop,face_status"
    assert not (default_dir / "timelines").exists() and not (default_dir / "segments.csv").exists()
    default_rows, whole_rows = _rows(default_dir / "scores.csv"), _rows(whole_dir / "scores.csv")
    assert list(whole_rows[0]) == "path,score,steps,status,face_crop,face_status,score_max,score_mean".split(",")
    assert whole_rows[0]["score"] == default_rows[0]["score"]  # the authors' first-window score, same digits
    assert (default_dir / "output.log").read_text() == (whole_dir / "output.log").read_text()
    assert whole_rows[0]["steps"] == "56" and default_rows[0]["steps"] == "50"
    assert float(whole_rows[0]["score_max"]) >= float(whole_rows[0]["score_mean"]) > 0
    assert whole_rows[1]["status"] == "file not found" and math.isnan(float(whole_rows[1]["score_max"]))

    timeline = _rows(whole_dir / "timelines" / "0_a clip.csv")
    assert list(timeline[0]) == ["time_s", "step", "anomaly", "windows"] and len(timeline) == 56
    assert timeline[0] == {"time_s": "0.08", "step": "0", "anomaly": "", "windows": "0"}
    assert float(timeline[-1]["time_s"]) == pytest.approx(57 / 25) and int(timeline[-1]["windows"]) >= 1
    seconds = _rows(whole_dir / "timelines" / "0_a clip_per_second.csv")
    assert [row["second"] for row in seconds] == ["0", "1", "2"]
    segments = (whole_dir / "segments.csv").read_text().splitlines()
    assert segments[0] == "path,track,start_s,end_s,peak,mean"
    assert all(line.split(",")[1] == "none" for line in segments[1:])


def test_partial_fakes_change_the_audio_of_their_span_only(tmp_path):
    clips = write_partial_fakes(
        tmp_path, 2, size=16, seed=3, seconds=(3.0, 3.2), segment_seconds=(0.8, 1.0), after_s=1.0
    )
    assert [(c.label, c.kind) for c in clips] == [(0, "real"), (0, "real"), (1, "shift"), (1, "swap")]
    assert clips[0].segment is None
    for clip in clips[2:]:
        start, end = clip.segment
        decoded = load_av_clip(clip.path, size=16)
        frames = decoded.num_frames
        assert 75 <= frames <= 80 and start >= 1.0 and 0.8 - 1e-9 <= end - start <= 1.0 + 1e-9 and end <= frames / 25
        # The same rendering, untouched: the clip's audio differs from it inside the span only.
        index = clips.index(clip)
        margin = 10  # write_partial_fakes renders 10 frames more on each side
        rendered = render_clip(3 * 100_003 + index, frames + 2 * margin, 16)
        original = rendered.audio[margin * 640 : (margin + frames) * 640]
        differs = np.flatnonzero(decoded.audio != original.astype(np.float32))
        assert differs.size and differs.min() >= round(start * 25) * 640 and differs.max() < round(end * 25) * 640


def test_window_sampling_helpers():
    starts = window_starts(200, 50, 10)  # 0, 10, ..., 150
    assert sample_windows(starts, 3).tolist() == [0, 80, 150] and sample_windows(starts, 99) is starts
    assert window_ranges(np.array([0, 80, 150]), 50, 200) == [(0, 50), (80, 130), (150, 200)]
    assert window_ranges(np.array([0, 30, 60]), 50, 200) == [(0, 50), (50, 110)]  # overlaps merge after the first
    assert windows_within(None, 50, "cpu") is None and windows_within(100, 50, "cuda") is None
    assert windows_within(100, 50, "cpu") == int(100 // (CPU_S_PER_STEP * 50)) and windows_within(1, 50, "cpu") == 1
    with pytest.raises(ValueError, match="at least 1"):
        WholeVideoSettings(max_windows=0)
    # detect.py's settings record is what it was before sampling existed, so its earlier tables still resume.
    old = {"stride", "min_context", "threshold", "mad_k", "smooth_steps", "min_gap_s", "min_len_s"}
    assert set(WholeVideoSettings().fingerprint()) == old
    assert WholeVideoSettings(max_windows=3).fingerprint()["max_windows"] == 3


def test_a_time_budget_scores_evenly_spaced_windows_and_says_what_was_not_analysed(tmp_path):
    """On a CPU with a budget for 2 windows of 10 steps: the first window (the authors' score) bit for bit, the last
    window's steps as in the full run, the steps between them not analysed and said so."""
    clip = render_clip(2, frames=120, size=32)
    path = write_av(tmp_path / "clip.mkv", clip.frames, clip.audio)
    settings = WholeVideoSettings(stride=10)
    full = _tiny_detector(settings).analyse_video(path)
    budget = 2 * CPU_S_PER_STEP * 50  # two windows of the default max_len of 50 steps
    sampled = _tiny_detector(settings, time_budget_s=budget).analyse_video(path)
    assert sampled.score == full.score and full.details["windows"] == 8 and sampled.details["windows"] == 2
    expected = "2 of 8 windows (2 s each), evenly spaced, chosen to fit a 25.6 s budget on CPU"
    assert sampled.details["sampling"] == expected
    logits, reference = sampled.series["sync_logits"].values, full.series["sync_logits"].values
    np.testing.assert_array_equal(logits[:50], reference[:50])
    assert np.isnan(logits[50:66]).all() and np.isfinite(logits[66:]).all()  # the last window: steps 66-115
    np.testing.assert_allclose(logits[66:], reference[66:], atol=1e-5)
    (gap,) = sampled.details["not_analysed"]
    assert gap["status"] == "not analysed (time budget)" and gap["start_s"] == pytest.approx(52 / 25)
    assert gap["end_s"] == pytest.approx(69 / 25)  # to the last window's first step (never predicted) included
