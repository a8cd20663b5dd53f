"""Binary detection metrics for videos or frames: label 1 is fake, a higher score means more likely fake, and a
score counts as fake when ``score >= threshold`` (the reference ``test.py`` rule).

Every metric is a pure function of ``labels`` and ``scores`` (1-D, equal length, labels 0/1, finite scores).
A metric that needs both classes returns ``None`` when one is missing instead of a misleading number: with no
real items the false-positive rate divides by zero, with no fakes the true-positive rate does. ROC points are
taken at each distinct score, from "nothing flagged" (threshold +inf, FPR = TPR = 0) down to the lowest score
(everything flagged, FPR = TPR = 1); tied scores move together, as in scikit-learn. AUC and AP are computed
here (with scikit-learn's floating-point steps, so equal to ``roc_auc_score`` / ``average_precision_score`` to the
last bit; the tests check it) so that bootstrap resamples do not pay scikit-learn's input checks a thousand times.

``bootstrap_ci`` gives percentile intervals from stratified resamples; ``summarize`` gathers everything in one
JSON-ready dictionary, optionally per subset (e.g. per generator).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from core.errors import InputError

ArrayLike = Sequence[float] | np.ndarray

# A tolerance on "FPR <= target": 0.29 * 100 is 28.999999999999996 in floats, yet 29 of 100 is an FPR of 0.29.
_FPR_SLACK = 1e-9


class EqualErrorRate(NamedTuple):
    rate: float
    threshold: float


class _Roc(NamedTuple):
    """Counts at each ROC point, the first being "nothing flagged" (threshold +inf)."""

    tp: np.ndarray
    fp: np.ndarray
    thresholds: np.ndarray
    positives: int
    negatives: int


def as_arrays(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Boolean "is fake" array and float64 scores, after checking shapes and values."""
    labels_arr, scores_arr = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels_arr.ndim != 1 or labels_arr.shape != scores_arr.shape:
        raise ValueError(
            f"need 1-D labels and scores of equal length, got shapes {labels_arr.shape} and {scores_arr.shape}"
        )
    if labels_arr.size and not np.isin(labels_arr, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(scores_arr).all():
        raise ValueError("scores must be finite (drop items that could not be scored first)")
    return labels_arr.astype(bool), scores_arr


def _roc(fake: np.ndarray, scores: np.ndarray) -> _Roc:
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_fake = scores[order], fake[order]
    group_end = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]  # last item of each run of equal scores
    tp = np.r_[0, np.cumsum(sorted_fake)[group_end]]
    fp = np.r_[0, np.cumsum(~sorted_fake)[group_end]]
    return _Roc(tp, fp, np.r_[np.inf, sorted_scores[group_end]], int(fake.sum()), int((~fake).sum()))


def _roc_of(labels: ArrayLike, scores: ArrayLike) -> _Roc | None:
    fake, values = as_arrays(labels, scores)
    return _roc(fake, values) if fake.any() and not fake.all() else None


def roc_points(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """FPR, TPR and threshold at each ROC point (the first: threshold +inf, nothing flagged); None without both
    classes."""
    roc = _roc_of(labels, scores)
    if roc is None:
        return None
    return roc.fp / roc.negatives, roc.tp / roc.positives, roc.thresholds


def allowed_false_positives(fpr: float, negatives: int) -> int:
    """How many of ``negatives`` real items may be flagged while keeping FPR <= ``fpr``."""
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"a false-positive rate is within [0, 1], got {fpr}")
    return min(negatives, math.floor(fpr * negatives + _FPR_SLACK))


