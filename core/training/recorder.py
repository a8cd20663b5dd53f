"""Per-epoch metrics of a run: ``metrics.csv`` and ``metrics.json`` in the experiment folder, and
TensorBoard event files (``tb/``) when the ``tensorboard`` package is installed. Primary rank only."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)

COLUMNS = ("epoch", "total_steps", "lr", "train_loss", "ACC", "AP", "AUC", "R_ACC", "F_ACC",
           "train_images_per_s", "epoch_seconds")


class MetricsRecorder:
    def __init__(self, folder: str | Path, resume: bool = False) -> None:
        self.folder = Path(folder)
        self.csv_path, self.json_path = self.folder / "metrics.csv", self.folder / "metrics.json"
        self.rows: list[dict] = []
        if resume and self.json_path.is_file():
            self.rows = json.loads(self.json_path.read_text())
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.folder / "tb"))
        except ImportError:
            log.info("tensorboard is not installed: metrics go to %s and %s only", self.csv_path, self.json_path)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def write(self, row: dict) -> None:
        """Append one epoch (dropping rows of a resumed run's epochs that are run again)."""
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        # JSON has no NaN: undefined metrics (one class only) are written as null.
        clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in self.rows]
        self.json_path.write_text(json.dumps(clean, indent=1))
        with open(self.csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)
        for key in ("ACC", "AP", "AUC", "R_ACC", "F_ACC"):
            self.add_scalar(f"val/{key}", row[key], row["total_steps"])
        self.add_scalar("train/epoch_loss", row["train_loss"], row["total_steps"])
        self.add_scalar("train/lr", row["lr"], row["total_steps"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
