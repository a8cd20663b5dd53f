"""The fast per-video audio-visual anomaly detector (Feng, Chen & Owens, CVPR 2023).

Same numbers as the authors' ``detect.py`` loop, far less work. Their loop runs, for every time step, the
video encoder 62 times on the same 5-frame window (31 offsets x 2 models) and the audio encoder on 62
windows of which only one is new. Here, per video:

1. the per-frame ResNet stages run once per frame (overlapping windows share them);
2. the 3D stages run once per 5-frame window, in batches of ``window_batch`` windows;
3. the audio encoder runs once per distinct audio window (``steps + 30`` of them);
4. video and audio tokens are computed once and paired for the 31 offsets (sync logits) and offset 0
   (audio-visual feature), so both scores share every encoder output.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from core.avforensics.mel import LogMel
from core.avforensics.pca import PcaMap, load_pca
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.scoring import (
    ALIGNED_OFFSET,
    MAX_OFFSET,
    NUM_OFFSETS,
    WINDOW_FRAMES,
    SequenceScores,
    audio_window_index,
    num_steps,
    sequence_scores,
)
from core.avforensics.sync_arch import load_sync_model
from core.avforensics.sync_transformer import SyncModel
from core.checkpoints import load_weights
from core.errors import CheckpointError
from core.media.av_clip import FRAME_SIZE, AVClip

log = logging.getLogger(__name__)


@dataclass
class VideoAnalysis:
    """Everything computed for one video; ``scores.combined(lam)`` is its anomaly score (higher = more likely fake)."""

    logits: np.ndarray  # (steps, 31) sync logits per time step, offsets -15..+15
    pca_features: np.ndarray  # (steps, 31) PCA of the offset-0 audio-visual feature
    scores: SequenceScores

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
    ) -> None:
        positions = min(distribution_model.positions, feature_model.positions)
        if not 2 <= max_len <= positions + 1:
            raise CheckpointError(
                f"--max-len {max_len} does not fit the autoregressive models: they have {positions} positions, "
                f"so max_len must be between 2 and {positions + 1}"
            )
        self.device = torch.device(device)
        self.frame_size = frame_size  # side of the square frames the sync model was trained on
        self.sync_model = sync_model.to(self.device).eval()
        self.distribution_model = distribution_model.to(self.device).eval()
        self.feature_model = feature_model.to(self.device).eval()
        self.log_mel = LogMel().to(self.device)
        self.pca = pca
        self.max_len = max_len
        self.window_batch = max(1, window_batch)
        self.progress = progress

    @classmethod
    def from_checkpoints(cls, paths: CheckpointPaths, **kwargs) -> "AVForensicsDetector":
        # A sidecar sync_model.json (written by our training) describes a non-official size; none: official.
        sync_model, arch = load_sync_model(paths.sync_model)
        kwargs.setdefault("frame_size", arch.frame_size)
        distribution_model = AutoregressiveModel()
        load_weights(distribution_model, paths.dist_regressive_model, "offset-distribution autoregressive model")
        feature_model = AutoregressiveModel()
        load_weights(feature_model, paths.avfeature_regressive_model, "audio-visual-feature autoregressive model")
        return cls(sync_model, distribution_model, feature_model, load_pca(paths.pca), **kwargs)

    @property
    def frames_needed(self) -> int:
        """Frames of video and audio beyond this never change the result, so decoding can stop there.

        The last step's video window ends at frame max_len + 4, but its +15 offset reaches 15 frames of
        audio further; audio past the clip's length (video and audio truncated to the shorter) is zero,
        so that length matters up to there too.
        """
        return self.max_len + WINDOW_FRAMES - 1 + MAX_OFFSET

    def _batches(self, total: int, size: int, what: str):
        starts = range(0, total, size)
        return tqdm(starts, desc=what, unit="batch", leave=False, disable=not self.progress or len(starts) < 2)

    @torch.no_grad()
    def video_tokens(self, frames: np.ndarray, steps: int) -> torch.Tensor:
        """(T, H, W, 3) uint8 frames -> (steps, 5, 512) video tokens of windows 0..steps-1."""
        encoder, fusion = self.sync_model.vis_enc, self.sync_model.transformer
        count = steps + WINDOW_FRAMES - 1
        # Raw 0..255 values as float, the authors' input convention.
        pixels = torch.from_numpy(np.ascontiguousarray(frames[:count])).to(self.device).permute(0, 3, 1, 2).float()
        per_frame = torch.cat(
            [encoder.frame_features(pixels[s : s + self.window_batch]) for s in range(0, count, self.window_batch)]
        )
        tokens = []
        for start in self._batches(steps, self.window_batch, "video windows"):
            stop = min(start + self.window_batch, steps)
            windows = torch.stack([per_frame[k : k + WINDOW_FRAMES] for k in range(start, stop)]).transpose(1, 2)
            tokens.append(fusion.video_tokens(encoder.window_features(windows)))
        return torch.cat(tokens)

    @torch.no_grad()
    def audio_tokens(self, audio: np.ndarray, steps: int, samples_per_frame: int) -> torch.Tensor:
        """Int16-scale samples -> (steps + 30, 4, 512) tokens of every distinct audio window, zero-padded by 15 frames."""
        padding = MAX_OFFSET * samples_per_frame
        padded = torch.nn.functional.pad(torch.from_numpy(np.ascontiguousarray(audio)).float(), (padding, padding))
        window = WINDOW_FRAMES * samples_per_frame
        count = steps + NUM_OFFSETS - 1
        starts = torch.arange(count) * samples_per_frame
        windows = padded[starts[:, None] + torch.arange(window)[None, :]].to(self.device)
        batch = 4 * self.window_batch  # audio windows are small
        tokens = [
            self.sync_model.transformer.audio_tokens(self.sync_model.aud_enc(self.log_mel(windows[s : s + batch])))
            for s in self._batches(count, batch, "audio windows")
        ]
        return torch.cat(tokens)

    @torch.no_grad()
    def sync_logits(self, video_tokens: torch.Tensor, audio_tokens: torch.Tensor) -> torch.Tensor:
        """(steps, 31) logits: video window k against the audio window of each offset."""
        fusion = self.sync_model.transformer
        steps = video_tokens.shape[0]
        index = audio_window_index(steps).to(self.device)
        rows = []
        batch = max(1, 64 // NUM_OFFSETS) * 4  # steps per fusion batch (x31 pairs each)
        for start in self._batches(steps, batch, "fusion"):
            stop = min(start + batch, steps)
            video = video_tokens[start:stop, None].expand(-1, NUM_OFFSETS, -1, -1).flatten(0, 1)
            audio = audio_tokens[index[start:stop].flatten()]
            rows.append(fusion.sync_logit(video, audio).reshape(stop - start, NUM_OFFSETS))
        return torch.cat(rows)

    @torch.no_grad()
    def extract(self, clip: AVClip) -> tuple[np.ndarray, np.ndarray]:
        """Per-step sync logits (steps, 31) as float64 and offset-0 audio-visual features (steps, D) as float32.

        The authors store logits in a float64 array; we keep that so both paths see identical inputs.
        """
        steps = num_steps(clip.num_frames, self.max_len)
        samples_per_frame = clip.audio.shape[0] // clip.num_frames
        video = self.video_tokens(clip.frames, steps)
        audio = self.audio_tokens(clip.audio, steps, samples_per_frame)
        logits = self.sync_logits(video, audio)
        aligned_audio = audio[torch.arange(steps, device=self.device) + ALIGNED_OFFSET]
        features = self.sync_model.transformer.av_feature(video, aligned_audio)
        return logits.float().cpu().numpy().astype(np.float64), features.float().cpu().numpy()

    @torch.no_grad()
    def analyse(self, clip: AVClip) -> VideoAnalysis:
        """Logits, PCA features and both sequence scores of one decoded clip."""
        logits_np, features = self.extract(clip)
        pca_features = self.pca.transform(features)
        scores = sequence_scores(
            logits_np, pca_features, self.distribution_model, self.feature_model, self.max_len, self.device
        )
        return VideoAnalysis(logits_np, pca_features, scores)
