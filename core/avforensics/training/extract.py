"""Per-video sync logits and audio-visual features, computed by the detector's own fast path.

Both the sync model's validation (offset accuracy) and the anomaly models' training data come from
:class:`core.avforensics.pipeline.AVForensicsDetector`'s ``video_tokens`` / ``audio_tokens`` /
``sync_logits``, so training sees exactly the numbers detection will compute. That class wants the two
autoregressive models and the PCA at construction, which do not exist yet when they are being trained;
:class:`SyncExtractor` sets only what ``extract`` reads.
"""

from __future__ import annotations

import numpy as np
import torch

from core.avforensics.mel import LogMel
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.scoring import MAX_OFFSET, WINDOW_FRAMES
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

    def extract(self, clip: AVClip) -> tuple[np.ndarray, np.ndarray]:
        """The detector's ``extract`` in eval mode (BatchNorm running statistics), then back to the previous mode."""
        was_training = self.sync_model.training
        self.sync_model.eval()
        try:
            return super().extract(clip)
        finally:
            self.sync_model.train(was_training)


def offset_hits(logits: np.ndarray, tolerance: int = 0) -> tuple[int, int]:
    """(steps whose arg-max offset is within ``tolerance`` frames of the true one, steps)."""
    error = np.abs(logits.argmax(axis=1) - MAX_OFFSET)
    return int((error <= tolerance).sum()), int(logits.shape[0])
