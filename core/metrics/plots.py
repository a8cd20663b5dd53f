"""Figures of a labelled evaluation, for any detector: the ROC curve and the score histogram of each class.

Works for probabilities in [0, 1] (bins over [0, 1], as AIGVDet's scores) and for unbounded anomaly scores
(bins over the observed range). A decision threshold, when there is one, is drawn on both figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API draws with Agg into files: no display, no global pyplot state

from core.atomic import save_figure
from core.metrics.classification import as_arrays, auc, roc_points

MAX_BINS = 40


def histogram_bins(scores: np.ndarray) -> np.ndarray:
    """Bin edges: 20 bins over [0, 1] for probabilities, otherwise numpy's 'auto' edges over the observed range
    (at most MAX_BINS)."""
    if scores.size == 0 or (scores.min() >= 0.0 and scores.max() <= 1.0):
        return np.linspace(0.0, 1.0, 21)
    low, high = float(scores.min()), float(scores.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    count = min(MAX_BINS, max(1, len(np.histogram_bin_edges(scores, bins="auto")) - 1))
    return np.linspace(low, high, count + 1)


def _operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float]:
    flagged = scores >= threshold
    return float(flagged[~labels].mean()), float(flagged[labels].mean())


def plot_roc(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    path: str | Path,
    threshold: float | None = None,
    title: str = "ROC (video level)",
) -> Path | None:
    """Write the ROC curve with its AUC (and the operating point at ``threshold``); None without both classes."""
    fake, values = as_arrays(labels, scores)
    points = roc_points(fake.astype(np.int64), values)
    if points is None:
        return None
    fpr, tpr, _ = points
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=f"AUC {auc(fake.astype(np.int64), values):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    if threshold is not None:
        x, y = _operating_point(fake, values, threshold)
        ax.plot([x], [y], "o", color="black", label=f"threshold {threshold:.4g}")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    return save_figure(fig, path, dpi=120)


def plot_histogram(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    path: str | Path,
    score_name: str = "fused fake probability",
    threshold: float | None = None,
    title: str = "Video scores",
    unit: str = "videos",
) -> Path:
    """Write the score histogram of real and of fake items on shared bins (and the threshold as a line)."""
    fake, values = as_arrays(labels, scores)
    bins = histogram_bins(values)
    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    for is_fake, name in ((False, "real"), (True, "fake")):
        ax.hist(values[fake == is_fake], bins=bins, alpha=0.6, label=name)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    ax.set(xlabel=score_name, ylabel=unit, title=title)
    ax.legend()
    return save_figure(fig, path, dpi=120)


def plot_scores(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    folder: str | Path,
    *,
    score_name: str = "fused fake probability",
    threshold: float | None = None,
) -> list[Path]:
    """Write ``roc.png`` (when both classes are present) and ``histogram.png`` into ``folder``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    roc = plot_roc(labels, scores, folder / "roc.png", threshold)
    histogram = plot_histogram(labels, scores, folder / "histogram.png", score_name, threshold)
    return [path for path in (roc, histogram) if path is not None]
