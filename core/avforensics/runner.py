"""Batch driver behind ``detect.py``: resolve the inputs, score each video, write every result as it comes.

Outputs in ``output_dir``:

* ``output.log``: one line per video with its score (the authors' wording, plus the path);
* ``scores.csv``: ``path, score, steps, status, face_crop, face_status`` -- status ``ok`` or why the video has
  no score (NaN);
* ``testing_scores.npy``: the scores in input order (the authors' file name; the same array is also
  written as ``testing_score.npy``, the name their README uses);
* with ``save_distributions``: ``distributions/<index>_<stem>.npy``, the (steps, 31) sync logits
  (``<index>_<stem>_face<track>.npy`` per face track with ``all_faces``);
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core.avforensics.face_outputs import FaceOutputs
from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths
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
    all_faces: bool = False  # one row per face track (face cropping on), not just the main one
    save_face_tracks: bool = False
    save_face_crops: bool = False


class ResultWriter:
    """Appends each video's result to the log and CSV at once and keeps the score arrays current."""

    def __init__(self, output_dir: Path, total: int, save_distributions: bool) -> None:
        self.output_dir = output_dir
        output_dir.mkdir(parents=True, exist_ok=True)
        self.scores = np.full(total, np.nan)
        self.distribution_dir = output_dir / "distributions" if save_distributions else None
        if self.distribution_dir is not None:
            self.distribution_dir.mkdir(exist_ok=True)
        self._log = open(output_dir / "output.log", "w", encoding="utf-8")
        self._csv_file = open(output_dir / "scores.csv", "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(["path", "score", "steps", "status", "face_crop", "face_status"])
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
        suffix: str = "",
    ) -> None:
        if face.main:
            self.scores[index] = score
        track = "" if face.track_id is None else f" [face track {face.track_id}]"
        self._log.write(
            f"{path}: The score of this video is {score!r}" + ("" if status == "ok" else f" ({status})") + track + "\n"
        )
        self._log.flush()
        self._csv.writerow([path, repr(score), steps, status, face.face_crop, face.face_status])
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
    """The video's clips (whole frame, main face or every face); a video that cannot be read gives one without a clip."""
    wav = Path(path).with_suffix(".wav")
    audio_path = wav if audio_from_wav and wav.is_file() else None
    if audio_path is not None:
        log.info("%s: audio read from %s", path, wav)
    try:
        return detector.load_clips(path, audio_path, all_faces)
    except (InputError, RuntimeError, ValueError) as exc:
        return [FaceClip(None, "", error=exc)]


def _score(path: str, face: FaceClip, detector: AVForensicsDetector) -> tuple[float, int, str, np.ndarray | None]:
    """(score, steps, status, logits) of one clip; status ``ok`` or why there is no score (NaN)."""
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
    return score, analysis.steps, "ok", analysis.logits


def run_detection(
    inputs: list[str], checkpoints: CheckpointPaths, settings: RunSettings, **detector_kwargs
) -> np.ndarray:
    """Score every input; return the scores in input order (NaN where a video could not be used)."""
    for path, what in (
        (checkpoints.sync_model, "audio-visual sync model"),
        (checkpoints.dist_regressive_model, "offset-distribution autoregressive model"),
        (checkpoints.avfeature_regressive_model, "audio-visual-feature autoregressive model"),
        (checkpoints.pca, "PCA file"),
    ):
        require_file(path, what)  # all missing files are reported before any work starts
    detector = AVForensicsDetector.from_checkpoints(checkpoints, lam=settings.lam, **detector_kwargs)
    writer = ResultWriter(settings.output_dir, len(inputs), settings.save_distributions)
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
                    score, steps, status, logits = _score(path, face, detector)
                    suffix = f"_face{face.track_id}" if settings.all_faces and face.track_id is not None else ""
                    writer.add(index, path, score, steps, status, logits, face, suffix)
                    if status == "ok":
                        face_outputs.add(index, path, face)
                bar.update(1)
    finally:
        writer.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return writer.scores