def auc(labels: ArrayLike, scores: ArrayLike) -> float | None:
    """Area under the ROC curve (trapezoids between the ROC points, so ties count one half); None without both
    classes."""
    roc = _roc_of(labels, scores)
    if roc is None:
        return None
    # scikit-learn's floating-point steps, in its order (collinear points dropped, trapezoids halved one by one,
    # numpy's pairwise sum), so that reports keep the very digits the reference's sklearn call printed.
    tp, fp = roc.tp[1:], roc.fp[1:]
    if tp.size > 2:
        corner = np.r_[True, (np.diff(fp, 2) != 0) | (np.diff(tp, 2) != 0), True]
        tp, fp = tp[corner], fp[corner]
    tpr, fpr = np.r_[0, tp] / roc.positives, np.r_[0, fp] / roc.negatives
    return float(np.add.reduce(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float | None:
    """Average precision: the sum over distinct thresholds of (recall gain) x (precision there), without
    interpolation, as scikit-learn defines it; None without both classes."""
    roc = _roc_of(labels, scores)
    if roc is None:
        return None
    tp, fp = roc.tp[1:], roc.fp[1:]
    # scikit-learn's steps (recall and precision reversed, recall differences, negated sum): the same digits.
    recall = np.r_[(tp / roc.positives)[::-1], 0.0]
    precision = (tp / (tp + fp))[::-1]
    return float(max(0.0, -np.sum(np.diff(recall) * precision)))


def eer(labels: ArrayLike, scores: ArrayLike) -> EqualErrorRate | None:
    """Equal error rate and a threshold for it; None without both classes.

    Along the ROC points (ordered by decreasing threshold) FPR rises from 0 to 1 and FNR = 1 - TPR falls from 1
    to 0, so FPR - FNR changes sign once. If a point has FPR = FNR exactly, the rate is that FPR. Otherwise the
    rate is where the straight segment between the last point with FPR < FNR and the first with FPR > FNR
    crosses FPR = FNR (both rates interpolated linearly along the segment). The threshold is that of the segment's
    end point: the highest threshold whose FPR >= FNR, an operating point that exists, with FPR >= rate >= FNR.
    Computed on integer counts, so exact cases give exact rates.
    """
    roc = _roc_of(labels, scores)
    if roc is None:
        return None
    # FPR - FNR scaled by positives x negatives: an integer, so the sign test has no rounding error.
    gap = roc.fp * roc.positives - (roc.positives - roc.tp) * roc.negatives
    end = int(np.argmax(gap >= 0))  # >= 1: the first point (nothing flagged) has FNR = 1 > FPR = 0
    if gap[end] == 0:
        rate = roc.fp[end] / roc.negatives
    else:
        share = -gap[end - 1] / (gap[end] - gap[end - 1])
        rate = (roc.fp[end - 1] + share * (roc.fp[end] - roc.fp[end - 1])) / roc.negatives
    return EqualErrorRate(float(rate), float(roc.thresholds[end]))


def tpr_at_fpr(labels: ArrayLike, scores: ArrayLike, fpr: float) -> float | None:
    """The highest TPR among thresholds whose FPR <= ``fpr`` (no interpolation; 0 when only "flag nothing"
    qualifies); None without both classes. Equals the TPR at ``threshold_at_fpr(real scores, fpr)``."""
    roc = _roc_of(labels, scores)
    if roc is None:
        return None
    allowed = allowed_false_positives(fpr, roc.negatives)
    last = int(np.searchsorted(roc.fp, allowed, side="right")) - 1  # fp never decreases along the curve
    return float(roc.tp[last] / roc.positives)


def threshold_at_fpr(real_scores: ArrayLike, fpr: float) -> float:
    """The lowest threshold whose FPR on ``real_scores`` is at most ``fpr`` (so the most fakes flagged).

    With N real scores sorted from the highest and k = floor(fpr x N) allowed false positives, that is the
    next float above the (k+1)-th highest real score: every real score above it is flagged, ties of the
    (k+1)-th are not. When k = N (fpr = 1) every score may be flagged: -inf.
    """
    values = np.sort(np.asarray(real_scores, dtype=np.float64).ravel())[::-1]
    if values.size == 0:
        raise InputError("no real scores to set a threshold on (a false-positive rate needs real videos)")
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite (drop items that could not be scored first)")
    allowed = allowed_false_positives(fpr, values.size)
    if allowed >= values.size:
        return -math.inf
    return float(np.nextafter(values[allowed], np.inf))


def accuracy(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float | None:
    """Share of items classified right (``score >= threshold`` is fake); None when there are none."""
    fake, values = as_arrays(labels, scores)
    return float(np.mean((values >= threshold) == fake)) if fake.size else None


def real_accuracy(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float | None:
    """Share of real items called real (TNR); None without real items."""
    fake, values = as_arrays(labels, scores)
    return float(np.mean(values[~fake] < threshold)) if (~fake).any() else None


def fake_accuracy(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float | None:
    """Share of fake items called fake (TPR); None without fake items."""
    fake, values = as_arrays(labels, scores)
    return float(np.mean(values[fake] >= threshold)) if fake.any() else None


# ---------------------------------------------------------------------------------------------------------------
# Bootstrap intervals

Metric = Callable[[np.ndarray, np.ndarray], float | None]


class ConfidenceInterval(NamedTuple):
    low: float
    high: float
    resamples: int  # resamples on which the metric was defined


def bootstrap_cis(
    labels: ArrayLike,
    scores: ArrayLike,
    metrics: Mapping[str, Metric],
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, ConfidenceInterval | None]:
    """``bootstrap_ci`` of several metrics on the same resamples (so their intervals are paired)."""
    if n < 1 or not 0.0 < level < 1.0:
        raise ValueError(f"need n >= 1 resamples and a level in (0, 1), got n={n}, level={level}")
    fake, values = as_arrays(labels, scores)
    labels_int = fake.astype(np.int64)
    groups = [np.flatnonzero(~fake), np.flatnonzero(fake)]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in metrics}
    for _ in range(n):
        # Stratified: each class is resampled within itself, so every resample keeps the class counts.
        picked = np.concatenate([group[rng.integers(0, group.size, group.size)] for group in groups if group.size])
        for name, metric in metrics.items():
            value = metric(labels_int[picked], values[picked])
            if value is not None:  # undefined (a class is missing): the resample is skipped for this metric
                samples[name].append(float(value))
    tail = 50.0 * (1.0 - level)
    intervals: dict[str, ConfidenceInterval | None] = {}
    for name, draws in samples.items():
        if draws:
            low, high = np.percentile(draws, [tail, 100.0 - tail])
            intervals[name] = ConfidenceInterval(float(low), float(high), len(draws))
        else:
            intervals[name] = None
    return intervals


def bootstrap_ci(
    labels: ArrayLike, scores: ArrayLike, metric: Metric, n: int = 1000, seed: int = 0, level: float = 0.95
) -> ConfidenceInterval | None:
    """Percentile interval of ``metric(labels, scores)`` over ``n`` stratified bootstrap resamples.

    Reals are drawn with replacement from the reals and fakes from the fakes, so each resample keeps the class
    counts (and metrics needing both classes stay defined whenever the data has both). The interval is the
    (1 - level)/2 and (1 + level)/2 percentiles (linear interpolation) of the metric over the resamples where it
    is defined (not None); None if it is defined on none. The same seed gives the same interval.
    """
    return bootstrap_cis(labels, scores, {"metric": metric}, n, seed, level)["metric"]


# ---------------------------------------------------------------------------------------------------------------
# Summary

BOTH_CLASS_METRICS = ("ap", "auc", "eer", "eer_threshold", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr")
LOW_FPRS = {"tpr_at_1pct_fpr": 0.01, "tpr_at_5pct_fpr": 0.05}


def _interval_metrics(threshold: float | None) -> dict[str, Metric]:
    def rate(labels: np.ndarray, scores: np.ndarray) -> float | None:
        result = eer(labels, scores)
        return None if result is None else result.rate

    metrics: dict[str, Metric] = {"auc": auc, "ap": average_precision, "eer": rate}
    if threshold is not None:
        metrics.update(
            {
                "acc": lambda y, s: accuracy(y, s, threshold),
                "tnr": lambda y, s: real_accuracy(y, s, threshold),
                "tpr": lambda y, s: fake_accuracy(y, s, threshold),
            }
        )
    for key, fpr in LOW_FPRS.items():
        metrics[key] = lambda y, s, fpr=fpr: tpr_at_fpr(y, s, fpr)
    return metrics


def _summary(
    fake: np.ndarray, values: np.ndarray, threshold: float | None, bootstrap: int, seed: int, level: float, unit: str
) -> dict:
    labels = fake.astype(np.int64)
    p, n = int(fake.sum()), int((~fake).sum())
    equal_error = eer(labels, values)
    if threshold is None:  # e.g. an anomaly score before calibration: only threshold-free metrics exist
        at_threshold: dict = dict.fromkeys(("tnr", "tpr", "acc"))
        counts: dict = dict.fromkeys(("tp", "tn", "fp", "fn"))
    else:
        tp, tn = int((values[fake] >= threshold).sum()), int((values[~fake] < threshold).sum())
        at_threshold = {
            "tnr": real_accuracy(labels, values, threshold),
            "tpr": fake_accuracy(labels, values, threshold),
            "acc": accuracy(labels, values, threshold),
        }
        counts = {"tp": tp, "tn": tn, "fp": n - tn, "fn": p - tp}
    summary: dict = {
        **at_threshold,
        "ap": average_precision(labels, values),
        "auc": auc(labels, values),
        "p": p,
        "n": n,
        "tp": counts["tp"],
        "tn": counts["tn"],
        "fp": counts["fp"],
        "fn": counts["fn"],
        "threshold": threshold,
        "eer": equal_error.rate if equal_error else None,
        "eer_threshold": equal_error.threshold if equal_error else None,
        **{key: tpr_at_fpr(labels, values, fpr) for key, fpr in LOW_FPRS.items()},
        "notes": [],
    }
    notes = summary["notes"]
    if not (p and n):
        missing = "fake" if n else "real" if p else "real or fake"
        notes.append(
            f"AP, AUC, EER and TPR at 1%/5% FPR are undefined: no {missing} {unit} were evaluated "
            "(both classes are needed)"
        )
    if threshold is None:
        notes.append(
            "acc, tnr, tpr and the tp/tn/fp/fn counts are undefined: no decision threshold was given "
            "(an anomaly score has none until it is calibrated)"
        )
    else:
        if not n:
            notes.append(f"tnr is undefined: no real {unit}")
        if not p:
            notes.append(f"tpr is undefined: no fake {unit}")
    for key, fpr in LOW_FPRS.items():
        if p and n and allowed_false_positives(fpr, n) == 0:
            notes.append(
                f"{key}: with {n} real {unit} one false positive is already {100 / n:.3g}% FPR, so this "
                "is the TPR at FPR 0"
            )
    if bootstrap:
        intervals = bootstrap_cis(labels, values, _interval_metrics(threshold), bootstrap, seed, level)
        summary["ci"] = {key: None if ci is None else [ci.low, ci.high] for key, ci in intervals.items()}
        summary["ci_level"], summary["ci_resamples"] = level, bootstrap
    return summary


def summarize(
    labels: ArrayLike,
    scores: ArrayLike,
    threshold: float | None = 0.5,
    subsets: Sequence[str | None] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    unit: str = "videos",
) -> dict:
    """All metrics of this module in one JSON-ready dictionary.

    Keys: the reference ``test.py`` summary (tnr, tpr, acc, ap, auc, p, n, tp, tn) plus fp, fn, threshold, eer,
    eer_threshold, tpr_at_1pct_fpr, tpr_at_5pct_fpr and ``notes``. A metric that is undefined (one class
    missing, or no items) is None and a note says why; ``unit`` ("videos", "frames") names the items in notes.
    ``threshold`` None (a score without a decision threshold): acc, tnr, tpr and the counts tp, tn, fp, fn are
    None, with a note.
    With ``bootstrap`` > 0 resamples: ``ci`` maps auc, ap, eer, acc, tnr, tpr and the TPRs at low FPR to
    [low, high] (``bootstrap_ci``, stratified, seeded; None where undefined), with ``ci_level`` and
    ``ci_resamples``.

    ``subsets`` gives each item's subset name (e.g. the generator of each fake video; None = no subset, such as
    real videos one does not want reported on their own) and adds ``per_subset``: name -> summary of that subset
    (same threshold, bootstrap and seed). A subset holding only fakes is scored together with ALL real items of
    the data set, as per-generator AUC is usually reported (each generator's fakes against the shared reals);
    its summary then has ``pooled_real`` true and a note. A subset holding reals is scored on its own items
    (``pooled_real`` false).
    """
    fake, values = as_arrays(labels, scores)
    summary = _summary(fake, values, threshold, bootstrap, seed, level, unit)
    if subsets is None:
        return summary
    names = list(subsets)
    if len(names) != fake.size:
        raise ValueError(f"need one subset name per item, got {len(names)} for {fake.size} items")
    per_subset: dict[str, dict] = {}
    for name in sorted({str(name) for name in names if name is not None}):
        member = np.array([other is not None and str(other) == name for other in names], dtype=bool)
        pooled = bool(fake[member].all())
        chosen = member | ~fake if pooled else member
        entry = _summary(fake[chosen], values[chosen], threshold, bootstrap, seed, level, unit)
        entry["pooled_real"] = pooled
        if pooled:
            entry["notes"].insert(
                0,
                f"this subset holds only fake {unit}; scored with all {int((~fake).sum())} real {unit} of the data set",
            )
        per_subset[name] = entry
    summary["per_subset"] = per_subset
    return summary
