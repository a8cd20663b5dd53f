"""Streaming optical flow of a video's consecutive frames with RAFT.

Frames arrive one by one (any iterable of RGB uint8 arrays); flows leave one per consecutive pair, in
order, padded to multiples of 8 exactly as AIGVDet's demo leaves them. Work is batched and shared:
each frame is encoded once (the reference encodes every inner frame twice), and the last frame of a
batch is carried into the next so no pair is lost at batch borders.
"""

from __future__ import annotations

import logging
import os
from typing import Iterable, Iterator

import numpy as np
import torch

from core.checkpoints import extract_state_dict, load_state_dict_strict, read_checkpoint
from core.errors import CheckpointError
from core.flow.padding import pad_to_multiple_of_8
from core.flow.raft import RAFT, normalize_frames
from core.media.video import chunked

log = logging.getLogger(__name__)

DEFAULT_ITERS = 20  # AIGVDet's setting (RAFT's own demo uses 20 too)


def load_raft(
    path: str | os.PathLike, small: bool = False, mixed_precision: bool = False, device: str | torch.device = "cpu"
) -> RAFT:
    """Build RAFT (large or small) and load an official checkpoint strictly, in eval mode on ``device``."""
    model = RAFT(small=small, mixed_precision=mixed_precision)
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
        self.reset()

    def reset(self) -> None:
        """Forget the carried frame: the next ``push`` starts a new video."""
        self._carry_image = self._carry_feature = None

    @torch.inference_mode()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Add frames (N, 3, H, W) in [0, 255] on the model's device; return the flows (M, 2, H', W') of
        the pairs they complete (M = N, or N - 1 for the first frames of a video), padded as the reference."""
        images = normalize_frames(pad_to_multiple_of_8(frames.float()))
        features = torch.cat([self.model.encode_features(part) for part in _split(images, self._feature_batch)])
        if self._carry_image is not None:
            images = torch.cat([self._carry_image, images])
            features = torch.cat([self._carry_feature, features])
        self._carry_image, self._carry_feature = images[-1:], features[-1:]
        if images.shape[0] < 2:
            return images.new_zeros((0, 2, *images.shape[-2:]))
        flows = []
        for pairs in _split(torch.arange(images.shape[0] - 1, device=images.device), self._pair_batch):
            net, inp = self.model.encode_context(images[pairs])
            flows.append(self.model.refine(features[pairs], features[pairs + 1], net, inp, iters=self.iters)[1])
        return torch.cat(flows)

    def iter_flows(self, frames: Iterable[np.ndarray]) -> Iterator[torch.Tensor]:
        """Yield one padded flow (2, H', W') per consecutive pair of RGB uint8 (H, W, 3) frames."""
        self.reset()
        for chunk in chunked(frames, self.batch_size):
            yield from self.push(frames_to_tensor(chunk, self.device))
