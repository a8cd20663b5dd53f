"""Batch driver behind ``detect.py``: resolve the inputs, score each video, write every result as it comes.

Outputs in ``output_dir``:

* ``output.log``: one line per video with its score (the authors' wording, plus the path);
* ``scores.csv``: ``path, score, steps, status, face_crop, face_status`` -- status ``ok`` or why the video has
  no score (NaN) -- followed by the caller's extra columns, if any (labels, calibrated values);
* ``testing_scores.npy``: the scores in input order (the authors' file name; the same array is also
  written as ``testing_score.npy``, the name their README uses);
* with ``save_distributions``: ``distributions/<index>_<stem>.npy``, the (steps, 31) sync logits
  (``<index>_<stem>_face<track>.npy`` per face track with ``all_faces``);
* with ``whole_video``: ``score_max, score_mean`` columns in ``scores.csv`` (over the sliding windows; ``score``
  stays the first window's), ``timelines/`` and ``segments.csv`` (:mod:`core.avforensics.timeline_files`);
* with ``save_face_tracks`` / ``save_face_crops``: see :mod:`core.avforensics.face_outputs`.

``scores.csv`` also says what was scored: ``face_crop`` (``none``: the whole frame, or the face track's
id) and ``face_status`` (``whole frame``, ``ok``, or why the face gives no clip: ``no face``, ``face too
small``...). With ``all_faces`` a video has one row per face track; the score arrays hold its main track's.

A video that cannot be used (missing, undecodable, no audio track, too short) gets its status and a NaN
score and the run goes on. The CSV and log are flushed after every video and the score arrays rewritten,
so an interrupted run keeps everything computed so far.
"""

from __future__ import annotations

import csv
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core.avforensics.face_outputs import FaceOutputs
from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths, VideoAnalysis
from core.avforensics.timeline_files import TimelineWriter
from core.avforensics.whole_video import WholeVideoSettings
from core.checkpoints import require_file
from core.errors import InputError
from core.media.faces.clip import FaceClip

log = logging.getLogger(__name__)

SCORE_FILES = ("testing_scores.npy", "testing_score.npy")


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


@dataclass(frozen=True)
class ExtraColumns:
    """Columns appended to scores.csv: ``values(index, score)`` gives one value per name for input ``index``."""

    names: Sequence[str]
    values: Callable[[int, float], Sequence[object]]


class ResultWriter:
    """Appends each video's result to the log and CSV at once and keeps the score arrays current."""

    def __init__(
        self,
        output_dir: Path,
        total: int,
        save_distributions: bool,
        extra_columns: ExtraColumns | None = None,
        video_columns: tuple[str, ...] = (),
    ) -> None:
        self.output_dir = output_dir
        output_dir.mkdir(parents=True, exist_ok=True)
        self.scores = np.full(total, np.nan)
        self.distribution_dir = output_dir / "distributions" if save_distributions else None
        if self.distribution_dir is not None:
            self.distribution_dir.mkdir(exist_ok=True)
        self._log = open(output_dir / "output.log", "w", encoding="utf-8")
        self._csv_file = open(output_dir / "scores.csv", "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_file)
        self.extra_columns = extra_columns
        self._csv.writerow(
            [
                "path",
                "score",
                "steps",
                "status",
                "face_crop",
                "face_status",
                *video_columns,
                *(extra_columns.names if extra_columns else ()),
            ]
        )
        self._csv_file.flush()

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
        track = "" if face.track_id is None else f" [face track {face.track_id}]"
        self._log.write(
            f"{path}: The score of this video is {score!r}" + ("" if status == "ok" else f" ({status})") + track + "\n"
        )
        self._log.flush()
        labelled = self.extra_columns.values(index, score) if self.extra_columns else ()
        self._csv.writerow(
            [path, repr(score), steps, status, face.face_crop, face.face_status, *map(repr, extra), *labelled]
        )
        self._csv_file.flush()
        if self.distribution_dir is not None and logits is not None:
            np.save(self.distribution_dir / f"{index}_{Path(path).stem}{suffix}.npy", logits)
        for name in SCORE_FILES:
            np.save(self.output_dir / name, self.scores)

    def close(self) -> None:
        self._log.close()
        self._csv_file.close()


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
        analysis = detector.analyse(face.require())
    except InputError as exc:
        log.warning("%s: skipped, %s", path, exc)
        return math.nan, 0, str(exc), None
    except (RuntimeError, ValueError) as exc:  # a decoder or model failure on one file must not stop the run
        status = f"failed: {exc.__class__.__name__}: {exc}".replace("\n", " ")
        log.error("%s: %s", path, status)
        return math.nan, 0, status, None
    score = analysis.scores.combined(detector.lam)
    log.info("%s: score %.6f over %d steps", path, score, analysis.steps)
    return score, analysis.steps, "ok", analysis


def run_detection(
    inputs: list[str],
    checkpoints: CheckpointPaths,
    settings: RunSettings,
    extra_columns: ExtraColumns | None = None,
    **detector_kwargs,
) -> np.ndarray:
    """Score every input; return the scores in input order (NaN where a video could not be used)."""
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
    writer = ResultWriter(
        settings.output_dir,
        len(inputs),
        settings.save_distributions,
        extra_columns,
        ("score_max", "score_mean") if whole else (),
    )
    timelines = TimelineWriter(settings.output_dir) if whole else None
    face_outputs = FaceOutputs(settings.output_dir, settings.save_face_tracks, settings.save_face_crops)
    load_options = (settings.audio_from_wav, settings.all_faces)
    pool = ThreadPoolExecutor(max_workers=settings.n_workers) if settings.n_workers > 0 else None
    pending: deque[Future] = deque()
    next_to_submit = 0
    try:
        with logging_redirect_tqdm(), tqdm(total=len(inputs), desc="videos", unit="video") as bar:
            for index, path in enumerate(inputs):
                # Decode up to n_workers videos ahead in background threads while this one is scored.
                while pool is not None and next_to_submit < len(inputs) and len(pending) <= settings.n_workers:
                    pending.append(pool.submit(_load, inputs[next_to_submit], detector, *load_options))
                    next_to_submit += 1
                faces = pending.popleft().result() if pool is not None else _load(path, detector, *load_options)
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
                    logits = analysis.logits if analysis is not None else None
                    writer.add(index, path, score, steps, status, logits, face, extra, suffix)
                    if timelines is not None and whole_result is not None:
                        timelines.add(index, path, whole_result, face.face_crop, face.start_s, suffix)
                    if status == "ok":
                        face_outputs.add(index, path, face)
                bar.update(1)
    finally:
        writer.close()
        if timelines is not None:
            timelines.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return writer.scores
