"""Issue 6: training the audio-visual forensics models on real videos, end to end on the CPU at tiny sizes.

Synthetic clips (a disc whose radius follows a tone's loudness, 32x32 px, 48 frames) train a sync model
scaled down 16x in width; the anomaly models are fitted on the same real clips; detect.py's detector then
scores in-sync test clips against clips with shifted or swapped audio.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import detect
from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.scoring import NUM_OFFSETS
from core.avforensics.sync_arch import SyncArch, build_sync_model, export_sync_model, load_sync_model
from core.avforensics.sync_transformer import SyncModel
from core.avforensics.synthetic import render_clip, write_av, write_synthetic_splits
from core.avforensics.training.cli import entry
from core.checkpoints import load_weights
from core.cli import run_cli
from core.media.faces.clip import FacePlan, load_face_clips
from core.media.faces.crop import BOX_SCALE, CENTRE_SHIFT, CROP_SCALE
from core.media.faces.tracks import Chain, build_tracks

pytestmark = pytest.mark.slow  # every test trains (the sync-model fixture alone takes minutes on 2 cores)

ON_CPU = ["--cache", "true", "--num_workers", "0", "--device", "cpu", "--no_progress"]
SMALL = ["--frame_size", "32", "--width_div", "16", *ON_CPU]


def run(*argv: str) -> None:
    assert entry([str(a) for a in argv]) == 0


def train_anomaly(root: Path, *argv) -> None:
    """The anomaly models on ``root``'s sync model, into ``root / "anomaly"`` (batches of 4 unless ``argv`` says)."""
    run(
        "anomaly",
        "--sync_model",
        root / "sync" / "sync_model.pth",
        "--output_dir",
        root / "anomaly",
        "--batch_size",
        4,
        "--device",
        "cpu",
        "--no_progress",
        *argv,
    )


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> dict[str, Path]:
    return write_synthetic_splits(tmp_path_factory.mktemp("av_synth"), count=16, frames=48, size=32)


