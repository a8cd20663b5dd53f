"""The bad-input matrix (issue 11): every input a user can get wrong, through the scripts as they are run.

Each case runs a script in-process (``core.cli.run_cli``, as ``python script.py`` does) and checks the exit
code, that the problem is told in one ``error:`` line (single runs) or a recorded status (batch runs) with no
traceback, and that no result computed earlier is lost. Inputs are tiny and made here; the audio-visual models
are a 32-px, width/8 version of the official architecture (``tests.reliability_factories``).

Output folders that cannot be written are made with a path under a regular file (``notes.txt/out``): the
tests run as root, for whom permission bits do not stop a write.
"""

from __future__ import annotations

import csv
import filecmp
import json
import logging
import os

import cv2
import numpy as np
import pytest

import demo
import detect
import train
from core import atomic
from core.aigvdet import evaluation_tables
from core.aigvdet.data import prepare
from core.aigvdet.training.data import FrameFolder
from core.avforensics import result_files, runner
from core.cli import run_cli
from core.flow import corr_budget
from core.media.faces.clip import FaceClip
from core.media.integrity import declared_frames, frame_shortfall
from tests import factories
from tests.avforensics_factories import write_av_clip
from tests.reliability_factories import (
    av_checkpoint_args,
    av_checkpoint_paths,
    av_checkpoints,
    one_torch_thread,
    truncated_copy,
)
from tests.test_prepare_and_evaluate import test_script


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_torch_thread():
        yield


def one_error_line(capsys) -> str:
    """stderr holds exactly one line, an ``error:`` line (no traceback, nothing else)."""
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


# ----------------------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """One file per kind of bad (and good) video, for both detectors."""
    folder = tmp_path_factory.mktemp("bad videos")
    frames = factories.moving_texture_frames(12, 130, 150, seed=3)
    paths = {
        "good": factories.write_video(folder / "good.avi", frames[:4]),
        "not a video": folder / "notes.mp4",
        "one frame": factories.write_video(folder / "one.avi", frames[:1]),
        "vfr": factories.write_vfr_video(folder / "vfr.mp4", frames[:6], [0, 0.04, 0.1, 0.13, 0.3, 0.34]),
        "tiny frames": factories.write_video(folder / "tiny.avi", factories.moving_texture_frames(3, 64, 80)),
        "av good": write_av_clip(folder / "av good.mp4", frames=9, seed=1),
        "av 30 fps": write_av_clip(folder / "av30.mp4", frames=11, fps=30, seed=2),
        "av no audio": write_av_clip(folder / "silent.mp4", frames=9, audio_rate=None),
        "av too short": write_av_clip(folder / "short.mp4", frames=4),
        "av one frame": write_av_clip(folder / "av one.mp4", frames=1),
    }
    paths["not a video"].write_text("not a video")
    whole = factories.write_vfr_video(folder / "whole.mp4", frames, [i / 25 for i in range(12)])
    paths["truncated"] = truncated_copy(whole, folder / "cut.mp4", keep=0.55)
    paths["av truncated"] = truncated_copy(write_av_clip(folder / "long.mp4", frames=40), folder / "av cut.mp4", 0.5)
    import av

    with av.open(str(folder / "audio only.mp4"), "w") as container:  # an audio track and no video
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        tone = (0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 330)).astype(np.float32)[None]
        for start in range(0, tone.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start : start + 1024]), "fltp", "mono")
            chunk.sample_rate, chunk.pts = 16000, start
            container.mux(stream.encode(chunk))
        container.mux(stream.encode())
    paths["audio only"] = folder / "audio only.mp4"
    return paths


@pytest.fixture(scope="module")
def av_models(tmp_path_factory):
    return av_checkpoints(tmp_path_factory.mktemp("av models"))


def demo_args(weights, video, *extra) -> list[str]:
    return factories.demo_argv(weights, video, *extra, raft_iters=2)


def run_demo(argv) -> int:
    return run_cli(demo.main, demo.get_args_parser(), argv)


# ----------------------------------------------------------------------------------------- single runs (demo.py)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "video not found"),
        ("not a video", "cannot read video"),
        ("audio only", "no video stream"),
        ("one frame", "1 decodable frame(s)"),
        ("tiny frames", "RAFT needs both sides of at least 121 pixels"),
    ],
)
def test_demo_unusable_video_is_one_line_and_keeps_the_earlier_report(
    tmp_path, weights_dir, videos, capsys, case, message
):
    report = tmp_path / "report.json"
    report.write_text('{"earlier": true}')
    video = tmp_path / "missing.mp4" if case == "missing" else videos[case]
    assert run_demo(demo_args(weights_dir, video, "--json", str(report))) == 1
    assert message in one_error_line(capsys)
    assert report.read_text() == '{"earlier": true}'  # nothing computed, nothing replaced


