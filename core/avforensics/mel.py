"""Log-mel features exactly as the authors compute them, with our own Slaney mel filterbank.

Per audio window (16 kHz, int16-scale float samples, not normalised to [-1, 1]): STFT with n_fft 512,
periodic Hann window of 320 samples, hop 160, centred with reflect padding; the last STFT frame is dropped;
magnitude; 80 mel bands from 0 to 8000 Hz (Slaney scale and area normalisation, librosa's default);
natural log of (x + 1e-20). A 3200-sample window (five 25 fps frames) gives 20 frames.

Each window is transformed on its own, as the authors do: the reflect padding at the window edges makes a
window's features differ from a slice of the whole clip's spectrogram.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 320
HOP_LENGTH = 160
N_MELS = 80
LOG_OFFSET = 1e-20

# Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    above = hz >= _MIN_LOG_HZ
    return np.where(above, _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-300) / _MIN_LOG_HZ) / _LOG_STEP, mel)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    above = mel >= _MIN_LOG_MEL
    return np.where(above, _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)), hz)


def slaney_mel_filterbank(
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Triangular mel filters with Slaney area normalisation, (n_mels, 1 + n_fft // 2) float32.

    Same values as ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)`` with its defaults, rounded the
    same way: each row is computed in float64 and stored as float32, then scaled in place.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    spacing = np.diff(mel_freqs)
    ramps = np.subtract.outer(mel_freqs, fft_freqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for band in range(n_mels):
        rising = -ramps[band] / spacing[band]
        falling = ramps[band + 2] / spacing[band + 1]
        weights[band] = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (mel_freqs[2 : n_mels + 2] - mel_freqs[:n_mels]))[:, np.newaxis]
    return weights


class LogMel(torch.nn.Module):
    """Audio windows (B, samples) -> log-mel images (B, 1, 80, frames) for the audio encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(WIN_LENGTH), persistent=False)
        self.register_buffer(
            "filterbank", torch.from_numpy(slaney_mel_filterbank(fmax=SAMPLE_RATE // 2)), persistent=False
        )

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            waves.float(),
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            win_length=WIN_LENGTH,
            window=self.window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )[:, :, :-1]  # the authors drop the last frame: 3200 samples -> 20 frames, four audio tokens
        magnitude = torch.view_as_real(spectrum).norm(dim=-1)
        return torch.log(torch.matmul(self.filterbank, magnitude) + LOG_OFFSET).unsqueeze(1)
