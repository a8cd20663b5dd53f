"""Training loop: checkpoints in the reference format, early stopping with lr drops, warm-up, resume."""

from __future__ import annotations

import csv
import json

import pytest
import torch

import core.aigvdet.training.loop as loop
from core.aigvdet import load_classifier
from core.aigvdet.training import build_config, train
from core.aigvdet.training.config import get_default_config
from core.aigvdet.training.data import build_dataset
from core.aigvdet.training.earlystop import EarlyStopping, drop_learning_rate
from core.aigvdet.training.engine import Trainer, scheduled_lr
from core.runs.distributed import DistInfo
from tests.training_helpers import tiny_config, write_frame_dataset


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return write_frame_dataset(tmp_path_factory.mktemp("toy"), videos=3, frames=2, size=20)


@pytest.mark.slow  # trains
def test_run_writes_reference_checkpoints_config_log_and_metrics(toy_root, tmp_path):
    cfg = tiny_config(toy_root, tmp_path, "run", "nepoch", "2", "save_epoch_freq", "1", "save_latest_freq", "2")
    result = train(cfg, show_progress=False)
    folder = tmp_path / "run"
    names = sorted(p.name for p in (folder / "ckpt").iterdir())
    assert names == ["model_epoch_0.pth", "model_epoch_1.pth", "model_epoch_best.pth", "model_epoch_latest.pth"]
    ckpt = torch.load(folder / "ckpt" / "model_epoch_latest.pth", map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "total_steps"} <= set(ckpt) and ckpt["total_steps"] == 6 == result.total_steps
    assert ckpt["epoch"] == 1 and ckpt["config"]["arch"] == "resnet18" and ckpt["config"]["exp_name"] == "run"
    assert build_config("run", None, str(folder / "config.yaml"), []) == cfg
    rows = list(csv.DictReader(open(folder / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert {"train_loss", "ACC", "AP", "AUC", "R_ACC", "F_ACC", "lr"} <= set(rows[0])
    assert json.loads((folder / "metrics.json").read_text())[1]["total_steps"] == 6
    assert "(Val @ epoch 1)" in (folder / "logs.txt").read_text()
    # What test.py and demo.py do with a checkpoint: a strict load into the classifier.
    images = torch.stack([build_dataset(cfg, "val")[i][0] for i in (0, 11)])
    best_epoch = max(result.history, key=lambda r: r["ACC"])["epoch"]  # first of equals: strict improvement
    with torch.no_grad():
        best = load_classifier(folder / "ckpt" / "model_epoch_best.pth", "resnet18")(images)
        torch.testing.assert_close(
            best, load_classifier(folder / "ckpt" / f"model_epoch_{best_epoch}.pth", "resnet18")(images)
        )
        trainer = Trainer(cfg, DistInfo())
        trainer.load(folder / "ckpt" / "model_epoch_latest.pth")
        torch.testing.assert_close(
            trainer.model.eval()(images), load_classifier(folder / "ckpt" / "model_epoch_1.pth", "resnet18")(images)
        )


def test_early_stopping_drops_lr_by_10_then_stops_below_min_lr():
    """The reference with patience 5 and a flat accuracy: drops after epochs 5 and 11, stop after 17."""
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    stopper, events = EarlyStopping(patience=5, delta=0.001), []
    for epoch in range(40):
        stopper.step(0.8 + 0.0005 * (epoch % 2))  # wiggles smaller than delta are no improvement
        if stopper.early_stop:
            if drop_learning_rate(optimizer, 1e-6):
                events.append((epoch, optimizer.param_groups[0]["lr"]))
                stopper = EarlyStopping(patience=5, delta=0.002)
            else:
                events.append((epoch, "stop"))
                break
    assert events == [(5, pytest.approx(1e-5)), (11, pytest.approx(1e-6)), (17, "stop")]
    improving = EarlyStopping(patience=2, delta=0.001)
    assert [improving.step(s) for s in (0.5, 0.502, 0.5025, 0.51)] == [True, True, False, True]
    assert not improving.early_stop and improving.counter == 0


@pytest.mark.slow  # trains
def test_loop_drops_lr_and_stops_as_the_reference(toy_root, tmp_path, monkeypatch):
    flat = {"ACC": 0.75, "AP": 0.5, "AUC": 0.5, "R_ACC": 1.0, "F_ACC": 0.5}
    monkeypatch.setattr(loop, "validate", lambda *args: dict(flat))
    cfg = tiny_config(toy_root, tmp_path, "stop", "nepoch", "50", "earlystop_epoch", "1", "max_train_steps", "1")
    result = train(cfg, show_progress=False)
    assert result.stopped_early and len(result.history) == 6
    assert [r["lr"] for r in result.history] == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6])


def test_warmup_then_cosine_matches_the_reference_scheduler():
    cfg = get_default_config()
    cfg.warmup, cfg.nepoch, cfg.warmup_epoch = True, 10, 3
    # Learning rates of the reference's GradualWarmupScheduler + CosineAnnealingLR for epochs 0..9.
    reference = [
        3.3333333333333335e-05,
        6.666666666666667e-05,
        1e-4,
        1e-4,
        9.509795896116975e-05,
        8.136274519200731e-05,
        6.151478623083756e-05,
        3.9485213769162445e-05,
        1.9637254807992697e-05,
        5.902041038830258e-06,
    ]
    assert [scheduled_lr(cfg, e) for e in range(10)] == pytest.approx(reference, rel=1e-12)


@pytest.mark.slow  # trains
def test_resume_restores_model_optimizer_step_epoch_and_continues(toy_root, tmp_path):
    first = train(tiny_config(toy_root, tmp_path, "resume", "nepoch", "2", "earlystop_epoch", "1"), show_progress=False)
    saved = torch.load(tmp_path / "resume" / "ckpt" / "model_epoch_latest.pth", map_location="cpu", weights_only=True)
    cfg = tiny_config(toy_root, tmp_path, "resume", "nepoch", "3", "continue_train", "True")
    trainer = Trainer(cfg, DistInfo())
    trainer.load(tmp_path / "resume" / "ckpt" / "model_epoch_latest.pth")
    assert (trainer.epoch, trainer.total_steps) == (1, first.total_steps) == (saved["epoch"], saved["total_steps"])
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, saved["model"][name]), name
    state = trainer.optimizer.state_dict()
    assert state["param_groups"][0]["lr"] == saved["optimizer"]["param_groups"][0]["lr"]
    assert torch.equal(state["state"][0]["exp_avg"], saved["optimizer"]["state"][0]["exp_avg"])
    assert trainer.stopper.state_dict() == saved["early_stopping"]

    resumed = train(cfg, show_progress=False)
    assert [r["epoch"] for r in resumed.history] == [2]  # only the epoch not done yet
    assert resumed.total_steps == first.total_steps + 3
    rows = json.loads((tmp_path / "resume" / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [0, 1, 2]
