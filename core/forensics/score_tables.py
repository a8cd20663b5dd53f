"""The result tables the scripts already write, read back as (name, score, label) rows, so nothing is scored twice.

Two layouts are known, told apart by their columns:

* ``test.py``'s video CSV (AIGVDet): ``name, pro, flag, optical_pro, original_pro``; the score is ``pro`` and
  the label ``flag`` (0 real, 1 fake). test.py appends to an existing CSV, so a file may hold several runs;
* ``detect.py``'s ``scores.csv`` (audio-visual): ``path, score, steps, status`` and, when the run had labels,
  ``label``. Rows whose status says they have no score (:mod:`core.runs.status`: anything but ``ok`` and
  ``truncated: ...``), or whose score is NaN, are set aside.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.runs.status import has_score

log = logging.getLogger(__name__)

TEST_COLUMNS = ("name", "pro", "flag")
DETECT_COLUMNS = ("path", "score", "steps", "status")
PRODUCERS = ("test.py", "detect.py")


@dataclass(frozen=True)
class ScoreTable:
    """Scored rows of one result table; ``labels`` is None when the table has none."""

    path: Path
    producer: str  # "test.py" or "detect.py"
    names: list[str]
    scores: np.ndarray
    labels: np.ndarray | None
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (name, why it has no score)


def _labels(values: pd.Series, path: Path) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any() or not numbers.isin((0, 1)).all():
        raise InputError(f"{path}: labels must be 0 (real) or 1 (fake) on every row")
    return numbers.to_numpy(dtype=np.int64)


def read_score_table(path: str | os.PathLike) -> ScoreTable:
    """Read one table (see the module docstring); ``InputError`` if it is neither layout."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=["nan", "NaN", ""])
    except FileNotFoundError:
        raise InputError(f"result table not found: {path}") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path} cannot be read as a CSV table: {exc}") from None
    columns = set(frame.columns)
    if set(TEST_COLUMNS) <= columns:
        producer, name_column, score_column = "test.py", "name", "pro"
        labels = _labels(frame["flag"], path)
        usable = np.ones(len(frame), dtype=bool)
        reasons = [""] * len(frame)
        duplicated = frame.duplicated(["name", "flag"]).sum()
        if duplicated:
            log.warning(
                "%s: %d rows repeat a video (test.py appends to an existing CSV): each row counts", path, duplicated
            )
    elif set(DETECT_COLUMNS) <= columns:
        producer, name_column, score_column = "detect.py", "path", "score"
        labels = _labels(frame["label"], path) if "label" in columns else None
        status = frame["status"].astype(str)
        usable = np.array([has_score(text) for text in status], dtype=bool)  # a truncated file is scored
        reasons = status.tolist()
    else:
        raise InputError(
            f"{path} is not a result table of test.py (columns {', '.join(TEST_COLUMNS)}, ...) or of "
            f"detect.py ({', '.join(DETECT_COLUMNS)}); its columns: {', '.join(map(str, frame.columns))}"
        )
    scores = pd.to_numeric(frame[score_column], errors="coerce").to_numpy(dtype=np.float64)
    names = frame[name_column].astype(str).tolist()
    usable = usable & np.isfinite(scores)
    dropped = [(name, reason or "no score") for name, reason, ok in zip(names, reasons, usable) if not ok]
    keep = np.flatnonzero(usable)
    return ScoreTable(
        path, producer, [names[i] for i in keep], scores[keep], None if labels is None else labels[keep], dropped
    )


def read_score_tables(paths: list[str | os.PathLike]) -> ScoreTable:
    """Several tables of the same script as one (rows in file order); all must have labels or none."""
    tables = [read_score_table(path) for path in paths]
    if not tables:
        raise InputError("no result table given")
    producers = {table.producer for table in tables}
    if len(producers) > 1:
        raise InputError(
            f"the tables come from different scripts ({', '.join(sorted(producers))}): a calibration "
            "is made for one detector's scores"
        )
    labelled = {table.labels is not None for table in tables}
    if len(labelled) > 1:
        raise InputError("some tables have labels and some do not: give tables of one kind")
    return ScoreTable(
        tables[0].path,
        tables[0].producer,
        [name for table in tables for name in table.names],
        np.concatenate([table.scores for table in tables]),
        np.concatenate([table.labels for table in tables]) if labelled == {True} else None,
        [row for table in tables for row in table.dropped],
    )
