"""AIGVDet's decision rule: per-branch mean of frame probabilities, fused 0.5/0.5, thresholded."""

from __future__ import annotations

import numpy as np

RGB_WEIGHT = 0.5
FLOW_WEIGHT = 0.5


def fuse_scores(rgb_prob: float, flow_prob: float) -> float:
    """The video's fake probability from the RGB-branch and flow-branch means."""
    return rgb_prob * RGB_WEIGHT + flow_prob * FLOW_WEIGHT


def verdict(predict: float, threshold: float = 0.5) -> str:
    """'fake' when ``predict >= threshold`` (the reference's rule), else 'real'."""
    return "fake" if predict >= threshold else "real"


class FusedScore:
    """Mixin for results holding ``rgb_probs`` (per frame) and ``flow_probs`` (per consecutive pair).

    The reference calls the two branches "original" and "optical"; its names survive only in the outputs it
    defines (printed lines, CSV columns, demo.py's JSON keys).
    """

    rgb_probs: list[float]
    flow_probs: list[float]

    @property
    def rgb_prob(self) -> float:
        return float(np.mean(self.rgb_probs))

    @property
    def flow_prob(self) -> float:
        return float(np.mean(self.flow_probs))

    @property
    def predict(self) -> float:
        return fuse_scores(self.rgb_prob, self.flow_prob)