@pytest.fixture(scope="module")
def one_thread():
    """Train on one CPU thread. The run is deterministic given its data and seed, but float sums split over
    threads round differently with the thread count: on one thread the run does not depend on the core count
    (another CPU's kernels may still round differently). And on a busy machine 2-thread OpenMP teams stalled
    each other: up to minutes per epoch instead of seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(synth, one_thread, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("av_runs")
    run(
        "sync",
        "--train_list",
        synth["train"],
        "--val_list",
        synth["val"],
        "--output_dir",
        root / "sync",
        *SMALL,
        "--epochs1",
        3,
        "--epochs2",
        40,
        "--batch_size1",
        16,
        "--batch_size2",
        8,
        "--windows_per_video",
        8,
        "--lr1",
        3e-3,
        "--lr2",
        3e-3,
    )
    train_anomaly(root, "--train_list", synth["train"], "--val_list", synth["val"], "--epochs", 30, "--lr", 1e-3)
    # detect.py itself scores the test clips: it reads sync_model.json to build the small model.
    assert (
        run_cli(
            detect.main,
            detect.get_args_parser(),
            [
                "--test_video_path",
                str(synth["test"]),
                "--device",
                "cpu",
                "--no_progress",
                "--output_dir",
                str(root / "score"),
                "--sync_model_path",
                str(root / "sync" / "sync_model.pth"),
                "--dist_model_path",
                str(root / "anomaly" / "dist_regressive_model.pth"),
                "--avfeature_model_path",
                str(root / "anomaly" / "avfeature_regressive_model.pth"),
                "--pca_path",
                str(root / "anomaly" / "pca.npz"),
            ],
        )
        == 0
    )
    return {"sync": root / "sync", "anomaly": root / "anomaly", "score": root / "score"}


def test_sync_model_offset_accuracy_beats_chance(trained):
    rows = json.loads((trained["sync"] / "metrics.json").read_text())
    assert [r["phase"] for r in rows] == [1] * 3 + [2] * 40
    best = max(r["val_offset_acc"] for r in rows if r["phase"] == 2)
    print(
        f"\nsync: best held-out offset accuracy {best:.3f} (chance {1 / NUM_OFFSETS:.3f}), "
        f"within 1 frame {max(r['val_offset_acc_1'] for r in rows):.3f}"
    )
    # About 10x chance (1/31). Measured 0.91 here (the same on every run: the training is deterministic), and
    # 0.85-0.88 with seeds 1-3 and with 2 threads: other rounding gives another run, far above the bar too.
    assert best > 0.3
    assert (trained["sync"] / "config.yaml").is_file() and (trained["sync"] / "metrics.csv").is_file()


def test_detector_scores_fakes_higher(trained):
    with open(trained["score"] / "scores.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 12
    kind = [Path(r["path"]).name.split("_")[0] for r in rows]
    score = np.array([float(r["score"]) for r in rows])
    real = score[[k == "real" for k in kind]]
    aucs = {}
    for fake in ("shift", "swap"):
        faked = score[[k == fake for k in kind]]
        aucs[fake] = roc_auc_score([0] * len(real) + [1] * len(faked), np.concatenate([real, faked]))
    both = score[[k != "real" for k in kind]]
    aucs["all"] = roc_auc_score([0] * len(real) + [1] * len(both), np.concatenate([real, both]))
    print(f"\ndetection AUC vs in-sync: {aucs}")
    metrics = json.loads((trained["anomaly"] / "metrics.json").read_text())
    # Training improves the held-out likelihood of real sequences (the exported model is the best epoch's;
    # on 16 clips later epochs may overfit, so compare the best with the first epoch).
    assert min(m["val_nll"] for m in metrics) < metrics[0]["val_nll"]
    assert aucs["shift"] > 0.75 and aucs["swap"] > 0.75  # measured 1.0 and 1.0


@pytest.fixture(scope="module")
def tiny_run(synth, tmp_path_factory) -> dict[str, Path]:
    """A seconds-long run of both steps on four clips: enough to check the files, not the learning."""
    root = tmp_path_factory.mktemp("av_tiny")
    short = root / "four.txt"
    short.write_text(
        "".join(str(synth["train"].parent / v) + "\n" for v in synth["train"].read_text().splitlines()[:4])
    )
    run(
        "sync",
        "--train_list",
        short,
        "--output_dir",
        root / "sync",
        *SMALL,
        "--epochs1",
        1,
        "--epochs2",
        1,
        "--batch_size1",
        4,
        "--batch_size2",
        4,
        "--windows_per_video",
        2,
    )
    train_anomaly(root, "--train_list", short, "--epochs", 1, "--batch_size", 2)
    return {"sync": root / "sync", "anomaly": root / "anomaly"}


def test_trained_files_load_in_detect(tiny_run, tmp_path):
    """The anomaly outputs are the reference layouts; an official-size export loads through detect.py's loader."""
    trained = tiny_run
    for name in ("dist_regressive_model.pth", "avfeature_regressive_model.pth"):
        state = torch.load(trained["anomaly"] / name, weights_only=True)
        assert set(state) == set(AutoregressiveModel().state_dict())  # bare state dict, official keys
    sync_state = torch.load(trained["sync"] / "sync_model.pth", weights_only=True)
    small = build_sync_model(SyncArch(32, 16))
    assert set(sync_state) == set(SyncModel(feature_map_size=2).state_dict()) == set(small.state_dict())
    model, arch = load_sync_model(trained["sync"] / "sync_model.pth")
    assert arch == SyncArch(32, 16)
    torch.manual_seed(1)
    official = build_sync_model(SyncArch())
    assert type(official) is SyncModel
    export_sync_model(official, tmp_path / "sync_model.pth", SyncArch(), {"note": "test"})
    detector = AVForensicsDetector.from_checkpoints(
        CheckpointPaths(
            tmp_path / "sync_model.pth",
            trained["anomaly"] / "dist_regressive_model.pth",
            trained["anomaly"] / "avfeature_regressive_model.pth",
            trained["anomaly"] / "pca.npz",
        )
    )
    key = "transformer.cls_token"
    assert torch.equal(detector.sync_model.state_dict()[key], official.state_dict()[key])
    reloaded = AutoregressiveModel()
    load_weights(reloaded, trained["anomaly"] / "dist_regressive_model.pth")
    assert torch.equal(reloaded.lin1.weight, detector.distribution_model.lin1.weight.cpu())


