"""Validation metrics of the reference's ``validate`` (ACC, AP, real and fake accuracy) plus ROC AUC.

Probabilities are sigmoid(logit); a prediction is "fake" when its probability is above 0.5, as in the
reference (strictly above here, while the reference ``test.py`` flags ``>=``: each keeps its own rule). AP and
AUC need both classes: with only real (or only fake) images the ROC curve's false (or true) positive rate
divides by zero, so they are reported as NaN instead of a misleading number; the accuracy of a missing class
is NaN for the same reason. The numbers come from ``core.metrics.classification`` (AP and AUC equal
scikit-learn's to the last bit).
"""

from __future__ import annotations

import math

import numpy as np

from core.metrics.classification import accuracy, auc, average_precision, fake_accuracy, real_accuracy


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def binary_metrics(labels, probs, threshold: float = 0.5) -> dict[str, float]:
    """ACC, AP, AUC, R_ACC (real images called real: TNR), F_ACC (fakes called fake: TPR)."""
    labels = np.asarray(labels).astype(int).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    if labels.shape != probs.shape or labels.size == 0:
        raise ValueError(f"need as many labels as probabilities, got {labels.size} and {probs.size}")
    # core.metrics flags score >= threshold; for float64 scores, p > t is exactly p >= the next float above t.
    above = float(np.nextafter(threshold, np.inf))
    return {
        "ACC": _nan_if_none(accuracy(labels, probs, above)),
        "AP": _nan_if_none(average_precision(labels, probs)),
        "AUC": _nan_if_none(auc(labels, probs)),
        "R_ACC": _nan_if_none(real_accuracy(labels, probs, above)),
        "F_ACC": _nan_if_none(fake_accuracy(labels, probs, above)),
    }
