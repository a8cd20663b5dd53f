"""Decoder-only autoregressive model over per-step sequences (``dist_regressive_model.pth``,
``avfeature_regressive_model.pth``): predicts step t+1 of a 31-d sequence from steps 0..t.

Architecture (names match the checkpoints): ``lin1`` 31 -> 256, ReLU, learned positions
``pos_embedding`` (1, 49, 256), two ``decoder1``/``decoder2`` blocks, ``lin2`` 256 -> 31. Each block is
memory-compressed causal self-attention (``docoder``, the authors' spelling) with a learned null key/value
that every query may attend to, then residual + a LayerNorm shared by both sub-layers + feed-forward.

Numeric conventions kept from the authors' code because the weights were trained with them: attention
scores are scaled by 1/sqrt(model dim), not 1/sqrt(head dim); the LayerNorm divides by (unbiased std + eps).
Padded steps (``input_mask`` 1) are hidden as keys from every query.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class StdLayerNorm(nn.Module):
    """a_2 * (x - mean) / (std + eps) + b_2 with the unbiased std (not torch's LayerNorm)."""

    def __init__(self, features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.a_2 = nn.Parameter(torch.ones(features))
        self.b_2 = nn.Parameter(torch.zeros(features))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.a_2 * (x - mean) / (std + self.eps) + self.b_2


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(self.w_1(x).relu()))


class ConvCompress(nn.Module):
    """Strided grouped 1D convolution that merges ``ratio`` consecutive keys/values into one."""

    def __init__(self, dim: int, ratio: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, ratio, stride=ratio, groups=groups)

    def forward(self, memory: torch.Tensor) -> torch.Tensor:
        return self.conv(memory.transpose(1, 2)).transpose(1, 2)


class MemoryCompressedAttention(nn.Module):
    def __init__(self, dim: int, heads: int, compression_factor: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.compression_factor = compression_factor
        # Present in the checkpoints even with factor 1, where it is not applied.
        self.compress_fn = ConvCompress(dim, compression_factor, groups=heads)
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.null_k = nn.Parameter(torch.zeros(1, 1, dim))
        self.null_v = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor, input_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, steps, dim = x.shape
        factor = self.compression_factor
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        # Front padding makes the key count a multiple of the factor (none when it already divides).
        padding = (-steps) % factor
        if padding:
            k, v = (F.pad(t, (0, 0, padding, 0)) for t in (k, v))
        if factor > 1:
            k, v = self.compress_fn(k), self.compress_fn(v)
        k = torch.cat((self.null_k.expand(batch, -1, -1), k), dim=1)
        v = torch.cat((self.null_v.expand(batch, -1, -1), v), dim=1)
        q, k, v = (t.reshape(*t.shape[:2], self.heads, -1).transpose(1, 2) for t in (q, k, v))
        scores = torch.einsum("bhid,bhjd->bhij", q, k) * dim**-0.5

        # Causal: a compressed key is hidden from a query when it contains any later step.
        positions = torch.arange(steps, device=x.device)
        key_last_step = F.pad(positions, (padding, 0)).reshape(-1, factor).amax(dim=-1)
        hidden = positions[:, None] < key_last_step[None, :]
        if input_mask is not None:
            # A compressed key is hidden from every query when any step inside it is padding.
            padded = F.pad(input_mask, (padding, 0), value=0).reshape(batch, -1, factor).sum(dim=-1) > 0
            hidden = hidden[None] | padded[:, None, :]
        hidden = F.pad(hidden, (1, 0), value=False)  # the null key is always visible
        scores = scores.masked_fill(hidden.unsqueeze(-3) if hidden.dim() == 3 else hidden, float("-inf"))

        attention = self.dropout(scores.softmax(dim=-1))
        out = torch.einsum("bhij,bhjd->bhid", attention, v)
        return self.to_out(out.transpose(1, 2).reshape(batch, steps, dim))


class DecoderBlock(nn.Module):
    def __init__(self, dim: int, compression_factor: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.docoder = MemoryCompressedAttention(dim, heads, compression_factor, dropout)
        self.drop = nn.Dropout(dropout)
        self.norm = StdLayerNorm(dim)
        self.ff = PositionwiseFeedForward(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        attended = self.drop(self.norm(self.docoder(x, input_mask=mask) + x))
        return self.drop(self.norm(attended + self.ff(attended)))


class AutoregressiveModel(nn.Module):
    """The authors' ``transformer_decoder``: (B, L, 31) sequences + (B, L) padding masks -> (B, L, 31) predictions."""

    def __init__(
        self,
        input_dim: int = 31,
        model_dim: int = 256,
        compression_factor: int = 1,
        heads: int = 16,
        dropout: float = 0.1,
        positions: int = 49,
    ) -> None:
        super().__init__()
        self.decoder1 = DecoderBlock(model_dim, compression_factor, heads, dropout)
        self.decoder2 = DecoderBlock(model_dim, compression_factor, heads, dropout)
        self.lin1 = nn.Linear(input_dim, model_dim)
        self.lin2 = nn.Linear(model_dim, input_dim)
        self.relu = nn.ReLU()
        self.pos_embedding = nn.Parameter(torch.randn(1, positions, model_dim))

    @property
    def positions(self) -> int:
        return self.pos_embedding.shape[1]

    def forward(self, sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        length = sequence.shape[1]
        if length > self.positions:
            raise ValueError(f"sequence of {length} steps, but the model has only {self.positions} positions")
        x = self.relu(self.lin1(sequence)) + self.pos_embedding[:, :length]
        x = self.decoder1(x, mask)
        x = self.decoder2(x, mask)
        return self.lin2(x)
