"""Pure functions of the scoring definition: window/offset indexing and the two sequence scores.

For time step k (0 <= k < steps, steps = min(frames - 4, max_len)):

* video window k = frames k..k+4;
* offset i in 0..30 (a delay of i - 15 frames) pairs it with the audio of frames k+i-15..k+i-11, the
  audio being zero-padded by 15 frames on both sides. In padded-audio frame units that window starts at
  k + i, so all steps together need only ``steps + 30`` distinct audio windows;
* the 31 sync logits are the step's distribution; the audio-visual feature at offset 0 (i = 15) goes
  through the PCA.

Score = mean over steps of KL(softmax(next logits) || predicted distribution)
      + lam * mean over steps of the squared error between the next L2-normalised PCA feature and its
      prediction. Both autoregressive models see the sequences padded and masked to ``max_len``.
``step_terms`` gives those per-step terms of one window (what whole-video timelines are built from);
``sequence_scores`` is their mean, computed on the same tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

WINDOW_FRAMES = 5
MAX_OFFSET = 15
NUM_OFFSETS = 2 * MAX_OFFSET + 1
ALIGNED_OFFSET = MAX_OFFSET  # index of the zero-delay pair


def num_steps(frames: int, max_len: int) -> int:
    """Time steps scored for a clip of ``frames`` frames (0 when shorter than one window)."""
    return max(0, min(frames - WINDOW_FRAMES + 1, max_len))


def audio_window_index(steps: int) -> torch.Tensor:
    """(steps, 31) index into the ``steps + 30`` distinct audio windows, for every (step, offset) pair."""
    return torch.arange(steps)[:, None] + torch.arange(NUM_OFFSETS)[None, :]


def pad_to_length(sequence: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(S, D) -> zero-padded (length, D) and its mask (length,), 1.0 on padded steps; longer inputs are cut."""
    mask = torch.zeros(length, dtype=torch.float32)
    if sequence.shape[0] < length:
        mask[sequence.shape[0] :] = 1.0
        sequence = F.pad(sequence, (0, 0, 0, length - sequence.shape[0]))
    return sequence[:length], mask


@dataclass(frozen=True)
class SequenceScores:
    """The two halves of the score; ``combined(lam)`` is what detect.py reports."""

    distribution_kl: float
    feature_mse: float

    def combined(self, lam: float) -> float:
        return float(np.float64(lam) * np.float64(self.feature_mse) + np.float64(self.distribution_kl))


@dataclass(frozen=True)
class StepTerms:
    """Per-step terms of one window: entry ``t - 1`` belongs to predicted step t = 1..S-1 (step 0 is never predicted).

    ``distribution_kl`` is float32 and ``feature_error`` float64, the dtypes the score is computed in.
    """

    distribution_kl: np.ndarray  # (S-1,) KL(softmax(logits[t]) || prediction from steps 0..t-1)
    feature_error: np.ndarray  # (S-1,) squared error of the normalised PCA feature of step t

    def combined(self, lam: float) -> np.ndarray:
        """(S-1,) per-step anomaly, KL + lam * feature error, in float64; its mean is ``SequenceScores.combined``'s
        addends averaged separately (equal up to float rounding)."""
        return np.float64(lam) * self.feature_error.astype(np.float64) + self.distribution_kl.astype(np.float64)


@torch.no_grad()
def _step_term_tensors(
    logits: np.ndarray,
    pca_features: np.ndarray,
    distribution_model: torch.nn.Module,
    feature_model: torch.nn.Module,
    max_len: int,
    device: torch.device | str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(S-1,) float32 KL and (S-1,) float64 squared error per predicted step; ``sequence_scores`` averages these
    very tensors, so the per-step terms and the authors' score cannot drift apart."""
    steps = logits.shape[0]
    sequence, mask = pad_to_length(torch.from_numpy(np.asarray(logits, dtype=np.float64)), max_len)
    features, _ = pad_to_length(torch.from_numpy(np.asarray(pca_features, dtype=np.float64)), max_len)
    sequence, features = sequence[None].to(device), features[None].to(device)
    input_mask = mask[None, :-1].to(device)
    predictions = steps - 1  # steps beyond the last real one are padding and are not scored

    target = torch.softmax(sequence[:, 1:].float(), dim=2)
    predicted = torch.log_softmax(distribution_model(sequence[:, :-1].float(), input_mask), dim=2)
    kl = F.kl_div(predicted, target, reduction="none")[0, :predictions].sum(dim=1)

    target_features = F.normalize(features[:, 1:], p=2.0, dim=2)
    input_features = F.normalize(features[:, :-1], p=2.0, dim=2).float()
    predicted_features = feature_model(input_features, input_mask)
    mse = F.mse_loss(predicted_features.double(), target_features, reduction="none")[0, :predictions].sum(dim=1)
    return kl, mse


def step_terms(
    logits: np.ndarray,
    pca_features: np.ndarray,
    distribution_model: torch.nn.Module,
    feature_model: torch.nn.Module,
    max_len: int,
    device: torch.device | str = "cpu",
) -> StepTerms:
    """The per-step terms of one window of (S, 31) logits and (S, 31) PCA features (S <= ``max_len``).

    Step t's terms use the window's steps 0..t-1 as context; the window is padded and masked to ``max_len`` as
    in :func:`sequence_scores`, whose two numbers are the means of these arrays.
    """
    if logits.shape[0] < 2:
        return StepTerms(np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float64))
    kl, mse = _step_term_tensors(logits, pca_features, distribution_model, feature_model, max_len, device)
    return StepTerms(kl.cpu().numpy(), mse.cpu().numpy())


def score_window(
    logits: np.ndarray,
    pca_features: np.ndarray,
    distribution_model: torch.nn.Module,
    feature_model: torch.nn.Module,
    max_len: int,
    device: torch.device | str = "cpu",
) -> tuple[SequenceScores, StepTerms]:
    """:func:`sequence_scores` and :func:`step_terms` of one window from one pass of the models (the scores are
    exactly ``sequence_scores``'s)."""
    if logits.shape[0] < 2:
        return SequenceScores(math.nan, math.nan), step_terms(
            logits, pca_features, distribution_model, feature_model, max_len, device
        )
    kl, mse = _step_term_tensors(logits, pca_features, distribution_model, feature_model, max_len, device)
    return SequenceScores(float(kl.mean()), float(mse.mean())), StepTerms(kl.cpu().numpy(), mse.cpu().numpy())


@torch.no_grad()
def sequence_scores(
    logits: np.ndarray,
    pca_features: np.ndarray,
    distribution_model: torch.nn.Module,
    feature_model: torch.nn.Module,
    max_len: int,
    device: torch.device | str = "cpu",
) -> SequenceScores:
    """Score one video's (steps, 31) logits and (steps, 31) PCA features with the autoregressive models.

    Dtypes follow the authors' loop: the sequences are kept in float64, fed to the models in float32; the
    KL is computed in float32, the feature error against float64 normalised targets. Each half is the mean of
    :func:`step_terms` over the predicted steps, taken on the same tensors.
    """
    if logits.shape[0] < 2:
        return SequenceScores(math.nan, math.nan)  # no next step to predict
    kl, mse = _step_term_tensors(logits, pca_features, distribution_model, feature_model, max_len, device)
    return SequenceScores(float(kl.mean()), float(mse.mean()))
