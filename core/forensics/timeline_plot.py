"""A figure of one video's timeline: per-time curves, the threshold, localised segments and, when known, the truth.

Works from the detector interface only (``TimeSeries``, ``Segment``), so any detector's evidence can be drawn.
Needs matplotlib (``pip install matplotlib``); drawn with the Agg backend, no display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.atomic import save_figure
from core.errors import ToolkitError
from core.forensics.evidence import TimeSeries
from core.forensics.timeline import Segment


def draw_timeline(
    axes,
    curves: Mapping[str, TimeSeries],
    primary: str | None,
    threshold: float | None,
    threshold_label: str,
    segments: Sequence[tuple[float, float]],
) -> None:
    """On matplotlib ``axes``: each curve as steps (a sample holds until the next), ``primary`` thicker and black,
    the threshold dashed, localised ``segments`` (start, end) as red bars along the top."""
    for name, series in curves.items():
        strong = name == primary
        axes.step(
            series.time_s,
            series.values,
            where="post",
            label=name,
            lw=2.0 if strong else 1.0,
            alpha=1.0 if strong else 0.65,
            color="black" if strong else None,
        )
    if threshold is not None:
        axes.axhline(threshold, color="grey", ls="--", lw=1, label=f"{threshold_label} {threshold:.3g}")
    top = axes.get_ylim()[1]
    for index, (start, end) in enumerate(segments):
        axes.plot(
            [start, end],
            [top, top],
            color="tab:red",
            lw=6,
            solid_capstyle="butt",
            label="localised segment" if index == 0 else None,
        )


def plot_timeline(
    path: str | os.PathLike,
    curves: Mapping[str, TimeSeries],
    threshold: float | None = None,
    segments: Sequence[Segment] = (),
    truth: Sequence[tuple[float, float]] = (),
    title: str = "",
    ylabel: str = "fake probability",
    emphasise: str | None = None,
) -> Path:
    """Write a PNG: each curve as steps (a sample holds until the next), ``emphasise`` drawn thicker, the
    threshold as a dashed line, localised ``segments`` as red bars at the top and ``truth`` segments shaded."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ToolkitError("plots need matplotlib: pip install matplotlib") from None
    fig, ax = plt.subplots(figsize=(8, 3))
    for index, (start, end) in enumerate(truth):
        ax.axvspan(start, end, color="gold", alpha=0.3, lw=0, label="manipulated (truth)" if index == 0 else None)
    draw_timeline(ax, curves, emphasise, threshold, "threshold", [(s.start_s, s.end_s) for s in segments])
    ax.set(xlabel="time (s)", ylabel=ylabel, title=title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, target, dpi=100)
    plt.close(fig)
    return target
