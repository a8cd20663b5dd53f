"""AIGVDet's two binary classifiers: torchvision ResNets with a single-logit head.

The reference's ``networks/resnet.py`` is torchvision's ResNet (same layer names), so official
``original.pth`` / ``optical.pth`` and our training checkpoints load into ``torchvision.models`` directly.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch
from torch import nn
from torchvision import models

from core.aigvdet.preprocess import CROP_SIZE, to_classifier_input
from core.checkpoints import extract_state_dict, load_state_dict_strict, read_checkpoint
from core.errors import CheckpointError

ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def build_classifier(arch: str = "resnet50") -> nn.Module:
    """A randomly initialised ResNet of ``arch`` with one output logit (real = 0, fake = 1)."""
    if arch not in ARCHS:
        raise ValueError(f"unsupported arch {arch!r}; choose one of {', '.join(ARCHS)}")
    return getattr(models, arch)(weights=None, num_classes=1)


def _guess_arch(state: dict[str, torch.Tensor]) -> str | None:
    """Which of ARCHS a state dict belongs to, from its block counts and widths (for error messages)."""
    fc = state.get("fc.weight")
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("layer3.")}
    if fc is None or not blocks:
        return None
    bottleneck = fc.shape[1] == 2048
    depth = {
        (6, False): "resnet34",
        (2, False): "resnet18",
        (6, True): "resnet50",
        (23, True): "resnet101",
        (36, True): "resnet152",
    }
    return depth.get((max(blocks) + 1, bottleneck))


def load_classifier(path: str | os.PathLike, arch: str = "resnet50", what: str = "classifier checkpoint") -> nn.Module:
    """Build ``arch`` and load ``path`` (bare state dict or ``{"model": ...}``) strictly, in eval mode."""
    model = build_classifier(arch)
    state = extract_state_dict(read_checkpoint(path, what))
    fc = state.get("fc.weight")
    if fc is not None and fc.shape[0] != 1:
        raise CheckpointError(f"{what} {path} has a {fc.shape[0]}-way head, not AIGVDet's single logit")
    guessed = _guess_arch(state)
    if guessed is not None and guessed != arch:
        raise CheckpointError(f"{what} {path} is a {guessed} checkpoint, but the architecture asked for is {arch}")
    load_state_dict_strict(model, state, f"{what} {path}")
    return model.eval()


@torch.inference_mode()
def classify_images(
    model: nn.Module,
    images: torch.Tensor,
    normalize: bool = True,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    crop_size: int = CROP_SIZE,
) -> list[float]:
    """Fake probabilities (sigmoid of the logit) of uint8 (N, 3, H, W) RGB images, on the model's device.

    On a GPU the images go through as one batch. On a CPU they go one at a time, as in the reference:
    a 448-pixel ResNet-50 runs faster per image at batch 1 there (its activations stay in cache), and
    oneDNN's batch-1 kernels give the reference's exact numbers.
    """
    device = next(model.parameters()).device
    batch = to_classifier_input(images.to(device, non_blocking=True), normalize=normalize, size=crop_size)
    if channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last)
    amp = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else nullcontext()
    with amp:
        logits = torch.cat([model(part) for part in (batch.split(1) if device.type == "cpu" else (batch,))])
    return logits.float().sigmoid().flatten().tolist()
