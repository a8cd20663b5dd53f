"""The sync model's architecture (official, or scaled down for small runs) and its exported files.

``width_div`` 1 builds exactly the official :class:`core.avforensics.sync_transformer.SyncModel` (the
``sync_model.pth`` layout). ``width_div`` > 1 divides every convolution width and the fusion transformer's
width by that factor so the whole loop runs on a CPU in tests; the state-dict keys stay the official ones,
only the shapes shrink.

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

from torch import nn

from core import atomic
from core.avforensics.sync_transformer import SyncModel
from core.checkpoints import load_weights
from core.errors import CheckpointError, InputError
from core.media.av_clip import FRAME_SIZE


@dataclass(frozen=True)
class SyncArch:
    """What fixes the sync model's tensor shapes: input frame size (square) and the width divisor."""

    frame_size: int = FRAME_SIZE
    width_div: int = 1

    def __post_init__(self) -> None:
        if self.frame_size % 16 or self.frame_size < 16:
            raise InputError(f"frame size {self.frame_size}: must be a multiple of 16 (the video encoder's stride)")
        if self.width_div < 1 or 64 % self.width_div:
            raise InputError(f"width divisor {self.width_div}: must divide 64 (1, 2, 4, 8, 16, ...)")

    @property
    def feature_map_size(self) -> int:
        return self.frame_size // 16


def build_sync_model(arch: SyncArch) -> SyncModel:
    """A freshly initialised sync model of ``arch`` (the official one when ``width_div`` is 1)."""
    return SyncModel(feature_map_size=arch.feature_map_size, width_div=arch.width_div)


def sidecar_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def export_sync_model(model: nn.Module, path: str | os.PathLike, arch: SyncArch, run_config: dict) -> Path:
    """Write the bare state dict (official layout) and its ``.json`` sidecar (architecture + run config)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.save_checkpoint({key: value.detach().cpu().clone() for key, value in model.state_dict().items()}, path)
    atomic.write_json(sidecar_path(path), {"arch": asdict(arch), "config": run_config}, indent=2)
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
