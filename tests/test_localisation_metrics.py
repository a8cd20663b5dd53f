"""core.metrics.localisation: hand-computed cases, and brute force on random data sets."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from core.errors import InputError
from core.metrics.localisation import (
    average_precision_at_iou,
    average_recall_at_n,
    localisation_summary,
    temporal_iou,
)

# Three videos, G = 3 ground-truth segments. Predictions are (start, end, score), given out of score order.
GROUND_TRUTH = {"A": [(0, 1), (3, 5)], "B": [(2, 4)], "C": []}
PREDICTIONS = {
    # IoUs: (0, 1) vs A1 = 1; (3.5, 5) vs A2 = 1.5 / 2 = 0.75; (0.1, 0.9) vs A1 = 0.8; (6, 7) overlaps nothing.
    "A": [(0.1, 0.9, 0.7), (0, 1, 0.9), (6, 7, 0.6), (3.5, 5, 0.8)],
    # vs B1 = (2, 4): (2, 3) -> 1 / 2 = 0.5; (1, 4) -> 2 / 3.
    "B": [(1, 4, 0.5), (2, 3, 0.85)],
    "C": [(0, 1, 0.75)],  # a real video: any prediction is a false positive
}


def test_temporal_iou():
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 4), (1, 2)) == 0.25  # contained
    assert temporal_iou((1.5, 2.5), (1.5, 2.5)) == 1.0
    assert temporal_iou((0, 1), (1, 2)) == 0.0  # touching
    assert temporal_iou((0, 1), (5, 6)) == 0.0
    assert temporal_iou((1, 1), (1, 1)) == 0.0  # zero-length union


def test_average_precision_hand_case():
    # IoU > 0.5. A: A1 claims its best-ranked hit (0, 1; 0.9), A2 claims (3.5, 5; 0.8); 0.7 and 0.6 are false
    # positives. B: (2, 3; 0.85) has IoU 0.5, not > 0.5 -> false positive; (1, 4; 0.5) is B1's hit. C: 0.75 false.
    # Ranked: 0.9 T, 0.85 F, 0.8 T, 0.75 F, 0.7 F, 0.6 F, 0.5 T; precisions 1, 1/2, 2/3, 2/4, 2/5, 2/6, 3/7.
    # Monotone precision at the true positives: 1 (rank 1), 2/3 (rank 3: best of 2/3 .. 3/7), 3/7 (rank 7).
    # AP = (1 + 2/3 + 3/7) / 3 = 44/63; the benchmark code drops the first step (1/3): 23/63.
    assert average_precision_at_iou(PREDICTIONS, GROUND_TRUTH, 0.5) == pytest.approx(44 / 63, abs=1e-12)
    assert average_precision_at_iou(PREDICTIONS, GROUND_TRUTH, 0.5, omit_first_step=True) == pytest.approx(23 / 63)
    # IoU > 0.75: only A1's (0, 1; 0.9) hits (A2's 0.75 is not > 0.75, B's best is 2/3): AP = (1) / 3.
    for iou in (0.75, 0.9, 0.95):
        assert average_precision_at_iou(PREDICTIONS, GROUND_TRUTH, iou) == pytest.approx(1 / 3)


def test_segments_claim_predictions_in_ground_truth_order():
    # G1 = (0, 2), G2 = (1, 3); P1 = (1, 2.5; 0.9) has IoU 0.4 with G1 and 0.75 with G2; P2 = (0, 1.2; 0.8) has
    # IoU 0.6 with G1 and 0.2 / 3 with G2. At IoU > 0.3 the benchmark lets G1 claim its best-ranked hit P1, so G2
    # has nothing left: one true positive at rank 1 -> AP = 1 x 1/2 (a best-IoU matching would give 1).
    truth, predicted = {"v": [(0, 2), (1, 3)]}, {"v": [(0, 1.2, 0.8), (1, 2.5, 0.9)]}
    assert average_precision_at_iou(predicted, truth, 0.3) == pytest.approx(0.5)
    # AR has no one-to-one matching: with both predictions G1 (best 0.6) and G2 (best 0.75) are recalled.
    assert average_recall_at_n(predicted, truth, 2, (0.3,)) == 1.0


def test_average_recall_hand_case():
    # Top-1 per video: A keeps (0, 1) -> A1 IoU 1, A2 0; B keeps (2, 3) -> 0.5. At 0.5: A1 only (0.5 is not
    # > 0.5) -> 1/3; at 0.75: A1 -> 1/3. AR@1 = 1/3.
    assert average_recall_at_n(PREDICTIONS, GROUND_TRUTH, 1, (0.5, 0.75)) == pytest.approx(1 / 3)
    # Top-2: A1 best 1, A2 best 0.75, B1 best 2/3. At 0.5 all 3 -> 1; at 0.75 A1 only -> 1/3. AR@2 = 2/3.
    assert average_recall_at_n(PREDICTIONS, GROUND_TRUTH, 2, (0.5, 0.75)) == pytest.approx(2 / 3)
    # Default thresholds 0.5, 0.55, ..., 0.95 with all predictions (best IoUs 1, 0.75, 2/3): recalled segments
    # 3, 3, 3, 3 (0.5 .. 0.65), 2 (0.7), then 1 for 0.75 .. 0.95 -> mean of (4 x 3 + 2 + 5 x 1) / 3 = 19/30.
    assert average_recall_at_n(PREDICTIONS, GROUND_TRUTH, 10) == pytest.approx(19 / 30)


def test_localisation_summary_keys_and_score():
    summary = localisation_summary(PREDICTIONS, GROUND_TRUTH)
    assert summary["AP@0.5"] == pytest.approx(44 / 63) and summary["AP@0.95"] == pytest.approx(1 / 3)
    assert summary["AR@10"] == pytest.approx(19 / 30) and summary["AR@50"] == pytest.approx(19 / 30)
    assert [key for key in summary if key.startswith("A")] == [
        "AP@0.5",
        "AP@0.75",
        "AP@0.9",
        "AP@0.95",
        "AR@50",
        "AR@30",
        "AR@20",
        "AR@10",
        "AR@5",
    ]
    # AR@5: 5 >= every video's prediction count, so also 19/30. Score = (mean AP + mean AR) / 2.
    assert summary["score"] == pytest.approx(0.5 * (44 / 63 + 3 / 3) / 4 + 0.5 * 19 / 30)
    assert (summary["videos"], summary["segments"], summary["notes"]) == (3, 3, [])


def test_missing_predictions_unknown_videos_and_bad_segments():
    # B without predictions: its segment is simply missed. A alone at 0.5: ranked 0.9 T, 0.8 T, 0.7 F, 0.6 F.
    assert average_precision_at_iou({"A": PREDICTIONS["A"]}, GROUND_TRUTH, 0.5) == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="without ground truth"):
        average_precision_at_iou({"Z": [(0, 1, 0.5)]}, GROUND_TRUTH, 0.5)
    with pytest.raises(InputError, match="end >= start"):
        average_recall_at_n({}, {"A": [(2, 1)]}, 5)
    with pytest.raises(InputError, match="end >= start"):
        average_recall_at_n({"A": [(0, 1, np.nan)]}, {"A": [(0, 1)]}, 5)


def test_no_ground_truth_segment_is_undefined():
    truth = {"r1": [], "r2": []}
    assert average_precision_at_iou({"r1": [(0, 1, 0.9)]}, truth, 0.5) is None
    summary = localisation_summary({}, truth)
    assert summary["AP@0.5"] is None and summary["AR@10"] is None and summary["score"] is None
    assert "undefined" in summary["notes"][0]


def brute_force(predictions, ground_truth, iou):
    """AP by a second route: recall levels j/G, each with the best precision reached at that recall or beyond;
    also the benchmark code's curve (recall 1 with precision 0, then ranks from last to first)."""
    ranked = []
    for video, truth in ground_truth.items():
        rows = sorted(predictions.get(video, []), key=lambda row: -row[2])
        claimed = [False] * len(rows)
        for segment in truth:
            for index, row in enumerate(rows):
                if not claimed[index] and temporal_iou(row[:2], segment) > iou:
                    claimed[index] = True
                    break
        ranked += [(row[2], hit) for row, hit in zip(rows, claimed)]
    ranked.sort(key=lambda item: -item[0])
    segments = sum(len(truth) for truth in ground_truth.values())
    precision, recall, hits = [], [], 0
    for rank, (_, hit) in enumerate(ranked, start=1):
        hits += hit
        precision.append(hits / rank)
        recall.append(hits / segments)
    ours = (
        sum(
            max([p for p, r in zip(precision, recall) if r >= level / segments], default=0.0)
            for level in range(1, segments + 1)
        )
        / segments
    )
    curve = [(1.0, 0.0)] + list(zip(recall, precision))[::-1]
    benchmark, best = 0.0, 0.0
    for (x0, y0), (x1, _) in pairwise(curve):
        best = max(best, y0)
        benchmark += abs(x1 - x0) * best
    return ours, benchmark


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_average_precision_equals_brute_force_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    truth, predicted = {}, {}
    for video in range(12):
        starts = rng.uniform(0, 20, rng.integers(0, 4))
        truth[f"v{video}"] = [(s, s + rng.uniform(0.2, 3)) for s in starts]
        starts = rng.uniform(0, 20, rng.integers(0, 8))
        # Rounded scores: ties within and across videos.
        predicted[f"v{video}"] = [(s, s + rng.uniform(0.2, 3), round(rng.uniform(), 1)) for s in starts]
        for start, end in truth[f"v{video}"][:2]:  # some good predictions
            predicted[f"v{video}"].append((start + rng.normal(0, 0.05), end + rng.normal(0, 0.05), rng.uniform()))
    for iou in (0.3, 0.5, 0.75):
        ours, benchmark = brute_force(predicted, truth, iou)
        assert average_precision_at_iou(predicted, truth, iou) == pytest.approx(ours, abs=1e-12)
        assert average_precision_at_iou(predicted, truth, iou, omit_first_step=True) == pytest.approx(
            benchmark, abs=1e-12
        )
