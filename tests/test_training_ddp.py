"""DistributedDataParallel: two CPU processes (gloo) started by torchrun train one checkpoint together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.aigvdet import load_classifier
from tests.training_helpers import tiny_opts, write_frame_dataset

pytestmark = pytest.mark.slow  # a two-process torchrun training in a subprocess

REPO = Path(__file__).resolve().parents[1]


def test_two_process_gloo_run_writes_one_checkpoint(tmp_path):
    data = write_frame_dataset(tmp_path / "data", videos=3, frames=2, size=20)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "train.py",
        "--exp_name",
        "ddp",
        "--no_progress",
        *tiny_opts(data, tmp_path / "exp", epochs=1),
    ]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    folder = tmp_path / "exp" / "ddp"
    assert sorted(p.name for p in (folder / "ckpt").iterdir()) == [
        "model_epoch_0.pth",
        "model_epoch_best.pth",
        "model_epoch_latest.pth",
    ]
    checkpoint = torch.load(folder / "ckpt" / "model_epoch_latest.pth", map_location="cpu", weights_only=True)
    # 12 images, global batch 4 = 2 per process: 3 steps for the epoch, not 6 (each process sees half).
    assert checkpoint["total_steps"] == 3 and not any(k.startswith("module.") for k in checkpoint["model"])
    load_classifier(folder / "ckpt" / "model_epoch_latest.pth", "resnet18")
    rows = json.loads((folder / "metrics.json").read_text())
    assert len(rows) == 1  # one writer
    log = (folder / "logs.txt").read_text()
    assert "2 process(es) on cpu, batch 4 (2 each)" in log and log.count("(Val @ epoch 0)") == 1
    assert run.stdout.count("ddp: 1 epochs") == 1  # only rank 0 reports