def test_resume_reproduces_uninterrupted_run(synth, tmp_path):
    videos = (synth["train"].parent / "train.txt").read_text().splitlines()[:4]
    short = tmp_path / "four.txt"
    short.write_text("".join(str(synth["train"].parent / v) + "\n" for v in videos))
    common = [
        "--train_list",
        short,
        *SMALL,
        "--epochs1",
        1,
        "--batch_size1",
        4,
        "--batch_size2",
        4,
        "--windows_per_video",
        2,
    ]
    run("sync", "--output_dir", tmp_path / "straight", *common, "--epochs2", 1)
    run("sync", "--output_dir", tmp_path / "resumed", *common, "--epochs2", 0)
    assert len(json.loads((tmp_path / "resumed" / "metrics.json").read_text())) == 1
    run("sync", "--output_dir", tmp_path / "resumed", *common, "--epochs2", 1)
    straight = torch.load(tmp_path / "straight" / "sync_model_last.pth", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "sync_model_last.pth", weights_only=True)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    rows = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [0, 1] and rows[1]["phase"] == 2

    anomaly = [
        "anomaly",
        "--sync_model",
        tmp_path / "straight" / "sync_model.pth",
        "--train_list",
        short,
        "--device",
        "cpu",
        "--no_progress",
        "--batch_size",
        2,
        "--max_len",
        20,
    ]
    run(*anomaly, "--output_dir", tmp_path / "a_straight", "--epochs", 2)
    run(*anomaly, "--output_dir", tmp_path / "a_resumed", "--epochs", 1)
    run(*anomaly, "--output_dir", tmp_path / "a_resumed", "--epochs", 2)
    for name in ("dist_regressive_model.pth", "avfeature_regressive_model.pth"):
        a = torch.load(tmp_path / "a_straight" / name, weights_only=True)
        b = torch.load(tmp_path / "a_resumed" / name, weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_other_architecture(synth, tmp_path):
    base = [
        "sync",
        "--train_list",
        synth["train"],
        "--output_dir",
        tmp_path,
        "--frame_size",
        "32",
        *ON_CPU,
        "--epochs1",
        1,
        "--epochs2",
        0,
        "--batch_size1",
        16,
        "--windows_per_video",
        1,
    ]
    run(*base, "--width_div", 16)
    assert entry([str(a) for a in base] + ["--width_div", "8"]) == 1  # a CheckpointError, reported on one line


def _face_box_for_crop(x0: float, y0: float, side: float) -> np.ndarray:
    """The face box whose SyncNet-convention crop (core.media.faces.crop) is the square at (x0, y0) of ``side``."""
    half = side / (2 * (1 + CROP_SCALE)) / BOX_SCALE
    cx, cy = x0 + side / 2, y0 + BOX_SCALE * half - CENTRE_SHIFT * half
    return np.array([cx - half, cy - half, cx + half, cy + half])


@pytest.mark.parametrize("speaker_left", [True, False], ids=["speaker-left", "speaker-right"])
@pytest.mark.parametrize("speaker_side", [24, 48], ids=["speaker-smaller", "speaker-larger"])
def test_the_speaker_is_the_disc_the_tone_drives(trained, tmp_path, speaker_left, speaker_side):
    """Two discs side by side, only one driven by the soundtrack's tone: the trained sync model picks that one as
    the main face, whatever its side and size (the other disc is 36 px and follows another clip's envelope)."""
    frames = 48
    speaker, other = render_clip(401, frames, speaker_side), render_clip(402, frames, 36)
    height = max(speaker_side, 36)
    canvas = np.full((frames, height, speaker_side + 36 + 8, 3), 30, dtype=np.uint8)
    left, right = (speaker, other) if speaker_left else (other, speaker)
    left_side, right_side = left.frames.shape[1], right.frames.shape[1]
    canvas[:, :left_side, :left_side] = left.frames
    canvas[:, :right_side, left_side + 8 : left_side + 8 + right_side] = right.frames
    path = write_av(tmp_path / "two_discs.mkv", canvas, speaker.audio)
    squares = [(0.0, 0.0, left_side), (left_side + 8.0, 0.0, right_side)]
    tracks = []
    for x0, y0, side in squares:
        chain = Chain(list(range(0, frames, 5)) + [frames - 1], start="video", end="video")
        chain.boxes = [_face_box_for_crop(x0, y0, side) for _ in chain.frames]
        chain.scores = [0.99] * len(chain.frames)
        tracks.extend(build_tracks([chain], canvas.shape[2], height, frames))
    plan = FacePlan("always", True, "ok", tracks, 25.0, False, frames)
    detector = AVForensicsDetector.from_checkpoints(
        CheckpointPaths(
            trained["sync"] / "sync_model.pth",
            trained["anomaly"] / "dist_regressive_model.pth",
            trained["anomaly"] / "avfeature_regressive_model.pth",
            trained["anomaly"] / "pca.npz",
        ),
        device="cpu",
        progress=False,
        face_crop="always",
    )
    faces = load_face_clips(path, plan, True, 32, None, 6, min_face_px=0, choose_speaker=detector.choose_speaker)
    assert [face.face_status for face in faces] == ["ok", "ok"]
    (main,) = [face for face in faces if face.main]
    assert main.track_id == (0 if speaker_left else 1)
    assert main.speaker_margin is not None and main.speaker_margin > 0.3  # measured: 0.67-0.79
    # The evidence computed to choose is the evidence scored: the main face's score is what a fresh pass gives.
    assert detector.analyse_prepared(main).score == pytest.approx(detector.analyse(main.require()).scores.combined(0))
