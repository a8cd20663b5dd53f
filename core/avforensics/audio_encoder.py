"""Audio branch of the synchronisation model: a small CNN over a 5-frame log-mel window.

Attribute names follow the official ``sync_model.pth`` (prefix ``aud_enc.``): ``conv1``..``conv7`` and
``bn1``..``bn6``. Input (B, 1, 80 mel bands, 20 STFT frames) -- 0.2 s of 16 kHz audio, the span of five
25 fps video frames; output (B, 512, 4): four audio tokens for the fusion transformer.
"""

from __future__ import annotations

import torch
from torch import nn


class AudioEncoder(nn.Module):
    """Conv-BN-ReLU stack that collapses the 80 mel bands to 1 and the 20 STFT frames to 4 tokens."""

    def __init__(self, embed_dim: int = 512, widths: tuple[int, int, int, int, int] = (64, 192, 384, 256, 256)) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        # (out channels, kernel, stride, padding) per layer; the pools sit after layers 1, 2 and 5.
        self.conv1 = nn.Conv2d(1, c1, (3, 3), (2, 1), (1, 1))
        self.bn1 = nn.BatchNorm2d(c1)
        self.relu1 = nn.ReLU()
        self.maxpool1 = nn.MaxPool2d((3, 1), (2, 1))
        self.conv2 = nn.Conv2d(c1, c2, (3, 3), (1, 1), (1, 1))
        self.bn2 = nn.BatchNorm2d(c2)
        self.relu2 = nn.ReLU()
        self.maxpool2 = nn.MaxPool2d((3, 3), (2, 2))
        self.conv3 = nn.Conv2d(c2, c3, (3, 3), (1, 1), (1, 1))
        self.bn3 = nn.BatchNorm2d(c3)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(c3, c4, (3, 3), (1, 1), (1, 1))
        self.bn4 = nn.BatchNorm2d(c4)
        self.relu4 = nn.ReLU()
        self.conv5 = nn.Conv2d(c4, c5, (3, 3), (1, 1), (1, 1))
        self.bn5 = nn.BatchNorm2d(c5)
        self.relu5 = nn.ReLU()
        self.maxpool5 = nn.MaxPool2d((2, 3), (2, 2))
        self.conv6 = nn.Conv2d(c5, embed_dim, (4, 3), (1, 1), (0, 1))
        self.bn6 = nn.BatchNorm2d(embed_dim)
        self.relu6 = nn.ReLU()
        self.conv7 = nn.Conv2d(embed_dim, embed_dim, kernel_size=(1, 1))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = self.maxpool1(self.relu1(self.bn1(self.conv1(log_mel))))
        x = self.maxpool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.relu3(self.bn3(self.conv3(x)))
        x = self.relu4(self.bn4(self.conv4(x)))
        x = self.maxpool5(self.relu5(self.bn5(self.conv5(x))))
        x = self.relu6(self.bn6(self.conv6(x)))
        x = self.conv7(x)
        if x.shape[-2] != 1:
            raise ValueError(f"expected 80 mel bands to collapse to height 1, got {tuple(x.shape)}")
        return x.squeeze(-2)
