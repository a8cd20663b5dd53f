"""Validation metrics of the reference's ``validate`` (ACC, AP, real and fake accuracy) plus ROC AUC.

Probabilities are sigmoid(logit); a prediction is "fake" when its probability is above 0.5, as in the
reference. AP and AUC need both classes: with only real (or only fake) images the ROC curve's false
(or true) positive rate divides by zero, so they are reported as NaN instead of a misleading number;
the accuracy of a missing class is NaN for the same reason.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

def binary_metrics(labels, probs, threshold: float = 0.5) -> dict[str, float]:
    """ACC, AP, AUC, R_ACC (real images called real: TNR), F_ACC (fakes called fake: TPR)."""
    labels = np.asarray(labels).astype(int).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    if labels.shape != probs.shape or labels.size == 0:
        raise ValueError(f"need as many labels as probabilities, got {labels.size} and {probs.size}")
    predicted = probs > threshold
    real, fake = labels == 0, labels == 1
    both = real.any() and fake.any()
    return {
        "ACC": float(np.mean(predicted == labels.astype(bool))),
        "AP": float(average_precision_score(labels, probs)) if both else math.nan,
        "AUC": float(roc_auc_score(labels, probs)) if both else math.nan,
        "R_ACC": float(np.mean(~predicted[real])) if real.any() else math.nan,
        "F_ACC": float(np.mean(predicted[fake])) if fake.any() else math.nan,
    }
