"""AIGVDet's time budget on a CPU: the plan (a pure function) and what report.py does and says with it."""

from __future__ import annotations

import csv
import json

import pytest
import torch

import report
import score
from core.aigvdet.budget import BudgetPlan, cpu_seconds_per_pair, estimate_message, plan_budget
from core.cli import run_cli
from tests import factories


@pytest.mark.parametrize(
    "frames, width, height, device, budget, extra, expected",
    [
        (1500, 1280, 720, "cpu", 240, 0, 17),  # 13.5 s a pair: floor(240 / 13.5)
        (1500, 1280, 720, "cpu", 240, 2, 15),  # a report's two illustration pairs count in the budget
        (1500, 1920, 1080, "cpu", 240, 0, 7),  # 2.25x the pixels: 30.06 s a pair
        (1500, 1280, 720, "cpu", 1, 2, 1),  # never fewer than one pair
        (1500, 1280, 720, "cpu", 0, 0, None),  # no budget: every pair
        (1500, 1280, 720, "cpu", None, 0, None),
        (1500, 1280, 720, "cuda", 240, 0, None),  # a GPU: every pair, as always
        (135, 224, 224, "cpu", 240, 2, None),  # the real 5.4 s 224x224 fixture fits: analysed as before
        (30, 64, 48, "cpu", 240, 2, None),  # test clips fit
        (18, 1280, 720, "cpu", 240, 0, None),  # 17 pairs fit exactly
        (19, 1280, 720, "cpu", 240, 0, 17),
    ],
)
def test_plan_budget_known_values(frames, width, height, device, budget, extra, expected):
    plan = plan_budget(frames, width, height, device, budget, extra)
    assert plan.sample_pairs == expected and plan.total_pairs == frames - 1
    assert plan.sampled == (expected is not None)


def test_per_pair_estimate_and_messages():
    assert cpu_seconds_per_pair(1280, 720) == pytest.approx(13.5)
    assert cpu_seconds_per_pair(224, 224) == pytest.approx(0.25 + 13.25 * 224 * 224 / (1280 * 720))
    plan = plan_budget(1500, 1280, 720, "cpu", 240, 2)
    assert plan.describe() == "15 of 1499 frame pairs, evenly spaced, chosen to fit a 240 s budget on CPU"
    assert estimate_message(plan, 60.0, 1280, 720) == (
        "60.0 s of 1280x720 video, 1499 pairs: all would take ~5.6 h on this CPU; analysing 15 evenly spaced pairs "
        "(~4 min) to fit a 240 s budget"
    )
    record = plan.record()
    assert (record["sample_pairs"], record["total_pairs"], record["budget_s"]) == (15, 1499, 240)
    assert (record["estimated_s"], record["estimated_all_s"]) == (229.5, 20263.5)  # the 2 extra pairs counted
    assert plan_budget(1500, 1280, 720, "cuda", 240) == BudgetPlan(1499, None, None, None, "cuda")


@pytest.fixture(scope="module")
def budget_inputs(tmp_path_factory, weights_dir):
    """A 12-frame 130x150 clip (RAFT-small costs ~0.53 s a pair by the model) and report.py's AIGVDet options."""
    folder = tmp_path_factory.mktemp("budget")
    clip = factories.write_video(folder / "clip.avi", factories.moving_texture_frames(12, 130, 150, seed=5))
    argv = [str(clip), "--detectors", "aigvdet", "--use_cpu", "--arch", "resnet18", "--crop_size", "64"]
    argv += ["--small", "--model", str(weights_dir / "raft-small.pth"), "--iters", "2"]
    argv += ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth")]
    return folder, argv


def run_report(argv, out) -> dict:
    assert run_cli(report.main, report.get_args_parser(), argv + ["--output_dir", str(out)]) == 0
    return json.loads((out / "clip.json").read_text())


def test_report_with_a_tiny_budget_says_what_it_sampled(budget_inputs, tmp_path):
    _, argv = budget_inputs
    data = run_report(argv + ["--time_budget", "3"], tmp_path)  # floor(3 / 0.53) - 2 illustration pairs = 3
    aigvdet = data["detectors"]["aigvdet"]
    analysis = aigvdet["details"]["analysis"]
    assert analysis["sample_pairs"] == 3 and analysis["video_frames"] == 12
    assert analysis["budget"]["budget_s"] == 3 and analysis["budget"]["device"] == "cpu"
    line = "3 of 11 frame pairs, evenly spaced, chosen to fit a 3 s budget on CPU"
    assert analysis["sampling"] == line and len(aigvdet["series"]["flow"]["values"]) == 3
    assert f"only {line} were analysed" in aigvdet["warnings"]
    assert line in (tmp_path / "clip.html").read_text()