def test_demo_variable_frame_rate_and_truncated_videos_are_scored_the_second_with_a_warning(
    tmp_path, weights_dir, videos, capsys
):
    assert run_demo(demo_args(weights_dir, videos["vfr"], "--json", str(tmp_path / "vfr.json"))) == 0
    assert "warnings" not in json.loads((tmp_path / "vfr.json").read_text())  # only when there is one
    capsys.readouterr()
    assert run_demo(demo_args(weights_dir, videos["truncated"], "--json", str(tmp_path / "cut.json"))) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].startswith("original prob")  # stdout: the reference's lines
    (warning,) = [line for line in captured.err.splitlines() if line.strip()]
    assert warning.startswith("warning: ") and "truncated: decoded" in warning and "of 12 frames" in warning
    report = json.loads((tmp_path / "cut.json").read_text())
    assert report["warnings"] == [f"truncated: decoded {report['frame_count']} of 12 frames"]
    assert report["frame_count"] < 12


def test_demo_refuses_what_cannot_fit_before_any_work(weights_dir, videos, monkeypatch, capsys):
    # "Very large" without a 4K video: the memory that is free is made tiny instead.
    monkeypatch.setattr(corr_budget, "available_memory_bytes", lambda device: 1000)
    assert run_demo(demo_args(weights_dir, videos["good"])) == 1
    line = one_error_line(capsys)
    assert "152x136 frames" in line and "--corr_mode on_the_fly" in line


@pytest.mark.parametrize("case", ["missing", "other architecture", "corrupt"])
def test_demo_bad_checkpoint_is_one_line_naming_it(tmp_path, weights_dir, videos, capsys, case):
    checkpoint = {
        "missing": tmp_path / "checkpoints" / "original.pth",
        "other architecture": weights_dir / "raft-things.pth",
        "corrupt": tmp_path / "corrupt.pth",
    }[case]
    if case == "corrupt":
        checkpoint.write_bytes(b"PK\x03\x04 cut short")
    argv = demo_args(weights_dir, videos["good"])
    argv[argv.index("-mor") + 1] = str(checkpoint)
    assert run_demo(argv) == 1
    assert str(checkpoint) in one_error_line(capsys)


