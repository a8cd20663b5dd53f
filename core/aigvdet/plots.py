"""Optional figures of an evaluation: ROC curve and score histograms of real and fake videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from core.errors import ToolkitError


def plot_scores(labels: list[int], scores: list[float], folder: str | Path) -> list[Path]:
    """Write ``roc.png`` (when both classes are present) and ``histogram.png`` into ``folder``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ToolkitError("plots need matplotlib: pip install matplotlib") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels_arr, scores_arr = np.asarray(labels), np.asarray(scores)
    written = []
    if len(set(labels)) == 2:
        fpr, tpr, _ = roc_curve(labels_arr, scores_arr)
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(fpr, tpr)
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (video level)")
        fig.tight_layout()
        fig.savefig(folder / "roc.png", dpi=120)
        plt.close(fig)
        written.append(folder / "roc.png")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bins = np.linspace(0, 1, 21)
    for label, name in ((0, "real"), (1, "fake")):
        ax.hist(scores_arr[labels_arr == label], bins=bins, alpha=0.6, label=name)
    ax.set(xlabel="fused fake probability", ylabel="videos", title="Video scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "histogram.png", dpi=120)
    plt.close(fig)
    written.append(folder / "histogram.png")
    return written
