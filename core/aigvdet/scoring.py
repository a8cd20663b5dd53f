"""AIGVDet's decision rule: per-branch mean of frame probabilities, fused 0.5/0.5, thresholded."""

from __future__ import annotations

RGB_WEIGHT = 0.5
FLOW_WEIGHT = 0.5


def fuse_scores(original_prob: float, optical_prob: float) -> float:
    """The video's fake probability from the RGB-branch and flow-branch means."""
    return original_prob * RGB_WEIGHT + optical_prob * FLOW_WEIGHT


def verdict(predict: float, threshold: float = 0.5) -> str:
    """'fake' when ``predict >= threshold`` (the reference's rule), else 'real'."""
    return "fake" if predict >= threshold else "real"
