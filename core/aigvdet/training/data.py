"""Frame-folder datasets and AIGVDet's training augmentations.

Layout, as the reference (torchvision ``ImageFolder`` on each dataset folder)::

    <dataset_root>/train/<dataset>/0_real/<video>/<frame>.png
    <dataset_root>/train/<dataset>/1_fake/<video>/<frame>.png
    <dataset_root>/val/<dataset_test>/...

Class folders are taken in sorted order, so ``0_real`` is label 0 and ``1_fake`` label 1; images are found
at any depth below them. Transforms follow the reference's order: Gaussian blur and JPEG round trip
(training only, each with its probability), crop (random for training, centre for validation), horizontal
flip (training), ToTensor, ImageNet normalisation. Unlike the reference, a training image smaller than
the crop is zero-padded (centred, as torchvision's ``CenterCrop`` pads) instead of crashing ``RandomCrop``.
"""

from __future__ import annotations

import logging
import os
import random
from io import BytesIO
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter
from torch.utils.data import ConcatDataset, Dataset, Sampler
from yacs.config import CfgNode

from core.aigvdet.preprocess import IMAGENET_MEAN, IMAGENET_STD, center_crop_or_pad
from core.aigvdet.training.config import ConfigError

log = logging.getLogger(__name__)

# torchvision's ImageFolder extensions (what the reference's datasets.ImageFolder accepts).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
MAX_UNREADABLE_IN_A_ROW = 20  # more than this: the folder is broken, not one file
_WARNED: set[str] = set()  # unreadable files already named (per process)


# ---------------------------------------------------------------- augmentations (numpy HWC uint8 RGB)


def sample_continuous(values: Sequence[float], rng: random.Random) -> float:
    """One value as is; [low, high] drawn uniformly (the reference's ``sample_continuous``)."""
    if len(values) == 1:
        return float(values[0])
    low, high = values
    return rng.random() * (high - low) + low


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """scipy's Gaussian filter on each channel, as the reference (same uint8 rounding between passes)."""
    out = image.copy()
    for channel in range(out.shape[2]):
        gaussian_filter(image[:, :, channel], output=out[:, :, channel], sigma=sigma)
    return out


def jpeg_cv2(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip through OpenCV (the reference's default ``jpg_method``): encode BGR, decode, back to RGB."""
    ok, encoded = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[:, :, ::-1]), [int(cv2.IMWRITE_JPEG_QUALITY), quality]
    )
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode an image")
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def jpeg_pil(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="jpeg", quality=quality)
    buffer.seek(0)
    return np.array(Image.open(buffer).convert("RGB"))


JPEG_METHODS = {"cv2": jpeg_cv2, "pil": jpeg_pil}


def random_crop_or_pad(image: torch.Tensor, size: int, rng: random.Random) -> torch.Tensor:
    """(C, H, W) -> (C, size, size): zero-pad short sides (centred), then crop at a random offset."""
    height, width = image.shape[-2:]
    if height < size or width < size:
        pad_h, pad_w = max(size - height, 0), max(size - width, 0)
        image = torch.nn.functional.pad(image, [pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2])
        height, width = image.shape[-2:]
    top = rng.randint(0, height - size)
    left = rng.randint(0, width - size)
    return image[:, top : top + size, left : left + size]


class FrameTransform:
    """The reference's training or validation transform; the random draws use Python's ``random`` module
    (seeded per process and per DataLoader worker), as the reference does."""

    def __init__(self, cfg: CfgNode, train: bool) -> None:
        self.train = train
        self.crop_size = cfg.cropSize
        self.crop = cfg.aug_crop
        self.flip = train and cfg.aug_flip
        self.normalize = cfg.aug_norm
        self.blur_prob, self.blur_sig = cfg.blur_prob, list(cfg.blur_sig)
        self.jpg_prob, self.jpg_method, self.jpg_qual = cfg.jpg_prob, list(cfg.jpg_method), list(cfg.jpg_qual)
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def augment(self, image: np.ndarray, rng: random.Random) -> np.ndarray:
        """Blur then JPEG, each with its probability (training only)."""
        if rng.random() < self.blur_prob:
            image = gaussian_blur(image, sample_continuous(self.blur_sig, rng))
        if rng.random() < self.jpg_prob:
            method = rng.choice(self.jpg_method) if len(self.jpg_method) > 1 else self.jpg_method[0]
            quality = rng.choice(self.jpg_qual) if len(self.jpg_qual) > 1 else self.jpg_qual[0]
            image = JPEG_METHODS[method](image, int(quality))
        return image

    def __call__(self, image: np.ndarray, rng: random.Random | None = None) -> torch.Tensor:
        rng = rng or random  # the module-level generator, as the reference calls ``random()``
        if self.train:
            image = self.augment(image, rng)
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        if self.train:
            tensor = random_crop_or_pad(tensor, self.crop_size, rng)
        elif self.crop:
            tensor = center_crop_or_pad(tensor, self.crop_size)
        if self.flip and rng.random() < 0.5:
            tensor = tensor.flip(-1)
        tensor = tensor.float().div_(255.0)
        if self.normalize:
            tensor = (tensor - self.mean) / self.std
        return tensor


