"""The synthetic world end to end: generate, train both branches, load the checkpoints in demo.py and test.py."""

from __future__ import annotations

import json

import cv2
import pytest

import demo
import test as test_script
from core.aigvdet.synthetic import WorldSpec, generate
from core.aigvdet.training import build_config, train
from core.cli import run_cli

# Small frames keep training fast; demo.py's RAFT needs 121+ pixels, so its video comes from a second world.
SPEC = WorldSpec(train=64, val=16, test=2, frames=2, height=64, width=64, seed=5, name="synth")
DEMO_SPEC = WorldSpec(train=0, val=0, test=1, frames=3, seed=6, name="synth")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("world"), SPEC, show_progress=False)


def test_world_layout_frames_flows_and_videos(world):
    frames = sorted((world / "rgb" / "train" / "synth" / "1_fake" / "video_00000").glob("*.png"))
    flows = sorted((world / "flow" / "train" / "synth" / "1_fake" / "video_00000").glob("*.png"))
    assert [p.name for p in frames] == ["frame_00000.png", "frame_00001.png"] and len(flows) == 1
    assert cv2.imread(str(frames[0])).shape == (64, 64, 3)
    for split, count in (("train", 64), ("val", 16), ("test", 2)):
        for label in ("0_real", "1_fake"):
            assert len(list((world / "videos" / split / "synth" / label).glob("*.avi"))) == count
            assert len(list((world / "flow" / split / "synth" / label).iterdir())) == count


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory):
    """The flow branch for 3 epochs; the RGB branch for one step, only for a checkpoint (it needs the
    quickstart's larger world to learn: with this one it memorises scenes; see the README's figures)."""
    exp_root = tmp_path_factory.mktemp("exp")
    results = {}
    for branch, epochs, steps in (("rgb", 1, 1), ("flow", 3, 0)):
        cfg = build_config(
            branch,
            None,
            None,
            [
                "dataset_root",
                str(world / branch),
                "exp_root",
                str(exp_root),
                "datasets",
                "synth",
                "datasets_test",
                "synth",
                "arch",
                "resnet18",
                "pretrained",
                "False",
                "cropSize",
                "48",
                "batch_size",
                "16",
                "num_workers",
                "0",
                "nepoch",
                str(epochs),
                "seed",
                "1",
                "lr",
                "3e-4",
                "max_train_steps",
                str(steps),
            ],
        )
        results[branch] = train(cfg, show_progress=False)
    return exp_root, results


@pytest.mark.slow  # trains
def test_flow_branch_learns_the_synthetic_artefacts(trained):
    history = trained[1]["flow"].history
    assert max(row["AUC"] for row in history) > 0.7, history  # chance is 0.5; ~0.85 measured


@pytest.mark.slow  # trains
def test_checkpoints_run_in_demo_and_test(trained, world, weights_dir, tmp_path, capsys):
    ckpt = {branch: trained[0] / branch / "ckpt" / "model_epoch_best.pth" for branch in ("rgb", "flow")}
    classifiers = ["-mop", str(ckpt["flow"]), "-mor", str(ckpt["rgb"]), "--arch", "resnet18"]
    video = (
        generate(tmp_path / "demo_world", DEMO_SPEC, show_progress=False) / "videos/test/synth/1_fake/video_00000.avi"
    )
    argv = [
        "--use_cpu",
        "--path",
        str(video),
        "--model",
        str(weights_dir / "raft-things.pth"),
        "--iters",
        "2",
        *classifiers,
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert run_cli(demo.main, demo.get_args_parser(), argv) == 0
    assert json.loads((tmp_path / "r.json").read_text())["frame_count"] == 3
    argv = [
        "-for",
        str(world / "rgb" / "test" / "synth"),
        "-fop",
        str(world / "flow" / "test" / "synth"),
        *classifiers,
        "--use_cpu",
        "-e",
        str(tmp_path / "videos.csv"),
        "-ef",
        str(tmp_path / "frames.csv"),
        "--num_workers",
        "0",
    ]
    assert run_cli(test_script.main, test_script.get_args_parser(), argv) == 0
    assert len((tmp_path / "videos.csv").read_text().strip().splitlines()) == 1 + 4
