"""The authors' per-step, per-offset loop, rebuilt from our modules: the slow baseline for tests and bench_detect.

For every time step it does what their ``detect.py`` does: repeat the 5-frame window 31 times, cut the 31
audio windows out of a 35-frame slice of the zero-padded audio, compute their log-mels, and run the full
sync model twice (logits, then audio-visual features, each re-encoding video and audio). Its indexing is
written out literally, independently of :mod:`core.avforensics.scoring`, so comparing it with
:class:`core.avforensics.pipeline.AVForensicsDetector` checks the fast path's window and offset sharing.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from core.avforensics.pipeline import AVForensicsDetector, VideoAnalysis
from core.avforensics.scoring import sequence_scores
from core.media.av_clip import AVClip


@torch.no_grad()
def reference_style_analysis(
    detector: AVForensicsDetector, clip: AVClip, progress: bool = False, max_steps: int | None = None
) -> VideoAnalysis:
    """The authors' loop; ``max_steps`` stops it early (for timing only: the scores then cover fewer steps)."""
    model, device = detector.sync_model, detector.device
    aud_fact = clip.audio.shape[0] // clip.num_frames  # 640 samples per frame
    video_set = torch.from_numpy(clip.frames).permute(3, 0, 1, 2).float()[None]  # 1 x c x t x h x w
    audio_set = torch.from_numpy(np.pad(clip.audio, (15 * aud_fact, 15 * aud_fact)))[None]
    time_len = video_set.shape[2]
    max_seq_len = min(time_len - 5 + 1, detector.max_len)
    if max_steps is not None:
        max_seq_len = min(max_seq_len, max_steps)
    logits = np.zeros((max_seq_len, 31))
    pca_features = np.zeros((max_seq_len, 31))
    for k in tqdm(range(max_seq_len), desc="reference-style steps", leave=False, disable=not progress):
        video = video_set[:, :, k : k + 5]
        audio = audio_set[:, k * aud_fact : (k + 5 + 15 + 15) * aud_fact]
        video = video[:, None].repeat(1, 31, 1, 1, 1, 1).reshape(-1, *video.shape[1:]).to(device)
        audio = torch.cat([audio[:, i * aud_fact : (i + 5) * aud_fact] for i in range(31)]).to(device)
        log_mel = detector.features.log_mel(audio)
        logits[k] = model(video, log_mel).reshape(31).cpu().numpy()
        feature = model.av_feature(video, log_mel)[15]
        pca_features[k] = detector.pca.transform(feature.cpu().numpy()[None])
    scores = sequence_scores(
        logits, pca_features, detector.distribution_model, detector.feature_model, detector.max_len, device
    )
    return VideoAnalysis(logits, pca_features, scores)
