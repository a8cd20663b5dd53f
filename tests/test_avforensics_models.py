"""Models in official layouts, the autoregressive model pinned on the real checkpoints, scoring and indexing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.av_reference_loop import reference_style_analysis
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.scoring import audio_window_index, num_steps, pad_to_length, sequence_scores
from core.avforensics.sync_transformer import SyncModel
from core.checkpoints import load_weights
from core.errors import CheckpointError
from core.media.av_clip import AVClip
from tests.avforensics_factories import (
    random_av_detector,
    random_regressive_model,
    random_sync_model,
    require_fixtures,
)

# (key, shape) samples of the official sync_model.pth layout (207 tensors in all).
OFFICIAL_SYNC_KEYS = {
    "vis_enc.conv1.weight": (64, 3, 1, 7, 7),
    "vis_enc.layer1.0.conv1.weight": (64, 64, 1, 3, 3),
    "vis_enc.layer3.0.conv1.weight": (256, 128, 3, 3, 3),
    "vis_enc.layer4.0.downsample.0.weight": (512, 256, 1, 1, 1),
    "vis_enc.layer4.1.bn2.num_batches_tracked": (),
    "aud_enc.conv6.weight": (512, 256, 4, 3),
    "aud_enc.bn6.running_var": (512,),
    "transformer.pos_embedding": (1, 512, 1, 14, 14),
    "transformer.visual_modality_embeding": (1, 512, 1),
    "transformer.temporal_audio_embedding": (1, 512, 4),
    "transformer.transformer.layers.2.0.fn.to_qkv.weight": (1536, 512),
    "transformer.transformer.layers.2.1.fn.net.3.bias": (512,),
    "transformer.mlp_head.1.weight": (1, 512),
}


def test_sync_model_reproduces_the_official_state_dict_layout():
    state = SyncModel().state_dict()
    assert len(state) == 207
    for key, shape in OFFICIAL_SYNC_KEYS.items():
        assert tuple(state[key].shape) == shape, key


def test_checkpoint_in_official_layout_loads_strictly_and_mismatches_are_named(tmp_path):
    model = random_sync_model(seed=1, feature_map_size=2)
    path = tmp_path / "sync_model.pth"
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, path)  # DataParallel-style keys
    loaded = SyncModel(feature_map_size=2)
    load_weights(loaded, path, "sync model")
    assert torch.equal(loaded.vis_enc.bn1.running_var, model.vis_enc.bn1.running_var)
    with pytest.raises(CheckpointError, match="transformer.pos_embedding"):
        load_weights(SyncModel(), path, "sync model")  # 14x14 positions expected, 2x2 saved


# Reference transformer_decoder on the real checkpoints, input 3*sin(0.37 t + 0.11 j^2) - 0.005 (j-15)^2
# for 20 steps padded to 49 with mask; values computed once with the authors' code.
PINNED_OUTPUTS = {
    "dist_regressive_model.pth": (-0.17550261318683624, -0.08355807512998581, -2.048262119293213, 612.0313110351562),
    "avfeature_regressive_model.pth": (
        -0.07996673882007599,
        0.10477303713560104,
        -0.11260855942964554,
        68.51026153564453,
    ),
}
# The authors' scoring block on those models, deterministic sequences of S steps: (kl, mse).
PINNED_SCORES = {
    12: (1.099172592163086, 1.2070187521620968),
    50: (1.3295623064041138, 1.2095360821260592),
    60: (1.3295623064041138, 1.2095360821260592),
}


def _sequences(steps: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(steps)[:, None]
    j = np.arange(31)[None, :]
    logits = 3.0 * np.sin(0.37 * t + 0.11 * j * j) - 0.05 * (j - 15) ** 2 / 10
    features = 2.0 * np.cos(0.23 * t * (j % 7 + 1) + 0.5 * j)
    return logits, features


@pytest.fixture(scope="module")
def real_regressive_models():
    fixtures = require_fixtures()
    models = {}
    for name in PINNED_OUTPUTS:
        model = AutoregressiveModel()
        load_weights(model, fixtures / name, name)
        models[name] = model.eval()
    return models


def test_regressive_model_matches_values_from_the_reference(real_regressive_models):
    logits, _ = _sequences(20)
    x = torch.zeros(1, 49, 31)
    x[0, :20] = torch.from_numpy(logits).float()
    mask = torch.zeros(1, 49)
    mask[0, 20:] = 1
    for name, (first, middle, last, abs_sum) in PINNED_OUTPUTS.items():
        with torch.no_grad():
            out = real_regressive_models[name](x, mask)
        assert out[0, 0, 0].item() == pytest.approx(first, abs=1e-5)
        assert out[0, 5, 7].item() == pytest.approx(middle, abs=1e-5)
        assert out[0, 18, 30].item() == pytest.approx(last, abs=1e-5)
        assert out[0, :20].abs().sum().item() == pytest.approx(abs_sum, rel=1e-5)
        # Causal attention with masked padding: the valid steps do not depend on what the padding holds.
        x_noise = x.clone()
        x_noise[0, 20:] = 7.0
        with torch.no_grad():
            assert torch.allclose(real_regressive_models[name](x_noise, mask)[0, :20], out[0, :20], atol=1e-5)


@pytest.mark.parametrize("steps", sorted(PINNED_SCORES))
def test_sequence_scores_match_the_reference_scoring_block(real_regressive_models, steps):
    logits, features = _sequences(steps)
    scores = sequence_scores(
        logits[:50],
        features[:50],
        real_regressive_models["dist_regressive_model.pth"],
        real_regressive_models["avfeature_regressive_model.pth"],
        max_len=50,
    )
    kl, mse = PINNED_SCORES[steps]
    assert scores.distribution_kl == pytest.approx(kl, abs=1e-5)
    assert scores.feature_mse == pytest.approx(mse, abs=1e-5)
    assert scores.combined(1.0) == pytest.approx(kl + mse, abs=1e-5)
    assert scores.combined(0.0) == scores.distribution_kl


def test_window_and_offset_indexing():
    assert num_steps(134, 50) == 50 and num_steps(12, 50) == 8 and num_steps(5, 50) == 1 and num_steps(3, 50) == 0
    index = audio_window_index(4)
    assert index.shape == (4, 31)
    # Offset i of step k starts at padded-audio frame k + i; offset 15 (no delay) is the step's own audio.
    assert index[0, 0] == 0 and index[0, 15] == 15 and index[3, 30] == 33 and index.max() + 1 == 4 + 30
    sequence, mask = pad_to_length(torch.ones(3, 31), 5)
    assert sequence.shape == (5, 31) and mask.tolist() == [0, 0, 0, 1, 1] and sequence[3:].abs().sum() == 0


def test_one_step_has_nothing_to_predict():
    model = random_regressive_model()
    scores = sequence_scores(np.zeros((1, 31)), np.zeros((1, 31)), model, model, max_len=50)
    assert math.isnan(scores.distribution_kl) and math.isnan(scores.combined(1.0))


def random_clip(name: str, frames: int, seed: int) -> AVClip:
    """Random 32x32 frames and loud noise audio (640 samples a frame) at 25 fps."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 256, (frames, 32, 32, 3), dtype=np.uint8)
    return AVClip(name, video, (rng.standard_normal(frames * 640) * 3000).astype(np.float32), 25.0, False)


