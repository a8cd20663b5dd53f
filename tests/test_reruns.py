"""Reruns and interruptions: detect.py and test.py keep what is done, skip it, and end up as an uninterrupted run."""

from __future__ import annotations

import filecmp

import cv2
import numpy as np
import pytest

import detect
from core.aigvdet import evaluation_tables
from core.avforensics import result_files, runner
from core.cli import run_cli
from core.media.faces.clip import FaceClip
from tests.avforensics_factories import write_av_clip
from tests.reliability_factories import av_checkpoint_args, av_checkpoint_paths, av_checkpoints, one_torch_thread
from tests.test_prepare_and_evaluate import test_script


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_torch_thread():
        yield


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
    return [
        "-for",
        str(root / "rgb"),
        "-fop",
        str(root / "flow"),
        "-mor",
        str(weights / "original.pth"),
        "-mop",
        str(weights / "optical.pth"),
        "--arch",
        "resnet18",
        "--crop_size",
        "64",
        "--use_cpu",
        "--num_workers",
        "0",
        "-e",
        str(out / "videos.csv"),
        "-ef",
        str(out / "frames.csv"),
        *extra,
    ]


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
