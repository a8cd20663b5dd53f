"""RAFT's feature and context encoders (Teed & Deng, ECCV 2020, section 3.1).

Attribute names reproduce the official ``raft-things.pth`` / ``raft-small.pth`` keys, including the
normalisation layer of a strided block that is registered twice (as ``norm3``/``norm4`` and inside
``downsample``), so official checkpoints load strictly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NORM_KINDS = ("group", "batch", "instance", "none")


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` (no affine, no running stats: nothing in the checkpoints) that on a channels-last
    input computes the same statistics as a group norm of one channel per group: PyTorch's CPU instance-norm
    kernel reorders such an input and runs several times slower than its group-norm kernel. Other inputs take the
    instance-norm kernel itself, so the default layout's numbers do not change."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return F.group_norm(x, x.shape[1], eps=self.eps)
        return super().forward(x)


def make_norm(kind: str, channels: int, groups: int) -> nn.Module:
    """The normalisation layer RAFT uses for ``kind``; 'none' is an empty Sequential (no parameters)."""
    if kind == "group":
        return nn.GroupNorm(num_groups=groups, num_channels=channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        # affine=False, no running stats: nothing of it is stored in the checkpoints.
        return InstanceNorm2d(channels)
    if kind == "none":
        return nn.Sequential()
    raise ValueError(f"norm_fn must be one of {NORM_KINDS}, got {kind!r}")


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (the large model's block)."""

    def __init__(self, in_planes: int, planes: int, norm_fn: str = "group", stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        groups = planes // 8
        self.norm1 = make_norm(norm_fn, planes, groups)
        self.norm2 = make_norm(norm_fn, planes, groups)
        self.downsample = None
        if stride != 1:
            self.norm3 = make_norm(norm_fn, planes, groups)
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), self.norm3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class BottleneckBlock(nn.Module):
    """1x1 -> 3x3 -> 1x1 bottleneck with a residual connection (the small model's block)."""

    def __init__(self, in_planes: int, planes: int, norm_fn: str = "group", stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes // 4, kernel_size=1, padding=0)
        self.conv2 = nn.Conv2d(planes // 4, planes // 4, kernel_size=3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(planes // 4, planes, kernel_size=1, padding=0)
        self.relu = nn.ReLU(inplace=True)
        groups = planes // 8
        self.norm1 = make_norm(norm_fn, planes // 4, groups)
        self.norm2 = make_norm(norm_fn, planes // 4, groups)
        self.norm3 = make_norm(norm_fn, planes, groups)
        self.downsample = None
        if stride != 1:
            self.norm4 = make_norm(norm_fn, planes, groups)
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), self.norm4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.relu(self.norm3(self.conv3(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class _Encoder(nn.Module):
    """Stem, three stages of two blocks (strides 1, 2, 2), 1x1 output projection: 1/8 resolution."""

    block: type[nn.Module]

    def __init__(self, widths: tuple[int, int, int, int], output_dim: int, norm_fn: str, dropout: float) -> None:
        super().__init__()
        stem, w1, w2, w3 = widths
        self.norm_fn = norm_fn
        self.norm1 = make_norm(norm_fn, stem, 8)
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3)
        self.relu1 = nn.ReLU(inplace=True)
        self.in_planes = stem
        self.layer1 = self._make_layer(w1, stride=1)
        self.layer2 = self._make_layer(w2, stride=2)
        self.layer3 = self._make_layer(w3, stride=2)
        self.conv2 = nn.Conv2d(w3, output_dim, kernel_size=1)
        self.dropout = nn.Dropout2d(p=dropout) if dropout > 0 else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)):
                if m.weight is not None:
                    nn.init.constant_(m.weight, 1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def _make_layer(self, dim: int, stride: int) -> nn.Sequential:
        first = self.block(self.in_planes, dim, self.norm_fn, stride=stride)
        second = self.block(dim, dim, self.norm_fn, stride=1)
        self.in_planes = dim
        return nn.Sequential(first, second)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, output_dim, H/8, W/8)."""
        x = self.relu1(self.norm1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.conv2(x)
        if self.training and self.dropout is not None:
            x = self.dropout(x)
        return x


class BasicEncoder(_Encoder):
    """The large model's encoder: 64-64-96-128 channels of residual blocks."""

    block = ResidualBlock

    def __init__(self, output_dim: int = 128, norm_fn: str = "batch", dropout: float = 0.0) -> None:
        super().__init__((64, 64, 96, 128), output_dim, norm_fn, dropout)


class SmallEncoder(_Encoder):
    """The small model's encoder: 32-32-64-96 channels of bottleneck blocks."""

    block = BottleneckBlock

    def __init__(self, output_dim: int = 128, norm_fn: str = "batch", dropout: float = 0.0) -> None:
        super().__init__((32, 32, 64, 96), output_dim, norm_fn, dropout)
