"""Batch driver behind ``detect.py``: resolve the inputs, score each video, write every result as it comes.

Outputs in ``output_dir``:

* ``output.log``: one line per video with its score (the authors' wording, plus the path);
* ``scores.csv``: ``path, score, steps, status, face_crop, face_status`` -- status (:mod:`core.runs.status`)
  ``ok``, ``truncated: ...`` (the score of the decoded part) or why the video has no score (NaN) -- followed by
  the caller's extra columns, if any (labels, calibrated values);
* ``testing_scores.npy``: the scores in input order (the authors' file name; the same array is also
  written as ``testing_score.npy``, the name their README uses);
* with ``save_distributions``: ``distributions/<index>_<stem>.npy``, the (steps, 31) sync logits
  (``<index>_<stem>_face<track>.npy`` per face track with ``all_faces``);
* with ``whole_video``: ``score_max, score_mean`` columns in ``scores.csv`` (over the sliding windows; ``score``
  stays the first window's), ``timelines/`` and ``segments.csv`` (:mod:`core.avforensics.timeline_files`);
* with ``face_crop`` always or ``all_faces``: ``speaker_sync, speaker_margin`` columns: when several faces could
  be scored, the mean probability of offset 0 the sync model gave each track, and the main track's lead over
  the next (:mod:`core.avforensics.speaker`); NaN where there was no choice to make;
* with ``save_face_tracks`` / ``save_face_crops``: see :mod:`core.avforensics.face_outputs`.

``scores.csv`` also says what was scored: ``face_crop`` (``none``: the whole frame, or the face track's
id) and ``face_status`` (``whole frame``, ``ok``, or why the face gives no clip: ``no face``, ``face too
small``...). With ``all_faces`` a video has one row per face track; the score arrays hold its main track's.

A video that cannot be used (missing, undecodable, no audio track, too short) gets its status and a NaN
score and the run goes on. Each row is on disk (fsync) before the next video starts, so an interrupted run keeps
everything computed so far; the score arrays are written (atomically) when the run ends, even by an error or a
Ctrl-C, and after a kill a rerun with the same settings writes them from the table and skips the videos already
scored (:mod:`core.avforensics.result_files`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.contrib.logging import logging_redirect_tqdm

from core.avforensics.face_outputs import FaceOutputs
from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths, VideoAnalysis
from core.avforensics.result_files import SCORE_FILES, ExtraColumns, ResultWriter, run_fingerprint
from core.avforensics.timeline_files import TimelineWriter
from core.avforensics.whole_video import WholeVideoSettings
from core.checkpoints import require_file
from core.errors import InputError
from core.media.faces.clip import FaceClip
from core.media.read_ahead import MapAhead
from core.runs.progress import progress_bar
from core.runs.status import SKIPPED, Status

log = logging.getLogger(__name__)

__all__ = ["SCORE_FILES", "ExtraColumns", "RunSettings", "run_detection"]


@dataclass
class RunSettings:
    output_dir: Path
    lam: float = 0.0
    n_workers: int = 0
    save_distributions: bool = False
    # The authors' loader reads <video>.wav when it exists (extracting it with ffmpeg otherwise); opt-in here
    # because a stale WAV would silently replace the video's own audio track.
    audio_from_wav: bool = False
    whole_video: WholeVideoSettings | None = None  # sliding windows over the whole clip, timelines, segments
    all_faces: bool = False  # one row per face track (face cropping on), not just the main one
    save_face_tracks: bool = False
    save_face_crops: bool = False
    overwrite: bool = False  # start over instead of resuming an output_dir scored with the same settings
    fingerprint_extra: dict[str, Any] = field(default_factory=dict)  # more settings that change the outputs


SPEAKER_COLUMNS = ("speaker_sync", "speaker_margin")


def speaker_values(face: FaceClip) -> tuple[float, float]:
    """How the speaker was chosen, for its row (NaN where no choice was made: one face, or the whole frame)."""
    sync = math.nan if face.speaker_sync is None else face.speaker_sync
    margin = math.nan if face.speaker_margin is None else face.speaker_margin
    return sync, margin


def _load(
    path: str, detector: AVForensicsDetector, audio_from_wav: bool = False, all_faces: bool = False
) -> list[FaceClip]:
    """The video's clips (whole frame, main face or every face); an unreadable video gives one without a clip."""
    wav = Path(path).with_suffix(".wav")
    audio_path = wav if audio_from_wav and wav.is_file() else None
    if audio_path is not None:
        log.info("%s: audio read from %s", path, wav)
    try:
        return detector.load_clips(path, audio_path, all_faces)
    except (InputError, RuntimeError, ValueError) as exc:
        return [FaceClip(None, "", error=exc)]


