"""The run folder every training shares: resolved configuration, per-epoch metrics, atomic checkpoints, resume.

::

    <run>/config.yaml                    resolved configuration
    <run>/metrics.csv, metrics.json      one row per epoch (JSON has null where a metric is undefined)
    <run>/tb/                            TensorBoard events, when the tensorboard package is installed
    <run>/ckpt/model_epoch_latest.pth    the resume point (written every epoch)
    <run>/ckpt/model_epoch_<tag>.pth     other checkpoints (best, epoch numbers)

The names are AIGVDet's (the reference's trainer writes ``ckpt/model_epoch_latest.pth``); audio-visual runs
made before both trainers shared this folder kept their resume point in ``last.pth``, which is still read.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from core import atomic
from core.checkpoints import read_checkpoint
from core.errors import CheckpointError

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
LATEST = "latest"
LEGACY_LATEST = ("last.pth",)


def checkpoint_path(run_dir: str | os.PathLike, tag: str | int) -> Path:
    return Path(run_dir) / "ckpt" / f"model_epoch_{tag}.pth"


def save_config(run_dir: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write the resolved configuration (plain values) as ``config.yaml``, reloadable by the trainer that wrote it."""
    target = Path(run_dir) / CONFIG_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(target, yaml.safe_dump(config, sort_keys=False))
    return target


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The run's resume point (the shared name, then the older audio-visual one), or None."""
    for candidate in (checkpoint_path(run_dir, LATEST), *(Path(run_dir) / name for name in LEGACY_LATEST)):
        if candidate.is_file():
            return candidate
    return None


def load_resume(run_dir: str | os.PathLike, config: dict[str, Any], must_match: tuple[str, ...]) -> dict | None:
    """The run's latest checkpoint, or None when there is none; refuse one whose shape-defining settings differ."""
    path = latest_checkpoint(run_dir)
    if path is None:
        return None
    state = read_checkpoint(path, "checkpoint to resume from")
    saved = state.get("config", {}) if isinstance(state, dict) else {}
    different = [f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in must_match if saved.get(k) != config.get(k)]
    if different:
        raise CheckpointError(f"{path} was trained with other settings ({'; '.join(different)}); use a new run folder")
    return state


class MetricsLog:
    """One row per epoch in ``metrics.csv`` and ``metrics.json`` (and TensorBoard when installed).

    Rows of epochs from ``start_epoch`` on are dropped when the log is opened: on a resume they belong to the
    interrupted attempt and are computed again.
    """

    def __init__(self, run_dir: str | os.PathLike, start_epoch: int = 0) -> None:
        run_dir = Path(run_dir)
        self.csv_path, self.json_path = run_dir / "metrics.csv", run_dir / "metrics.json"
        self.rows: list[dict[str, Any]] = []
        if start_epoch > 0 and self.json_path.is_file():
            self.rows = [r for r in json.loads(self.json_path.read_text(encoding="utf-8")) if r["epoch"] < start_epoch]
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tb"))
        except ImportError:
            log.info("tensorboard is not installed: metrics go to %s and %s only", self.csv_path, self.json_path)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        # JSON has no NaN: undefined metrics (one class only) are written as null.
        clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in self.rows]
        atomic.write_json(self.json_path, clean, indent=1)
        columns: list[str] = []
        for r in self.rows:  # columns may differ between epochs (e.g. validation only in some)
            columns += [k for k in r if k not in columns]
        with atomic.atomic_open(self.csv_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["epoch"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def rng_state() -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_latest(run_dir: str | os.PathLike, state: dict[str, Any], epoch: int, best: dict, config: dict) -> Path:
    """The run's resumable checkpoint (``ckpt/model_epoch_latest.pth``): ``state`` (models, optimisers) with the
    epoch, the best metrics so far, the config and the random generators' state, so a resume goes on exactly."""
    path = checkpoint_path(run_dir, LATEST)
    atomic.save_checkpoint({**state, "epoch": epoch, "best": dict(best), "config": config, "rng": rng_state()}, path)
    return path


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") else model
