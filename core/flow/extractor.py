"""Streaming optical flow of a video's consecutive frames with RAFT.

Frames arrive one by one (any iterable of RGB uint8 arrays); flows leave one per consecutive pair, in
order, padded to multiples of 8 exactly as AIGVDet's demo leaves them. Work is batched and shared:
each frame is encoded once (the reference encodes every inner frame twice), and the last frame of a
batch is carried into the next so no pair is lost at batch borders.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import numpy as np
import torch

from core.checkpoints import extract_state_dict, load_state_dict_strict, read_checkpoint
from core.errors import CheckpointError
from core.flow.corr_budget import (
    DEFAULT_CORR_MODE,
    FlowMemoryPlan,
    all_pairs_batch_limit,
    default_budget_bytes,
    out_of_memory_as_error,
    plan_flow_memory,
    resolve_corr_mode,
)
from core.flow.padding import pad_to_multiple_of_8
from core.flow.raft import RAFT, normalize_frames

log = logging.getLogger(__name__)

DEFAULT_ITERS = 20  # AIGVDet's setting (RAFT's own demo uses 20 too)


def load_raft(
    path: str | os.PathLike,
    small: bool = False,
    mixed_precision: bool = False,
    device: str | torch.device = "cpu",
    corr_mode: str = DEFAULT_CORR_MODE,
    corr_budget_bytes: int | None = None,
    channels_last: bool = False,
) -> RAFT:
    """Build RAFT (large or small) and load an official checkpoint strictly, in eval mode on ``device``.

    ``corr_mode`` and ``corr_budget_bytes`` choose how the correlation is computed, ``channels_last`` the
    memory format of its context encoder and update block (see ``RAFT``).
    """
    model = RAFT(
        small=small,
        mixed_precision=mixed_precision,
        corr_mode=corr_mode,
        corr_budget_bytes=corr_budget_bytes,
        channels_last=channels_last,
    )
    state = extract_state_dict(read_checkpoint(path, "RAFT checkpoint"))
    stem = state.get("fnet.conv1.weight")
    if stem is not None and stem.shape[0] != model.fnet.conv1.out_channels:
        other = "RAFT-small" if stem.shape[0] == 32 else "RAFT large"
        raise CheckpointError(f"RAFT checkpoint {path} is for {other}, not {model.describe()}")
    load_state_dict_strict(model, state, f"RAFT checkpoint {path}")
    return model.to(device).eval()


def _split(tensor: torch.Tensor, size: int | None) -> tuple[torch.Tensor, ...]:
    """``tensor`` in pieces of ``size`` along the first dimension (whole when ``size`` is None)."""
    return (tensor,) if size is None else tensor.split(size)


def _prepare(frames: torch.Tensor) -> torch.Tensor:
    """Frames in [0, 255] -> RAFT's padded, normalised input."""
    return normalize_frames(pad_to_multiple_of_8(frames.float()))


def frames_to_tensor(frames: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """RGB uint8 (H, W, 3) arrays -> uint8 (N, 3, H, W) on ``device``."""
    return torch.from_numpy(np.stack(frames)).to(device).permute(0, 3, 1, 2)


class FlowExtractor:
    """Consecutive-pair RAFT flow over a frame stream.

    Args:
        model: a loaded RAFT in eval mode.
        iters: refinement iterations.
        batch_size: pairs refined together (and frames encoded together).
    """

    def __init__(self, model: RAFT, iters: int = DEFAULT_ITERS, batch_size: int = 4) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.iters = iters
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        # On a CPU small batches are faster (activations stay in cache) and reproduce the reference's
        # arithmetic (oneDNN picks kernels by batch size): features in pairs of frames, context and
        # refinement one pair at a time, as the reference runs them. On a GPU whole chunks are batched.
        self._feature_batch, self._pair_batch = (2, 1) if self.device.type == "cpu" else (None, None)
        self._plan: FlowMemoryPlan | None = None
        self._encode_batch, self._refine_batch = self._feature_batch, self._pair_batch  # per frame size: ``plan``
        self.on_pairs: Callable[[int], None] | None = None  # called with the count of each batch of pairs refined
        self.reset()

    def reset(self) -> None:
        """Forget the carried frame: the next ``push`` starts a new video."""
        self._carry_image = self._carry_feature = None

    def plan(self, height: int, width: int) -> FlowMemoryPlan:
        """The correlation for padded ``height`` x ``width`` frames, checked against the free memory once per
        frame size: raises FlowMemoryError before any work when even that correlation cannot fit."""
        if self._plan is not None and (self._plan.height, self._plan.width) == (height, width):
            return self._plan
        model = self.model
        budget = default_budget_bytes(self.device) if model.corr_budget_bytes is None else model.corr_budget_bytes
        pairs = self._pair_batch or self.batch_size
        if model.corr_mode == "auto":
            # All-pairs in smaller batches beats on-the-fly: switch only when a single pair is over budget.
            fitting = all_pairs_batch_limit(height // 8, width // 8, model.corr_levels, budget)
            pairs = min(pairs, fitting) if fitting else pairs
        frames = self._feature_batch or self.batch_size
        mode = resolve_corr_mode(model.corr_mode, pairs, height // 8, width // 8, model.corr_levels, budget)
        if mode == "on_the_fly":
            # Frames this large have encoder activations of gigabytes each (about 0.5 kB per pixel):
            # one frame, one pair at a time keeps the peak independent of the batch size.
            frames = pairs = 1
        self._plan = plan_flow_memory(
            height, width, self.device, mode, budget, model.corr_levels, pairs, frames, chunk_frames=self.batch_size + 1
        )
        self._encode_batch = frames if mode == "on_the_fly" else self._feature_batch
        self._refine_batch = pairs
        (log.info if mode == "on_the_fly" else log.debug)("RAFT: %s", self._plan.describe())
        return self._plan

    @torch.inference_mode()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Add frames (N, 3, H, W) in [0, 255] on the model's device; return the flows (M, 2, H', W') of
        the pairs they complete (M = N, or N - 1 for the first frames of a video), padded as the reference."""
        height, width = (side + (-side) % 8 for side in frames.shape[-2:])
        plan = self.plan(height, width)
        with out_of_memory_as_error(f"RAFT on {plan.describe()}"):
            return self._push(frames, plan.mode)

    def _push(self, frames: torch.Tensor, corr_mode: str) -> torch.Tensor:
        # Frames stay in [0, 255] until a batch needs them: normalised float copies of a whole chunk of
        # 4K frames would take gigabytes (the same elementwise arithmetic either way).
        parts = _split(frames, self._encode_batch)
        features = torch.cat([self.model.encode_features(_prepare(part)) for part in parts])
        if self._carry_image is not None:
            frames = torch.cat([self._carry_image, frames])
            features = torch.cat([self._carry_feature, features])
        # Copies, so the rest of the chunk is freed once its pairs are done.
        self._carry_image, self._carry_feature = frames[-1:].clone(), features[-1:].clone()
        if frames.shape[0] < 2:
            return features.new_zeros((0, 2, 8 * features.shape[-2], 8 * features.shape[-1]))
        flows = []
        for pairs in _split(torch.arange(frames.shape[0] - 1, device=frames.device), self._refine_batch):
            net, inp = self.model.encode_context(_prepare(frames[pairs]))
            refined = self.model.refine(features[pairs], features[pairs + 1], net, inp, self.iters, corr_mode=corr_mode)
            flows.append(refined[1])
            if self.on_pairs is not None:  # progress: a large frame's pair can take minutes on a CPU
                self.on_pairs(len(pairs))
        return torch.cat(flows)
