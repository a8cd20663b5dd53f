"""Per-video sync logits and audio-visual features, computed by the detector's own fast path.

Both the sync model's validation (offset accuracy) and the anomaly models' training data come from
:class:`core.avforensics.pipeline.AVForensicsDetector`'s ``video_tokens`` / ``audio_tokens`` /
``sync_logits``, so training sees exactly the numbers detection will compute. That class wants the two
autoregressive models and the PCA at construction, which do not exist yet when they are being trained;
:class:`SyncExtractor` sets only what those methods read (the report proposes an upstream ``extract``
method that would make this adapter a one-liner).
"""

from __future__ import annotations

import numpy as np
import torch

from core.avforensics.mel import LogMel
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.scoring import ALIGNED_OFFSET, MAX_OFFSET, WINDOW_FRAMES, num_steps
from core.media.av_clip import AVClip, load_av_clip


class SyncExtractor(AVForensicsDetector):
    """The detector's token/logit methods without the autoregressive models and the PCA."""

    def __init__(self, sync_model: torch.nn.Module, max_len: int = 50, device: torch.device | str = "cpu",
                 window_batch: int = 8) -> None:  # noqa: D107 -- deliberately not calling the parent's __init__
        self.device = torch.device(device)
        self.sync_model = sync_model
        self.log_mel = LogMel().to(self.device)
        self.max_len = max_len
        self.window_batch = max(1, window_batch)
        self.progress = False

    def load(self, path: str, frame_size: int) -> AVClip:
        """Decode as detect.py does (same frame budget and minimum length), at ``frame_size``."""
        return load_av_clip(path, size=frame_size, max_frames=self.frames_needed, min_frames=WINDOW_FRAMES + 1)

    @torch.no_grad()
    def extract(self, clip: AVClip) -> tuple[np.ndarray, np.ndarray]:
        """(steps, 31) float64 sync logits and (steps, D) float32 offset-0 features, as ``analyse`` computes them.

        The model is switched to eval mode (BatchNorm running statistics) and back to its previous mode.
        """
        was_training = self.sync_model.training
        self.sync_model.eval()
        try:
            steps = num_steps(clip.num_frames, self.max_len)
            samples_per_frame = clip.audio.shape[0] // clip.num_frames
            video = self.video_tokens(clip.frames, steps)
            audio = self.audio_tokens(clip.audio, steps, samples_per_frame)
            logits = self.sync_logits(video, audio)
            aligned = audio[torch.arange(steps, device=self.device) + ALIGNED_OFFSET]
            features = self.sync_model.transformer.av_feature(video, aligned)
        finally:
            self.sync_model.train(was_training)
        return logits.float().cpu().numpy().astype(np.float64), features.float().cpu().numpy()


def offset_hits(logits: np.ndarray, tolerance: int = 0) -> tuple[int, int]:
    """(steps whose arg-max offset is within ``tolerance`` frames of the true one, steps)."""
    error = np.abs(logits.argmax(axis=1) - MAX_OFFSET)
    return int((error <= tolerance).sum()), int(logits.shape[0])
