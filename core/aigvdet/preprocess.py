"""Classifier input preparation, as AIGVDet's demo and test scripts do it with PIL and torchvision:
CenterCrop(448) (zero padding when the image is smaller), ToTensor, ImageNet normalisation.

Done here on uint8 tensors, batched, on any device; ``tests/test_preprocess.py`` pins it against
torchvision's PIL path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CROP_SIZE = 448
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def center_crop_or_pad(images: torch.Tensor, size: int = CROP_SIZE) -> torch.Tensor:
    """Centre crop (..., H, W) to size x size, zero-padding first where a side is shorter.

    Offsets follow torchvision's ``center_crop``: padding ``(size - side) // 2`` before and the rest
    after; crop start ``round((side - size) / 2)``.
    """
    height, width = images.shape[-2:]
    if height < size or width < size:
        pad_w, pad_h = max(size - width, 0), max(size - height, 0)
        images = F.pad(images, [pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2], value=0)
        height, width = images.shape[-2:]
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return images[..., top : top + size, left : left + size]


def crop_region(height: int, width: int, size: int = CROP_SIZE) -> tuple[slice, slice]:
    """The rows and columns of an H x W image that ``center_crop_or_pad`` keeps (whole sides shorter than
    ``size``): ``center_crop_or_pad(image[..., rows, cols])`` equals ``center_crop_or_pad(image)``."""

    def kept(side: int) -> slice:
        if side <= size:
            return slice(0, side)
        start = int(round((side - size) / 2.0))
        return slice(start, start + size)

    return kept(height), kept(width)


def to_classifier_input(images: torch.Tensor, normalize: bool = True, size: int = CROP_SIZE) -> torch.Tensor:
    """(N, 3, H, W) uint8 RGB -> (N, 3, size, size) float32 ready for the ResNet."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) uint8 images, got {tuple(images.shape)} {images.dtype}")
    # Frames decoded as (H, W, 3) arrive channels-last in memory; a plain NCHW copy keeps oneDNN on the
    # kernels the reference's ToTensor input uses (the two layouts round differently, by about 2e-5).
    batch = center_crop_or_pad(images, size).to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)
    if normalize:
        mean = torch.tensor(IMAGENET_MEAN, device=batch.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=batch.device).view(1, 3, 1, 1)
        batch = (batch - mean) / std
    return batch
