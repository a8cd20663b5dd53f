"""report.py end to end on a tiny clip with random weights in the official formats: HTML, JSON, not-run detectors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

import report
from core.avforensics.sync_arch import SyncArch, build_sync_model, export_sync_model
from core.cli import run_cli
from core.forensics.calibration import fit_calibration, save_calibration
from tests.avforensics_factories import random_pca, random_regressive_model, write_av_clip


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory, weights_dir):
    """A 1.2 s clip with sound, tiny audio-visual models, resnet18 classifiers, and one calibration per detector."""
    folder = tmp_path_factory.mktemp("report_inputs")
    torch.manual_seed(0)
    arch = SyncArch(frame_size=32, width_div=16)
    export_sync_model(build_sync_model(arch), folder / "sync_model.pth", arch, {})
    torch.save(random_regressive_model(6).state_dict(), folder / "dist.pth")
    torch.save(random_regressive_model(7).state_dict(), folder / "feat.pth")
    random_pca(seed=8, dim=64).save_npz(folder / "pca.npz")
    rng = np.random.default_rng(0)
    aigvdet = fit_calibration(
        rng.uniform(0.0, 0.6, 200), rng.uniform(0.4, 1.0, 200), detector="aigvdet", score_kind="probability"
    )
    save_calibration(aigvdet, folder / "aigvdet.json")
    av = fit_calibration(rng.normal(0.1, 0.05, 200), detector="avforensics", score_kind="anomaly")
    save_calibration(av, folder / "av.json")
    clip = write_av_clip(folder / "clip.mp4", frames=30, size=(64, 48), seed=3)
    argv = [str(clip), "--arch", "resnet18", "--crop_size", "64", "--flow_method", "dis"]
    argv += ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth")]
    argv += ["--sync_model_path", str(folder / "sync_model.pth"), "--dist_model_path", str(folder / "dist.pth")]
    argv += ["--avfeature_model_path", str(folder / "feat.pth"), "--pca_path", str(folder / "pca.npz")]
    argv += ["--face_crop", "never", "--max_len", "10", "--window_stride", "5", "--use_cpu"]
    return folder, argv


def run(argv) -> int:
    return run_cli(report.main, report.get_args_parser(), argv)


@pytest.fixture(scope="module")
def full_report(report_inputs, tmp_path_factory):
    folder, argv = report_inputs
    out = tmp_path_factory.mktemp("report_out")
    calibrations = ["--calibration", str(folder / "av.json"), str(folder / "aigvdet.json")]
    assert run(argv + calibrations + ["--output_dir", str(out)]) == 0
    return out, json.loads((out / "clip.json").read_text()), (out / "clip.html").read_text()


def test_report_json_holds_verdicts_fusion_series_and_made_with(full_report, report_inputs, weights_dir):
    out, data, _ = full_report
    assert sorted(p.name for p in out.iterdir()) == ["clip.html", "clip.json"]  # no temporary file left
    assert data["format"] == "video-forensics-report" and data["video"]["audio"] is True
    assert (data["video"]["width"], data["video"]["height"], data["video"]["frames"]) == (64, 48, 30)
    aigvdet, av = data["detectors"]["aigvdet"], data["detectors"]["avforensics"]
    assert aigvdet["status"] == av["status"] == "ok"
    assert aigvdet["verdict"] in ("fake", "real") and av["verdict"] is None  # an anomaly score has no threshold
    assert aigvdet["calibration"]["calibration_method"] == "isotonic"
    assert av["calibration"]["calibration_method"] == "real_tail"
    assert set(aigvdet["series"]) == {"rgb", "flow", "fused"} and set(av["series"]) == {"sync_logits", "anomaly"}
    assert np.asarray(av["series"]["sync_logits"]["values"]).shape[1] == 31
    assert aigvdet["segment_rule"].startswith("runs of 'fused'") and "segments" in av
    assert [i["group"] for i in aigvdet["illustrations"]][::2] == ["most suspicious frame", "least suspicious frame"]
    provenance = data["provenance"]  # an unsigned clip: no credentials, and the detectors' fusion stands
    assert provenance["category"] == "no credentials" and "evidence of nothing" in provenance["meaning"]
    assert data["detectors"]["provenance"]["score_kind"] == "declaration"
    fusion = data["fusion"]
    assert fusion["fused"] and fusion["false_positive_bound"] == pytest.approx(0.02)
    flagged = [
        n for n in ("aigvdet", "avforensics") if data["detectors"][n]["calibration"]["calibrated_verdict"] == "fake"
    ]
    assert fusion["flagged_by"] == flagged and fusion["verdict"] == ("fake" if flagged else "real")
    assert fusion["probability"] is None and "share of real videos" in fusion["probability_note"]
    files = {f["role"]: f for f in aigvdet["checkpoints"]}
    expected = hashlib.sha256((weights_dir / "original.pth").read_bytes()).hexdigest()
    assert files["RGB classifier"]["sha256"] == expected and "calibration" in files
    assert data["versions"]["python"] and data["versions"]["packages"]["torch"]


def test_report_html_is_self_contained(full_report):
    _, _, page = full_report
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) >= 2 + 1 + 2 + 4 + 3  # 2 timelines, the offset map, 2 calibrations, 4 + 3 pictures
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_weights_are_listed_and_the_rest_runs(report_inputs, tmp_path, capsys):
    _, argv = report_inputs
    missing = tmp_path / "checkpoints" / "sync_model.pth"
    argv = [a if not a.endswith("sync_model.pth") else str(missing) for a in argv]
    assert run(argv + ["--output_dir", str(tmp_path / "out"), "--detectors", "avforensics", "aigvdet"]) == 0
    data = json.loads((tmp_path / "out" / "clip.json").read_text())
    av = data["detectors"]["avforensics"]
    assert av["status"] == "not run" and av["reason"].startswith(f"{missing} missing (get it from the audio-visual")
    assert data["fusion"] == {"fused": False, "reason": "no fusion: only aigvdet ran"}
    page = (tmp_path / "out" / "clip.html").read_text()
    assert "drive.google.com" in page and "https://" not in page  # where to get it, without a link
    assert "avforensics: not run" in capsys.readouterr().out


def test_no_detector_or_no_video_is_one_error_line(report_inputs, tmp_path, capsys):
    _, argv = report_inputs
    only_av = argv + ["--detectors", "avforensics", "--pca_path", str(tmp_path / "none.npz")]
    assert run(only_av + ["--output_dir", str(tmp_path / "out")]) == 1
    assert (tmp_path / "out" / "clip.html").is_file()  # the report says why
    assert capsys.readouterr().err.startswith("error: no detector could analyse")
    assert run([str(tmp_path / "nothing.mp4"), "--output_dir", str(tmp_path / "out2")]) == 1
    assert capsys.readouterr().err.strip() == f"error: video not found: {tmp_path / 'nothing.mp4'}"
    assert not (tmp_path / "out2").exists()


@pytest.mark.slow  # a browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_screenshot_shows_the_figures(full_report, tmp_path):
    out, _, _ = full_report
    shot = tmp_path / "report.png"
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}"]
    command += ["--window-size=1200,3000", (out / "clip.html").as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert pixels.shape == (3000, 1200, 3)
    assert pixels.std() > 20  # not one flat colour
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 80).sum() > 5000  # coloured curves, the offset map and thumbnails, not only text
