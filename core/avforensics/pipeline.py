"""The audio-visual anomaly detector (Feng, Chen & Owens, CVPR 2023): sync evidence, PCA, autoregressive scores.

A video's sync logits and audio-visual features come from :class:`core.avforensics.features.SyncFeatureExtractor`
(the fast path); the PCA maps the features, and the two autoregressive models trained on real videos score how
unlikely both sequences are (:func:`core.avforensics.scoring.sequence_scores`): higher is more likely fake.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from core.avforensics.budget import describe_sampling, windows_within
from core.avforensics.features import SyncFeatureExtractor
from core.avforensics.illustrations import clip_illustrations
from core.avforensics.pca import PcaMap, load_pca
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.scoring import MAX_OFFSET, NUM_OFFSETS, WINDOW_FRAMES, SequenceScores, sequence_scores
from core.avforensics.speaker import choose_speaker
from core.avforensics.sync_arch import load_sync_model
from core.avforensics.sync_transformer import SyncModel
from core.avforensics.whole_video import (
    WholeVideoResult,
    WholeVideoSettings,
    sample_windows,
    score_whole_video,
    window_ranges,
    window_starts,
)
from core.checkpoint_registry import DIST_MODEL, FEATURE_MODEL, PCA, describe_checkpoint
from core.checkpoints import load_weights
from core.errors import CheckpointError
from core.forensics.evidence import Evidence, PreparedTrack, ScoreKind, TimeSeries, VideoFacts
from core.media.av_clip import FRAME_SIZE, TARGET_FPS, AVClip, clip_prefix
from core.media.faces.clip import FaceClip
from core.media.in_memory import VideoSource
from core.media.integrity import frame_shortfall

log = logging.getLogger(__name__)


@dataclass
class VideoAnalysis:
    """Everything computed for one video; ``scores.combined(lam)`` is its anomaly score (higher = more likely fake)."""

    logits: np.ndarray  # (steps, 31) sync logits per time step, offsets -15..+15
    pca_features: np.ndarray  # (steps, 31) PCA of the offset-0 audio-visual feature
    scores: SequenceScores  # of the first max_len steps (the authors' score), also in whole-video mode
    whole: WholeVideoResult | None = None  # windows, curve and segments of every step, in whole-video mode

    @property
    def steps(self) -> int:
        return self.logits.shape[0]


@dataclass(frozen=True)
class CheckpointPaths:
    sync_model: str | os.PathLike
    dist_regressive_model: str | os.PathLike
    avfeature_regressive_model: str | os.PathLike
    pca: str | os.PathLike


class AVForensicsDetector:
    """Scores videos: sync evidence of the first ``max_len`` steps, then the two sequence scores.

    Args:
        lam: weight of the audio-visual-feature score added to the offset-distribution score.
        frame_size: side of the square frames the sync model was trained on (224 for the official one).
        whole_video: score every step of the clip in sliding windows (:mod:`core.avforensics.whole_video`);
            None: the first ``max_len`` steps only, as the authors do.
        face_crop: ``never`` (the authors' whole-frame input), ``always`` or ``auto``: see :mod:`core.media.faces.clip`.
        illustrate: ``analyse_video`` adds a few frames of the scored clip (with the face track drawn on its
            source frames when the face was cropped) to the evidence: :mod:`core.avforensics.illustrations`.
        time_budget_s: on a CPU, whole videos get as many evenly spaced windows as fit about this many seconds
            (:mod:`core.avforensics.budget`), and the speaker among several faces is chosen on the first window;
            None: every window.
    """

    name: ClassVar[str] = "avforensics"
    score_kind: ClassVar[ScoreKind] = ScoreKind.ANOMALY

    def __init__(
        self,
        sync_model: SyncModel,
        distribution_model: AutoregressiveModel,
        feature_model: AutoregressiveModel,
        pca: PcaMap,
        max_len: int = 50,
        device: torch.device | str = "cpu",
        window_batch: int = 8,
        progress: bool = True,
        frame_size: int = FRAME_SIZE,
        lam: float = 0.0,
        whole_video: WholeVideoSettings | None = None,
        face_crop: str = "never",
        illustrate: bool = False,
        time_budget_s: float | None = None,
    ) -> None:
        positions = min(distribution_model.positions, feature_model.positions)
        if not 2 <= max_len <= positions + 1:
            raise CheckpointError(
                f"max_len {max_len} does not fit the autoregressive models: they have {positions} positions, "
                f"so max_len must be between 2 and {positions + 1}"
            )
        self.features = SyncFeatureExtractor(
            sync_model.eval(),
            frame_size,
            max_len,
            device,
            window_batch,
            progress,
            whole_video=whole_video is not None,
            face_crop=face_crop,
        )
        self.whole_video = whole_video
        self.device = self.features.device
        self.distribution_model = distribution_model.to(self.device).eval()
        self.feature_model = feature_model.to(self.device).eval()
        self.pca = pca
        self.max_len = max_len
        self.lam = lam
        self.illustrate = illustrate
        self.time_budget_s = time_budget_s
        self.max_windows = windows_within(time_budget_s, max_len, self.device.type) if whole_video else None
        # {"dist_regressive_model": {"path", "sha256", "known"}, ...} when built by from_checkpoints (provenance).
        self.checkpoint_records: dict[str, dict] = {}

    @classmethod
    def from_checkpoints(cls, paths: CheckpointPaths, **kwargs) -> "AVForensicsDetector":
        # The two autoregressive models share an architecture, so a swap would load silently: known official
        # files are checked against their role by hash first (unknown files, e.g. our own training's, pass).
        records = {
            "dist_regressive_model": describe_checkpoint(paths.dist_regressive_model, DIST_MODEL),
            "avfeature_regressive_model": describe_checkpoint(paths.avfeature_regressive_model, FEATURE_MODEL),
            "pca": describe_checkpoint(paths.pca, PCA),
        }
        # A sidecar sync_model.json (written by our training) describes a non-official size; none: official.
        sync_model, arch = load_sync_model(paths.sync_model)
        kwargs.setdefault("frame_size", arch.frame_size)
        distribution_model = AutoregressiveModel()
        load_weights(distribution_model, paths.dist_regressive_model, DIST_MODEL)
        feature_model = AutoregressiveModel()
        load_weights(feature_model, paths.avfeature_regressive_model, FEATURE_MODEL)
        detector = cls(sync_model, distribution_model, feature_model, load_pca(paths.pca), **kwargs)
        detector.checkpoint_records = records
        return detector

    @property
    def sync_model(self) -> SyncModel:
        return self.features.sync_model

    @property
    def frame_size(self) -> int:
        return self.features.frame_size

    @property
    def frames_needed(self) -> int | None:
        return self.features.frames_needed

    def load_clip(self, path: str | os.PathLike, audio_path: str | os.PathLike | None = None) -> AVClip:
        return self.features.load_clip(path, audio_path)

    def load_clips(
        self, path: str | os.PathLike, audio_path: str | os.PathLike | None = None, all_faces: bool = False
    ) -> list[FaceClip]:
        """The video's clips; with several faces, the main one is the speaker (:mod:`core.avforensics.speaker`)."""
        return self.features.load_clips(path, audio_path, all_faces, self.choose_speaker)

    def choose_speaker(self, faces: list[FaceClip]) -> FaceClip:
        """The face whose mouth goes with the voice, by this detector's sync model (on the first window only when
        whole videos are sampled to fit a time budget: then its evidence is not the analysis')."""
        if self.max_windows is None:
            return choose_speaker(faces, self.features.extract)
        first = self.max_len + WINDOW_FRAMES - 1 + MAX_OFFSET
        return choose_speaker(faces, lambda clip: self.features.extract(clip_prefix(clip, first)), reuse=False)

    def truncation(self, clip: AVClip) -> str | None:
        """``truncated: decoded N of M frames`` when the file gave markedly fewer of the frames the detector needs
        than its container declares (``core.media.integrity``), else None."""
        if clip.decoded_frames < 0:
            return None
        return frame_shortfall(clip.path, clip.decoded_frames, needed=self.frames_needed, fps=TARGET_FPS)

    @torch.no_grad()
    def analyse(self, clip: AVClip, extracted: tuple[np.ndarray, np.ndarray] | None = None) -> VideoAnalysis:
        """Logits, PCA features and both sequence scores of one decoded clip (``extracted``: its sync evidence,
        when already computed, e.g. while choosing the speaker)."""
        settings = self.whole_video
        if settings is not None and self.max_windows is not None:
            steps = self.features.steps_of(clip.num_frames)
            every = window_starts(steps, self.max_len, settings.stride)
            if len(every) > self.max_windows:
                settings = replace(settings, max_windows=self.max_windows)
                ranges = window_ranges(sample_windows(every, self.max_windows), self.max_len, steps)
                extracted = self.features.extract(clip, ranges)
        logits, features = self.features.extract(clip) if extracted is None else extracted
        pca_features = self.pca.transform(features)
        if settings is not None:
            scores, whole = score_whole_video(
                logits,
                pca_features,
                self.distribution_model,
                self.feature_model,
                self.max_len,
                self.lam,
                settings,
                self.device,
            )
            return VideoAnalysis(logits, pca_features, scores, whole)
        scores = sequence_scores(
            logits, pca_features, self.distribution_model, self.feature_model, self.max_len, self.device
        )
        return VideoAnalysis(logits, pca_features, scores)

    def analyse_video(self, path: str | os.PathLike, audio_path: str | os.PathLike | None = None) -> Evidence:
        """The detector interface (``core.forensics``): the score and the per-step sync logits of one video.

        Step k covers frames k..k+4 of the clip; its time is the window's start in the video, (first + k) / 25 s
        (a face crop's clip starts at its track's first frame). With face cropping, the main face is scored. In
        whole-video mode the evidence also has the ``anomaly`` curve (times: the windows' middle frames) and, in
        ``details``, ``score_max``, ``score_mean``, the segment threshold and the segments.
        """
        return self.analyse_prepared(self.prepare_video(path, audio_path))

    def prepare_video(self, path: VideoSource, audio_path: str | os.PathLike | None = None) -> FaceClip:
        """The decoding half of ``analyse_video`` (thread-safe: batch scoring runs it ahead in background threads)."""
        return self.load_clips(path, audio_path)[0]

    def prepare_tracks(self, path: VideoSource, audio_path: str | os.PathLike | None = None) -> list[PreparedTrack]:
        """``prepare_video`` for every face track (face cropping on), failed tracks included: their
        ``analyse_prepared`` raises the face problem. Without face cropping: the whole frame, track "none"."""
        faces = self.load_clips(path, audio_path, all_faces=self.features.face_crop != "never")
        return [PreparedTrack(face.face_crop, face.main, face) for face in faces]

    def analyse_prepared(self, face: FaceClip) -> Evidence:
        """The model half of ``analyse_video``, on what ``prepare_video`` decoded."""
        clip = face.require()
        analysis = self.analyse(clip, face.evidence)
        evidence = evidence_of(clip, analysis, self.lam)
        whole = analysis.whole
        if whole is not None and whole.sampled:
            window_s = self.max_len / TARGET_FPS
            evidence.details["sampling"] = describe_sampling(
                len(whole.window_starts), whole.total_windows, window_s, self.time_budget_s
            )
            evidence.details["not_analysed"] = not_analysed(whole, clip.first_frame / TARGET_FPS)
        truncated = self.truncation(clip)
        if truncated:
            evidence.warnings.append(truncated)
        if self.features.face_crop != "never":
            evidence.details.update(face_crop=face.face_crop, face_status=face.face_status)
            if face.speaker_sync is not None:
                evidence.details.update(speaker_sync=face.speaker_sync, speaker_margin=face.speaker_margin)
            if face.coverage:
                evidence.details["coverage"] = [stretch.as_dict() for stretch in face.coverage]
        if self.illustrate:
            evidence.illustrations = clip_illustrations(face, clip)
        return evidence


def not_analysed(whole: WholeVideoResult, offset_s: float) -> list[dict]:
    """The stretches no sampled window covers, as ``start_s, end_s, status`` in the video's time (a step's
    stretch spans its curve sample, as segments do)."""
    missing = whole.windows == 0
    missing[0] = False  # step 0 is never predicted, sampled or not
    stretches, start = [], None
    for step, gap in enumerate([*missing, False]):
        if gap and start is None:
            start = step
        elif not gap and start is not None:
            stretches.append(
                {
                    "start_s": offset_s + float(whole.time_s[start]),
                    "end_s": offset_s + float(whole.time_s[step - 1]) + 1 / TARGET_FPS,
                    "status": "not analysed (time budget)",
                    "track": None,
                }
            )
            start = None
    return stretches


def evidence_of(clip: AVClip, analysis: VideoAnalysis, lam: float) -> Evidence:
    """The interface's view of one analysed clip."""
    offset_s = clip.first_frame / TARGET_FPS
    steps_s = offset_s + np.arange(analysis.steps, dtype=np.float64) / TARGET_FPS
    series = {
        "sync_logits": TimeSeries(
            steps_s, analysis.logits, f"{NUM_OFFSETS} audio-visual offset logits (-15..+15 frames) per time step"
        )
    }
    details = {
        "distribution_kl": analysis.scores.distribution_kl,
        "feature_mse": analysis.scores.feature_mse,
        "lam": lam,
        "steps": analysis.steps,
    }
    whole = analysis.whole
    if whole is not None:
        series["anomaly"] = TimeSeries(
            offset_s + whole.time_s,
            whole.anomaly,
            "per-step anomaly (KL + lam x feature error) at 25 Hz, from sliding windows",
        )
        details.update(
            score_max=whole.score_max,
            score_mean=whole.score_mean,
            windows=len(whole.window_starts),
            segment_threshold=whole.threshold,
            segment_threshold_rule=whole.threshold_rule,
            segments=[
                {**vars(segment), "start_s": segment.start_s + offset_s, "end_s": segment.end_s + offset_s}
                for segment in whole.segments
            ],
        )
    return Evidence(
        detector=AVForensicsDetector.name,
        score=analysis.scores.combined(lam),
        score_kind=AVForensicsDetector.score_kind,
        facts=VideoFacts(str(Path(clip.path)), clip.source_width, clip.source_height, clip.source_fps, clip.num_frames),
        series=series,
        details=details,
        warnings=[f"resampled from {clip.source_fps:g} fps to {TARGET_FPS:g} fps"] if clip.resampled else [],
    )
