"""detect.py with labels and a calibration, demo.py with a calibration; both unchanged without them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import demo
import detect
from core.cli import run_cli
from core.forensics.batch_summary import labelled_summary, result_columns
from core.forensics.calibration import fit_calibration, save_calibration
from core.metrics.classification import summarize
from tests import factories
from tests.avforensics_factories import (
    save_random_av_checkpoints,
    write_av_clip,
)


@pytest.fixture(scope="module")
def av_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("avf_checkpoints_labelled")
    return save_random_av_checkpoints(folder) + [
        "--device",
        "cpu",
        "--no_progress",
    ]


@pytest.fixture(scope="module")
def av_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("av_clips")
    for seed in range(2):
        write_av_clip(folder / f"clip{seed}.mp4", frames=7, seed=seed)
    return folder


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def detect_run(argv) -> int:
    return run_cli(detect.main, detect.get_args_parser(), argv)


def test_detect_without_labels_or_calibration_writes_the_same_columns(tmp_path, av_checkpoints):
    # A missing video: nothing to score (fast), yet scores.csv is written with its header.
    assert (
        detect_run(
            ["--test_video_path", str(tmp_path / "missing.mp4"), "--output_dir", str(tmp_path / "out")] + av_checkpoints
        )
        == 1
    )
    assert read_rows(tmp_path / "out" / "scores.csv")[0] == [
        "path",
        "score",
        "steps",
        "status",
        "face_crop",
        "face_status",
    ]
    assert not (tmp_path / "out" / "summary.json").exists()


def test_detect_with_labels_and_calibration(tmp_path, av_checkpoints, av_clips, capsys):
    (tmp_path / "list.txt").write_text(
        f"{av_clips / 'clip0.mp4'} real\n{av_clips / 'clip1.mp4'} fake\n{tmp_path / 'missing.mp4'} 1\n"
    )
    calibration = fit_calibration(np.linspace(-1.0, 1.0, 50), detector="avforensics", score_kind="anomaly")
    save_calibration(calibration, tmp_path / "cal.json")
    out = tmp_path / "out"
    assert (
        detect_run(
            [
                "--test_video_path",
                str(tmp_path / "list.txt"),
                "--output_dir",
                str(out),
                "--calibration",
                str(tmp_path / "cal.json"),
                "--plot",
                str(out / "plots"),
            ]
            + av_checkpoints
        )
        == 0
    )
    header, *rows = read_rows(out / "scores.csv")
    assert header == ["path", "score", "steps", "status", "face_crop", "face_status", "label", "calibrated", "verdict"]
    assert [row[6] for row in rows] == ["0", "1", "1"]
    scores = [float(row[1]) for row in rows]
    for row, score in zip(rows[:2], scores):
        assert float(row[7]) == float(calibration.probability(score))
        assert row[8] == calibration.verdict(score)
    assert rows[2][3] == "file not found" and rows[2][7:] == ["", ""]
    summary = json.loads((out / "summary.json").read_text())
    expected = summarize([0, 1], scores[:2], calibration.threshold)
    assert {k: summary[k] for k in ("auc", "ap", "tp", "tn", "threshold")} == {
        k: expected[k] for k in ("auc", "ap", "tp", "tn", "threshold")
    }
    assert summary["skipped"] == [{"video": str(tmp_path / "missing.mp4"), "label": 1, "reason": "file not found"}]
    assert summary["threshold_source"] == "calibration"
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["histogram.png", "roc.png"]
    assert f"auc:{summary['auc']}" in capsys.readouterr().out


def test_labels_only_give_threshold_free_metrics_and_a_label_column():
    names, values = result_columns([0, 1], None)
    assert names == ["label"] and values(1, 2.5) == [1]
    assert result_columns(None, None) is None
    summary = labelled_summary(["a", "b", "c"], [0, 1, 1], np.array([0.5, 2.0, np.nan]))
    assert summary["auc"] == 1.0 and summary["acc"] is None and summary["threshold"] is None
    assert summary["skipped"] == [{"video": "c", "label": 1, "reason": "no score"}]


def test_detect_refuses_a_calibration_of_another_detector(tmp_path, av_checkpoints, av_clips, capsys):
    save_calibration(fit_calibration([0.1, 0.2], detector="aigvdet", score_kind="probability"), tmp_path / "c.json")
    assert (
        detect_run(
            [
                "--test_video_path",
                str(av_clips / "clip0.mp4"),
                "--output_dir",
                str(tmp_path / "out"),
                "--calibration",
                str(tmp_path / "c.json"),
            ]
            + av_checkpoints
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made for the aigvdet detector, not for avforensics" in err[0]
    assert not (tmp_path / "out").exists()  # refused before any work


def demo_argv(weights_dir, video, *extra):
    return factories.demo_argv(weights_dir, video, *extra, raft_iters=None, crop_size=32)


def test_demo_prints_and_records_calibrated_values_after_the_reference_lines(tmp_path, weights_dir, capsys):
    video = factories.write_video(tmp_path / "tiny.avi", factories.moving_texture_frames(3, 40, 48))
    calibration = fit_calibration(
        np.linspace(0.2, 0.6, 30), np.linspace(0.4, 0.9, 30), detector="aigvdet", score_kind="probability"
    )
    save_calibration(calibration, tmp_path / "cal.json")
    argv = demo_argv(
        weights_dir, video, "--json", str(tmp_path / "r.json"), "--calibration", str(tmp_path / "cal.json")
    )
    assert demo.main(demo.get_args_parser().parse_args(argv)) == 0
    lines = capsys.readouterr().out.splitlines()
    report = json.loads((tmp_path / "r.json").read_text())
    # The reference's lines first, unchanged; its verdict keeps its key; the calibrated values come after.
    assert lines[1:5] == [
        f"original prob {report['original_prob']}",
        f"optical prob {report['optical_prob']}",
        f"predict:{report['predict']}",
        "Fake video" if report["predict"] >= 0.5 else "Real video",
    ]
    assert report["verdict"] == ("fake" if report["predict"] >= 0.5 else "real")
    assert report["calibrated"] == float(calibration.probability(report["predict"]))
    assert report["calibrated_verdict"] == calibration.verdict(report["predict"])
    assert report["calibrated_threshold"] == calibration.threshold and report["calibration_file"].endswith("cal.json")
    assert lines[5:] == [
        f"calibrated prob {report['calibrated']} ({calibration.meaning})",
        f"calibrated verdict: {calibration.verdict(report['predict']).capitalize()} video "
        f"(threshold {calibration.threshold} for 1.00% false positives)",
    ]


def test_demo_refuses_a_calibration_of_another_detector(tmp_path, weights_dir, capsys):
    save_calibration(fit_calibration([1.0, 2.0], detector="avforensics", score_kind="anomaly"), tmp_path / "c.json")
    argv = demo_argv(weights_dir, tmp_path / "none.avi", "--calibration", str(tmp_path / "c.json"))
    assert run_cli(demo.main, demo.get_args_parser(), argv) == 1
    assert "made for the avforensics detector, not for aigvdet" in capsys.readouterr().err
