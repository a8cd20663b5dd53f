"""core.metrics.classification: against scikit-learn, hand-computed cases, brute force, and the summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from core.errors import InputError
from core.metrics.classification import (
    EqualErrorRate,
    accuracy,
    auc,
    average_precision,
    bootstrap_ci,
    eer,
    fake_accuracy,
    real_accuracy,
    summarize,
    threshold_at_fpr,
    tpr_at_fpr,
)

REFERENCE_KEYS = ("tnr", "tpr", "acc", "ap", "auc", "p", "n", "tp", "tn")


def random_case(seed: int, size: int, rounding: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size)
    labels[:2] = (0, 1)  # both classes
    scores = rng.normal(size=size) + 0.8 * labels
    return labels, (np.round(scores, rounding) if rounding is not None else scores)


@pytest.mark.parametrize("seed, size, rounding", [(0, 50, None), (1, 300, 1), (2, 7, 0), (3, 1000, 2), (4, 2, None)])
def test_auc_and_ap_equal_scikit_learn(seed, size, rounding):
    labels, scores = random_case(seed, size, rounding)  # rounding makes many ties
    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_metrics_needing_both_classes_are_none_with_one():
    for labels in ([0, 0, 0], [1, 1, 1], []):
        scores = np.linspace(0, 1, len(labels))
        assert auc(labels, scores) is None and average_precision(labels, scores) is None
        assert eer(labels, scores) is None and tpr_at_fpr(labels, scores, 0.05) is None


def test_eer_hand_cases():
    # ROC points (threshold: FPR, FNR): 0.8: 0, 1/2; 0.6: 1/2, 1/2 -> a point with FPR = FNR exactly.
    assert eer([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8]) == EqualErrorRate(0.5, 0.6)
    # reals .1 .2 .7, fakes .6 .9. Points: 0.9: FPR 0, FNR 1/2; 0.7: 1/3, 1/2; 0.6: 1/3, 0. The crossing is on
    # the vertical segment 0.7 -> 0.6 where FPR stays 1/3 (FNR passes 1/3 there): EER 1/3, end threshold 0.6.
    result = eer([0, 0, 0, 1, 1], [0.1, 0.2, 0.7, 0.6, 0.9])
    assert result.rate == pytest.approx(1 / 3, abs=1e-15) and result.threshold == 0.6
    # A real and a fake tied at 0.5: points 0.9: (FPR 0, FNR 1/2), 0.5: (1/2, 0). On the diagonal segment
    # FPR = t/2 and FNR = (1 - t)/2 meet at t = 1/2: EER 1/4, threshold 0.5 (where FPR 1/2 >= 1/4 >= FNR 0).
    assert eer([0, 1, 0, 1], [0.3, 0.5, 0.5, 0.9]) == EqualErrorRate(0.25, 0.5)
    # Perfect separation: at 0.7 FPR = FNR = 0.
    assert eer([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.8]) == EqualErrorRate(0.0, 0.7)
    # All scores equal: only the points "none" (0, 1) and "all" (1, 0); they cross at 1/2.
    assert eer([0, 1, 0, 1], [0.5] * 4) == EqualErrorRate(0.5, 0.5)


def test_eer_rate_lies_between_fpr_and_fnr_at_its_threshold():
    labels, scores = random_case(5, 400, 1)
    result = eer(labels, scores)
    at = scores >= result.threshold
    fpr, fnr = at[labels == 0].mean(), (~at[labels == 1]).mean()
    assert fnr <= result.rate + 1e-12 and result.rate <= fpr + 1e-12


def test_tpr_at_fpr_hand_cases():
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.95, 0.5, 0.6, 0.97, 0.99]
    # Target 0.2 = 1 of 5 reals: threshold 0.5 flags only the real 0.95 (FPR 1/5) and all 4 fakes -> TPR 1;
    # threshold 0.4 would flag 2 reals (FPR 2/5).
    assert tpr_at_fpr(labels, scores, 0.2) == 1.0
    # Target 0.1 < 1/5: no real may be flagged; threshold 0.97 flags 0.97 and 0.99 -> TPR 2/4.
    assert tpr_at_fpr(labels, scores, 0.1) == 0.5
    assert tpr_at_fpr(labels, scores, 0.0) == 0.5
    # A real scoring above every fake: nothing can be flagged at FPR 0 -> TPR 0 ("flag nothing").
    assert tpr_at_fpr([0, 1, 1], [0.9, 0.5, 0.6], 0.0) == 0.0
    # 100 reals 0..99/100 and fakes at 0.975, 0.985, 0.5: at 1% one real (0.99) may be flagged -> threshold just
    # above 0.98 flags 0.985 only; at 5% five reals (0.95 .. 0.99) -> threshold just above 0.94: 2 of 3 fakes.
    reals = np.arange(100) / 100
    labels, scores = [0] * 100 + [1] * 3, list(reals) + [0.975, 0.985, 0.5]
    assert tpr_at_fpr(labels, scores, 0.01) == pytest.approx(1 / 3)
    assert tpr_at_fpr(labels, scores, 0.05) == pytest.approx(2 / 3)


def test_threshold_at_fpr_hand_cases():
    reals = np.arange(100) / 100
    assert threshold_at_fpr(reals, 0.01) == np.nextafter(0.98, np.inf)
    assert threshold_at_fpr(reals, 0.05) == np.nextafter(0.94, np.inf)
    assert threshold_at_fpr(reals, 0.29) == np.nextafter(0.70, np.inf)  # 0.29 * 100 = 28.999999999999996 in floats
    assert threshold_at_fpr(reals, 0.0) == np.nextafter(0.99, np.inf)
    assert threshold_at_fpr(reals, 1.0) == -np.inf  # everything may be flagged
    # Ties: with reals 0.9, 0.9, 0.1 and 1 allowed false positive, flagging one 0.9 flags both -> above 0.9.
    assert threshold_at_fpr([0.9, 0.1, 0.9], 0.34) == np.nextafter(0.9, np.inf)
    with pytest.raises(InputError):
        threshold_at_fpr([], 0.01)
    with pytest.raises(ValueError):
        threshold_at_fpr(reals, 1.5)


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_tpr_at_fpr_is_brute_force_and_matches_threshold_at_fpr(seed):
    labels, scores = random_case(seed, 250, 1)
    reals, fakes = scores[labels == 0], scores[labels == 1]
    for target in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0):
        # Brute force: every candidate threshold (each score, and +inf = flag nothing).
        best = max((fakes >= t).mean() for t in [np.inf, *scores] if (reals >= t).mean() <= target)
        assert tpr_at_fpr(labels, scores, target) == pytest.approx(best, abs=1e-15)
        threshold = threshold_at_fpr(reals, target)
        assert (reals >= threshold).mean() <= target
        assert (fakes >= threshold).mean() == pytest.approx(best, abs=1e-15)


def test_accuracies_use_score_at_least_threshold_as_fake():
    labels, scores = [0, 0, 1, 1, 1], [0.2, 0.5, 0.5, 0.7, 0.1]
    assert real_accuracy(labels, scores, 0.5) == 0.5  # 0.5 counts as fake
    assert fake_accuracy(labels, scores, 0.5) == pytest.approx(2 / 3)
    assert accuracy(labels, scores, 0.5) == pytest.approx(3 / 5)
    assert real_accuracy([1], [0.3], 0.5) is None and fake_accuracy([0], [0.3], 0.5) is None
    assert accuracy([], [], 0.5) is None


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="equal length"):
        auc([0, 1], [0.5])
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        auc([0, 2], [0.5, 0.6])
    with pytest.raises(ValueError, match="finite"):
        auc([0, 1], [0.5, np.nan])


def test_bootstrap_is_stratified_reproducible_and_brackets_the_estimate():
    labels, scores = random_case(9, 200)
    seen_counts = set()

    def positives(y, s):  # records each resample's class count
        seen_counts.add(int(np.sum(y)))
        return auc(y, s)

    interval = bootstrap_ci(labels, scores, positives, n=200, seed=3)
    assert seen_counts == {int(labels.sum())}
    assert interval.resamples == 200 and interval.low < auc(labels, scores) < interval.high
    assert bootstrap_ci(labels, scores, auc, n=200, seed=3) == interval
    assert bootstrap_ci(labels, scores, auc, n=200, seed=4) != interval
    narrower = bootstrap_ci(labels, scores, auc, n=200, seed=3, level=0.5)
    assert interval.low < narrower.low < narrower.high < interval.high
    # One class only: AUC is undefined on every resample; TNR is still defined.
    assert bootstrap_ci([0] * 10, np.arange(10.0), auc, n=20) is None
    tnr = bootstrap_ci([0] * 10, np.arange(10.0), lambda y, s: real_accuracy(y, s, 4.5), n=50)
    assert tnr.resamples == 50 and 0.0 <= tnr.low <= 0.5 <= tnr.high <= 1.0


def test_summary_has_reference_keys_and_matches_reference_rule():
    labels, scores = random_case(10, 120)
    probs = 1 / (1 + np.exp(-scores))
    summary = summarize(labels, probs, threshold=0.5)
    assert set(REFERENCE_KEYS) <= set(summary)
    tp = int(((labels == 1) & (probs >= 0.5)).sum())
    tn = int(((labels == 0) & (probs < 0.5)).sum())
    assert (summary["tp"], summary["tn"], summary["p"], summary["n"]) == (tp, tn, labels.sum(), (labels == 0).sum())
    assert summary["acc"] == pytest.approx((tp + tn) / labels.size)
    assert summary["auc"] == pytest.approx(roc_auc_score(labels, probs), abs=1e-12)
    assert summary["ap"] == pytest.approx(average_precision_score(labels, probs), abs=1e-12)
    assert summary["eer"] == eer(labels, probs).rate and summary["tpr_at_5pct_fpr"] == tpr_at_fpr(labels, probs, 0.05)
    assert "ci" not in summary and "per_subset" not in summary
    json.dumps(summary)  # JSON-ready: plain floats, ints, None


def test_summary_one_class_has_none_and_notes():
    summary = summarize([1, 1, 1], [0.2, 0.7, 0.9], unit="frames")
    assert summary["auc"] is None and summary["ap"] is None and summary["eer"] is None and summary["tnr"] is None
    assert summary["tpr"] == pytest.approx(2 / 3)
    assert any("no real frames were evaluated" in note for note in summary["notes"])
    assert "tnr is undefined: no real frames" in summary["notes"]
    empty = summarize([], [])
    assert empty["acc"] is None and empty["p"] == empty["n"] == 0


def test_summary_notes_low_fpr_with_few_reals():
    labels, scores = random_case(11, 60)
    notes = summarize(labels, scores)["notes"]
    assert any(note.startswith("tpr_at_1pct_fpr:") for note in notes)
    assert any(note.startswith("tpr_at_5pct_fpr:") for note in notes) == ((labels == 0).sum() < 20)


def test_summary_bootstrap_intervals():
    labels, scores = random_case(12, 150)
    summary = summarize(labels, scores, bootstrap=100, seed=1)
    assert summary["ci_resamples"] == 100 and summary["ci_level"] == 0.95
    for key in ("auc", "ap", "eer", "acc", "tnr", "tpr"):
        low, high = summary["ci"][key]
        assert low <= summary[key] <= high, key
    assert summarize(labels, scores, bootstrap=100, seed=1)["ci"] == summary["ci"]


def test_per_subset_pools_real_videos_with_fake_only_subsets():
    # Reals .1 .2 .3 .4 (no subset) and .5 (in "mixed"); generator "a" is separable from the reals, "b" is not.
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 0, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.8, 0.9, 0.15, 0.35, 0.5, 0.6]
    subsets = [None, None, None, None, "a", "a", "b", "b", "mixed", "mixed"]
    summary = summarize(labels, scores, subsets=subsets)
    per = summary["per_subset"]
    assert sorted(per) == ["a", "b", "mixed"]
    assert per["a"]["pooled_real"] and (per["a"]["p"], per["a"]["n"]) == (2, 5) and per["a"]["auc"] == 1.0
    # b's fakes 0.15, 0.35 against all five reals .1 .2 .3 .4 .5: pairs won 1 + 3 of 10.
    assert per["b"]["auc"] == pytest.approx(4 / 10) and "scored with all 5 real videos" in per["b"]["notes"][0]
    assert not per["mixed"]["pooled_real"] and (per["mixed"]["p"], per["mixed"]["n"]) == (1, 1)
    assert per["mixed"]["auc"] == 1.0
    with pytest.raises(ValueError, match="one subset name per item"):
        summarize(labels, scores, subsets=["a"])


@pytest.mark.parametrize("seed", range(40))
def test_auc_and_ap_equal_scikit_learn_to_the_last_bit(seed):
    # test.py prints these values; they must stay the digits the reference's scikit-learn call printed.
    rng = np.random.default_rng(100 + seed)
    size = int(rng.integers(2, 400))
    labels = rng.integers(0, 2, size)
    labels[:2] = (0, 1)
    scores = rng.random(size)
    if seed % 2:
        scores = np.round(scores, 1 + seed % 3)  # ties, and collinear ROC points scikit-learn drops
    assert auc(labels, scores) == roc_auc_score(labels, scores)
    assert average_precision(labels, scores) == average_precision_score(labels, scores)


def reference_summary(labels: list[int], scores: list[float], threshold: float) -> dict:
    """test.py's summary before core.metrics: counts, then scikit-learn's AP and AUC (both classes only)."""
    labels_arr, scores_arr = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    p, n = int((labels_arr == 1).sum()), int((labels_arr == 0).sum())
    tp = int(((labels_arr == 1) & (scores_arr >= threshold)).sum())
    tn = int(((labels_arr == 0) & (scores_arr < threshold)).sum())
    both = bool(p and n)
    return {
        "tnr": tn / n if n else None,
        "tpr": tp / p if p else None,
        "acc": (tp + tn) / (p + n) if p + n else None,
        "ap": float(average_precision_score(labels_arr, scores_arr)) if both else None,
        "auc": float(roc_auc_score(labels_arr, scores_arr)) if both else None,
        "p": p,
        "n": n,
        "tp": tp,
        "tn": tn,
        "threshold": threshold,
    }


@pytest.mark.parametrize("seed", range(30))
def test_summary_keeps_test_py_values_and_types(seed):
    rng = np.random.default_rng(200 + seed)
    size = int(rng.integers(1, 60))
    labels = rng.integers(0, 2, size).tolist()
    scores = np.round(rng.random(size), 2).tolist()  # ties, and scores exactly at the threshold
    threshold = (0.5, 0.3, 0.71)[seed % 3]
    expected = reference_summary(labels, scores, threshold)
    summary = summarize(labels, scores, threshold)
    for key, value in expected.items():
        assert summary[key] == value and type(summary[key]) is type(value), key
    assert json.dumps({key: summary[key] for key in expected}) == json.dumps(expected)  # printed digits too


def test_summary_without_a_threshold():
    summary = summarize([0, 0, 1, 1], [0.1, 2.0, 3.0, 4.0], threshold=None)
    assert summary["auc"] == 0.75 + 0.25 and summary["eer"] == 0.0
    assert all(summary[key] is None for key in ("acc", "tnr", "tpr", "tp", "tn", "fp", "fn", "threshold"))
    assert any("no decision threshold" in note for note in summary["notes"])
    with_ci = summarize([0, 0, 1, 1, 0, 1], [0.1, 2.0, 3.0, 4.0, 1.0, 0.5], threshold=None, bootstrap=20)
    assert set(with_ci["ci"]) == {"auc", "ap", "eer", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr"}
