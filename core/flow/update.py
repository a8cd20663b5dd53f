"""RAFT's recurrent update operator (section 3.3): motion encoder, ConvGRU, flow head, upsampling mask.

Attribute names reproduce the official checkpoint keys (``update_block.encoder.convc1`` ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def correlation_planes(levels: int, radius: int) -> int:
    """Channels of a correlation lookup: one (2r+1)^2 window per pyramid level."""
    return levels * (2 * radius + 1) ** 2


class FlowHead(nn.Module):
    def __init__(self, input_dim: int = 128, hidden_dim: int = 256) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x)))


def _gru_step(h: torch.Tensor, x: torch.Tensor, convz: nn.Conv2d, convr: nn.Conv2d, convq: nn.Conv2d) -> torch.Tensor:
    hx = torch.cat([h, x], dim=1)
    z = torch.sigmoid(convz(hx))
    r = torch.sigmoid(convr(hx))
    q = torch.tanh(convq(torch.cat([r * h, x], dim=1)))
    return (1 - z) * h + z * q


class ConvGRU(nn.Module):
    """3x3 convolutional GRU (small model)."""

    def __init__(self, hidden_dim: int = 128, input_dim: int = 192 + 128) -> None:
        super().__init__()
        self.convz = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)
        self.convr = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)
        self.convq = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _gru_step(h, x, self.convz, self.convr, self.convq)


class SepConvGRU(nn.Module):
    """A 1x5 then a 5x1 GRU step: a large receptive field at the cost of a 3x3 one (large model)."""

    def __init__(self, hidden_dim: int = 128, input_dim: int = 192 + 128) -> None:
        super().__init__()
        channels = hidden_dim + input_dim
        self.convz1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convr1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convq1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convz2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))
        self.convr2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))
        self.convq2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = _gru_step(h, x, self.convz1, self.convr1, self.convq1)  # horizontal
        return _gru_step(h, x, self.convz2, self.convr2, self.convq2)  # vertical


class SmallMotionEncoder(nn.Module):
    def __init__(self, corr_levels: int = 4, corr_radius: int = 3) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(correlation_planes(corr_levels, corr_radius), 96, 1, padding=0)
        self.convf1 = nn.Conv2d(2, 64, 7, padding=3)
        self.convf2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv = nn.Conv2d(128, 80, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc1(corr))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class BasicMotionEncoder(nn.Module):
    def __init__(self, corr_levels: int = 4, corr_radius: int = 4) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(correlation_planes(corr_levels, corr_radius), 256, 1, padding=0)
        self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
        self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(64 + 192, 128 - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc2(F.relu(self.convc1(corr))))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class SmallUpdateBlock(nn.Module):
    """Update of the small model; it has no learned upsampling mask (flow is upsampled bilinearly)."""

    def __init__(self, corr_levels: int = 4, corr_radius: int = 3, hidden_dim: int = 96) -> None:
        super().__init__()
        self.encoder = SmallMotionEncoder(corr_levels, corr_radius)
        self.gru = ConvGRU(hidden_dim=hidden_dim, input_dim=82 + 64)
        self.flow_head = FlowHead(hidden_dim, hidden_dim=128)

    def forward(self, net, inp, corr, flow, with_mask: bool = True):
        motion_features = self.encoder(flow, corr)
        net = self.gru(net, torch.cat([inp, motion_features], dim=1))
        return net, None, self.flow_head(net)


class BasicUpdateBlock(nn.Module):
    """Update of the large model, with the convex-upsampling mask head."""

    def __init__(self, corr_levels: int = 4, corr_radius: int = 4, hidden_dim: int = 128) -> None:
        super().__init__()
        self.encoder = BasicMotionEncoder(corr_levels, corr_radius)
        self.gru = SepConvGRU(hidden_dim=hidden_dim, input_dim=128 + hidden_dim)
        self.flow_head = FlowHead(hidden_dim, hidden_dim=256)
        self.mask = nn.Sequential(
            nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(256, 64 * 9, 1, padding=0)
        )

    def forward(self, net, inp, corr, flow, with_mask: bool = True):
        """``with_mask=False`` skips the mask head: at inference only the last iteration's mask is used."""
        motion_features = self.encoder(flow, corr)
        net = self.gru(net, torch.cat([inp, motion_features], dim=1))
        delta_flow = self.flow_head(net)
        # The 0.25 scale balances the mask's gradients (as in the paper's code).
        mask = 0.25 * self.mask(net) if with_mask else None
        return net, mask, delta_flow
