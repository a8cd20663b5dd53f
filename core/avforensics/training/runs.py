"""What both trainers share: the run folder (config JSON, per-epoch metrics, resumable checkpoints),
process-group setup under torchrun, and bf16 autocast on GPU only."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from core.errors import CheckpointError, ToolkitError
from core.training.distributed import DistInfo, init_process

log = logging.getLogger(__name__)

CHECKPOINT = "last.pth"


def setup_process(device: str) -> DistInfo:
    """Join torchrun's process group if there is one; ``device`` is ``auto``, ``cpu`` or ``cuda``."""
    if device not in ("auto", "cpu", "cuda"):
        raise ToolkitError(f"--device {device}: use auto, cpu or cuda (under torchrun each process takes its LOCAL_RANK GPU)")
    if device == "cuda" and not torch.cuda.is_available():
        raise ToolkitError("--device cuda: CUDA is not available here; use --device cpu")
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    return init_process(use_cuda=use_cuda)


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA when asked; the CPU always trains in fp32 (bf16 there is slow and only tests run there)."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def save_config(output_dir: Path, config: dict[str, Any]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")


class MetricsLog:
    """One row per epoch in ``metrics.csv`` and ``metrics.json``; on resume rows from ``start_epoch`` on are dropped
    (they belong to the interrupted attempt and will be recomputed)."""

    def __init__(self, output_dir: Path, start_epoch: int) -> None:
        self.csv_path, self.json_path = output_dir / "metrics.csv", output_dir / "metrics.json"
        self.rows: list[dict[str, Any]] = []
        if start_epoch > 0 and self.json_path.is_file():
            self.rows = [r for r in json.loads(self.json_path.read_text(encoding="utf-8")) if r["epoch"] < start_epoch]

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.json_path.write_text(json.dumps(self.rows, indent=2), encoding="utf-8")
        columns: list[str] = []
        for r in self.rows:  # columns differ between phases (e.g. validation only in some epochs)
            columns += [k for k in r if k not in columns]
        with open(self.csv_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic write: an interrupted save leaves the previous checkpoint intact."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def rng_state() -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_resume(output_dir: Path, config: dict[str, Any], must_match: tuple[str, ...]) -> dict[str, Any] | None:
    """The run's last checkpoint, or None when there is none; refuse one whose shape-defining settings differ."""
    path = output_dir / CHECKPOINT
    if not path.is_file():
        return None
    try:
        # Our own file: tensors, dicts and plain values; RNG states are tensors too, so weights_only works.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot resume from {path}: {exc.__class__.__name__}: {exc}") from None
    saved = state.get("config", {})
    different = [f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in must_match if saved.get(k) != config.get(k)]
    if different:
        raise CheckpointError(f"{path} was trained with other settings ({'; '.join(different)}); use a new --output_dir")
    return state


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model
