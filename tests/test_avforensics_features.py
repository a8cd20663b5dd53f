"""Log-mel features and the PCA map: pinned against librosa's filterbank and the authors' pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from core.avforensics.mel import LogMel, slaney_mel_filterbank
from core.avforensics.pca import PcaMap, load_pca
from core.errors import CheckpointError
from tests.avforensics_factories import random_pca, require_fixtures

# librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000), computed once with librosa 0.11.
LIBROSA_ENTRIES = {
    (0, 1): 0.022534560412168503,
    (10, 13): 0.02441513165831566,
    (40, 55): 0.014444176107645035,
    (79, 246): 0.0032521483954042196,
    (79, 250): 0.0021035580430179834,
}
LIBROSA_SUM = 2.558260679244995


def test_filterbank_matches_librosa_values():
    bank = slaney_mel_filterbank(16000, 512, 80, 0.0, 8000)
    assert bank.shape == (80, 257) and bank.dtype == np.float32
    for (band, bin_), value in LIBROSA_ENTRIES.items():
        assert bank[band, bin_] == pytest.approx(value, rel=1e-6)
    assert float(bank.sum()) == pytest.approx(LIBROSA_SUM, rel=1e-6)
    assert [int(np.argmax(bank[i])) for i in (0, 10, 40, 79)] == [1, 13, 55, 246]


def test_filterbank_equals_librosa_when_installed():
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000)
    np.testing.assert_array_equal(slaney_mel_filterbank(fmax=8000), expected)


def test_log_mel_matches_a_direct_numpy_computation():
    rng = np.random.default_rng(0)
    waves = (rng.standard_normal((2, 3200)) * 3000).astype(np.float32)
    features = LogMel()(torch.from_numpy(waves)).numpy()
    assert features.shape == (2, 1, 80, 20)  # 3200 samples -> 21 centred frames, the last one dropped

    window = np.zeros(512)
    window[96:416] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(320) / 320)  # periodic Hann, centred in n_fft
    padded = np.pad(waves.astype(np.float64), ((0, 0), (256, 256)), mode="reflect")
    frames = np.stack([padded[:, i * 160 : i * 160 + 512] for i in range(20)], axis=1)
    magnitude = np.abs(np.fft.rfft(frames * window, axis=-1))  # (2, 20, 257)
    expected = np.log(magnitude @ slaney_mel_filterbank(fmax=8000).T.astype(np.float64) + 1e-20).transpose(0, 2, 1)
    np.testing.assert_allclose(features[:, 0], expected, rtol=0, atol=2e-4)


def test_log_mel_of_silence_is_the_log_offset():
    features = LogMel()(torch.zeros(1, 3200))
    assert torch.allclose(features, torch.full_like(features, float(np.log(np.float32(1e-20)))))


def test_pca_map_equals_sklearn_on_the_authors_pickle():
    fixtures = require_fixtures()
    pca = load_pca(fixtures / "pca.pkl")
    assert pca.components.shape == (31, 1024) and not pca.whiten
    features = np.random.default_rng(1).standard_normal((4, 1024)).astype(np.float32) * 5

    # Independent of our loader: the real pickle through scikit-learn, given the attributes newer versions expect.
    sklearn = pytest.importorskip("sklearn")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(fixtures / "pca.pkl", "rb") as handle:
            pipeline = pickle.load(handle)
        pipeline.transform_input = None
        pipeline.steps[1][1].power_iteration_normalizer = "auto"
        pipeline.steps[1][1].n_oversamples = 10
        expected = pipeline.transform(features)
    assert sklearn is not None
    # Current scikit-learn projects float32 input partly in float32; we keep 1.0.2's float64 projection.
    np.testing.assert_allclose(pca.transform(features), expected, rtol=1e-6, atol=1e-5)


def test_pca_npz_round_trip_and_formula(tmp_path):
    pca = random_pca(seed=3, dim=16, components=4)
    path = tmp_path / "pca.npz"
    pca.save_npz(path)
    loaded = load_pca(path)
    x = np.random.default_rng(2).standard_normal((3, 16)).astype(np.float32)
    expected = ((x.astype(np.float64) - pca.scaler_mean) / pca.scaler_scale - pca.pca_mean) @ pca.components.T
    np.testing.assert_allclose(loaded.transform(x), expected, rtol=1e-6, atol=1e-6)
    whitened = PcaMap(pca.scaler_mean, pca.scaler_scale, pca.pca_mean, pca.components, np.full(4, 4.0), True)
    np.testing.assert_allclose(whitened.transform(x), loaded.transform(x) / 2.0, rtol=1e-12)


def test_pca_pickle_with_foreign_objects_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("should not run",))

    path = tmp_path / "pca.pkl"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="builtins.print"):
        load_pca(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_pca(tmp_path / "absent.pkl")
