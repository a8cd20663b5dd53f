"""detect.py's per-video results, resumable: ``scores.csv`` (a :class:`ResultTable`), ``output.log`` and the arrays.

``scores.csv`` is the record: a row is written, flushed and fsync'ed as each clip is scored. Beside it,
``scores.csv.settings.json`` holds the run's settings fingerprint (:func:`run_fingerprint`: the checkpoints'
SHA-256 and every option that changes a score). A rerun into the same folder with the same settings skips the
videos already in the table; with other settings it is refused (:class:`core.runs.result_table.SettingsMismatch`);
``overwrite`` starts over. The other files are derived from the table, so they agree with it after a kill:
``output.log`` is rebuilt from its rows when a run resumes, and ``testing_scores.npy``/``testing_score.npy``
(the scores in input order, NaN where there is none) are written, atomically, when the run closes (also after
an error or a Ctrl-C) and when a run resumes. Not after every video: rewriting the whole array per video made a
long list's run quadratic. After a kill (no close) the arrays are stale or missing and the table is the record;
the next run into the folder writes them again from it.

With ``all_faces`` a video has one row per face track and ``main_faces.csv`` (``path, face_crop``) records,
once all of a video's rows are written, which track gives its score in the arrays (empty: none does). A video
without that line was cut short by a kill: its rows are dropped on resume and it is scored again.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic
from core.media.faces.clip import FaceClip
from core.runs.result_table import ResultTable, file_fingerprint
from core.runs.status import has_score

log = logging.getLogger(__name__)

SCORE_FILES = ("testing_scores.npy", "testing_score.npy")
SCORES_NAME = "scores.csv"
MAIN_FACES_NAME = "main_faces.csv"
BASE_COLUMNS = ("path", "score", "steps", "status", "face_crop", "face_status")
WHOLE_FRAME_TRACK = "none"


@dataclass(frozen=True)
class ExtraColumns:
    """Columns appended to scores.csv: ``values(index, score)`` gives one value per name for input ``index``."""

    names: Sequence[str]
    values: Callable[[int, float], Sequence[object]]


def run_fingerprint(checkpoint_files: Mapping[str, str | os.PathLike], options: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a resumed run must share: each checkpoint's SHA-256 (so a moved copy still matches) and
    ``options`` (everything else that changes a score)."""
    files = {role: file_fingerprint(path) for role, path in checkpoint_files.items()}
    return {
        "checkpoints": files,
        **{k: (asdict(v) if hasattr(v, "__dataclass_fields__") else v) for k, v in options.items()},
    }


def log_line(path: str, score: str, status: str, face_crop: str) -> str:
    """One ``output.log`` line (the authors' wording plus the path); ``score`` as written in the table (repr)."""
    track = "" if face_crop == WHOLE_FRAME_TRACK else f" [face track {face_crop}]"
    return f"{path}: The score of this video is {score}" + ("" if status == "ok" else f" ({status})") + track + "\n"


def unscored_reasons(output_dir: Path) -> dict[str, str]:
    """path -> the status of its first row without a score in ``scores.csv`` (why a video has none)."""
    reasons: dict[str, str] = {}
    with open(Path(output_dir) / SCORES_NAME, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["status"] is not None and not has_score(row["status"]):
                reasons.setdefault(row["path"], row["status"])
    return reasons


class ResultWriter:
    """Appends each clip's row to the table and the log at once; the score arrays are written on resume and close."""

    def __init__(
        self,
        output_dir: Path,
        inputs: Sequence[str],
        save_distributions: bool,
        extra_columns: ExtraColumns | None = None,
        video_columns: tuple[str, ...] = (),
        settings: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        all_faces: bool = False,
    ) -> None:
        self.output_dir = output_dir
        output_dir.mkdir(parents=True, exist_ok=True)
        self.extra_columns = extra_columns
        columns = [*BASE_COLUMNS, *video_columns, *(extra_columns.names if extra_columns else ())]
        self.table = ResultTable(output_dir / SCORES_NAME, columns, ("path", "face_crop"), settings or {}, overwrite)
        self.main_faces = (
            ResultTable(
                output_dir / MAIN_FACES_NAME, ["path", "face_crop"], ["path"], None, overwrite or not self.table.resumed
            )
            if all_faces
            else None
        )
        main_of: dict[str, str] | None = None
        if self.main_faces is not None:
            main_of = {row["path"]: row["face_crop"] for row in self.main_faces.rows}
            dropped = self.table.retain(lambda row: row["path"] in main_of)
            if dropped:
                log.warning("%d row(s) of videos an interrupted run left half-scored are dropped", dropped)
        previous = self._previous_scores(main_of)
        self.done = set(previous)  # scored by an earlier run: skipped
        self.scores = np.array([previous.get(path, math.nan) for path in inputs], dtype=np.float64)
        self.distribution_dir = output_dir / "distributions" if save_distributions else None
        if self.distribution_dir is not None:
            self.distribution_dir.mkdir(exist_ok=True)
        log_path = output_dir / "output.log"
        if self.table.resumed:
            lines = [log_line(r["path"], r["score"], r["status"], r["face_crop"]) for r in self.table.rows]
            atomic.write_text(log_path, "".join(lines))
            self._save_scores()
            log.info(
                "%d of %d videos already scored in %s: skipped", len(self.done & set(inputs)), len(inputs), output_dir
            )
        self._log = open(log_path, "a" if self.table.resumed else "w", encoding="utf-8")

    def _previous_scores(self, main_of: dict[str, str] | None) -> dict[str, float]:
        """Each video of the table and its score: its (first) row's, or with all faces its main track's (or NaN)."""
        scores: dict[str, float] = {}
        for row in self.table.rows:
            path = row["path"]
            if main_of is None:
                scores.setdefault(path, float(row["score"]))
            else:
                scores.setdefault(path, math.nan)
                if row["face_crop"] == main_of[path] and math.isnan(scores[path]):
                    scores[path] = float(row["score"])
        return scores

    def _save_scores(self) -> None:
        for name in SCORE_FILES:
            atomic.save_npy(self.output_dir / name, self.scores)

    def add(
        self,
        index: int,
        path: str,
        score: float,
        steps: int,
        status: str,
        logits: np.ndarray | None,
        face: FaceClip,
        extra: tuple[float, ...] = (),
        suffix: str = "",
    ) -> None:
        if face.main:
            self.scores[index] = score
        if self.distribution_dir is not None and logits is not None:
            atomic.save_npy(self.distribution_dir / f"{index}_{Path(path).stem}{suffix}.npy", logits)
        labelled = self.extra_columns.values(index, score) if self.extra_columns else ()
        self.table.append(
            [path, repr(score), steps, status, face.face_crop, face.face_status, *map(repr, extra), *labelled]
        )
        self._log.write(log_line(path, repr(score), status, face.face_crop))
        self._log.flush()

    def finish_video(self, path: str, faces: Sequence[FaceClip]) -> None:
        """All rows of a video are written: with all faces, record its main track (the video is then complete)."""
        if self.main_faces is not None:
            main = next((face.face_crop for face in faces if face.main), "")
            self.main_faces.append([path, main])

    def close(self) -> None:
        self._log.close()
        self.table.close()
        self._save_scores()
        if self.main_faces is not None:
            self.main_faces.close()
