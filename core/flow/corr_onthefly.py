"""Correlation lookup computed on the fly: RAFT's features without the all-pairs volume.

``CorrBlock`` stores every dot product between the two frames' features: (H/8 * W/8)^2 floats, 67 GB for
a 4K frame. The update block only ever reads a (2r+1)^2 window per pixel and level, so this lookup
computes just those (the idea of the reference's ``alternate_corr`` CUDA kernel, here in PyTorch):

- by linearity, average-pooling the volume over the second frame's positions equals the dot products
  with the average-pooled second feature map, so the pyramid is a pyramid of (small) feature maps;
- the window is an integer grid around a fractional centre, so all its points share one set of
  bilinear weights: dot products with the (2r+2)^2 integer positions covering the window, combined
  with those weights, are the bilinearly sampled volume (products first, then interpolation, as
  ``CorrBlock`` does; zero outside the map, as ``grid_sample``'s zero padding).

Two ways to get those dot products, with the same result:

- gathered: copy each pixel's (2r+2)^2 feature vectors and take the products, in chunks of pixels.
  Memory-bound (100 vectors of 256 floats per pixel and level); the choice on a GPU.
- tiled (CPU default): for a T x T tile of first-frame pixels, whose windows overlap, multiply the tile's
  features with the block of second-frame features covering all its windows, one matrix product, then
  pick each pixel's window out of it. About 10x faster on a CPU; tiles whose windows scatter (a block
  much larger than a window) fall back to gathering.

Memory grows with the frame area (pooled maps, per-level products, the output), never with its square.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Gathered second-frame features per chunk of pixels (gathered path): a few tens of MB keep the copy
# near the caches; more is no faster.
DEFAULT_CHUNK_BYTES = 32 * 2**20
TILE = 8  # first-frame pixels per tile side (tiled path)
# A tile's block may hold this many windows' worth of positions before gathering is cheaper.
MAX_BLOCK_WINDOWS = 16
TILES_PER_CHUNK = 256  # tiles whose window indices are computed together (bounds the index tensors)


def _to_tiles(x: torch.Tensor, tile: int) -> torch.Tensor:
    """(B, C, H, W), sides multiples of ``tile`` -> (B, tiles, C, tile * tile), tiles row-major."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // tile, tile, w // tile, tile).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // tile) * (w // tile), c, tile * tile)


