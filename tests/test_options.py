"""Issue 21: one option layer. Every script that runs a detector takes the same flags for the same thing."""

from __future__ import annotations

import pytest

import demo
import detect
import report
import score
import test as evaluate
from core.aigvdet.data import prepare

SCRIPTS = {"demo": demo, "detect": detect, "test": evaluate, "score": score, "report": report, "prepare": prepare}
# What makes a run faster or lighter in demo.py and detect.py: report.py and score.py must offer it too.
SPEED_AND_MEMORY = {
    "demo": ["--mixed_precision", "--channels_last", "--classifier_precision", "--corr_mode", "--corr_budget_gb",
             "--alternate_corr", "--batch_size", "--iters", "--small", "--sample_pairs", "--threads"],
    "detect": ["--window_batch", "--threads", "--max_len"],
}  # fmt: skip


def flags(parser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_that_runs_a_detector_takes_the_device_flags(name):
    parser = SCRIPTS[name].get_args_parser()
    assert {"--device", "--use_cpu", "--threads"} <= flags(parser)
    required = {"report": ["clip.mp4"], "score": ["--output_dir", "out"], "detect": ["--test_video_path", "x"]}
    required["prepare"] = ["--videos", "v", "--rgb_out", "r", "--flow_out", "f"]
    args = parser.parse_args([*required.get(name, []), "--device", "cpu"])
    assert args.device == "cpu"


@pytest.mark.parametrize("name", ["report", "score"])
def test_report_and_score_offer_every_speed_and_memory_flag(name):
    offered = flags(SCRIPTS[name].get_args_parser())
    for source, wanted in SPEED_AND_MEMORY.items():
        assert set(wanted) <= flags(SCRIPTS[source].get_args_parser())  # the list is what the source really has
        assert set(wanted) <= offered, f"{name} lacks {sorted(set(wanted) - offered)} of {source}.py"


def test_one_definition_per_shared_flag():
    """The shared options have the same default and help in every script (they come from one place)."""
    for flag in ("--corr_mode", "--classifier_precision", "--face_crop", "--max_len", "--device"):
        seen = {}
        for name, module in SCRIPTS.items():
            for action in module.get_args_parser()._actions:
                if flag in action.option_strings:
                    seen[name] = (action.default, action.help, tuple(action.choices or ()))
        assert len(seen) >= 2 and len(set(seen.values())) == 1, (flag, seen)


def test_the_audio_visual_detector_has_one_key_everywhere(tmp_path):
    """``avforensics`` (the detector's name) is accepted by report.py and score.py; score.py keeps ``av``."""
    assert "avforensics" in report.get_args_parser().parse_args(["v.mp4", "--detectors", "avforensics"]).detectors
    assert score.ALIASES["avforensics"] == "av"
