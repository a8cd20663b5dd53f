"""Video branch of the synchronisation model: a ResNet-18 whose first two stages are 2D and last two 3D.

Layout and attribute names follow the official ``sync_model.pth`` (prefix ``vis_enc.``): ``conv1``,
``bn1``, ``layer1``..``layer4`` made of basic blocks with ``conv1/bn1/conv2/bn2`` and an optional
``downsample`` = (1x1x1 conv, BatchNorm). Input: float RGB in 0..255 (the authors feed raw pixel values,
no normalisation), shape (B, 3, T, H, W); output (B, 512, T, H/16, W/16) -- ``layer4`` keeps stride 1.

The stem and the 2D stages use temporal kernel 1, so every frame is processed on its own until ``layer3``.
:meth:`VideoEncoder.frame_features` exploits that: it runs those stages once per frame, and overlapping
5-frame windows share them; :meth:`VideoEncoder.window_features` runs the 3D stages on each window.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 spatial convolutions with a residual; ``temporal_kernel`` 1 makes it a 2D block, 3 a 3D one."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, temporal_kernel: int = 1) -> None:
        super().__init__()
        kernel = (temporal_kernel, 3, 3)
        padding = (temporal_kernel // 2, 1, 1)
        # Temporal stride is always 1: the window keeps its 5 time steps down to the fusion transformer.
        self.conv1 = nn.Conv3d(in_planes, planes, kernel, stride=(1, stride, stride), padding=padding, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, kernel, stride=1, padding=padding, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=False)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_planes, planes, kernel_size=1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class VideoEncoder(nn.Module):
    """ResNet-18 2D/3D (the authors' ``resnet18_2d3d``): stages 1-2 per frame, stages 3-4 spatio-temporal."""

    def __init__(
        self,
        in_channels: int = 3,
        blocks_per_stage: tuple[int, int, int, int] = (2, 2, 2, 2),
        temporal_kernels: tuple[int, int, int, int] = (1, 1, 3, 3),
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(
            in_channels, widths[0], kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False
        )
        self.bn1 = nn.BatchNorm3d(widths[0])
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        strides = (1, 2, 2, 1)  # the last stage keeps 14x14 for the fusion transformer's 14x14 positions
        in_planes = widths[0]
        for index, (width, stride, count, kernel) in enumerate(
            zip(widths, strides, blocks_per_stage, temporal_kernels)
        ):
            blocks = [BasicBlock(in_planes, width, stride, kernel)]
            blocks += [BasicBlock(width, width, 1, kernel) for _ in range(count - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
            in_planes = width
        if any(kernel != 1 for kernel in temporal_kernels[:2]):
            raise ValueError("frame_features needs the first two stages to be per-frame (temporal kernel 1)")

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame stages: (N, 3, H, W) frames -> (N, 128, H/8, W/8), each frame independent of the others."""
        x = frames.unsqueeze(2)  # every frame is a 1-step clip: identical to running it inside any window
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return x.squeeze(2)

    def window_features(self, stacked: torch.Tensor) -> torch.Tensor:
        """Spatio-temporal stages on windows of frame features: (B, 128, T, h, w) -> (B, 512, T, h/2, w/2)."""
        return self.layer4(self.layer3(stacked))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Whole encoder on clips (B, 3, T, H, W) -> (B, 512, T, H/16, W/16), as the reference calls it."""
        batch, _, steps = video.shape[:3]
        frames = video.transpose(1, 2).flatten(0, 1)
        features = self.frame_features(frames)
        features = features.unflatten(0, (batch, steps)).transpose(1, 2)
        return self.window_features(features)
