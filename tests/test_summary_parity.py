"""test.py and training validation on core.metrics keep their printed lines, keys and values (scikit-learn's)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from core.aigvdet.training.metrics import binary_metrics
from core.cli import run_cli
from tests import factories

REFERENCE_KEYS = ("tnr", "tpr", "acc", "ap", "auc", "p", "n", "tp", "tn")


def reference_binary_metrics(labels, probs, threshold=0.5) -> dict[str, float]:
    """Training validation before core.metrics: ``prob > threshold``, scikit-learn's AP and AUC."""
    labels, probs = np.asarray(labels).astype(int), np.asarray(probs, dtype=np.float64)
    predicted = probs > threshold
    real, fake = labels == 0, labels == 1
    both = real.any() and fake.any()
    return {
        "ACC": float(np.mean(predicted == labels.astype(bool))),
        "AP": float(average_precision_score(labels, probs)) if both else math.nan,
        "AUC": float(roc_auc_score(labels, probs)) if both else math.nan,
        "R_ACC": float(np.mean(~predicted[real])) if real.any() else math.nan,
        "F_ACC": float(np.mean(predicted[fake])) if fake.any() else math.nan,
    }


@pytest.mark.parametrize("seed", range(20))
def test_binary_metrics_keep_keys_values_and_the_strict_rule(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 80))
    labels = rng.integers(0, 2, size)
    probs = np.round(rng.random(size), 1)  # many probabilities exactly 0.5: '>' calls them real
    expected, got = reference_binary_metrics(labels, probs), binary_metrics(labels, probs)
    assert list(got) == list(expected)
    for key in expected:
        assert got[key] == expected[key] or (math.isnan(got[key]) and math.isnan(expected[key])), key


def test_binary_metrics_strict_rule_by_hand():
    got = binary_metrics([0, 1, 1], [0.5, 0.5, 0.7])
    assert got["F_ACC"] == 0.5 and got["R_ACC"] == 1.0 and got["ACC"] == pytest.approx(2 / 3)


def write_dataset(root: Path, probs_seed: int = 0) -> None:
    """3 real and 3 fake videos of 2 frames (and 1 flow image) each, tiny random images."""
    rng = np.random.default_rng(probs_seed)
    for label in ("0_real", "1_fake"):
        for index in range(3):
            for kind, count in (("rgb", 2), ("flow", 1)):
                folder = root / kind / label / f"video_{index}"
                folder.mkdir(parents=True)
                for frame in range(count):
                    cv2.imwrite(str(folder / f"frame_{frame:05d}.png"), rng.integers(0, 256, (36, 40, 3), np.uint8))


def test_test_py_prints_and_writes_the_reference_summary(tmp_path, weights_dir, capsys):
    write_dataset(tmp_path)
    out = tmp_path / "results"
    args = [
        "-for",
        str(tmp_path / "rgb"),
        "-fop",
        str(tmp_path / "flow"),
        "-mor",
        str(weights_dir / "original.pth"),
        "-mop",
        str(weights_dir / "optical.pth"),
        "--arch",
        "resnet18",
        "--use_cpu",
        "--num_workers",
        "0",
        "--crop_size",
        "32",
        "-e",
        str(out / "videos.csv"),
        "-ef",
        str(out / "frames.csv"),
        "--plot",
        str(out / "plots"),
    ]
    script = factories.load_test_script()
    assert run_cli(script.main, script.get_args_parser(), args) == 0
    printed = capsys.readouterr().out.splitlines()
    videos = pd.read_csv(out / "videos.csv")
    labels, scores = videos["flag"].tolist(), videos["pro"].tolist()
    tp = sum(1 for y, s in zip(labels, scores) if y == 1 and s >= 0.5)
    tn = sum(1 for y, s in zip(labels, scores) if y == 0 and s < 0.5)
    expected = {
        "tnr": tn / 3,
        "tpr": tp / 3,
        "acc": (tp + tn) / 6,
        "ap": float(average_precision_score(labels, scores)),
        "auc": float(roc_auc_score(labels, scores)),
        "p": 3,
        "n": 3,
        "tp": tp,
        "tn": tn,
    }
    summary_lines = [line for line in printed if line.split(":")[0] in REFERENCE_KEYS]
    assert summary_lines == [f"{key}:{expected[key]}" for key in REFERENCE_KEYS]
    assert not [line for line in printed if line.startswith("note:")]  # few-reals notes stay in the JSON
    summary = json.loads((out / "videos_summary.json").read_text())
    assert list(summary)[:9] == list(REFERENCE_KEYS)
    assert {key: summary[key] for key in REFERENCE_KEYS} == expected and summary["threshold"] == 0.5
    assert {"eer", "eer_threshold", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr", "skipped"} <= set(summary)
    assert any(note.startswith("tpr_at_1pct_fpr:") for note in summary["notes"])
    assert summary["frame_level"]["original"]["p"] == 6 and summary["frame_level"]["optical"]["n"] == 3
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["histogram.png", "roc.png"]
