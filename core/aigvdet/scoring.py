"""AIGVDet's decision rule: per-branch mean of frame probabilities, fused 0.5/0.5, thresholded."""

from __future__ import annotations

import numpy as np

RGB_WEIGHT = 0.5
FLOW_WEIGHT = 0.5


def fuse_scores(original_prob: float, optical_prob: float) -> float:
    """The video's fake probability from the RGB-branch and flow-branch means."""
    return original_prob * RGB_WEIGHT + optical_prob * FLOW_WEIGHT


def verdict(predict: float, threshold: float = 0.5) -> str:
    """'fake' when ``predict >= threshold`` (the reference's rule), else 'real'."""
    return "fake" if predict >= threshold else "real"


class FusedScore:
    """Mixin for results holding ``original_probs`` (per frame) and ``optical_probs`` (per pair)."""

    original_probs: list[float]
    optical_probs: list[float]

    @property
    def original_prob(self) -> float:
        return float(np.mean(self.original_probs))

    @property
    def optical_prob(self) -> float:
        return float(np.mean(self.optical_probs))

    @property
    def predict(self) -> float:
        return fuse_scores(self.original_prob, self.optical_prob)
