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


def pair_of_frame(frames: int, pairs: int) -> np.ndarray:
    """Which flow pair goes with each analysed frame: pair ``t`` starts at frame ``t``; the video's last frame
    starts none and takes the pair ending at it (the one before). With sampled pairs (as many frames as
    pairs: each analysed frame is its pair's first frame) every frame takes its own pair."""
    if not pairs or not pairs <= frames <= pairs + 1:
        raise ValueError(f"{frames} frame probabilities do not go with {pairs} pair probabilities")
    return np.minimum(np.arange(frames), pairs - 1)


def fused_per_frame(rgb_probs: list[float] | np.ndarray, flow_probs: list[float] | np.ndarray) -> np.ndarray:
    """Each analysed frame's fused probability: ``0.5 * rgb[t] + 0.5 * flow[pair_of_frame(t)]``.

    The video-level ``predict`` stays the fused mean of each branch (the reference's rule), which is not the
    mean of these values (the last frame's pair counts twice here).
    """
    rgb, flow = np.asarray(rgb_probs, dtype=np.float64), np.asarray(flow_probs, dtype=np.float64)
    return RGB_WEIGHT * rgb + FLOW_WEIGHT * flow[pair_of_frame(len(rgb), len(flow))]