def test_unwritable_outputs_are_refused_before_any_work(tmp_path, weights_dir, videos, av_models, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a regular file where a folder is needed")
    cases = [
        (demo.main, demo.get_args_parser(), demo_args(weights_dir, videos["good"], "--json", str(blocker / "r.json"))),
        (
            demo.main,
            demo.get_args_parser(),
            demo_args(weights_dir, videos["good"], "--folder_original_path", str(blocker / "frames")),
        ),
        (
            detect.main,
            detect.get_args_parser(),
            ["--test_video_path", str(videos["av good"]), "--output_dir", str(blocker / "out")]
            + av_checkpoint_args(av_models),
        ),
        (test_script.main, test_script.get_args_parser(), ["-e", str(blocker / "v.csv")]),
        (
            prepare.main,
            prepare.get_args_parser(),
            ["--videos", str(videos["good"]), "--rgb_out", str(blocker / "rgb"), "--flow_out", str(tmp_path / "f")],
        ),
    ]
    for main, parser, argv in cases:
        assert run_cli(main, parser, argv) == 1
        line = one_error_line(capsys)
        assert f"{blocker} is a file, not a folder" in line, line
    assert blocker.read_text() == "a regular file where a folder is needed"


def test_a_report_that_fails_to_write_after_the_work_keeps_the_printed_results(
    tmp_path, weights_dir, videos, monkeypatch, capsys
):
    def disk_full(path, text, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_text", disk_full)
    assert run_demo(demo_args(weights_dir, videos["good"], "--json", str(tmp_path / "r.json"))) == 1
    captured = capsys.readouterr()
    assert "predict:" in captured.out  # the results were printed before the write failed
    (line,) = [line for line in captured.err.splitlines() if line.strip()]
    assert line.startswith("error: cannot write") and "No space left on device" in line
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.glob(".r.json*"))


# ----------------------------------------------------------------------------------------- batch runs (detect.py)


def test_detect_records_a_status_for_every_bad_video_and_reads_awkward_list_files(tmp_path, videos, av_models, capsys):
    listing = tmp_path / "my list.v2.txt"
    folder = videos["av good"].parent
    entries = [
        "# a comment, then a blank line",
        "",
        f"../{tmp_path.name}/../{folder.name}/./av good.mp4",  # dots and a space, relative to the list's folder
        "   ",
        str(folder / "missing.mp4"),
        str(videos["not a video"]),
        str(videos["audio only"]),
        str(videos["av one frame"]),
        str(videos["av too short"]),
        str(videos["av no audio"]),
        str(videos["av 30 fps"]),
        str(videos["av truncated"]) + "   ",
    ]
    listing.write_text("\n".join(entries) + "\n")
    out = tmp_path / "out"
    argv = ["--test_video_path", str(listing), "--output_dir", str(out), "--face_crop", "never", "--max-len", "20"]
    assert run_cli(detect.main, detect.get_args_parser(), argv + ["--no_progress"] + av_checkpoint_args(av_models)) == 0
    assert "Traceback" not in capsys.readouterr().err
    with open(out / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    status = [row["status"] for row in rows]
    assert len(rows) == 9
    assert status[0] == "ok" and rows[0]["path"] == str(listing.parent / entries[2])  # as listed, made absolute
    assert status[1] == "file not found"
    assert status[2].startswith("cannot decode")
    assert status[3] == "no video track"
    assert status[4].startswith("too short: 1 frames") and status[5].startswith("too short: 4 frames")
    assert status[6] == "no audio track"
    assert status[7] == "ok"  # 30 fps, resampled to the 25 the detector assumes
    assert status[8].startswith("truncated: decoded ") and status[8].endswith(" of 40 frames")
    scores = np.load(out / "testing_scores.npy")
    assert np.isfinite(scores[[0, 7, 8]]).all() and np.isnan(scores[1:7]).all()  # a truncated file keeps its score
    log_lines = (out / "output.log").read_text().splitlines()
    assert len(log_lines) == 9 and "(truncated: decoded" in log_lines[8]


def test_detect_missing_checkpoint_is_one_line_and_starts_nothing(tmp_path, videos, av_models, capsys):
    paths = dict(av_models, sync=tmp_path / "checkpoints" / "sync_model.pth")
    argv = ["--test_video_path", str(videos["av good"]), "--output_dir", str(tmp_path / "out")]
    assert run_cli(detect.main, detect.get_args_parser(), argv + av_checkpoint_args(paths)) == 1
    assert "sync_model.pth" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------- prepare and training


def test_prepare_a_single_video_is_one_line(tmp_path, videos, capsys):
    argv = ["--videos", str(videos["good"]), "--rgb_out", str(tmp_path / "r"), "--flow_out", str(tmp_path / "f")]
    assert run_cli(prepare.main, prepare.get_args_parser(), argv + ["--flow_method", "dis"]) == 1
    assert "every video needs a label" in one_error_line(capsys)


def test_prepare_records_frames_too_small_for_raft_and_goes_on(tmp_path, weights_dir, videos, capsys):
    for label, name in (("0_real", "tiny frames"), ("1_fake", "good")):
        (tmp_path / "videos" / label).mkdir(parents=True, exist_ok=True)
        (tmp_path / "videos" / label / videos[name].name).write_bytes(videos[name].read_bytes())
    argv = [
        "--videos",
        str(tmp_path / "videos"),
        "--rgb_out",
        str(tmp_path / "rgb"),
        "--flow_out",
        str(tmp_path / "flow"),
        "--model",
        str(weights_dir / "raft-things.pth"),
        "--iters",
        "2",
        "--use_cpu",
    ]
    assert run_cli(prepare.main, prepare.get_args_parser(), argv) == 1  # one failed, the other done
    assert "Traceback" not in capsys.readouterr().err
    with open(tmp_path / "rgb" / "prepare_report.csv", newline="") as handle:
        report = {row["name"]: row["status"] for row in csv.DictReader(handle)}
    assert report["good"] == "ok" and report["tiny"].startswith("failed: frames of 80x64: RAFT needs")
    assert len(list((tmp_path / "flow" / "1_fake" / "good").iterdir())) == 3


def test_an_unreadable_training_image_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    for label in ("0_real", "1_fake"):
        folder = tmp_path / label / "video"
        folder.mkdir(parents=True)
        for index in range(2):
            cv2.imwrite(str(folder / f"frame_{index:05d}.png"), np.full((8, 8, 3), 40 * index, np.uint8))
    broken = tmp_path / "1_fake" / "video" / "frame_00000.png"
    broken.write_bytes(b"\x89PNG not really")
    dataset = FrameFolder(tmp_path, transform=lambda image: image)
    with caplog.at_level(logging.WARNING):
        image, label = dataset[2]  # the broken file: the next image stands in
    assert label == 1 and image.shape == (8, 8, 3)
    assert str(broken) in caplog.text


def test_flags_parse_wherever_they_stand_and_workers_fit_the_machine():
    args = train.get_args_parser().parse_args(["datasets", "a", "lr", "1e-5", "--exp_name", "X", "nepoch", "2"])
    assert args.exp_name == "X" and args.opts == ["datasets", "a", "lr", "1e-5", "nepoch", "2"]
    assert test_script.get_args_parser().parse_args([]).num_workers == min(4, os.cpu_count() or 1)


# ----------------------------------------------------------------------------------------- interrupted and rerun
DETECT_FILES = ("scores.csv", "output.log", "testing_scores.npy", "testing_score.npy", "segments.csv")


@pytest.fixture(scope="module")
def av_setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("avf_rerun")
    av_checkpoints(folder)
    for index in range(3):
        write_av_clip(folder / f"v{index}.mp4", frames=9, seed=index)
    (folder / "list.txt").write_text("v0.mp4\nmissing.mp4\nv1.mp4\nv2.mp4\n")
    return folder


def detect_argv(folder, out, *extra) -> list[str]:
    return [
        "--test_video_path",
        str(folder / "list.txt"),
        *av_checkpoint_args(av_checkpoint_paths(folder)),
        "--device",
        "cpu",
        "--face_crop",
        "never",
        "--no_progress",
        "--max-len",
        "4",
        "--whole_video",
        "--window_stride",
        "2",
        "--output_dir",
        str(out),
        *extra,
    ]


def run_detect(argv) -> int:
    return run_cli(detect.main, detect.get_args_parser(), argv)


def interrupt_after(monkeypatch, module, name: str, calls: int) -> list[int]:
    """Make ``module.name`` raise KeyboardInterrupt (a Ctrl-C) on its ``calls + 1``-th call."""
    original, seen = getattr(module, name), []

    def wrapped(*args, **kwargs):
        seen.append(1)
        if len(seen) > calls:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return seen


def test_detect_interrupted_then_rerun_ends_as_an_uninterrupted_run(tmp_path, av_setup, monkeypatch, capsys):
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    assert run_detect(detect_argv(av_setup, clean)) == 0
    with monkeypatch.context() as patch:
        interrupt_after(patch, runner, "_score", 2)  # v0 and missing.mp4 done, Ctrl-C while v1 is scored
        assert run_detect(detect_argv(av_setup, resumed)) == 130
    assert "error: interrupted" in capsys.readouterr().err
    assert (resumed / "scores.csv").read_text().count("\n") == 3  # header + the two finished videos
    # A kill in the middle of a write leaves half a line: dropped on the rerun.
    with open(resumed / "scores.csv", "ab") as handle:
        handle.write(b"/some/v1.mp4,1.23")
    scored = interrupt_after(monkeypatch, runner, "_score", 10**6)
    assert run_detect(detect_argv(av_setup, resumed)) == 0
    assert len(scored) == 2  # only v1 and v2 were scored again
    for name in DETECT_FILES:
        assert filecmp.cmp(clean / name, resumed / name, shallow=False), name
    # Nothing new to do: a third run scores nothing and changes nothing.
    before = (resumed / "scores.csv").read_bytes()
    assert run_detect(detect_argv(av_setup, resumed)) == 0 and len(scored) == 2
    assert (resumed / "scores.csv").read_bytes() == before
    np.testing.assert_array_equal(np.load(resumed / "testing_scores.npy"), np.load(clean / "testing_scores.npy"))


def test_detect_refuses_other_settings_and_overwrite_starts_over(tmp_path, av_setup, capsys):
    out = tmp_path / "out"
    assert run_detect(detect_argv(av_setup, out)) == 0
    before = {name: (out / name).read_bytes() for name in DETECT_FILES}
    capsys.readouterr()
    assert run_detect(detect_argv(av_setup, out, "--lam", "1")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "lam: 0.0 -> 1.0" in err[0] and "--overwrite" in err[0]
    assert {name: (out / name).read_bytes() for name in DETECT_FILES} == before  # nothing lost
    assert run_detect(detect_argv(av_setup, out, "--lam", "1", "--overwrite")) == 0
    assert (out / "scores.csv").read_bytes() != before["scores.csv"]
    assert (out / "scores.csv").read_text().count("\n") == 5


@pytest.fixture(scope="module")
def image_dataset(tmp_path_factory):
    """Three videos of 3 frames and 2 flow images each (64x64 PNGs), in the official layout."""
    root = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(0)
    for label, name in (("0_real", "a"), ("0_real", "b"), ("1_fake", "c")):
        for branch, count in (("rgb", 3), ("flow", 2)):
            folder = root / branch / label / name
            folder.mkdir(parents=True)
            for index in range(count):
                cv2.imwrite(str(folder / f"frame_{index:05d}.png"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return root


def evaluate_argv(root, weights, out, *extra) -> list[str]:
    return factories.eval_script_argv(root, weights, out, "--crop_size", "64", *extra)


def run_test_script(argv) -> int:
    return run_cli(test_script.main, test_script.get_args_parser(), argv)


def test_test_py_writes_rows_as_videos_finish_and_a_rerun_repeats_none(
    tmp_path, image_dataset, weights_dir, monkeypatch, capsys
):
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    assert run_test_script(evaluate_argv(image_dataset, weights_dir, clean)) == 0
    clean_out = capsys.readouterr().out

    # Ctrl-C after the second video's frame rows, before its video row: the first video is kept.
    original = evaluation_tables.EvaluationTables.add
    calls = []

    def add_then_interrupt(self, video):
        calls.append(video.name)
        if len(calls) == 2:
            self.frames.append_rows(evaluation_tables.frame_rows(video))  # its frame rows only
            raise KeyboardInterrupt
        original(self, video)

    with monkeypatch.context() as patch:
        patch.setattr(evaluation_tables.EvaluationTables, "add", add_then_interrupt)
        assert run_test_script(evaluate_argv(image_dataset, weights_dir, resumed)) == 130
    assert (resumed / "videos.csv").read_text().splitlines()[1:][0].startswith("a,")
    capsys.readouterr()
    assert run_test_script(evaluate_argv(image_dataset, weights_dir, resumed)) == 0
    assert capsys.readouterr().out == clean_out.replace(str(clean), str(resumed))
    for name in ("videos.csv", "frames.csv", "videos_summary.json"):
        assert filecmp.cmp(clean / name, resumed / name, shallow=False), name

    # The same checkpoints again: no row is repeated (the reference would append all of them again).
    assert run_test_script(evaluate_argv(image_dataset, weights_dir, resumed)) == 0
    assert filecmp.cmp(clean / "videos.csv", resumed / "videos.csv", shallow=False)
    # Other checkpoints: refused in one line; --overwrite starts over.
    capsys.readouterr()
    swapped = evaluate_argv(image_dataset, weights_dir, resumed)
    swapped[swapped.index("-mor") + 1], swapped[swapped.index("-mop") + 1] = (
        str(weights_dir / "optical.pth"),
        str(weights_dir / "original.pth"),
    )
    assert run_test_script(swapped) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other settings" in err[0] and "--overwrite" in err[0]
    assert filecmp.cmp(clean / "videos.csv", resumed / "videos.csv", shallow=False)
    assert run_test_script(swapped + ["--overwrite"]) == 0
    assert (resumed / "videos.csv").read_text().count("\n") == 4


def test_all_faces_rows_of_a_video_cut_short_are_dropped_and_the_arrays_take_each_main_track(tmp_path):
    inputs = ["two.mp4", "one.mp4"]

    def writer(**kwargs):
        return result_files.ResultWriter(tmp_path, inputs, False, settings={"s": 1}, all_faces=True, **kwargs)

    first = writer()
    faces = [FaceClip(None, "ok", 0, main=False), FaceClip(None, "ok", 1, main=True)]
    for face, score in zip(faces, (1.5, 2.5)):
        first.add(0, "two.mp4", score, 3, "ok", None, face)
    first.finish_video("two.mp4", faces)
    first.add(1, "one.mp4", 9.5, 3, "ok", None, FaceClip(None, "ok", 0))  # killed before the video's end
    first.close()
    again = writer()
    assert again.done == {"two.mp4"}  # one.mp4's lone row was dropped: it is scored again
    np.testing.assert_array_equal(again.scores, [2.5, np.nan])  # the main track's score, not the first row's
    assert (tmp_path / "output.log").read_text().splitlines() == [
        "two.mp4: The score of this video is 1.5 [face track 0]",
        "two.mp4: The score of this video is 2.5 [face track 1]",
    ]
    again.close()


def test_matroska_audio_longer_than_the_video_is_not_called_truncated(tmp_path):
    # Matroska gives no per-stream duration in the header; its container duration is the longer audio's.
    clip = write_av_clip(tmp_path / "clip.mkv", frames=8, audio_seconds=3)
    assert declared_frames(clip) == 8  # the video stream's DURATION tag, not 3 s x 25 fps
    assert frame_shortfall(clip, 8) is None
    assert frame_shortfall(clip, 4) == "truncated: decoded 4 of 8 frames"
