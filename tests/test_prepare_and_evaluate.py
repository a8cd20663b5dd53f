"""Preparing frame/flow folders from videos, and test.py on them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import demo
from core.aigvdet.data import prepare
from core.cli import run_cli
from core.errors import InputError
from core.media.sources import read_video_list
from core.metrics.classification import summarize
from tests import factories

test_script = factories.load_test_script()


def prepare_args(videos, out: Path, weights: Path, *extra: str) -> list[str]:
    return [
        "--videos",
        str(videos),
        "--rgb_out",
        str(out / "rgb"),
        "--flow_out",
        str(out / "flow"),
        "--model",
        str(weights / "raft-things.pth"),
        "--iters",
        "4",
        "--use_cpu",
        *extra,
    ]


def evaluate_args(out: Path, weights: Path, *extra: str) -> list[str]:
    return factories.eval_script_argv(out, weights, out / "results", *extra)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, weights_dir, small_video):
    """Two videos (one real, one fake) and one broken file, prepared with RAFT."""
    root = tmp_path_factory.mktemp("prepared")
    for label in ("0_real", "1_fake"):
        (root / "videos" / label).mkdir(parents=True)
    (root / "videos" / "0_real" / "clip.one.avi").write_bytes(small_video.read_bytes())
    factories.write_video(
        root / "videos" / "1_fake" / "other.avi", factories.moving_texture_frames(4, 130, 150, seed=9)
    )
    (root / "videos" / "1_fake" / "broken.mp4").write_text("not a video")
    code = run_cli(
        prepare.main, prepare.get_args_parser(), prepare_args(root / "videos", root, weights_dir, "--batch_size", "3")
    )
    return root, code


def test_prepare_writes_the_official_layout_and_reports_failures(prepared):
    root, code = prepared
    assert code == 1  # one video failed; the others were written
    assert sorted(p.name for p in (root / "rgb" / "0_real" / "clip.one").iterdir()) == [
        f"frame_{i:05d}.png" for i in range(5)
    ]
    assert sorted(p.name for p in (root / "flow" / "0_real" / "clip.one").iterdir()) == [
        f"frame_{i:05d}.png" for i in range(4)
    ]
    assert len(list((root / "flow" / "1_fake" / "other").iterdir())) == 3
    report = pd.read_csv(root / "rgb" / "prepare_report.csv")
    assert dict(zip(report["name"], report["status"].str.split(":").str[0])) == {
        "clip.one": "ok",
        "other": "ok",
        "broken": "failed",
    }
    assert not list(root.rglob("*.partial"))  # the failure left nothing half-written


def test_prepare_resumes_and_redoes_interrupted_videos(prepared, weights_dir):
    root, _ = prepared
    done = root / "rgb" / "0_real" / "clip.one" / "frame_00000.png"
    stamp = done.stat().st_mtime_ns
    (root / "rgb" / "1_fake" / "other.partial").mkdir()  # an interrupted run's leftover
    flow_dir = root / "flow" / "1_fake" / "other"
    for path in flow_dir.iterdir():
        path.unlink()
    flow_dir.rmdir()  # "other" is now incomplete: its flow folder is gone
    run_cli(prepare.main, prepare.get_args_parser(), prepare_args(root / "videos", root, weights_dir))
    report = pd.read_csv(root / "rgb" / "prepare_report.csv").set_index("name")
    assert report.loc["clip.one", "status"] == "skipped (complete)"
    assert report.loc["other", "status"] == "ok"
    assert done.stat().st_mtime_ns == stamp
    assert len(list(flow_dir.iterdir())) == 3
    assert not list(root.rglob("*.partial"))


def test_prepared_folders_score_like_demo(prepared, weights_dir, small_video, capsys):
    root, _ = prepared
    assert (
        run_cli(test_script.main, test_script.get_args_parser(), evaluate_args(root, weights_dir, "--overwrite")) == 0
    )
    videos = pd.read_csv(root / "results" / "videos.csv")
    assert list(videos.columns) == ["name", "pro", "flag", "optical_pro", "original_pro"]
    run_cli(
        demo.main,
        demo.get_args_parser(),
        [
            "--use_cpu",
            "--path",
            str(small_video),
            "--model",
            str(weights_dir / "raft-things.pth"),
            "--iters",
            "4",
            "-mop",
            str(weights_dir / "optical.pth"),
            "-mor",
            str(weights_dir / "original.pth"),
            "--arch",
            "resnet18",
            "--json",
            str(root / "demo.json"),
        ],
    )
    report = json.loads((root / "demo.json").read_text())
    row = videos.set_index("name").loc["clip.one"]
    assert row["pro"] == pytest.approx(report["predict"], abs=1e-5)
    assert row["original_pro"] == pytest.approx(report["original_prob"], abs=1e-5)
    assert row["optical_pro"] == pytest.approx(report["optical_prob"], abs=1e-5)

    frames = pd.read_csv(root / "results" / "frames.csv")
    assert list(frames.columns) == ["original_path", "original_pro", "optical_path", "optical_pro", "flag"]
    clip = frames[frames["original_path"].str.contains("clip.one")]
    assert len(clip) == 5 and clip["optical_path"].isna().tolist() == [False] * 4 + [True]
    np.testing.assert_allclose(clip["original_pro"], report["original_probs"], atol=1e-5)
    summary = json.loads((root / "results" / "videos_summary.json").read_text())
    assert (summary["p"], summary["n"]) == (1, 1) and summary["auc"] is not None
    printed = capsys.readouterr().out
    assert "tnr:" in printed and "auc:" in printed


def test_csvs_append_without_repeating_the_header_or_the_videos_already_there(prepared, weights_dir):
    root, _ = prepared
    out = root / "append"
    args = evaluate_args(root, weights_dir)
    args[args.index("-e") + 1], args[args.index("-ef") + 1] = str(out / "v.csv"), str(out / "f.csv")
    for _ in range(2):  # the reference appended every row again; videos already there are skipped now
        assert run_cli(test_script.main, test_script.get_args_parser(), args) == 0
    lines = (out / "v.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("name,") and not lines[2].startswith("name,")
    # Another dataset (here a copy under another root, same video names) appends to the same CSVs.
    other = out / "other"
    shutil.copytree(root / "rgb", other / "rgb")
    shutil.copytree(root / "flow", other / "flow")
    other_args = list(args)
    other_args[other_args.index("-for") + 1], other_args[other_args.index("-fop") + 1] = (
        str(other / "rgb"),
        str(other / "flow"),
    )
    assert run_cli(test_script.main, test_script.get_args_parser(), other_args) == 0
    assert (out / "v.csv").read_text().splitlines() == lines + lines[1:]
    assert run_cli(test_script.main, test_script.get_args_parser(), args + ["--overwrite"]) == 0
    assert len((out / "v.csv").read_text().splitlines()) == 3


def test_broken_folders_are_recorded_and_the_rest_evaluated(tmp_path, weights_dir, capsys):
    frame = factories.moving_texture_frames(1, 60, 70)[0]
    layout = {"0_real/good": 3, "0_real/empty": 0, "0_real/noflow": 2, "1_fake/corrupt": 2}
    for name, count in layout.items():
        folder = tmp_path / "rgb" / name
        folder.mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(str(folder / f"frame_{i:05d}.png"), frame)
        if name != "0_real/noflow":
            flows = tmp_path / "flow" / name
            flows.mkdir(parents=True)
            for i in range(max(count - 1, 1)):
                cv2.imwrite(str(flows / f"frame_{i:05d}.png"), frame[::-1])
    (tmp_path / "rgb" / "1_fake" / "corrupt" / "frame_00001.png").write_bytes(b"\x89PNG broken")
    assert run_cli(test_script.main, test_script.get_args_parser(), evaluate_args(tmp_path, weights_dir)) == 0
    summary = json.loads((tmp_path / "results" / "videos_summary.json").read_text())
    reasons = {item["video"]: item["reason"] for item in summary["skipped"]}
    assert set(reasons) == {"empty", "noflow", "corrupt"}
    assert "no RGB frames" in reasons["empty"] and "folder missing" in reasons["noflow"]
    assert "unreadable" in reasons["corrupt"]
    assert (summary["n"], summary["p"], summary["auc"], summary["tpr"]) == (1, 0, None, None)
    assert any("no fake videos" in note for note in summary["notes"])
    assert "auc:undefined" in capsys.readouterr().out


def test_empty_root_is_one_clear_error(tmp_path, weights_dir, capsys):
    (tmp_path / "rgb").mkdir()
    assert run_cli(test_script.main, test_script.get_args_parser(), evaluate_args(tmp_path, weights_dir)) == 1
    assert "error: no video could be evaluated" in capsys.readouterr().err


def test_summary_counts_match_the_reference_rule():
    summary = summarize([0, 0, 1, 1, 1], [0.1, 0.5, 0.5, 0.9, 0.2], threshold=0.5)
    assert (summary["tn"], summary["tp"], summary["n"], summary["p"]) == (1, 2, 2, 3)
    assert summary["acc"] == pytest.approx(0.6) and summary["tnr"] == 0.5
    assert summary["auc"] == pytest.approx(0.75)  # 4.5 of 6 (real, fake) pairs ordered, a tie counting half


def test_video_list_file_with_labels_comments_and_relative_paths(tmp_path):
    (tmp_path / "my videos").mkdir()
    (tmp_path / "list.txt").write_text("# real then fake\n\nmy videos/a b.v1.mp4 real\n/abs/c.mp4 1\n")
    items = read_video_list(tmp_path / "list.txt")
    assert [(str(i.path), i.label, i.name) for i in items] == [
        (str(tmp_path / "my videos" / "a b.v1.mp4"), 0, "a b.v1"),
        ("/abs/c.mp4", 1, "c"),
    ]
    # A last word that is not a label belongs to the path; prepare needs every video labelled.
    (tmp_path / "bad.txt").write_text("x.mp4 maybe\n")
    assert read_video_list(tmp_path / "bad.txt")[0].label is None
    with pytest.raises(InputError, match="needs a label.*x.mp4 maybe"):
        read_video_list(tmp_path / "bad.txt", require_labels=True)


def test_weight_free_flow_with_stride_and_cap(tmp_path, small_video):
    (tmp_path / "v" / "0_real").mkdir(parents=True)
    (tmp_path / "v" / "0_real" / "x.avi").write_bytes(small_video.read_bytes())
    args = [
        "--videos",
        str(tmp_path / "v"),
        "--rgb_out",
        str(tmp_path / "rgb"),
        "--flow_out",
        str(tmp_path / "flow"),
        "--flow_method",
        "dis",
        "--stride",
        "2",
        "--max_frames",
        "2",
        "--image_format",
        "jpg",
    ]
    assert run_cli(prepare.main, prepare.get_args_parser(), args) == 0
    assert sorted(p.name for p in (tmp_path / "rgb" / "0_real" / "x").iterdir()) == [
        "frame_00000.jpg",
        "frame_00001.jpg",
    ]
    assert [p.name for p in (tmp_path / "flow" / "0_real" / "x").iterdir()] == ["frame_00000.jpg"]
