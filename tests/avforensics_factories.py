"""Small inputs for the audio-visual forensics tests: synthetic clips with sound, random models in official layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.avforensics.pca import PcaMap
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.sync_arch import SyncArch, export_sync_model
from core.avforensics.sync_transformer import SyncModel
from core.media.encode import write_video
from tests.shared_fixtures import AVFORENSICS, require

FIXTURES = AVFORENSICS


def write_av_clip(
    path: Path,
    frames: int = 8,
    size: tuple[int, int] = (64, 48),
    fps: int = 25,
    audio_rate: int | None = 16000,
    channels: int = 1,
    audio_seconds: float | None = None,
    seed: int = 0,
) -> Path:
    """H.264 + AAC clip of a moving pattern and a gated tone; ``audio_rate=None`` writes no audio track."""
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    images = []
    for index in range(frames):
        image = np.stack([(xx * 4 + index * 9) % 256, (yy * 3 + index * 5) % 256, (xx + yy) % 256], -1).astype(np.uint8)
        image[: height // 2, index % width :] = rng.integers(0, 256, 3, dtype=np.uint8)
        images.append(image)
    planes = None
    if audio_rate is not None:
        seconds = audio_seconds if audio_seconds is not None else frames / fps + 0.1
        t = np.arange(int(seconds * audio_rate)) / audio_rate
        signal = 0.3 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 4 * t) > 0) + 0.02 * rng.standard_normal(
            t.size
        )
        planes = np.repeat(signal[None], channels, axis=0).astype(np.float32)
    return write_video(path, images, fps, audio=planes, sample_rate=audio_rate or 16000)


def randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Non-trivial running statistics and affine parameters, so eval-mode BatchNorm really transforms."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) * 0.8 + 0.6)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.2)
            module.num_batches_tracked.fill_(100)


def random_sync_model(seed: int = 0, feature_map_size: int = 14) -> SyncModel:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SyncModel(feature_map_size=feature_map_size)
    with torch.no_grad():
        randomize_batchnorm(model, generator)
        # Raw 0..255 pixels meet kaiming-initialised convolutions: scale the stem so activations stay O(1).
        model.vis_enc.conv1.weight.mul_(1 / 128)
        model.aud_enc.conv1.weight.mul_(1 / 8)
    return model.eval()


def random_regressive_model(seed: int = 0) -> AutoregressiveModel:
    torch.manual_seed(seed)
    model = AutoregressiveModel().eval()
    with torch.no_grad():
        model.pos_embedding.mul_(0.1)
    return model


def random_pca(seed: int = 0, dim: int = 1024, components: int = 31) -> PcaMap:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, components)))
    return PcaMap(
        scaler_mean=rng.standard_normal(dim),
        scaler_scale=rng.random(dim) + 0.5,
        pca_mean=rng.standard_normal(dim) * 0.1,
        components=basis.T.copy(),
    )


def require_fixtures() -> Path:
    require(FIXTURES / "test.mp4", what="audio-visual forensics fixtures")
    return FIXTURES


def small_sync_model() -> SyncModel:
    """32x32 frames, every width divided by 8: the official architecture at a size that runs in a second."""
    torch.manual_seed(3)
    model = SyncModel(feature_map_size=2, width_div=8)
    with torch.no_grad():
        randomize_batchnorm(model, torch.Generator().manual_seed(3))
        model.vis_enc.conv1.weight.mul_(1 / 128)  # raw 0..255 pixels
        model.aud_enc.conv1.weight.mul_(1 / 8)
    return model.eval()


def save_small_av_checkpoints(folder: Path) -> list[str]:
    """The small sync model (with its sidecar), random autoregressive models and PCA; detect.py's flags for them."""
    export_sync_model(small_sync_model(), folder / "sync_model.pth", SyncArch(32, 8), {})
    torch.save(random_regressive_model(4).state_dict(), folder / "dist.pth")
    torch.save(random_regressive_model(5).state_dict(), folder / "feat.pth")
    random_pca(6, dim=128).save_npz(folder / "pca.npz")
    return checkpoint_flags(folder / "sync_model.pth", folder / "dist.pth", folder / "feat.pth", folder / "pca.npz")


def save_random_av_checkpoints(folder: Path) -> list[str]:
    """Random full-size weights under the official names and layouts (bare state dicts) and the PCA as an .npz;
    detect.py's (and score.py's) flags for them."""
    names = ("sync_model.pth", "dist_regressive_model.pth", "avfeature_regressive_model.pth", "pca.npz")
    sync, dist, feat, pca = (folder / name for name in names)
    torch.save(random_sync_model(seed=5).state_dict(), sync)
    torch.save(random_regressive_model(6).state_dict(), dist)
    torch.save(random_regressive_model(7).state_dict(), feat)
    random_pca(seed=8).save_npz(pca)
    return checkpoint_flags(sync, dist, feat, pca)


def checkpoint_flags(sync: Path, dist: Path, feat: Path, pca: Path) -> list[str]:
    return [
        "--sync_model_path",
        str(sync),
        "--dist_model_path",
        str(dist),
        "--avfeature_model_path",
        str(feat),
        "--pca_path",
        str(pca),
    ]


def random_av_detector(sync_seed: int = 2, **options) -> AVForensicsDetector:
    """A detector for 32x32 frames (2x2 feature map) with random weights; ``options`` go to the detector."""
    return AVForensicsDetector(
        random_sync_model(seed=sync_seed, feature_map_size=2),
        random_regressive_model(1),
        random_regressive_model(2),
        random_pca(seed=4),
        **options,
    )
