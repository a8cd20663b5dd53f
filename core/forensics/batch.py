"""Batch scoring: raw videos through one or more detectors into one resumable results table.

Any detector of the interface (:class:`core.forensics.evidence.Detector`) runs straight from the video; a row
is written per (video, condition) the moment every detector is done with it (:mod:`core.runs.result_table`:
flushed and fsync'ed, so a killed run loses only the videos in flight). A *condition* is ``clean`` or a
perturbation chain (:mod:`core.media.perturb`), applied in memory.

Reading ahead: ``prefetch`` background threads prepare the next videos while the current one is analysed: the
perturbed copy is made there, and a detector that splits its work (``prepare_video`` decodes,
``analyse_prepared`` runs the models; the audio-visual detector does) decodes there too.

Face tracks: with ``face_tracks``, a detector of the face-track interface
(:class:`core.forensics.evidence.FaceTrackDetector`, the audio-visual one) scores every face track of a video and
the video gets one row per track (``face_track``, ``main_face``); the other detectors' video-level results are
repeated on each of them. A video's rows are written together, so it is done or not done as a whole.

Sharding: with ``world_size`` > 1 (one process per GPU under torchrun), rank r takes items r, r + W, ... and
writes its own part, ``parts/results.rank<r>.csv``; :mod:`core.forensics.batch_table` merges the parts. A rerun
skips the (video, condition) pairs that any part already holds, so it may use another number of processes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from core import atomic
from core.errors import InputError
from core.forensics.batch_table import PARTS_DIR, done_keys, part_path, remove_parts, result_columns
from core.forensics.evidence import Detector, Evidence, FaceTrackDetector
from core.media.in_memory import VideoSource
from core.media.perturb import Perturbation, chain_spec, perturb_video
from core.media.read_ahead import MapAhead
from core.media.sources import VideoEntry
from core.runs.progress import progress_bar
from core.runs.result_table import ResultTable
from core.runs.status import Status, has_score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    output_dir: Path
    conditions: Sequence[Sequence[Perturbation]] = ((),)  # () is the clean video
    seed: int = 0  # of the perturbations' noise
    retry_failed: bool = False
    overwrite: bool = False
    save_evidence: bool = False  # per-time series of every detector: evidence/<stem>-<key hash>-<detector>.npz
    prefetch: int = 2  # videos prepared ahead in background threads (0: none)
    rank: int = 0
    world_size: int = 1
    progress: bool = True
    face_tracks: bool = False  # one row per face track of the detectors that have them


def item_key(path: str, condition: str) -> tuple[str, str]:
    return (path, condition)


def evidence_file(output_dir: Path, path: str, condition: str, detector: str, track: str | None = None) -> Path:
    """A name stable across runs and ranks; the hash tells apart equal stems in other folders."""
    digest = hashlib.sha1(f"{path}\n{condition}".encode()).hexdigest()[:10]
    suffix = f"-face{track}" if track is not None else ""
    return output_dir / "evidence" / f"{Path(path).stem}-{digest}-{detector}{suffix}.npz"


def _save_evidence(target: Path, evidence: Evidence) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, series in evidence.series.items():
        arrays[f"{name}.time_s"] = np.asarray(series.time_s)
        arrays[f"{name}.values"] = np.asarray(series.values)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_open(target, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def _prepare(
    detectors: Mapping[str, Detector],
    entry: VideoEntry,
    chain: Sequence[Perturbation],
    seed: int,
    face_tracks: bool = False,
):
    """(source, {detector: (kind, prepared)}, error): the part of the work that can run ahead. ``kind`` is
    "ok", "tracks" (a list of ``PreparedTrack``) or "error" (the exception)."""
    try:
        source: VideoSource = perturb_video(entry.path, list(chain), seed) if chain else entry.path
    except InputError as exc:
        return None, {}, f"perturbation failed: {exc}"
    prepared: dict[str, Any] = {}
    for name, detector in detectors.items():
        try:
            if face_tracks and isinstance(detector, FaceTrackDetector):
                prepared[name] = ("tracks", detector.prepare_tracks(source))
            elif hasattr(detector, "prepare_video"):
                prepared[name] = ("ok", detector.prepare_video(source))
        except (InputError, RuntimeError, ValueError) as exc:
            prepared[name] = ("error", exc)
    return source, prepared, None


def _analyse(name: str, detector: Detector, source: VideoSource, prepared) -> tuple[Evidence | None, str, float]:
    started = time.perf_counter()
    try:
        if prepared is not None:
            kind, value = prepared
            if kind == "error":
                raise value
            evidence = detector.analyse_prepared(value)
        else:
            evidence = detector.analyse_video(source)
        # A file cut short still gets the score of what decoded, never with a silent "ok".
        status = str(Status.from_warnings(evidence.warnings))
    except (InputError, RuntimeError, ValueError) as exc:  # one bad video never stops the batch
        evidence, status = None, str(Status.from_exception(exc))
        log.warning("%s: %s: %s", source, name, status)
    return evidence, status, time.perf_counter() - started


def _row(
    index: int,
    condition_index: int,
    entry: VideoEntry,
    condition: str,
    results: dict,
    track: tuple[str, bool] | None = None,
    fields: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "condition": condition_index,
        "path": str(entry.path),
        "label": "" if entry.label is None else entry.label,
        "subset": entry.subset or "",
        "perturbation": condition,
    }
    if track is not None:
        row.update(face_track=track[0], main_face=int(track[1]))
        # How the speaker was chosen among several faces (the face-track detector's details; empty: no choice).
        details = next((e.details for e, _, _ in results.values() if e is not None and "speaker_sync" in e.details), {})
        for key in ("speaker_sync", "speaker_margin"):
            value = details.get(key)
            row[key] = "" if value is None else repr(float(value))
    facts = next((e.facts for e, _, _ in results.values() if e is not None), None)
    row.update(
        width=facts.width if facts else "",
        height=facts.height if facts else "",
        fps=f"{facts.fps:.6g}" if facts else "",
    )
    for name, (evidence, status, seconds) in results.items():
        score = evidence.score if evidence is not None else math.nan
        row[f"{name}_score"] = repr(float(score))
        row[f"{name}_status"] = status
        row[f"{name}_seconds"] = f"{seconds:.3f}"
        row[f"{name}_frames"] = evidence.facts.frames if evidence is not None else ""
        threshold = evidence.threshold if evidence is not None else None
        row[f"{name}_threshold"] = "" if threshold is None else repr(float(threshold))
        for field in (fields or {}).get(name, ()):  # the detector's own columns (its table_fields)
            row[f"{name}_{field}"] = "" if evidence is None else str(evidence.details.get(field, ""))
    return row


def run_batch(
    entries: Sequence[VideoEntry],
    detectors: Mapping[str, Detector],
    settings: BatchSettings,
    fingerprint: Mapping[str, Any],
) -> Path:
    """Score this rank's share of (video, condition) pairs into its part of the table; returns the part's path.

    ``fingerprint``: what identifies the detectors' results (checkpoint hashes, options): a rerun with another
    one is refused (:class:`core.runs.result_table.SettingsMismatch`) unless ``overwrite``.
    """
    conditions = [chain_spec(list(chain)) for chain in settings.conditions]
    columns = result_columns(list(detectors), settings.face_tracks, table_fields(detectors))
    fingerprint = {**fingerprint, "detectors": list(detectors), "perturbation_seed": settings.seed}
    if settings.overwrite and settings.rank == 0:
        remove_parts(settings.output_dir, keep_below=settings.world_size)
    parts = settings.output_dir / PARTS_DIR
    table = ResultTable(
        part_path(settings.output_dir, settings.rank),
        columns,
        ["path", "perturbation", "face_track"] if settings.face_tracks else ["path", "perturbation"],
        fingerprint,
        overwrite=settings.overwrite,
    )
    with table:
        if settings.retry_failed:  # a video with one row without a score (e.g. one face track) is scored again whole
            failed = {_video_key(r) for r in table.rows if not all(has_score(r[f"{n}_status"]) for n in detectors)}
            dropped = table.retain(lambda row: _video_key(row) not in failed)
            if dropped:
                log.info("retrying %d failed video(s) of this part (%d rows)", len(failed), dropped)
        others = {} if settings.overwrite else done_keys(parts, table.path, fingerprint, list(detectors))
        done = {key for key, ok in others.items() if ok or not settings.retry_failed}
        done |= {_video_key(row) for row in table.rows}
        work = [
            (condition_index, index, entry)
            for condition_index in range(len(conditions))
            for index, entry in enumerate(entries)
        ][settings.rank :: settings.world_size]
        todo = [item for item in work if item_key(str(item[2].path), conditions[item[0]]) not in done]
        if len(todo) < len(work):
            log.info("%d of %d (video, condition) pairs already scored: skipped", len(work) - len(todo), len(work))
        _score_items(todo, conditions, settings, detectors, table)
    return table.path


def table_fields(detectors: Mapping[str, Detector]) -> dict[str, tuple[str, ...]]:
    """{name: the detector's own table columns} of the detectors that have any (``table_fields``)."""
    return {name: tuple(d.table_fields) for name, d in detectors.items() if getattr(d, "table_fields", ())}


def _video_key(row: Mapping[str, str]) -> tuple[str, str]:
    return item_key(row["path"], row["perturbation"])


def _analyse_all(detectors: Mapping[str, Detector], source: VideoSource, prepared: dict, error: str | None) -> dict:
    """{detector: {track or None: (evidence, status, seconds)}}; None is a video-level result."""
    results: dict[str, dict] = {}
    for name, detector in detectors.items():
        if error is not None:
            results[name] = {None: (None, error, 0.0)}
        elif prepared.get(name, ("",))[0] == "tracks":
            results[name] = {t.track: _analyse(name, detector, source, ("ok", t.prepared)) for t in prepared[name][1]}
        else:
            results[name] = {None: _analyse(name, detector, source, prepared.get(name))}
    return results


def _rows_of(
    index, condition_index, entry, condition, results: dict, tracks: dict[str, bool] | None, fields=None
) -> list[dict]:
    """One row, or with face tracks one per track (a video without any: one row, its track empty)."""
    if tracks is None:
        return [_row(index, condition_index, entry, condition, {n: r[None] for n, r in results.items()}, None, fields)]
    tracks = tracks or {"": True}
    if not any(tracks.values()):  # no usable track: the first row stands for the video (its status says why)
        tracks = {track: position == 0 for position, track in enumerate(tracks)}
    rows = []
    for track, main in tracks.items():
        per_track = {}
        for name, by_track in results.items():
            fallback = (None, f"no face track {track}", 0.0)  # another detector's track (none today)
            per_track[name] = by_track.get(track, by_track.get(None, fallback))
        rows.append(_row(index, condition_index, entry, condition, per_track, (track, main), fields))
    return rows


def _score_items(todo, conditions, settings: BatchSettings, detectors: Mapping[str, Detector], table) -> None:
    def prepare(item):
        condition_index, _, entry = item
        return _prepare(detectors, entry, settings.conditions[condition_index], settings.seed, settings.face_tracks)

    with (
        progress_bar(len(todo), "videos", "video", True, settings.progress) as bar,
        MapAhead(prepare, todo, settings.prefetch) as prepared_items,  # the next videos decoded while one is scored
    ):
        for item, (source, prepared, error) in zip(todo, prepared_items):
            condition_index, index, entry = item
            condition = conditions[condition_index]
            results = _analyse_all(detectors, source, prepared, error)
            if settings.save_evidence:
                for name, by_track in results.items():
                    for track, (evidence, _, _) in by_track.items():
                        if evidence is not None:
                            target = evidence_file(settings.output_dir, str(entry.path), condition, name, track)
                            _save_evidence(target, evidence)
            tracks = None
            if settings.face_tracks:
                tracks = {}
                for kind, value in (prepared or {}).values():
                    if kind == "tracks":
                        tracks.update((t.track, t.main) for t in value if t.track not in tracks)
            rows = _rows_of(index, condition_index, entry, condition, results, tracks, table_fields(detectors))
            table.append_rows(rows)
            bar.update(1)