def test_fast_pipeline_equals_the_reference_style_loop():
    """Shared video/audio encodings and batched steps give the per-step, per-offset loop's numbers."""
    clip = random_clip("synthetic", frames=9, seed=0)  # 5 steps; 32x32 frames give a 2x2 feature map
    detector = random_av_detector(max_len=50, window_batch=3, progress=False)
    fast = detector.analyse(clip)
    slow = reference_style_analysis(detector, clip)
    assert fast.logits.shape == (5, 31)
    assert np.ptp(fast.logits, axis=1).min() > 1e-3  # offsets really differ: the comparison has teeth
    np.testing.assert_allclose(fast.logits, slow.logits, rtol=0, atol=1e-4)
    np.testing.assert_allclose(fast.pca_features, slow.pca_features, rtol=0, atol=1e-4)
    for lam in (0.0, 1.0):
        assert fast.scores.combined(lam) == pytest.approx(slow.scores.combined(lam), abs=1e-4)

    # max_len caps the steps; it must fit the 49 learned positions.
    short = AVForensicsDetector(
        detector.sync_model,
        detector.distribution_model,
        detector.feature_model,
        detector.pca,
        max_len=4,
        progress=False,
    ).analyse(clip)
    np.testing.assert_allclose(short.logits, fast.logits[:4], rtol=0, atol=1e-5)
    with pytest.raises(CheckpointError, match="max_len 51"):
        AVForensicsDetector(
            detector.sync_model, detector.distribution_model, detector.feature_model, detector.pca, max_len=51
        )


def test_decoding_can_stop_at_frames_needed():
    """Cutting a long clip at frames_needed (video and audio) leaves every number unchanged."""
    clip = random_clip("long", frames=30, seed=5)
    detector = random_av_detector(sync_seed=3, max_len=4, progress=False)
    needed = detector.frames_needed
    assert needed == 4 + 4 + 15  # the last step's +15 offset reaches audio frame max_len + 18
    cut = AVClip("cut", clip.frames[:needed], clip.audio[: needed * 640], 25.0, False)
    full, short = detector.analyse(clip), detector.analyse(cut)
    np.testing.assert_array_equal(full.logits, short.logits)
    # One frame less and the last step's +15 offset sees zero padding instead of audio.
    shorter = AVClip("cut", clip.frames[: needed - 1], clip.audio[: (needed - 1) * 640], 25.0, False)
    assert np.abs(detector.analyse(shorter).logits[-1, -1] - full.logits[-1, -1]) > 1e-6
