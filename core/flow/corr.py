"""All-pairs correlation volume and its multi-scale lookup (RAFT section 3.2).

The volume is always built and sampled in float32, as the reference does even under mixed precision:
the dot products of 256-d features overflow float16's precision long before its range.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def coords_grid(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """(batch, 2, H, W) pixel coordinates, channel 0 = x, channel 1 = y."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch, 1, 1, 1)


def bilinear_sample(img: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """``grid_sample`` with pixel coordinates (x, y) in the last dimension, align_corners=True."""
    height, width = img.shape[-2:]
    x, y = coords.split([1, 1], dim=-1)
    grid = torch.cat([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)
    return F.grid_sample(img, grid, align_corners=True)


class CorrBlock:
    """Correlation pyramid of one batch of frame pairs; call it with coordinates to look up windows."""

    def __init__(self, fmap1: torch.Tensor, fmap2: torch.Tensor, num_levels: int = 4, radius: int = 4) -> None:
        self.num_levels = num_levels
        self.radius = radius
        batch, dim, ht, wd = fmap1.shape
        scale = math.sqrt(dim)
        scale_is_power_of_two = scale == 2 ** round(math.log2(scale))
        if scale_is_power_of_two:
            # Dividing by a power of two is exact, so scaling the (small) features before the product
            # gives the very bits of dividing the (large) volume after it, without a pass over it.
            fmap1 = fmap1 / scale
        corr = torch.matmul(fmap1.reshape(batch, dim, ht * wd).transpose(1, 2), fmap2.reshape(batch, dim, ht * wd))
        if not scale_is_power_of_two:  # as the reference: divide by the float32 square root, in place
            corr.div_(torch.sqrt(torch.tensor(dim).float()))
        corr = corr.reshape(batch * ht * wd, 1, ht, wd)
        self.pyramid = [corr]
        for _ in range(num_levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.pyramid.append(corr)
        # Window offsets. The reference stacks meshgrid(dy, dx) as (x, y) pairs, so the first window
        # axis moves x; the update block was trained on that channel order, so we keep it.
        steps = torch.linspace(-radius, radius, 2 * radius + 1, device=fmap1.device)
        first, second = torch.meshgrid(steps, steps, indexing="ij")
        self.delta = torch.stack([first, second], dim=-1).view(1, 2 * radius + 1, 2 * radius + 1, 2)

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) target coordinates -> (B, levels * (2r+1)^2, H, W) float32 correlation features."""
        batch, _, h1, w1 = coords.shape
        centroid = coords.permute(0, 2, 3, 1).reshape(batch * h1 * w1, 1, 1, 2)
        levels = []
        for i, corr in enumerate(self.pyramid):
            sampled = bilinear_sample(corr, centroid / 2**i + self.delta)
            levels.append(sampled.view(batch, h1, w1, -1))
        return torch.cat(levels, dim=-1).permute(0, 3, 1, 2).contiguous().float()
