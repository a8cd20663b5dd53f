"""Image files as classifier-ready uint8 crops, for batched multi-worker evaluation.

Decoded with PIL and converted to RGB exactly as the reference's ``Image.open(path).convert("RGB")``
(PIL and OpenCV decode JPEG slightly differently; the official numbers come from PIL). The 448 centre
crop happens in the worker so only crops travel to the main process; normalisation happens on the device.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from core.aigvdet.preprocess import CROP_SIZE, center_crop_or_pad


class ImageCropDataset(Dataset):
    """``dataset[i]`` -> (uint8 (3, size, size) centre crop of ``paths[i]``, i, readable).

    An unreadable file gives a black crop and ``readable=False`` instead of killing the worker, so one
    corrupt image costs its video, not the run.
    """

    def __init__(self, paths: Sequence[str], size: int = CROP_SIZE) -> None:
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, bool]:
        try:
            with Image.open(self.paths[index]) as image:
                array = np.array(image.convert("RGB"))  # a writable copy for torch
        except OSError:  # PIL's UnidentifiedImageError and truncated files are OSErrors
            return torch.zeros((3, self.size, self.size), dtype=torch.uint8), index, False
        return center_crop_or_pad(torch.from_numpy(array).permute(2, 0, 1), self.size).contiguous(), index, True
