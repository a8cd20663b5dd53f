"""The batch results table: its columns, the per-rank parts, and their merge into ``results.csv`` and
``results.parquet``.

Columns, one row per (video, condition), or per (video, condition, face track):

* ``index`` (the video's position in the input), ``condition`` (the condition's position in the run),
  ``path``, ``label`` (0/1, empty when not given), ``subset``, ``perturbation`` (``clean`` or the chain, e.g.
  ``jpeg:50``), ``width``, ``height``, ``fps`` (as the first detector that read the video saw them);
* with face tracks, one row per track: ``face_track`` (the track's index in the video, ``none`` for the whole
  frame, empty when the video gave no track) and ``main_face`` (1 on the row of the track whose score is the
  video's; :func:`video_rows` keeps those, one per video, for metrics);
* per detector ``<name>_score`` (NaN when there is none), ``<name>_status`` (:mod:`core.runs.status`: ``ok``,
  ``truncated: ...`` (scored), or why there is no score),
  ``<name>_seconds`` (its wall time on this video), ``<name>_frames`` (frames it looked at),
  ``<name>_threshold`` (its decision threshold; empty for an uncalibrated anomaly score);
* a detector's own columns after those (its ``table_fields``, values from its evidence's details): the provenance
  detector's ``provenance_category``, ``provenance_generator``, ``provenance_signer``, ``provenance_validation``.

The merged table is ordered by (condition, index), whatever the number of processes that made the parts, so a
sharded run gives the same rows as a single process; the timings are the only values that differ.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from core import atomic
from core.errors import InputError
from core.runs.result_table import SettingsMismatch, settings_differences, settings_path
from core.runs.status import has_score

log = logging.getLogger(__name__)

PARTS_DIR = "parts"
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
VIDEO_COLUMNS = ["index", "condition", "path", "label", "subset", "perturbation", "width", "height", "fps"]
DETECTOR_FIELDS = ["score", "status", "seconds", "frames", "threshold"]
TRACK_COLUMNS = ["face_track", "main_face", "speaker_sync", "speaker_margin"]
_INTEGER = {"index", "condition", "label", "width", "height", "main_face"}
_FLOAT = {"fps"}


def result_columns(
    detectors: Sequence[str], face_tracks: bool = False, fields: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """The table's columns; ``fields``: a detector's own columns after its usual five (its ``table_fields``)."""
    video = VIDEO_COLUMNS[:6] + TRACK_COLUMNS + VIDEO_COLUMNS[6:] if face_tracks else VIDEO_COLUMNS
    fields = fields or {}
    return video + [f"{name}_{field}" for name in detectors for field in [*DETECTOR_FIELDS, *fields.get(name, ())]]


def video_rows(rows: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """One row per (video, condition): with face tracks, the main face's row (the video's score)."""
    return [row for row in rows if row.get("main_face", "1") in ("1", 1)]


def _by_video(rows: Sequence[dict[str, str]]) -> dict[tuple[str, str], list[dict[str, str]]]:
    """A part's rows grouped by (path, perturbation), in order: a video's track rows belong together."""
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["path"], row["perturbation"]), []).append(row)
    return groups


def detectors_of(columns: Sequence[str]) -> list[str]:
    return [name[: -len("_score")] for name in columns if name.endswith("_score")]


def part_path(output_dir: Path, rank: int) -> Path:
    return Path(output_dir) / PARTS_DIR / f"results.rank{rank}.csv"


def part_files(output_dir: Path) -> list[Path]:
    parts = Path(output_dir) / PARTS_DIR
    return sorted(parts.glob("results.rank*.csv"), key=lambda p: int(p.stem.rsplit("rank", 1)[1]))


def remove_parts(output_dir: Path, keep_below: int = 0) -> None:
    """Delete the parts of ranks >= ``keep_below`` (a fresh run: those ranks' parts would not be rewritten)."""
    for part in part_files(output_dir):
        if int(part.stem.rsplit("rank", 1)[1]) >= keep_below:
            part.unlink()
            settings_path(part).unlink(missing_ok=True)


def _read_part(part: Path) -> tuple[dict, list[dict[str, str]]]:
    record = json.loads(settings_path(part).read_text(encoding="utf-8"))
    with open(part, encoding="utf-8", newline="") as handle:
        text = handle.read()
    complete = text[: text.rfind("\n") + 1]  # another rank may be writing its last line right now
    rows = list(csv.DictReader(complete.splitlines()))
    columns = record.get("columns") or []
    return record, [row for row in rows if len(row) == len(columns) and None not in row.values()]


def _all_scored(row: Mapping[str, str], detectors: Sequence[str]) -> bool:
    return all(has_score(row.get(f"{name}_status", "")) for name in detectors)


def scored(row: Mapping[str, str], detector: str) -> bool:
    """Whether ``detector`` gave ``row`` a score that counts (status ok or truncated, a finite number)."""
    return has_score(row[f"{detector}_status"]) and math.isfinite(float(row[f"{detector}_score"]))


def done_keys(
    parts_dir: Path, own_part: Path, fingerprint: Mapping[str, Any], detectors: Sequence[str]
) -> dict[tuple[str, str], bool]:
    """(path, perturbation) -> whether every detector gave a score to all its rows in one of the other parts.

    A part written with another fingerprint is refused (:class:`SettingsMismatch`)."""
    keys: dict[tuple[str, str], bool] = {}
    expected = json.loads(json.dumps(dict(fingerprint), sort_keys=True, default=str))
    for part in part_files(parts_dir.parent):
        if part.resolve() == Path(own_part).resolve() or not settings_path(part).is_file():
            continue
        record, rows = _read_part(part)
        if settings_differences(record.get("settings") or {}, expected):
            raise SettingsMismatch(f"{part} holds results made with other settings")
        for key, group in _by_video(rows).items():
            keys[key] = keys.get(key, False) or all(_all_scored(row, detectors) for row in group)
    return keys


def merge_parts(output_dir: str | Path) -> list[dict[str, str]]:
    """Merge every part into ``results.csv`` and ``results.parquet`` (both written atomically); returns the rows.

    Where a video appears twice (a failure retried by another rank), the rows where more detectors gave a score
    win, then the later ones."""
    output_dir = Path(output_dir)
    parts = part_files(output_dir)
    if not parts:
        raise InputError(f"no results to merge in {output_dir / PARTS_DIR}")
    records = [_read_part(part) for part in parts]
    columns, settings = records[0][0]["columns"], records[0][0]["settings"]
    for part, (record, _) in zip(parts, records):
        if record["columns"] != columns or settings_differences(record["settings"] or {}, settings or {}):
            raise SettingsMismatch(f"{part} was written with other settings than {parts[0]}: cannot merge")
    detectors = detectors_of(columns)

    def successes(group: list[dict[str, str]]) -> float:
        return sum(has_score(row[f"{name}_status"]) for row in group for name in detectors) / len(group)

    best: dict[tuple[str, str], list[dict[str, str]]] = {}
    for _, rows in records:
        for key, group in _by_video(rows).items():
            old = best.get(key)
            if old is None or successes(group) >= successes(old):
                best[key] = group
    # A stable sort: a video's track rows stay in the order they were written.
    merged = sorted(
        (row for group in best.values() for row in group), key=lambda row: (int(row["condition"]), int(row["index"]))
    )
    with atomic.atomic_open(output_dir / RESULTS_CSV, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(merged)
    write_parquet(merged, columns, output_dir / RESULTS_PARQUET)
    log.info("%d rows from %d part(s) merged into %s", len(merged), len(parts), output_dir / RESULTS_CSV)
    return merged


def typed_columns(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> dict[str, list]:
    """The table's text values as numbers where they are numbers (empty -> None)."""

    def convert(name: str, value: str):
        if value == "":
            return None
        if name in _INTEGER or name.endswith("_frames"):
            return int(value)
        if name in _FLOAT or name.endswith(("_score", "_seconds", "_threshold")):
            return float(value)
        return value

    return {name: [convert(name, row[name]) for row in rows] for name in columns}


def write_parquet(rows: Sequence[Mapping[str, str]], columns: Sequence[str], target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(typed_columns(rows, columns))
    with atomic.atomic_open(target, "wb") as handle:
        pq.write_table(table, handle)


def _done_marker(output_dir: Path, rank: int) -> Path:
    return Path(output_dir) / PARTS_DIR / f"results.rank{rank}.done"


def clear_done(output_dir: Path, rank: int) -> None:
    """At a rank's start (before the start barrier): its part is not finished."""
    _done_marker(output_dir, rank).unlink(missing_ok=True)


def mark_done(output_dir: Path, rank: int) -> None:
    atomic.write_text(_done_marker(output_dir, rank), "done\n")


def wait_for_parts(output_dir: Path, world_size: int, poll_s: float = 5.0) -> None:
    """Wait until every rank has marked its part done. Files, not a collective: ranks may finish hours apart,
    longer than any process-group timeout (the output folder must be shared by all nodes)."""
    import time

    waiting = [rank for rank in range(world_size) if not _done_marker(output_dir, rank).exists()]
    if waiting:
        log.info("waiting for rank(s) %s to finish their parts", waiting)
    while waiting:
        time.sleep(poll_s)
        waiting = [rank for rank in waiting if not _done_marker(output_dir, rank).exists()]