def _from_tiles(x: torch.Tensor, height: int, width: int, tile: int) -> torch.Tensor:
    """Inverse of ``_to_tiles``: (B, tiles, C, tile * tile) -> (B, C, height, width)."""
    b, _, c, _ = x.shape
    x = x.view(b, height // tile, width // tile, c, tile, tile).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, height, width)


class OnTheFlyCorrBlock:
    """Drop-in for ``CorrBlock`` (same constructor arguments and call, same output channels).

    Args:
        tiled: tiled products (see the module docstring); default: on a CPU only.
        chunk_bytes: bound on the gathered features of one chunk of pixels (gathered path).
    """

    def __init__(
        self,
        fmap1: torch.Tensor,
        fmap2: torch.Tensor,
        num_levels: int = 4,
        radius: int = 4,
        tiled: bool | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.num_levels = num_levels
        self.radius = radius
        self.chunk_bytes = chunk_bytes
        self.tiled = fmap1.device.type == "cpu" if tiled is None else tiled
        batch, dim, ht, wd = fmap1.shape
        self.shape = (batch, dim, ht, wd)
        fmap1, fmap2 = fmap1.float(), fmap2.float()
        scale = math.sqrt(dim)
        # As CorrBlock: a power-of-two scale is applied exactly to the first features, any other one
        # divides the products (by the float32 square root, as the reference).
        self.post_scale = None if scale == 2 ** round(math.log2(scale)) else torch.sqrt(torch.tensor(dim).float())
        if self.post_scale is None:
            fmap1 = fmap1 / scale
        if self.tiled:
            padded = F.pad(fmap1, (0, -wd % TILE, 0, -ht % TILE))
            self.first = _to_tiles(padded, TILE).contiguous()  # (B, tiles, D, T*T)
        else:
            self.first = fmap1.flatten(2).transpose(1, 2).contiguous()  # (B, H*W, D)
        # Pooled second maps as (B, Hp, Wp, D), zero-padded by a whole window on each side so every
        # clamped window start stays inside (a window wholly outside reads only zeros, as grid_sample).
        self.pad = 2 * radius + 2
        self.levels: list[torch.Tensor] = []
        level = fmap2
        for i in range(num_levels):
            if i:
                level = F.avg_pool2d(level, 2, stride=2)
            self.levels.append(F.pad(level, (self.pad,) * 4).permute(0, 2, 3, 1).contiguous())
        steps = torch.arange(2 * radius + 2, device=fmap1.device)
        # The (2r+2)^2 integer window, y-major: entry k = dy * (2r+2) + dx.
        self.dy = steps.repeat_interleave(2 * radius + 2)
        self.dx = steps.repeat(2 * radius + 2)

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) target coordinates -> (B, levels * (2r+1)^2, H, W) float32 correlation features."""
        batch, _, ht, wd = self.shape
        r, side = self.radius, 2 * self.radius + 1
        out = coords.new_empty((batch, ht * wd, self.num_levels, side, side), dtype=torch.float32)
        # NaN or huge coordinates (a diverged flow) read zeros instead of indexing out of range.
        coords = torch.nan_to_num(coords.float(), nan=-1e6).clamp(-1e6, 1e6)
        for i, level in enumerate(self.levels):
            centres = coords / 2**i
            if self.tiled:  # edge pixels repeated to whole tiles: neighbours' targets, compact blocks
                centres = F.pad(centres, (0, -wd % TILE, 0, -ht % TILE), mode="replicate")
            base = torch.floor(centres)
            frac = (centres - base)[:, :, :ht, :wd].flatten(2).transpose(1, 2)  # (B, H*W, 2)
            hp, wp = level.shape[1:3]
            # Top-left corner of each (2r+2)^2 integer window in padded coordinates, clamped into the map.
            x0 = (base[:, 0] - r + self.pad).clamp(0, wp - (2 * r + 2)).long()
            y0 = (base[:, 1] - r + self.pad).clamp(0, hp - (2 * r + 2)).long()
            dots = self._tiled_dots(level, x0, y0) if self.tiled else self._gathered_dots(level, x0, y0)
            dots = dots.view(batch, ht * wd, 2 * r + 2, 2 * r + 2)
            fx, fy = frac[..., :1, None], frac[..., 1:, None]
            top = dots[:, :, :-1, :-1] * (1 - fx) + dots[:, :, :-1, 1:] * fx
            bottom = dots[:, :, 1:, :-1] * (1 - fx) + dots[:, :, 1:, 1:] * fx
            # (dy, dx) -> (dx, dy): CorrBlock's first window axis moves x.
            out[:, :, i] = (top * (1 - fy) + bottom * fy).transpose(-1, -2)
        if self.post_scale is not None:
            out.div_(self.post_scale.to(out.device))
        return out.view(batch, ht, wd, -1).permute(0, 3, 1, 2).contiguous()

    def _gathered_dots(self, level: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
        """(B, Hp, Wp, D) map, (B, H, W) window corners -> (B, H*W, (2r+2)^2) dot products, in chunks."""
        batch, hp, wp, dim = level.shape
        rows = level.view(-1, dim)
        window = self.dy.numel()
        offsets = self.dy * wp + self.dx
        batch_start = torch.arange(batch, device=x0.device)[:, None] * (hp * wp)
        start = batch_start + (y0 * wp + x0).flatten(1)  # (B, H*W)
        dots = level.new_empty((batch, start.shape[1], window))
        chunk = max(1, self.chunk_bytes // (window * dim * 4))
        for b in range(batch):
            for lo in range(0, start.shape[1], chunk):
                hi = min(start.shape[1], lo + chunk)
                gathered = rows.index_select(0, (start[b, lo:hi, None] + offsets).view(-1)).view(hi - lo, window, dim)
                dots[b, lo:hi] = torch.bmm(gathered, self.first[b, lo:hi, :, None])[..., 0]
        return dots

    def _tiled_dots(self, level: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
        """As ``_gathered_dots`` with one matrix product per tile (``x0``, ``y0`` padded to whole tiles)."""
        batch, _, wp, dim = level.shape
        _, height, width = x0.shape
        ht, wd = self.shape[2:]
        span = 2 * self.radius + 2
        window = self.dy.numel()
        x0 = _to_tiles(x0[:, None], TILE)[:, :, 0]  # (B, tiles, T*T)
        y0 = _to_tiles(y0[:, None], TILE)[:, :, 0]
        # Each tile's block: the bounding box of its pixels' windows.
        bx, by = x0.amin(-1), y0.amin(-1)
        sx, sy = x0.amax(-1) - bx + span, y0.amax(-1) - by + span
        dots = level.new_empty((batch, x0.shape[1], window, TILE * TILE))
        for b in range(batch):
            for lo in range(0, x0.shape[1], TILES_PER_CHUNK):
                hi = min(x0.shape[1], lo + TILES_PER_CHUNK)
                # Window positions inside each tile's block, (tiles, window, T*T).
                local_y = (y0[b, lo:hi] - by[b, lo:hi, None])[:, None] + self.dy[None, :, None]
                local_x = (x0[b, lo:hi] - bx[b, lo:hi, None])[:, None] + self.dx[None, :, None]
                local = local_y * sx[b, lo:hi, None, None] + local_x
                bounds = torch.stack([bx[b, lo:hi], by[b, lo:hi], sx[b, lo:hi], sy[b, lo:hi]], 1).tolist()
                for t, (left, top, cols, rows) in enumerate(bounds, start=lo):
                    first = self.first[b, t]  # (D, T*T)
                    if rows * cols <= MAX_BLOCK_WINDOWS * window:
                        block = level[b, top : top + rows, left : left + cols].reshape(rows * cols, dim)
                        dots[b, t] = torch.mm(block, first).gather(0, local[t - lo])
                    else:  # scattered windows: gather this tile's windows only
                        index = (y0[b, t, None] + self.dy[:, None]) * wp + x0[b, t, None] + self.dx[:, None]
                        gathered = level[b].view(-1, dim).index_select(0, index.view(-1)).view(window, -1, dim)
                        dots[b, t] = (gathered * first.t()[None]).sum(-1)
        dots = _from_tiles(dots, height, width, TILE)[:, :, :ht, :wd]  # (B, window, H, W)
        return dots.flatten(2).transpose(1, 2)  # (B, H*W, window)
