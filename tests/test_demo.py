"""demo.py end to end on a tiny synthetic video with random official-format weights."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

import demo
from core.aigvdet import AIGVDetPipeline, load_classifier
from core.cli import run_cli
from core.flow import FlowExtractor, load_raft
from tests import factories

REPO = Path(__file__).resolve().parents[1]


def demo_args(weights, video, *extra) -> list[str]:
    return factories.demo_argv(weights, video, *extra, raft_iters=4)


def reference_style_probs(folder: Path, checkpoint: Path) -> list[float]:
    """The reference's loop: sorted files, PIL, CenterCrop(448), ToTensor, normalise, one image at a time."""
    model = load_classifier(checkpoint, "resnet18")
    transform = T.Compose([T.CenterCrop((448, 448)), T.ToTensor()])
    probs = []
    for path in sorted(folder.glob("*.png")):
        image = TF.normalize(transform(Image.open(path).convert("RGB")), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        with torch.no_grad():
            probs.append(model(image[None]).sigmoid().item())
    return probs


def test_demo_report_and_written_folders_match_the_reference_convention(tmp_path, weights_dir, small_video, capsys):
    frames_dir, flows_dir = tmp_path / "frame" / "clip", tmp_path / "optical_result" / "clip"
    argv = demo_args(
        weights_dir,
        small_video,
        "--folder_original_path",
        str(frames_dir),
        "--folder_optical_flow_path",
        str(flows_dir),
        "--json",
        str(tmp_path / "r.json"),
        "--batch_size",
        "2",
    )
    assert demo.main(demo.get_args_parser().parse_args(argv)) == 0
    printed = capsys.readouterr().out.splitlines()
    report = json.loads((tmp_path / "r.json").read_text())

    assert report["frame_count"] == 5 and len(report["original_probs"]) == 5 and len(report["optical_probs"]) == 4
    assert (report["width"], report["height"], report["fps"]) == (150, 130, pytest.approx(25.0))
    assert report["original_prob"] == pytest.approx(np.mean(report["original_probs"]))
    assert report["predict"] == pytest.approx(0.5 * report["original_prob"] + 0.5 * report["optical_prob"])
    assert report["verdict"] == ("fake" if report["predict"] >= 0.5 else "real")
    assert printed[1:] == [
        f"original prob {report['original_prob']}",
        f"optical prob {report['optical_prob']}",
        f"predict:{report['predict']}",
        "Fake video" if report["verdict"] == "fake" else "Real video",
    ]

    # The reference's names: frames by index, each flow named after the first frame of its pair.
    assert sorted(p.name for p in frames_dir.iterdir()) == [f"frame_{i:05d}.png" for i in range(5)]
    assert sorted(p.name for p in flows_dir.iterdir()) == [f"frame_{i:05d}.png" for i in range(4)]
    with Image.open(flows_dir / "frame_00000.png") as flow_png:
        assert flow_png.size == (152, 136)  # padded to multiples of 8, never unpadded
    # Classifying the written files the reference's way gives the in-memory probabilities.
    np.testing.assert_allclose(
        reference_style_probs(frames_dir, weights_dir / "original.pth"), report["original_probs"], atol=1e-5
    )
    np.testing.assert_allclose(
        reference_style_probs(flows_dir, weights_dir / "optical.pth"), report["optical_probs"], atol=1e-5
    )


def test_chunk_size_does_not_change_the_numbers(weights_dir, small_video):
    raft = load_raft(weights_dir / "raft-things.pth")
    results = []
    for batch_size in (1, 3):
        pipeline = AIGVDetPipeline(
            load_classifier(weights_dir / "original.pth", "resnet18"),
            load_classifier(weights_dir / "optical.pth", "resnet18"),
            FlowExtractor(raft, iters=4, batch_size=batch_size),
            batch_size=batch_size,
        )
        results.append(pipeline.score_video(small_video))
    np.testing.assert_allclose(results[0].rgb_probs, results[1].rgb_probs, atol=1e-5)
    np.testing.assert_allclose(results[0].flow_probs, results[1].flow_probs, atol=1e-5)
    assert len(results[0].flow_probs) == 4


def test_no_files_are_written_without_folder_flags(tmp_path, weights_dir, small_video, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert demo.main(demo.get_args_parser().parse_args(demo_args(weights_dir, small_video))) == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "case,pattern",
    [
        ("missing_video", "error: video not found"),
        ("text_file", "error: cannot read video"),
        ("one_frame", "at least 2"),
        (
            "missing_checkpoint",
            r"error: optical-flow-branch checkpoint \(-mop\) not found: .*optical\.pth.*Google Drive",
        ),
        ("wrong_arch", "resnet18 checkpoint, but the architecture asked for is resnet50"),
        ("tiny_frames", "RAFT needs both sides"),
    ],
)
def test_bad_input_gives_one_error_line(tmp_path, weights_dir, small_video, case, pattern, capsys):
    video = small_video
    argv_weights = weights_dir
    if case == "missing_video":
        video = tmp_path / "missing.mp4"
    elif case == "text_file":
        video = tmp_path / "fake.mp4"
        video.write_text("hello\n" * 100)
    elif case == "one_frame":
        video = factories.write_video(tmp_path / "one.avi", factories.moving_texture_frames(1, 130, 150))
    elif case == "missing_checkpoint":
        argv_weights = tmp_path
        for name in ("raft-things.pth", "original.pth"):
            (tmp_path / name).symlink_to(weights_dir / name)
    elif case == "tiny_frames":
        video = factories.write_video(tmp_path / "tiny.avi", factories.moving_texture_frames(3, 64, 64))
    argv = demo_args(argv_weights, video)
    if case == "wrong_arch":
        argv[argv.index("resnet18")] = "resnet50"
    assert run_cli(demo.main, demo.get_args_parser(), argv) == 1
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert re.search(pattern, errors[0]), errors[0]


@pytest.mark.slow  # runs demo.py in a subprocess
def test_script_exits_non_zero_without_traceback(tmp_path, weights_dir):
    result = subprocess.run(
        [sys.executable, "demo.py", *demo_args(weights_dir, tmp_path / "missing.mp4")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: video not found")


def test_weight_free_flow_and_custom_crop_for_home_trained_models(tmp_path, weights_dir):
    video = factories.write_video(tmp_path / "tiny.avi", factories.moving_texture_frames(3, 64, 80))
    reports = {}
    for crop in ("64", "448"):
        argv = factories.demo_argv(
            weights_dir, video, "--json", str(tmp_path / f"{crop}.json"), raft_iters=None, crop_size=int(crop)
        )
        assert demo.main(demo.get_args_parser().parse_args(argv)) == 0  # no RAFT weights needed
        reports[crop] = json.loads((tmp_path / f"{crop}.json").read_text())
    assert len(reports["64"]["original_probs"]) == 3 and len(reports["64"]["optical_probs"]) == 2
    assert reports["64"]["original_probs"] != reports["448"]["original_probs"]  # the crop reaches the classifier
