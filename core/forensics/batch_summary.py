"""What a batch run adds when its videos have labels or a calibration is given, for any detector's scores.

* extra result columns: ``label`` only when every video has one, ``calibrated, verdict`` only with a
  calibration (so a run without either writes exactly what it wrote before);
* with labels, the summary of ``core.metrics`` (the keys of test.py's summary), over the videos that have a
  score; the others are listed under ``skipped`` with why. The decision threshold is the calibrated one; without a
  calibration an anomaly score has none, and the metrics that need one are undefined (with a note).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from core import atomic
from core.forensics.calibration import Calibration
from core.metrics.classification import summarize
from core.runs.status import skipped_record

log = logging.getLogger(__name__)


def result_columns(
    labels: Sequence[int] | None, calibration: Calibration | None, paths: Sequence[str] | None = None
) -> tuple[list[str], Callable[[int, float], list[object]]] | None:
    """Names and a row function ``(input index, score) -> values`` of the extra columns; None when there are none.

    With a calibration, each calibrated score is also logged (with its path from ``paths`` when given)."""
    names = (["label"] if labels is not None else []) + (["calibrated", "verdict"] if calibration is not None else [])
    if not names:
        return None

    def values(index: int, score: float) -> list[object]:
        row: list[object] = [labels[index]] if labels is not None else []
        if calibration is not None:
            record = calibration.apply(score)
            value, verdict = record["calibrated"], record["calibrated_verdict"]
            if verdict is not None:
                where = f"{paths[index]}: " if paths is not None else ""
                log.info(
                    "%scalibrated %.6g (%s), %s at threshold %r",
                    where,
                    value,
                    calibration.meaning,
                    verdict,
                    calibration.threshold,
                )
            row += ["" if value is None else repr(value), verdict or ""]
        return row

    return names, values


def labelled_summary(
    paths: Sequence[str],
    labels: Sequence[int],
    scores: np.ndarray,
    calibration: Calibration | None = None,
    bootstrap: int = 0,
    reasons: Mapping[str, str] | None = None,
) -> dict:
    """``core.metrics`` summary of the scored videos (a finite score), with the skipped ones listed
    (:func:`core.runs.status.skipped_record`; their reason from ``reasons``, path -> status) and the threshold's
    origin."""
    scores = np.asarray(scores, dtype=np.float64)
    scored = np.isfinite(scores)
    kept_labels = [label for label, ok in zip(labels, scored) if ok]
    threshold = calibration.threshold if calibration is not None else None
    summary = summarize(kept_labels, scores[scored], threshold, bootstrap=bootstrap)
    summary["threshold_source"] = "calibration" if calibration is not None else None
    reasons = reasons or {}
    summary["skipped"] = [
        skipped_record(path, label, reasons.get(path, "no score"))
        for path, label, ok in zip(paths, labels, scored)
        if not ok
    ]
    return summary


def write_labelled_summary(
    target: str | Path,
    paths: Sequence[str],
    labels: Sequence[int],
    scores: np.ndarray,
    calibration: Calibration | None = None,
    bootstrap: int = 0,
    plot_dir: str | Path | None = None,
    score_name: str = "score",
    reasons: Mapping[str, str] | None = None,
) -> dict:
    """Write ``labelled_summary`` as JSON to ``target`` and, with ``plot_dir``, the ROC and histogram figures."""
    summary = labelled_summary(paths, labels, scores, calibration, bootstrap, reasons)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(target, summary, indent=2)
    log.info("summary of %d labelled videos written to %s", summary["p"] + summary["n"], target)
    if plot_dir is not None:
        from core.metrics.plots import plot_scores  # matplotlib only when figures are asked for

        scored = np.isfinite(np.asarray(scores, dtype=np.float64))
        threshold = summary["threshold"]
        written = plot_scores(
            [label for label, ok in zip(labels, scored) if ok],
            np.asarray(scores)[scored],
            plot_dir,
            score_name=score_name,
            threshold=None if threshold is None or math.isinf(threshold) else threshold,
        )
        log.info("figures: %s", ", ".join(map(str, written)))
    return summary
