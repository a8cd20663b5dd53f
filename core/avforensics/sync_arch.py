"""The sync model's architecture (official, or scaled down for small runs) and its exported files.

``width_div`` 1 builds exactly :class:`core.avforensics.sync_transformer.SyncModel` (the official
``sync_model.pth`` layout). ``width_div`` > 1 divides every convolution width and the fusion transformer's
width by that factor so the whole loop runs on a CPU in tests; the modules keep their classes, attribute
names and methods (the detector's fast path calls ``frame_features``/``window_features``/``video_tokens``...),
so the state-dict keys are the official ones, only the shapes shrink. ``SyncModel``'s constructor takes
only ``feature_map_size``, hence the subclasses below (see the report: a ``widths`` argument upstream would
make them unnecessary).

Exported weights: ``sync_model.pth`` is a bare state dict, loadable by detect.py and by the authors' code
(``load_state_dict(torch.load(...))``); ``sync_model.json`` beside it records the architecture
(frame size, width divisor) and the training run's configuration. detect.py reads the sidecar to
build the right model and decode frames at the right size; no sidecar means the official model.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from core.avforensics.audio_encoder import AudioEncoder
from core.avforensics.sync_transformer import FusionTransformer, SyncModel
from core.avforensics.video_encoder import BasicBlock, VideoEncoder
from core.checkpoints import load_weights
from core.errors import CheckpointError, InputError

VIDEO_WIDTHS = (64, 128, 256, 512)
AUDIO_WIDTHS = (64, 192, 384, 256, 256)
OFFICIAL_FRAME_SIZE = 224


@dataclass(frozen=True)
class SyncArch:
    """What fixes the sync model's tensor shapes: input frame size (square) and the width divisor."""

    frame_size: int = OFFICIAL_FRAME_SIZE
    width_div: int = 1

    def __post_init__(self) -> None:
        if self.frame_size % 16 or self.frame_size < 16:
            raise InputError(f"--frame_size {self.frame_size}: must be a multiple of 16 (the video encoder's stride)")
        if self.width_div < 1 or 64 % self.width_div:
            raise InputError(f"--width_div {self.width_div}: must divide 64 (1, 2, 4, 8, 16, ...)")

    @property
    def feature_map_size(self) -> int:
        return self.frame_size // 16

    @property
    def is_official(self) -> bool:
        return self.frame_size == OFFICIAL_FRAME_SIZE and self.width_div == 1


class ScaledVideoEncoder(VideoEncoder):
    """:class:`VideoEncoder` with every width divided by ``div`` (same blocks, names and methods)."""

    def __init__(self, div: int) -> None:
        nn.Module.__init__(self)  # VideoEncoder.__init__ hard-codes the widths; rebuild its layout here
        widths = [w // div for w in VIDEO_WIDTHS]
        self.conv1 = nn.Conv3d(3, widths[0], kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(widths[0])
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        in_planes = widths[0]
        for index, (width, stride, kernel) in enumerate(zip(widths, (1, 2, 2, 1), (1, 1, 3, 3))):
            blocks = [BasicBlock(in_planes, width, stride, kernel), BasicBlock(width, width, 1, kernel)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
            in_planes = width


class ScaledAudioEncoder(AudioEncoder):
    """:class:`AudioEncoder` with every width divided by ``div``."""

    def __init__(self, div: int) -> None:
        super().__init__(embed_dim=512 // div)
        c1, c2, c3, c4, c5 = (w // div for w in AUDIO_WIDTHS)
        embed = 512 // div
        # Same kernels, strides and paddings as the parent; only the channel counts change.
        self.conv1, self.bn1 = nn.Conv2d(1, c1, (3, 3), (2, 1), (1, 1)), nn.BatchNorm2d(c1)
        self.conv2, self.bn2 = nn.Conv2d(c1, c2, (3, 3), (1, 1), (1, 1)), nn.BatchNorm2d(c2)
        self.conv3, self.bn3 = nn.Conv2d(c2, c3, (3, 3), (1, 1), (1, 1)), nn.BatchNorm2d(c3)
        self.conv4, self.bn4 = nn.Conv2d(c3, c4, (3, 3), (1, 1), (1, 1)), nn.BatchNorm2d(c4)
        self.conv5, self.bn5 = nn.Conv2d(c4, c5, (3, 3), (1, 1), (1, 1)), nn.BatchNorm2d(c5)
        self.conv6, self.bn6 = nn.Conv2d(c5, embed, (4, 3), (1, 1), (0, 1)), nn.BatchNorm2d(embed)
        self.conv7 = nn.Conv2d(embed, embed, kernel_size=(1, 1))


def build_sync_model(arch: SyncArch) -> SyncModel:
    """A freshly initialised sync model of ``arch`` (the official class itself when ``width_div`` is 1)."""
    if arch.width_div == 1:
        return SyncModel(feature_map_size=arch.feature_map_size)
    div = arch.width_div
    model = SyncModel.__new__(SyncModel)  # skip building the full-size parts only to replace them
    nn.Module.__init__(model)
    model.vis_enc = ScaledVideoEncoder(div)
    model.aud_enc = ScaledAudioEncoder(div)
    model.transformer = FusionTransformer(
        dim=512 // div, heads=4, dim_head=128 // div, mlp_dim=512 // div, feature_map_size=arch.feature_map_size
    )
    return model


def sidecar_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def export_sync_model(model: nn.Module, path: str | os.PathLike, arch: SyncArch, run_config: dict) -> Path:
    """Write the bare state dict (official layout) and its ``.json`` sidecar (architecture + run config)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint under the final name
    sidecar_path(path).write_text(json.dumps({"arch": asdict(arch), "config": run_config}, indent=2), encoding="utf-8")
    return path


def read_arch(weights: str | os.PathLike) -> SyncArch:
    """The architecture recorded beside ``weights``; no sidecar means the official model (224 px, full width)."""
    side = sidecar_path(weights)
    if not side.is_file():
        return SyncArch()
    try:
        return SyncArch(**json.loads(side.read_text(encoding="utf-8"))["arch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{side}: not a sync-model sidecar ({exc})") from None


def load_sync_model(path: str | os.PathLike, arch: SyncArch | None = None) -> tuple[SyncModel, SyncArch]:
    """Build the model the sidecar describes and load ``path`` into it strictly."""
    arch = read_arch(path) if arch is None else arch
    model = build_sync_model(arch)
    load_weights(model, path, "audio-visual sync model")
    return model, arch
