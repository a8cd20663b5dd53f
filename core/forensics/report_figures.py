"""The figures of a forensic report, as PNG bytes (matplotlib's object API with Agg: no display, no global state).

* ``timeline_png``: a detector's per-time curves (the primary one thicker), its threshold, its segments;
* ``heatmap_png``: a per-time vector series as an image, time on x; a series of logits is shown as the softmax
  of each time step (a distribution over its columns; for the audio-visual detector: the 31 audio-visual
  offsets, the paper's Fig. 1 style: a bright band at 0 where the audio and the mouth agree);
* ``calibration_png``: a calibration's map from raw score to calibrated value, with this video's score;
* ``thumbnail_png``: an illustration scaled for the page.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from core.forensics.calibration import Calibration
from core.forensics.evidence import TimeSeries
from core.forensics.timeline_plot import draw_timeline

DPI = 100
THUMBNAIL_SIDE = (160, 320)  # shortest and longest displayed side, pixels


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def timeline_png(
    curves: Mapping[str, TimeSeries],
    primary: str | None,
    threshold: float | None,
    threshold_label: str,
    segments: Sequence[Mapping[str, float]],
    ylabel: str,
    title: str = "",
    unscored: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Each 1-D curve as steps (a sample holds until the next), the threshold dashed, segments as red bars, and
    ``unscored`` stretches (``start_s``, ``end_s``, ``status``) hatched grey with their status."""
    figure = Figure(figsize=(9.5, 3.0))
    axes = figure.subplots()
    for index, stretch in enumerate(unscored):
        axes.axvspan(
            stretch["start_s"],
            stretch["end_s"],
            facecolor="0.92",
            edgecolor="0.7",
            hatch="//",
            lw=0,
            label="not scored" if index == 0 else None,
        )
        axes.annotate(
            stretch["status"],
            ((stretch["start_s"] + stretch["end_s"]) / 2, 0.02),
            xycoords=("data", "axes fraction"),
            ha="center",
            fontsize=7,
            color="0.35",
        )
    draw_timeline(axes, curves, primary, threshold, threshold_label, [(s["start_s"], s["end_s"]) for s in segments])
    axes.set(xlabel="time (s)", ylabel=ylabel, title=title)
    axes.grid(alpha=0.25)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    return _png(figure)


def softmax_rows(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def heatmap_png(name: str, series: TimeSeries, title: str = "") -> bytes:
    """A (T, K) series as a K x T image (see the module docstring); odd K: columns centred on 0."""
    values = np.asarray(series.values, dtype=np.float64)
    is_logits = name.endswith("logits")
    shown = softmax_rows(values) if is_logits else values
    columns = shown.shape[1]
    low = -(columns // 2) if columns % 2 else 0
    times = np.asarray(series.time_s, dtype=np.float64)
    step = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    figure = Figure(figsize=(9.5, 3.2))
    axes = figure.subplots()
    image = axes.imshow(
        shown.T,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap="magma",
        extent=(times[0], times[-1] + step, low - 0.5, low + columns - 0.5),
    )
    if columns % 2:
        axes.axhline(0, color="white", lw=0.6, ls=":", alpha=0.7)
    axes.set(
        xlabel="time (s)",
        ylabel="offset (frames)" if "offset" in series.description else "column",
        title=title or series.description,
    )
    figure.colorbar(image, ax=axes, label="probability" if is_logits else "value", pad=0.01)
    figure.tight_layout()
    return _png(figure)


def calibration_png(calibration: Calibration, score: float, score_label: str) -> bytes:
    """The calibrated value as a function of the raw score, the calibrated threshold, and this video's score."""
    if calibration.method == "isotonic":
        knots = np.asarray(calibration.map["x"], dtype=np.float64)
    elif calibration.method == "real_tail":
        knots = np.asarray(calibration.map["real_scores"], dtype=np.float64)
    else:
        knots = np.asarray([calibration.threshold], dtype=np.float64)
    ends = np.array([knots.min(), knots.max(), calibration.threshold, score])
    spread = max(float(np.ptp(ends)), 1e-6)
    grid = np.linspace(ends.min() - 0.1 * spread, ends.max() + 0.1 * spread, 400)
    figure = Figure(figsize=(4.6, 3.0))
    axes = figure.subplots()
    axes.plot(grid, calibration.probability(grid), color="tab:blue", lw=1.5, label=calibration.method)
    axes.axvline(
        calibration.threshold, color="grey", ls="--", lw=1, label=f"threshold ({calibration.target_fpr:.0%} FPR)"
    )
    axes.plot([score], [float(calibration.probability(score))], "o", color="tab:red", label="this video")
    axes.set(xlabel=score_label, ylabel="calibrated value", ylim=(-0.03, 1.03))
    axes.grid(alpha=0.25)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return _png(figure)


def thumbnail_png(image: np.ndarray, sides: tuple[int, int] = THUMBNAIL_SIDE) -> bytes:
    """``image`` (H, W, 3 uint8) scaled so its longest side is at most ``sides[1]`` and its shortest at least
    ``sides[0]`` when that fits (tiny frames are enlarged with visible pixels: nearest neighbour)."""
    picture = Image.fromarray(np.ascontiguousarray(image))
    width, height = picture.size
    scale = min(sides[1] / max(width, height), max(1.0, sides[0] / min(width, height)))
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = picture.resize(size, Image.NEAREST if scale > 1 else Image.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