def _score(path: str, face: FaceClip, detector: AVForensicsDetector) -> tuple[float, int, str, VideoAnalysis | None]:
    """(score, steps, status, analysis) of one clip; status ``ok`` or why there is no score (NaN)."""
    try:
        analysis = detector.analyse(face.require(), face.evidence)
    except (InputError, RuntimeError, ValueError) as exc:  # a bad file or a decoder failure must not stop the run
        status = Status.from_exception(exc)
        if status.kind == SKIPPED:
            log.warning("%s: skipped, %s", path, status.reason)
        else:
            log.error("%s: %s", path, status)
        return math.nan, 0, str(status), None
    score = analysis.scores.combined(detector.lam)
    log.info("%s: score %.6f over %d steps", path, score, analysis.steps)
    # A cut file still gets the score of what it gave, but never a silent "ok" (README: reruns and bad input).
    truncated = detector.truncation(face.require())
    if truncated:
        log.warning("%s: %s; the score covers the decoded part only", path, truncated)
    return score, analysis.steps, str(Status.parse(truncated) if truncated else Status()), analysis


def run_detection(
    inputs: list[str],
    checkpoints: CheckpointPaths,
    settings: RunSettings,
    extra_columns: ExtraColumns | None = None,
    **detector_kwargs,
) -> np.ndarray:
    """Score every input; return the scores in input order (NaN where a video could not be used).

    Videos already in ``output_dir``'s table from an earlier run with the same settings are not scored again
    (their scores come from the table); see :mod:`core.avforensics.result_files`.
    """
    for path, what in (
        (checkpoints.sync_model, "audio-visual sync model"),
        (checkpoints.dist_regressive_model, "offset-distribution autoregressive model"),
        (checkpoints.avfeature_regressive_model, "audio-visual-feature autoregressive model"),
        (checkpoints.pca, "PCA file"),
    ):
        require_file(path, what)  # all missing files are reported before any work starts
    detector = AVForensicsDetector.from_checkpoints(
        checkpoints, lam=settings.lam, whole_video=settings.whole_video, **detector_kwargs
    )
    whole = settings.whole_video is not None
    fingerprint = run_fingerprint(
        {
            "sync_model": checkpoints.sync_model,
            "dist_regressive_model": checkpoints.dist_regressive_model,
            "avfeature_regressive_model": checkpoints.avfeature_regressive_model,
            "pca": checkpoints.pca,
        },
        {
            "lam": settings.lam,
            "max_len": detector.max_len,
            "face_crop": detector_kwargs.get("face_crop", "never"),
            "all_faces": settings.all_faces,
            "audio_from_wav": settings.audio_from_wav,
            "whole_video": None if settings.whole_video is None else settings.whole_video.fingerprint(),
            **settings.fingerprint_extra,
        },
    )
    face_crop = detector_kwargs.get("face_crop", "never") != "never"
    # The speaker columns where face crops were asked for; the default (auto) table keeps its columns.
    speaker_columns = detector_kwargs.get("face_crop") == "always" or (face_crop and settings.all_faces)
    writer = ResultWriter(
        settings.output_dir,
        inputs,
        settings.save_distributions,
        extra_columns,
        (*(("score_max", "score_mean") if whole else ()), *(SPEAKER_COLUMNS if speaker_columns else ())),
        fingerprint,
        settings.overwrite,
        settings.all_faces,
    )
    todo = [index for index, path in enumerate(inputs) if path not in writer.done]
    timelines = (
        TimelineWriter(settings.output_dir, writer.done, not writer.table.resumed, coverage=face_crop)
        if whole
        else None
    )
    face_outputs = FaceOutputs(settings.output_dir, settings.save_face_tracks, settings.save_face_crops)
    load_options = (settings.audio_from_wav, settings.all_faces)
    progress = detector_kwargs.get("progress", True)
    try:
        with (
            logging_redirect_tqdm(),
            progress_bar(len(inputs), "videos", "video", True, progress, initial=len(inputs) - len(todo)) as bar,
            # Decode up to n_workers videos ahead in background threads while this one is scored.
            MapAhead(lambda i: _load(inputs[i], detector, *load_options), todo, settings.n_workers) as loaded,
        ):
            for index, faces in zip(todo, loaded):
                path = inputs[index]
                for face in faces:
                    score, steps, status, analysis = _score(path, face, detector)
                    suffix = f"_face{face.track_id}" if settings.all_faces and face.track_id is not None else ""
                    whole_result = analysis.whole if analysis is not None else None
                    extra = (
                        ()
                        if timelines is None
                        else (math.nan, math.nan)
                        if whole_result is None
                        else (whole_result.score_max, whole_result.score_mean)
                    )
                    if speaker_columns:
                        extra = (*extra, *speaker_values(face))
                    logits = analysis.logits if analysis is not None else None
                    # The table's row last: a video is done (skipped by a rerun) only once its other files are.
                    if timelines is not None and whole_result is not None:
                        timelines.add(index, path, whole_result, face.face_crop, face.start_s, suffix, face.coverage)
                    if analysis is not None:
                        face_outputs.add(index, path, face)
                    writer.add(index, path, score, steps, status, logits, face, extra, suffix)
                writer.finish_video(path, faces)
                bar.update(1)
    finally:
        writer.close()
        if timelines is not None:
            timelines.close()
    return writer.scores