# ---------------------------------------------------------------- datasets


def load_rgb(path: str) -> np.ndarray:
    """PIL's decoder and RGB conversion, as ImageFolder's default loader."""
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


class FrameFolder(Dataset):
    """One dataset folder: class sub-folders (sorted: label = index) holding images at any depth."""

    def __init__(self, root: str | os.PathLike, transform: FrameTransform) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigError(f"dataset folder not found: {self.root}")
        self.classes = sorted(entry.name for entry in self.root.iterdir() if entry.is_dir())
        if len(self.classes) != 2:
            raise ConfigError(
                f"dataset folder {self.root} must hold two class folders (0_real, 1_fake); "
                f"found {self.classes or 'none'}"
            )
        self.samples: list[tuple[str, int]] = []
        for label, name in enumerate(self.classes):
            for dirpath, dirnames, filenames in os.walk(self.root / name, followlinks=True):
                dirnames.sort()
                self.samples += [
                    (os.path.join(dirpath, f), label) for f in sorted(filenames) if f.lower().endswith(IMAGE_EXTENSIONS)
                ]
        self.targets = [label for _, label in self.samples]
        if not self.samples:
            raise ConfigError(f"dataset folder {self.root} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        # An unreadable file (corrupt, truncated, not an image) is replaced by the next readable one, with a
        # warning naming it: raised in a DataLoader worker it would end the run in a traceback.
        for offset in range(min(len(self.samples), MAX_UNREADABLE_IN_A_ROW)):
            path, label = self.samples[(index + offset) % len(self.samples)]
            try:
                image = load_rgb(path)
            except OSError as exc:  # PIL's UnidentifiedImageError and truncated files are OSErrors
                if path not in _WARNED:
                    _WARNED.add(path)
                    log.warning("unreadable training image skipped (another image stands in): %s (%s)", path, exc)
                continue
            return self.transform(image), label
        raise ConfigError(f"{MAX_UNREADABLE_IN_A_ROW} unreadable images in a row in {self.root}, e.g. {path}")


class IndexedDataset(Dataset):
    """Returns the sample index too, so validation can gather predictions across processes exactly."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        return image, label, index


def build_dataset(cfg: CfgNode, split: str) -> ConcatDataset:
    """``<dataset_root>/<split>/<name>`` for each name of ``datasets`` (train) or ``datasets_test`` (val)."""
    train = split == "train"
    names = cfg.datasets if train else cfg.datasets_test
    transform = FrameTransform(cfg, train=train)
    folders = [FrameFolder(Path(cfg.dataset_root) / split / name, transform) for name in names]
    dataset = ConcatDataset(folders)
    dataset.targets = [t for folder in folders for t in folder.targets]
    return dataset


# ---------------------------------------------------------------- samplers (one code path for 1..N processes)


class ShardedSampler(Sampler[int]):
    """Each process's share of an epoch's order: shuffled (or not), or class-balanced.

    Class balance draws ``len(dataset)`` indices with replacement, weighted by the inverse class
    frequency, as the reference's ``WeightedRandomSampler``. The order depends on ``seed`` and the epoch
    (``set_epoch``) only; it is padded with its own first indices to split evenly, as DistributedSampler does.
    """

    def __init__(
        self,
        targets: Sequence[int],
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        class_balance: bool = False,
        seed: int = 0,
    ) -> None:
        self.targets = torch.as_tensor(list(targets))
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.class_balance, self.seed = shuffle, class_balance, seed
        self.epoch = 0
        self.num_samples = -(-len(self.targets) // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        count = len(self.targets)
        if self.class_balance:
            per_class = torch.bincount(self.targets).float()
            weights = 1.0 / per_class[self.targets]
            return torch.multinomial(weights, count, replacement=True, generator=generator)
        if self.shuffle:
            return torch.randperm(count, generator=generator)
        return torch.arange(count)

    def __iter__(self) -> Iterator[int]:
        order = self._order()
        if self.total_size > len(order):
            order = torch.cat([order, order[: self.total_size - len(order)]])
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


class ValidationSampler(Sampler[int]):
    """Every index exactly once over all processes, in order (no padding, so metrics are exact)."""

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.indices = list(range(rank, length, num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def seed_worker(worker_id: int) -> None:
    """DataLoader workers: seed numpy and ``random`` from the worker's torch seed (derived from the loader's
    generator), so augmentations are reproducible and differ between workers."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
