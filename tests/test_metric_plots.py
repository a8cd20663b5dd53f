"""core.metrics.plots: ROC and histograms for probabilities and unbounded anomaly scores."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.metrics.plots import histogram_bins, plot_scores


def test_plots_for_probabilities_and_anomaly_scores(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 80)
    anomaly = rng.normal(size=80) * 2 + 3 * labels + 1
    written = plot_scores(labels, anomaly, tmp_path / "anomaly", score_name="anomaly score", threshold=2.5)
    assert [p.name for p in written] == ["roc.png", "histogram.png"]
    for path in written:
        with Image.open(path) as image:
            assert image.size[0] > 300 and image.size[1] > 200
    probs = 1 / (1 + np.exp(-anomaly))
    assert len(plot_scores(labels, probs, tmp_path / "probs")) == 2
    # One class: no ROC, the histogram still.
    assert [p.name for p in plot_scores([0, 0, 0], [0.1, 0.2, 0.3], tmp_path / "one")] == ["histogram.png"]


def test_histogram_bins_follow_the_score_range():
    np.testing.assert_array_equal(histogram_bins(np.array([0.0, 0.3, 1.0])), np.linspace(0, 1, 21))
    edges = histogram_bins(np.array([-3.0, 0.0, 12.0]))
    assert edges[0] == -3.0 and edges[-1] == 12.0 and len(edges) <= 41
    assert len(histogram_bins(np.array([5.0, 5.0]))) >= 2
