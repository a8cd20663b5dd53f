"""A forensic report of one video: every available detector's evidence, verdicts and what they were made with.

Uses only the detector interface: each detector is handed over ready (built from its weights by a script) as a
:class:`DetectorRun`, or with the reason it cannot run. ``build_report`` analyses the video with each and
gathers a JSON-ready record (verdicts raw and calibrated, their fusion, per-time series, localised segments, the
video's facts, every warning met, versions and checkpoint hashes); ``write_report`` writes it as
``<stem>.json`` and a self-contained ``<stem>.html`` (:mod:`core.forensics.report_html`), each atomically.

Declarations: a detector of score kind ``declaration`` (the provenance detector: content credentials, container
facts) is shown first (``provenance`` in the record: its details) and is not fused with the estimates; a
verified declaration of generation settles the fused verdict (:func:`core.forensics.verdicts.settle`).

Segments: a detector's own (``details["segments"]``, e.g. the audio-visual whole-video mode), else the runs of
its primary curve (``fused``, else ``anomaly``, else its first curve) at or above its decision threshold
(:func:`core.forensics.timeline.segments_above`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic
from core.errors import InputError
from core.forensics.calibration import Calibration
from core.forensics.evidence import Detector, Evidence, TimeSeries
from core.forensics.made_with import file_record, versions
from core.forensics.timeline import segments_above
from core.forensics.verdicts import detector_verdict, fuse, is_declaration, settle
from core.media.probe import probe_video
from core.runs.status import Status, has_score

log = logging.getLogger(__name__)

FORMAT = "video-forensics-report"
VERSION = 1
PRIMARY_SERIES = ("fused", "anomaly")


@dataclass
class DetectorRun:
    """One detector for the report: ready to run, or ``not_run`` saying why not (e.g. a missing weight file)."""

    name: str
    title: str  # for a person, e.g. "AIGVDet (RGB + optical flow)"
    about: str  # one sentence: what it looks at
    detector: Detector | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)  # role -> path
    calibration: Calibration | None = None
    calibration_file: str | None = None
    not_run: str | None = None


@dataclass
class Report:
    data: dict[str, Any]  # the JSON record
    evidence: dict[str, Evidence]  # of the detectors that ran
    calibrations: dict[str, Calibration] = field(default_factory=dict)  # of the detectors that ran, by name


class _Warnings(logging.Handler):
    """Collects the toolkit's warnings logged while a detector runs (no face found, resampled audio, ...)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def plain(value: Any) -> Any:
    """A JSON-ready copy: NumPy numbers and arrays as Python ones, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "as_dict"):
        return plain(value.as_dict())
    return value


def primary_series(evidence: Evidence) -> tuple[str, TimeSeries] | None:
    """The curve a detector's verdict is read along (see the module docstring), or None."""
    for name in PRIMARY_SERIES:
        if name in evidence.series:
            return name, evidence.series[name]
    curves = [(name, series) for name, series in evidence.series.items() if np.ndim(series.values) == 1]
    return curves[0] if curves else None


def localised_segments(evidence: Evidence) -> tuple[list[dict], str | None]:
    """The detector's segments and the rule that made them (see the module docstring)."""
    if "segments" in evidence.details:
        rule = evidence.details.get("segment_threshold_rule") or "the detector's own segments"
        return plain(evidence.details["segments"]), str(rule)
    primary = primary_series(evidence)
    if primary is None or evidence.threshold is None:
        return [], None
    name, series = primary
    segments = segments_above(series.time_s, series.values, evidence.threshold)
    return [s.as_dict() for s in segments], f"runs of '{name}' at or above the threshold {evidence.threshold:g}"


def coverage_label(stretch: dict) -> str:
    """A coverage stretch's status for a reader, e.g. ``another face (track 2)``."""
    track = stretch.get("track")
    return stretch["status"] + (f" (track {track})" if track is not None else "")


def _statuses(evidence: Evidence) -> list[str]:
    """Statuses in a detector's details a reader must see (a face problem, an analysis limited to samples)."""
    notes = []
    face_status = evidence.details.get("face_status")
    if face_status not in (None, "ok", "whole frame"):
        notes.append(f"face: {face_status} (the whole frame was scored)")
    unscored = [stretch for stretch in evidence.details.get("coverage", []) if stretch["status"] != "scored"]
    if unscored:
        notes.append(
            "not scored: " + ", ".join(f"{s['start_s']:.2f}-{s['end_s']:.2f} s ({coverage_label(s)})" for s in unscored)
        )
    if evidence.details.get("sampling"):  # whole-video windows sampled to fit a time budget
        notes.append(f"only {evidence.details['sampling']} were analysed")
    analysis = evidence.details.get("analysis")
    if analysis:
        if analysis.get("sampling"):  # sampled to fit a time budget: the detector says how
            notes.append(f"only {analysis['sampling']} were analysed")
        elif analysis.get("sample_pairs"):
            notes.append(
                f"only {analysis['sample_pairs']} sampled frame pairs of {analysis.get('video_frames')} frames were "
                "analysed"
            )
        elif analysis.get("analysed_frames") != analysis.get("video_frames"):
            notes.append(f"analysed {analysis.get('analysed_frames')} of {analysis.get('video_frames')} frames")
    return notes


