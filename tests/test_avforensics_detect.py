"""detect.py end to end on tiny clips: list handling, per-video statuses, outputs, checkpoint errors."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import detect
from core.cli import run_cli
from core.runs import progress
from tests.avforensics_factories import save_random_av_checkpoints, write_av_clip


@pytest.fixture(scope="module")
def checkpoint_args(tmp_path_factory) -> list[str]:
    """Random weights in the official layouts (bare state dicts), and the PCA as an .npz."""
    return save_random_av_checkpoints(tmp_path_factory.mktemp("avf_checkpoints"))


def _run(argv) -> int:
    return run_cli(detect.main, detect.get_args_parser(), argv)


def test_list_of_videos_with_bad_entries(tmp_path, checkpoint_args):
    videos = tmp_path / "my videos"
    (videos / "clips").mkdir(parents=True)
    good = write_av_clip(videos / "clips" / "a clip.v1.mp4", frames=7, seed=1)  # 3 steps
    write_av_clip(videos / "silent.mp4", frames=7, audio_rate=None)
    write_av_clip(videos / "short.mp4", frames=4)
    (videos / "broken.mp4").write_text("not a video")
    listing = videos / "list.txt"
    listing.write_text(
        f"# test list\nclips/a clip.v1.mp4\n\nmissing.mp4\nsilent.mp4\n  {good}  \nshort.mp4\nbroken.mp4\n"
    )
    out = tmp_path / "out"
    code = _run(
        [
            "--test_video_path",
            str(listing),
            "--device",
            "cpu",
            "--lam",
            "1",
            "--output_dir",
            str(out),
            "--save_distributions",
            "--no_progress",
            "--n_workers",
            "2",
            "--bs",
            "4",
        ]
        + checkpoint_args
    )
    assert code == 0

    with open(out / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == [
        str(videos / "clips" / "a clip.v1.mp4"),
        str(videos / "missing.mp4"),
        str(videos / "silent.mp4"),
        str(good),
        str(videos / "short.mp4"),
        str(videos / "broken.mp4"),
    ]
    statuses = [r["status"] for r in rows]
    assert statuses[0] == "ok" and statuses[3] == "ok"
    assert statuses[1] == "file not found"
    assert statuses[2] == "no audio track"
    assert statuses[4].startswith("too short: 4 frames")
    assert statuses[5].startswith("cannot decode")
    assert [r["steps"] for r in rows] == ["3", "0", "0", "3", "0", "0"]

    for name in ("testing_scores.npy", "testing_score.npy"):
        scores = np.load(out / name)
        assert scores.shape == (6,)
        assert np.isfinite(scores[[0, 3]]).all() and np.isnan(scores[[1, 2, 4, 5]]).all()
        assert scores[0] == pytest.approx(scores[3], abs=1e-6)  # the same clip, named two ways
        assert float(rows[0]["score"]) == scores[0]
    log_lines = (out / "output.log").read_text().splitlines()
    assert len(log_lines) == 6 and "The score of this video is" in log_lines[0]
    logits = np.load(out / "distributions" / "0_a clip.v1.npy")
    assert logits.shape == (3, 31) and np.isfinite(logits).all()
    assert sorted(p.name for p in (out / "distributions").iterdir()) == ["0_a clip.v1.npy", "3_a clip.v1.npy"]


def test_no_progress_hides_every_bar_the_videos_bar_too(tmp_path, checkpoint_args, monkeypatch):
    bars = []

    def recording(*args, **kwargs):
        bar = progress.progress_bar(*args, **kwargs)
        bars.append((args[1], bar.disable))  # (total, desc, ...)
        return bar

    monkeypatch.setattr("core.avforensics.runner.progress_bar", recording)
    monkeypatch.setattr("core.avforensics.features.progress_bar", recording)
    clip = write_av_clip(tmp_path / "a.mp4", frames=7, seed=1)
    argv = ["--test_video_path", str(clip), "--device", "cpu", "--output_dir", str(tmp_path / "out"), "--no_progress"]
    assert _run(argv + checkpoint_args) == 0
    assert "videos" in [desc for desc, _ in bars] and all(hidden for _, hidden in bars)


def test_single_missing_video_writes_its_row_and_fails(tmp_path, checkpoint_args, capsys):
    out = tmp_path / "out"
    code = _run(
        ["--test_video_path", str(tmp_path / "nope.mp4"), "--device", "cpu", "--output_dir", str(out), "--no_progress"]
        + checkpoint_args
    )
    assert code == 1
    assert "error: no video could be scored" in capsys.readouterr().err
    with open(out / "scores.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["status"] == "file not found" and math.isnan(float(row["score"]))


def test_missing_checkpoint_is_one_error_line_naming_the_file(tmp_path, checkpoint_args, capsys):
    clip = write_av_clip(tmp_path / "clip.mp4", frames=7)
    args = list(checkpoint_args)  # the fixture's list is shared by the module
    args[1] = str(tmp_path / "checkpoints" / "sync_model.pth")
    code = _run(["--test_video_path", str(clip), "--device", "cpu", "--output_dir", str(tmp_path / "out")] + args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error:") and "sync_model.pth" in err[0] and "drive.google.com" in err[0]
    assert not (tmp_path / "out").exists()  # nothing started before the checkpoints were all found


def test_max_len_beyond_the_learned_positions_is_refused(tmp_path, checkpoint_args, capsys):
    clip = write_av_clip(tmp_path / "clip.mp4", frames=7)
    code = _run(
        ["--test_video_path", str(clip), "--device", "cpu", "--max-len", "80", "--output_dir", str(tmp_path / "out")]
        + checkpoint_args
    )
    assert code == 1 and "max_len 80" in capsys.readouterr().err