def test_short_clip_under_the_default_budget_is_analysed_fully(budget_inputs, tmp_path):
    _, argv = budget_inputs
    default = run_report(argv, tmp_path / "default")["detectors"]["aigvdet"]
    full = run_report(argv + ["--full"], tmp_path / "full")["detectors"]["aigvdet"]
    assert "analysis" not in default["details"] and len(default["series"]["flow"]["values"]) == 11
    assert default["series"] == full["series"] and default["score"] == full["score"]
    explicit = run_report(argv + ["--time_budget", "3", "--sample_pairs", "5"], tmp_path / "explicit")
    analysis = explicit["detectors"]["aigvdet"]["details"]["analysis"]
    assert analysis["sample_pairs"] == 5 and "budget" not in analysis  # --sample_pairs wins over the budget


def test_score_adds_the_pairs_column_only_when_the_budget_samples(tmp_path, weights_dir):
    clip = factories.write_video(tmp_path / "clip.avi", factories.moving_texture_frames(12, 130, 150, seed=6))
    argv = ["--videos", str(clip), "--detectors", "aigvdet", "--device", "cpu", "--no_progress", "--prefetch", "0"]
    argv += ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth"), "--small"]
    argv += ["--model", str(weights_dir / "raft-small.pth"), "--arch", "resnet18", "--iters", "1", "--crop_size", "64"]

    def table(name, *extra):
        out = tmp_path / name
        assert run_cli(score.main, score.get_args_parser(), argv + ["--output_dir", str(out), *extra]) == 0
        with open(out / "results.csv", newline="") as handle:
            return list(csv.DictReader(handle))

    (default,), (full,) = table("default"), table("full", "--full")
    assert "aigvdet_pairs" not in default and default["aigvdet_frames"] == "12"  # fits the budget: as before
    assert {k: v for k, v in default.items() if k != "aigvdet_seconds"} == {
        k: v for k, v in full.items() if k != "aigvdet_seconds"
    }
    (sampled,) = table("sampled", "--time_budget", "2")  # 0.53 s a pair by the model: 3 of 11
    assert (sampled["aigvdet_pairs"], sampled["aigvdet_frames"], sampled["aigvdet_status"]) == ("3/11", "3", "ok")
    # The table resumes under the default budget and under --full (the same settings): nothing to do.
    assert table("default") == [default] and table("default", "--full") == [default]
    # The budget is part of the sampled table's settings: resuming it with every pair is refused.
    resumed = argv + ["--output_dir", str(tmp_path / "sampled"), "--full"]
    assert run_cli(score.main, score.get_args_parser(), resumed) == 1


def test_time_budget_options_on_cpu_and_gpu():
    from core.aigvdet.options import time_budget_of

    parse = report.get_args_parser().parse_args
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert time_budget_of(parse(["v.mp4"]), cpu) == 240.0
    assert time_budget_of(parse(["v.mp4", "--time_budget", "60"]), cpu) == 60.0
    for argv in (["--full"], ["--time_budget", "0"], ["--sample_pairs", "4"]):
        assert time_budget_of(parse(["v.mp4", *argv]), cpu) is None
    assert time_budget_of(parse(["v.mp4"]), cuda) is None  # a GPU analyses every pair, as always
    assert time_budget_of(parse(["v.mp4", "--time_budget", "60"]), cuda) is None


def test_report_splits_the_budget_and_fixed_pairs_leave_it_to_the_audio_visual_detector():
    def shares(*argv, device="cpu"):
        args = report.get_args_parser().parse_args(["v.mp4", *argv])
        return [report.budget_share(args, torch.device(device), name) for name in ("aigvdet", "avforensics")]

    assert shares() == [120.0, 120.0]
    assert shares("--time_budget", "60", "--detectors", "avforensics") == [None, 60.0]
    assert shares("--time_budget", "60", "--detectors", "aigvdet") == [60.0, None]
    assert shares("--sample_pairs", "32") == [None, 240.0]  # AIGVDet's pairs are fixed: no share for it
    assert shares("--full") == shares("--time_budget", "0") == shares(device="cuda") == [None, None]
