"""Metrics of a labelled batch table per condition, and the robustness table and plot built from them.

For every condition (``clean`` or a perturbation) and detector, the :func:`core.metrics.classification.summarize`
summary over the videos that have a score and a label (per subset too, where the table has subsets; a truncated
file has one, see :mod:`core.runs.status`), the others listed under ``skipped`` with why. The
robustness table has one row per (perturbation kind, level, detector) with AUC, AP and TPR at 1% FPR, the clean
condition first (kind ``clean``); the plot draws AUC against level, one panel per kind, one line per detector,
the clean AUC as a dashed reference.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Mapping, Sequence

from core import atomic
from core.forensics.batch_table import detectors_of, scored, video_rows
from core.metrics.classification import summarize
from core.runs.status import has_score, skipped_record

ROBUSTNESS_COLUMNS = ["perturbation", "level", "detector", "videos", "auc", "ap", "tpr_at_1pct_fpr"]


def _scored(rows: Sequence[Mapping[str, str]], detector: str):
    kept = [row for row in rows if row["label"] != "" and scored(row, detector)]  # a truncated file is scored
    labels = [int(row["label"]) for row in kept]
    scores = [float(row[f"{detector}_score"]) for row in kept]
    threshold = next((float(row[f"{detector}_threshold"]) for row in kept if row[f"{detector}_threshold"]), None)
    return kept, labels, scores, threshold


def _why(row: Mapping[str, str], detector: str) -> str:
    """Why a row is left out of the metrics: its status when it has no score, else no label (or a NaN score)."""
    status = row[f"{detector}_status"]
    if not has_score(status):
        return status
    return "no label" if row["label"] == "" else "no score"


def condition_summaries(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str], bootstrap: int = 0, seed: int = 0
) -> dict[str, dict[str, dict]]:
    """{condition: {detector: summary}}; an empty dict when no row has a label. With face-track rows, each
    video counts once, by its main face's row."""
    rows = video_rows(rows)
    if not any(row["label"] != "" for row in rows):
        return {}
    out: dict[str, dict[str, dict]] = {}
    for condition in dict.fromkeys(row["perturbation"] for row in rows):
        subset_rows = [row for row in rows if row["perturbation"] == condition]
        for detector in detectors_of(columns):
            kept, labels, scores, threshold = _scored(subset_rows, detector)
            subsets = [row["subset"] or None for row in kept]
            summary = summarize(
                labels, scores, threshold, subsets if any(subsets) else None, bootstrap=bootstrap, seed=seed
            )
            kept_rows = {id(row) for row in kept}
            summary["skipped"] = [
                skipped_record(row["path"], int(row["label"]) if row["label"] != "" else None, _why(row, detector))
                for row in subset_rows
                if id(row) not in kept_rows
            ]
            out.setdefault(condition, {})[detector] = summary
    return out


def split_condition(condition: str) -> tuple[str, str]:
    """``jpeg:50`` -> (``jpeg``, ``50``); ``clean`` -> (``clean``, ``""``); a chain keeps its whole spec as kind."""
    if condition == "clean" or "+" in condition:
        return condition, ""
    kind, _, level = condition.partition(":")
    return kind, level


def robustness_rows(summaries: Mapping[str, Mapping[str, dict]]) -> list[dict]:
    rows = []
    for condition, per_detector in summaries.items():
        kind, level = split_condition(condition)
        for detector, summary in per_detector.items():
            rows.append(
                {
                    "perturbation": kind,
                    "level": level,
                    "detector": detector,
                    "videos": summary["p"] + summary["n"],
                    "auc": summary["auc"],
                    "ap": summary["ap"],
                    "tpr_at_1pct_fpr": summary["tpr_at_1pct_fpr"],
                }
            )
    return rows


def write_robustness_csv(rows: Sequence[Mapping], target: Path) -> Path:
    with atomic.atomic_open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ROBUSTNESS_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return target


def plot_robustness(rows: Sequence[Mapping], target: Path) -> Path:
    """AUC against level, one panel per perturbation kind (levels in the run's order), clean AUC dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [kind for kind in dict.fromkeys(row["perturbation"] for row in rows) if kind != "clean"]
    detectors = list(dict.fromkeys(row["detector"] for row in rows))
    clean = {row["detector"]: row["auc"] for row in rows if row["perturbation"] == "clean"}
    columns = min(4, max(1, len(kinds)))
    lines = max(1, math.ceil(len(kinds) / columns))
    figure, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 2.8 * lines), squeeze=False, sharey=True)
    for axis, kind in zip(axes.flat, kinds):
        for number, detector in enumerate(detectors):
            points = [row for row in rows if row["perturbation"] == kind and row["detector"] == detector]
            levels = [row["level"] for row in points]
            values = [math.nan if row["auc"] is None else row["auc"] for row in points]
            colour = f"C{number}"
            axis.plot(levels, values, "o-", color=colour, label=detector)
            if clean.get(detector) is not None:
                axis.axhline(clean[detector], color=colour, linestyle="--", linewidth=0.8)
        axis.set_title(kind)
        axis.set_xlabel("level")
        axis.set_ylim(0.0, 1.02)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(kinds) :]:
        axis.axis("off")
    axes[0][0].set_ylabel("AUC (dashed: clean)")
    axes[0][0].legend(fontsize=8, loc="lower left")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.save_figure(figure, target, dpi=110)
    plt.close(figure)
    return target