def _run(run: DetectorRun, video: Path) -> tuple[dict[str, Any], Evidence | None]:
    record: dict[str, Any] = {"name": run.name, "title": run.title, "about": run.about}
    if run.detector is None:
        return record | {"status": "not run", "reason": run.not_run or "not available"}, None
    record["checkpoints"] = [file_record(role, path) for role, path in run.checkpoints.items()]
    collector = _Warnings()
    toolkit_log = logging.getLogger("core")
    toolkit_log.addHandler(collector)
    started = time.perf_counter()
    try:
        evidence = run.detector.analyse_video(video)
    except InputError as exc:
        evidence, failure = None, exc
    finally:
        toolkit_log.removeHandler(collector)
    if evidence is None:
        log.warning("%s could not analyse %s: %s", run.name, video, failure)
        status = Status.from_exception(failure)
        return record | {"status": status.kind, "reason": status.reason, "warnings": collector.messages}, None
    segments, rule = localised_segments(evidence)
    status = Status.from_warnings(evidence.warnings)  # a truncated file is scored, and said to be truncated
    record |= {
        "status": status.kind,
        **({"reason": status.reason} if status.reason else {}),
        "seconds": round(time.perf_counter() - started, 3),
        **detector_verdict(evidence, run.calibration, run.calibration_file),
        "facts": {**vars(evidence.facts), "duration_s": evidence.facts.duration_s},
        "segments": segments,
        "segment_rule": rule,
        "warnings": list(dict.fromkeys(evidence.warnings + _statuses(evidence) + collector.messages)),
        "details": evidence.details,
        "series": {
            name: {"description": s.description, "time_s": s.time_s, "values": s.values}
            for name, s in evidence.series.items()
        },
        "illustrations": [
            {"label": i.label, "group": i.group, "time_s": i.time_s, "caption": i.caption, "size": i.image.shape[:2]}
            for i in evidence.illustrations
        ],
    }
    if run.calibration_file:
        record["checkpoints"].append(file_record("calibration", run.calibration_file))
    return plain(record), evidence


def build_report(video: str | os.PathLike, runs: list[DetectorRun]) -> Report:
    """Analyse ``video`` with every run's detector (see the module docstring); raises InputError for a video that
    cannot be read at all."""
    source = Path(video)
    facts = probe_video(source)
    detectors, evidence = {}, {}
    for run in runs:
        detectors[run.name], found = _run(run, source)
        if found is not None:
            evidence[run.name] = found
    verdicts = {name: record for name, record in detectors.items() if has_score(record["status"])}
    # A declaration (the provenance detector) is no estimate: it is not fused, but a verified one settles the verdict.
    declarations = {name: record for name, record in verdicts.items() if is_declaration(record)}
    estimates = {name: record for name, record in verdicts.items() if name not in declarations}
    provenance = [{"detector": name, **record["details"]} for name, record in declarations.items()]
    notes = []
    if not facts.audio:
        notes.append("the video has no audio track")
    if facts.variable_frame_rate:
        notes.append("the video has a variable frame rate")
    warnings = notes + [
        f"{name}: {message}"
        for name, record in detectors.items()
        for message in ([] if has_score(record["status"]) else [f"{record['status']}: {record['reason']}"])
        + record.get("warnings", [])
    ]
    data = {
        "format": FORMAT,
        "version": VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "video": facts.as_dict() | {"name": source.name},
        **({"provenance": provenance[0]} if provenance else {}),
        "detectors": detectors,
        "fusion": settle(fuse(estimates), declarations),
        "warnings": warnings,
        "versions": versions(),
    }
    calibrations = {run.name: run.calibration for run in runs if run.calibration and run.name in evidence}
    return Report(plain(data), evidence, calibrations)


def write_report(report: Report, output_dir: str | os.PathLike) -> tuple[Path, Path]:
    """``<stem>.html`` and ``<stem>.json`` of the report in ``output_dir`` (each written atomically: readers never
    see half a file); returns their paths."""
    from core.forensics.report_html import render_html  # matplotlib is imported only when a report is drawn

    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(report.data["video"]["name"]).stem
    json_path = atomic.write_json(folder / f"{stem}.json", report.data, end="\n", indent=1)
    html_path = atomic.write_text(folder / f"{stem}.html", render_html(report))
    return html_path, json_path
