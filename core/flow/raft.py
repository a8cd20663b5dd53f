"""RAFT: Recurrent All-Pairs Field Transforms for optical flow (Teed & Deng, ECCV 2020).

Our implementation, numerically equivalent to princeton-vl/RAFT in test mode and loading its
``raft-things.pth`` / ``raft-small.pth`` strictly. Besides the usual pair-wise ``forward`` it exposes
the three stages separately (feature encoding, context encoding, iterative refinement) so a video's
consecutive pairs can share work: each frame goes through the feature encoder once, not twice.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from core.flow.corr import CorrBlock, coords_grid
from core.flow.corr_budget import DEFAULT_CORR_MODE, check_corr_mode, default_budget_bytes, resolve_corr_mode
from core.flow.corr_onthefly import OnTheFlyCorrBlock
from core.flow.encoders import BasicEncoder, SmallEncoder
from core.flow.update import BasicUpdateBlock, SmallUpdateBlock


def min_frame_side(corr_levels: int = 4) -> int:
    """Smallest padded side RAFT handles: its coarsest correlation level must be at least 2 cells wide
    (at 1 cell the reference's coordinate normalisation divides by zero and the flow is NaN)."""
    return 8 * 2**corr_levels


def frame_size_problem(width: int, height: int, corr_levels: int = 4) -> str | None:
    """Why frames of ``width`` x ``height`` (padded to multiples of 8, as RAFT runs them) are too small for RAFT,
    or None. The one size check: data preparation and the detector refuse such a video with it before any work,
    and :meth:`RAFT.refine` as a last guard."""
    if min(side + (-side) % 8 for side in (width, height)) < min_frame_side(corr_levels):
        return f"RAFT needs both sides of at least {min_frame_side(corr_levels) - 7} pixels"
    return None


def normalize_frames(frames: torch.Tensor) -> torch.Tensor:
    """RGB values in [0, 255] -> [-1, 1], as RAFT was trained."""
    return (2 * (frames / 255.0) - 1.0).contiguous()


def upsample_flow_convex(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) flow at 1/8 -> (N, 2, 8H, 8W): each pixel a learned convex mix of its 3x3 coarse neighbours."""
    n, _, h, w = flow.shape
    mask = torch.softmax(mask.view(n, 1, 9, 8, 8, h, w), dim=2)
    up = F.unfold(8 * flow, [3, 3], padding=1).view(n, 2, 9, 1, 1, h, w)
    up = torch.sum(mask * up, dim=2).permute(0, 1, 4, 2, 5, 3)
    return up.reshape(n, 2, 8 * h, 8 * w)


def upsample_flow_bilinear(flow: torch.Tensor) -> torch.Tensor:
    """The small model's 8x bilinear upsampling (align_corners=True, values scaled by 8)."""
    size = (8 * flow.shape[2], 8 * flow.shape[3])
    return 8 * F.interpolate(flow, size=size, mode="bilinear", align_corners=True)


class RAFT(nn.Module):
    """RAFT, large (default) or small.

    Args:
        small: the 1M-parameter variant (``raft-small.pth``) instead of the 5M one (``raft-things.pth``).
        mixed_precision: run the encoders and the update block under autocast (float16 on CUDA as the
            reference, bfloat16 on the CPU); the correlation volume stays float32 either way.
        dropout: encoder dropout, training only.
        corr_mode: ``all_pairs`` (the reference's volume), ``on_the_fly`` (windows computed at each
            iteration, memory linear in the frame area; same features within float rounding) or ``auto``:
            all-pairs while its pyramid fits ``corr_budget_bytes`` (see ``core.flow.corr_budget``).
        corr_budget_bytes: the budget of ``auto``; None: 4 GiB on a CPU, half the free memory on a GPU.
        channels_last: the encoders and the update block in channels-last memory format, oneDNN's native
            layout: on a CPU the update iterations run about 1.5x faster, the feature encoder 1.5x (float32) to
            2.5x (bfloat16) faster, its instance norms computed by the group-norm kernel
            (``encoders.InstanceNorm2d``). Flows differ slightly from the default layout's (another summation
            order), so it is off by default.
    """

    def __init__(
        self,
        small: bool = False,
        mixed_precision: bool = False,
        dropout: float = 0.0,
        corr_mode: str = DEFAULT_CORR_MODE,
        corr_budget_bytes: int | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.small = small
        self.mixed_precision = mixed_precision
        self.corr_mode = check_corr_mode(corr_mode)
        self.corr_budget_bytes = corr_budget_bytes
        self.corr_levels = 4
        if small:
            self.hidden_dim, self.context_dim, self.corr_radius = 96, 64, 3
            self.fnet = SmallEncoder(output_dim=128, norm_fn="instance", dropout=dropout)
            self.cnet = SmallEncoder(output_dim=self.hidden_dim + self.context_dim, norm_fn="none", dropout=dropout)
            self.update_block = SmallUpdateBlock(self.corr_levels, self.corr_radius, hidden_dim=self.hidden_dim)
        else:
            self.hidden_dim, self.context_dim, self.corr_radius = 128, 128, 4
            self.fnet = BasicEncoder(output_dim=256, norm_fn="instance", dropout=dropout)
            self.cnet = BasicEncoder(output_dim=self.hidden_dim + self.context_dim, norm_fn="batch", dropout=dropout)
            self.update_block = BasicUpdateBlock(self.corr_levels, self.corr_radius, hidden_dim=self.hidden_dim)
        self.channels_last = channels_last
        if channels_last:  # loading a checkpoint copies into these parameters and keeps their layout
            self.to(memory_format=torch.channels_last)

    def _layout(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` in the memory format of the encoders and the update block."""
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor

    def describe(self) -> str:
        return "RAFT-small" if self.small else "RAFT (large)"

    def _autocast(self, device: torch.device):
        if not self.mixed_precision:
            return nullcontext()
        if device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)  # as the reference's torch.cuda.amp
        # The reference's autocast does nothing on a CPU; bfloat16 roughly halves the time on CPUs with
        # bf16 instructions, at the cost of flows (and so scores) that differ slightly from float32.
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def correlation_mode(
        self, pairs: int, feature_height: int, feature_width: int, device: torch.device, mode: str | None = None
    ) -> str:
        """The correlation ``refine`` uses for ``pairs`` pairs of features of that size: all_pairs or on_the_fly."""
        mode = check_corr_mode(mode or self.corr_mode)
        if mode != "auto":
            return mode
        budget = default_budget_bytes(device) if self.corr_budget_bytes is None else self.corr_budget_bytes
        return resolve_corr_mode("auto", pairs, feature_height, feature_width, self.corr_levels, budget)

    def encode_features(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised frames (N, 3, H, W) -> float32 matching features (N, D, H/8, W/8)."""
        with self._autocast(images.device):
            # Contiguous again: the correlation reshapes the features as (N, D, H * W).
            return self.fnet(self._layout(images)).float().contiguous()

    def encode_context(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised first frames of the pairs -> (GRU hidden state, context features)."""
        with self._autocast(images.device):
            net, inp = torch.split(self.cnet(self._layout(images)), [self.hidden_dim, self.context_dim], dim=1)
            return self._layout(torch.tanh(net)), self._layout(torch.relu(inp))

    def refine(
        self,
        fmap1: torch.Tensor,
        fmap2: torch.Tensor,
        net: torch.Tensor,
        inp: torch.Tensor,
        iters: int = 20,
        flow_init: torch.Tensor | None = None,
        corr_mode: str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Iterative updates for a batch of pairs; returns (flow at 1/8, upsampled flow) of the last iteration.

        ``corr_mode`` overrides the model's for this call (``all_pairs``, ``on_the_fly`` or ``auto``).
        """
        n, _, h, w = fmap1.shape
        problem = frame_size_problem(8 * w, 8 * h, self.corr_levels)
        if problem:
            raise ValueError(f"frames of {8 * w}x{8 * h} (padded) are too small: {problem}")
        if self.correlation_mode(n, h, w, fmap1.device, corr_mode) == "all_pairs":
            corr_fn = CorrBlock(fmap1, fmap2, num_levels=self.corr_levels, radius=self.corr_radius)
        else:
            corr_fn = OnTheFlyCorrBlock(fmap1, fmap2, num_levels=self.corr_levels, radius=self.corr_radius)
        coords0 = coords_grid(n, h, w, fmap1.device)
        coords1 = coords_grid(n, h, w, fmap1.device)
        if flow_init is not None:
            coords1 = coords1 + flow_init
        if iters < 1:
            raise ValueError("iters must be at least 1")
        for step in range(iters):
            last = step == iters - 1
            coords1 = coords1.detach()
            corr = self._layout(corr_fn(coords1))
            flow = self._layout(coords1 - coords0)
            with self._autocast(fmap1.device):
                # Only the last iteration's upsampled flow is returned (the reference's test mode), so
                # intermediate iterations skip the mask head and the upsampling it would feed.
                net, up_mask, delta_flow = self.update_block(net, inp, corr, flow, with_mask=last)
            coords1 = coords1 + delta_flow.contiguous()
        if self.small:
            flow_up = upsample_flow_bilinear(coords1 - coords0)
        else:
            flow_up = upsample_flow_convex(coords1 - coords0, up_mask.contiguous())
        return coords1 - coords0, flow_up

    def forward(
        self, image1: torch.Tensor, image2: torch.Tensor, iters: int = 20, flow_init: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow from ``image1`` to ``image2`` (RGB in [0, 255], sides multiples of 8); test mode of the reference."""
        image1, image2 = normalize_frames(image1), normalize_frames(image2)
        features = self.encode_features(torch.cat([image1, image2], dim=0))
        fmap1, fmap2 = features.split(image1.shape[0], dim=0)
        net, inp = self.encode_context(image1)
        return self.refine(fmap1, fmap2, net, inp, iters=iters, flow_init=flow_init)
