"""Batch scoring: raw videos through one or more detectors into one resumable results table.

Any detector of the interface (:class:`core.forensics.evidence.Detector`) runs straight from the video; a row
is written per (video, condition) the moment every detector is done with it (:mod:`core.runs.result_table`:
flushed and fsync'ed, so a killed run loses only the videos in flight). A *condition* is ``clean`` or a
perturbation chain (:mod:`core.media.perturb`), applied in memory.

Reading ahead: ``prefetch`` background threads prepare the next videos while the current one is analysed: the
perturbed copy is made there, and a detector that splits its work (``prepare_video`` decodes,
``analyse_prepared`` runs the models; the audio-visual detector does) decodes there too.

Sharding: with ``world_size`` > 1 (one process per GPU under torchrun), rank r takes items r, r + W, ... and
writes its own part, ``parts/results.rank<r>.csv``; :mod:`core.forensics.batch_table` merges the parts. A rerun
skips the (video, condition) pairs that any part already holds, so it may use another number of processes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from core.errors import InputError
from core.forensics.batch_table import PARTS_DIR, done_keys, part_path, remove_parts, result_columns
from core.forensics.evidence import Detector, Evidence
from core.media.in_memory import VideoSource
from core.media.perturb import Perturbation, chain_spec, perturb_video
from core.media.sources import VideoEntry
from core.runs import atomic
from core.runs.result_table import ResultTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    output_dir: Path
    conditions: Sequence[Sequence[Perturbation]] = ((),)  # () is the clean video
    seed: int = 0  # of the perturbations' noise
    retry_failed: bool = False
    overwrite: bool = False
    save_evidence: bool = False  # per-time series of every detector: evidence/<stem>-<key hash>.npz
    prefetch: int = 2  # videos prepared ahead in background threads (0: none)
    rank: int = 0
    world_size: int = 1
    progress: bool = True


def item_key(path: str, condition: str) -> tuple[str, str]:
    return (path, condition)


def evidence_file(output_dir: Path, path: str, condition: str, detector: str) -> Path:
    """A name stable across runs and ranks; the hash tells apart equal stems in other folders."""
    digest = hashlib.sha1(f"{path}\n{condition}".encode()).hexdigest()[:10]
    return output_dir / "evidence" / f"{Path(path).stem}-{digest}-{detector}.npz"


def _save_evidence(target: Path, evidence: Evidence) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, series in evidence.series.items():
        arrays[f"{name}.time_s"] = np.asarray(series.time_s)
        arrays[f"{name}.values"] = np.asarray(series.values)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_open(target, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def _prepare(detectors: Mapping[str, Detector], entry: VideoEntry, chain: Sequence[Perturbation], seed: int):
    """(source, {detector: prepared or None}, error): the part of the work that can run ahead."""
    try:
        source: VideoSource = perturb_video(entry.path, list(chain), seed) if chain else entry.path
    except InputError as exc:
        return None, {}, f"perturbation failed: {exc}"
    prepared: dict[str, Any] = {}
    for name, detector in detectors.items():
        if hasattr(detector, "prepare_video"):
            try:
                prepared[name] = ("ok", detector.prepare_video(source))
            except (InputError, RuntimeError, ValueError) as exc:
                prepared[name] = ("error", exc)
    return source, prepared, None


def _status(exc: BaseException) -> str:
    if isinstance(exc, InputError):
        return str(exc).replace("\n", " ")
    return f"failed: {exc.__class__.__name__}: {exc}".replace("\n", " ")


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
        status = next((w for w in evidence.warnings if w.startswith("truncated")), "ok")
    except (InputError, RuntimeError, ValueError) as exc:  # one bad video never stops the batch
        evidence, status = None, _status(exc)
        log.warning("%s: %s: %s", source, name, status)
    return evidence, status, time.perf_counter() - started


def _row(index: int, condition_index: int, entry: VideoEntry, condition: str, results: dict) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "condition": condition_index,
        "path": str(entry.path),
        "label": "" if entry.label is None else entry.label,
        "subset": entry.subset or "",
        "perturbation": condition,
    }
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
    columns = result_columns(list(detectors))
    fingerprint = {**fingerprint, "detectors": list(detectors), "perturbation_seed": settings.seed}
    if settings.overwrite and settings.rank == 0:
        remove_parts(settings.output_dir, keep_below=settings.world_size)
    parts = settings.output_dir / PARTS_DIR
    table = ResultTable(
        part_path(settings.output_dir, settings.rank),
        columns,
        ["path", "perturbation"],
        fingerprint,
        overwrite=settings.overwrite,
    )
    with table:
        if settings.retry_failed:
            dropped = table.retain(lambda row: all(row[f"{name}_status"] == "ok" for name in detectors))
            if dropped:
                log.info("retrying %d failed video(s) of this part", dropped)
        others = {} if settings.overwrite else done_keys(parts, table.path, fingerprint, list(detectors))
        done = {key for key, ok in others.items() if ok or not settings.retry_failed}
        done |= {table.key(row) for row in table.rows}
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


def _score_items(todo, conditions, settings: BatchSettings, detectors: Mapping[str, Detector], table) -> None:
    pool = ThreadPoolExecutor(max_workers=settings.prefetch) if settings.prefetch > 0 else None
    pending: deque[Future] = deque()
    submitted = 0

    def prepare(item):
        condition_index, _, entry = item
        return _prepare(detectors, entry, settings.conditions[condition_index], settings.seed)

    try:
        with tqdm(total=len(todo), desc="videos", unit="video", disable=not settings.progress) as bar:
            for item in todo:
                while pool is not None and submitted < len(todo) and len(pending) <= settings.prefetch:
                    pending.append(pool.submit(prepare, todo[submitted]))
                    submitted += 1
                source, prepared, error = pending.popleft().result() if pool is not None else prepare(item)
                condition_index, index, entry = item
                condition = conditions[condition_index]
                results = {}
                for name, detector in detectors.items():
                    if error is not None:
                        results[name] = (None, error, 0.0)
                        continue
                    results[name] = _analyse(name, detector, source, prepared.get(name))
                    evidence = results[name][0]
                    if settings.save_evidence and evidence is not None:
                        _save_evidence(evidence_file(settings.output_dir, str(entry.path), condition, name), evidence)
                table.append(_row(index, condition_index, entry, condition, results))
                bar.update(1)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
