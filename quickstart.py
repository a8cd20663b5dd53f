"""The whole toolkit in one command on a fresh machine (CPU, no downloads): synthetic worlds to forensic reports.

1. AIGVDet's synthetic world (textured scenes; "fakes" upscaled, flickering, ghosting) and its two small
   classifiers (resnet18 on 64-pixel crops, RGB frames and DIS optical-flow images);
2. the audio-visual synthetic world (a disc whose size follows a tone's loudness) and its small sync model and
   anomaly models (the README's CPU recipe);
3. a calibration of each detector on clips neither has seen (AIGVDet: isotonic on real and fake clips; the
   audio-visual detector: on real clips only, its own setting), checked on held-out real clips: the share of
   them flagged at the calibrated 1% threshold;
4. a report (report.py) of one real and one fake clip of each world, with both detectors and both calibrations.

    python quickstart.py                        # everything under quickstart/, under 10 minutes on 2 cores
    python quickstart.py --output_dir /tmp/qs --aigvdet_epochs 1

Detectors trained on these worlds detect nothing real: the worlds' fakes are toy artefacts. They show that every
step runs and what a report looks like. The summary (steps, seconds, held-out false-positive rates, report paths)
is printed and written to OUTPUT_DIR/summary.json.
"""

from __future__ import annotations

import os

# Before torch starts its OpenMP threads: waiting threads sleep instead of spinning, which on a CPU shared with
# other work was 10x faster (see the README's benchmark notes) and costs little on an idle one.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import report  # noqa: E402
from core import atomic  # noqa: E402
from core.aigvdet import AIGVDetPipeline, load_classifier  # noqa: E402
from core.aigvdet.synthetic import WorldSpec, generate  # noqa: E402
from core.aigvdet.synthetic.world import fake_clip, real_clip, write_video  # noqa: E402
from core.aigvdet.training import build_config, launch  # noqa: E402
from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths  # noqa: E402
from core.avforensics.synthetic import write_dataset, write_partial_fakes  # noqa: E402
from core.avforensics.training import cli as av_training  # noqa: E402
from core.cli import run_cli  # noqa: E402
from core.flow.classical import ClassicalFlow  # noqa: E402
from core.forensics.calibration import check_calibration, fit_calibration, save_calibration  # noqa: E402
from core.forensics.evidence import Detector  # noqa: E402

log = logging.getLogger("quickstart")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="quickstart", help="everything goes here")
    parser.add_argument("--aigvdet_train", type=int, default=96, help="AIGVDet training clips per class")
    parser.add_argument("--aigvdet_epochs", type=int, default=2, help="epochs of each AIGVDet branch")
    parser.add_argument("--av_clips", type=int, default=16, help="audio-visual real training clips")
    parser.add_argument("--av_epochs", type=int, nargs=3, default=(3, 40, 30), metavar=("SYNC1", "SYNC2", "ANOMALY"))
    parser.add_argument("--calibration_clips", type=int, default=100, help="real clips per detector to fit on")
    parser.add_argument("--heldout_clips", type=int, default=100, help="held-out real clips per detector")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    return parser


class Steps:
    """Seconds per step, for the summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextmanager
    def __call__(self, name: str):
        log.info("quickstart: %s ...", name)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 1)
        log.info("quickstart: %s took %.0f s", name, self.seconds[name])

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self.started, 1)


def train_aigvdet(world: Path, runs: Path, epochs: int) -> dict[str, Path]:
    """The README's CPU recipe for both branches (resnet18, 64-pixel crops), ``epochs`` epochs each."""
    models = {}
    for branch in ("rgb", "flow"):
        options = {
            "dataset_root": world / branch,
            "exp_root": runs,
            "datasets": "synth",
            "datasets_test": "synth",
            "arch": "resnet18",
            "pretrained": "False",
            "cropSize": 64,
            "batch_size": 32,
            "num_workers": 0,
            "nepoch": epochs,
        }
        cfg = build_config(f"synth_{branch}", [0], None, [str(v) for pair in options.items() for v in pair])
        launch(cfg, show_progress=False)
        models[branch] = runs / f"synth_{branch}" / "ckpt" / "model_epoch_best.pth"
    return models


def train_av(world: Path, runs: Path, clips: int, epochs: tuple[int, int, int]) -> dict[str, Path]:
    """The README's small CPU recipe: synthetic clips, the sync model, the anomaly models."""
    commands = [
        ["synth", "--output_dir", world, "--count", clips, "--frames", 48],
        ["sync", "--train_list", world / "train.txt", "--val_list", world / "val.txt", "--output_dir",
         runs / "avsync", "--frame_size", 32, "--width_div", 16, "--epochs1", epochs[0], "--epochs2", epochs[1],
         "--batch_size1", 16, "--batch_size2", 8, "--windows_per_video", 8, "--lr1", 3e-3, "--lr2", 3e-3,
         "--cache", "true", "--num_workers", 0, "--face_crop", "never", "--no_progress"],
        ["anomaly", "--sync_model", runs / "avsync" / "sync_model.pth", "--train_list", world / "train.txt",
         "--val_list", world / "val.txt", "--output_dir", runs / "avanomaly", "--epochs", epochs[2], "--batch_size", 4,
         "--lr", 1e-3, "--num_workers", 0, "--face_crop", "never", "--no_progress"],
    ]  # fmt: skip
    for command in commands:
        av_training.main(av_training.get_args_parser().parse_args([str(part) for part in command]))
    return {
        "sync": runs / "avsync" / "sync_model.pth",
        "dist": runs / "avanomaly" / "dist_regressive_model.pth",
        "feat": runs / "avanomaly" / "avfeature_regressive_model.pth",
        "pca": runs / "avanomaly" / "pca.npz",
    }


def aigvdet_clips(folder: Path, count: int, kind: str, seed: int, frames: int = 4) -> list[Path]:
    """``count`` new clips of AIGVDet's world (seeds it never used), as the world writes its videos."""
    spec = WorldSpec(frames=frames)
    make = real_clip if kind == "real" else fake_clip
    return [
        write_video(folder / f"{kind}_{i:04d}.avi", make(np.random.default_rng([seed, 7, i]), spec), spec.fps)
        for i in range(count)
    ]


def calibrate(detector: Detector, reals: list[Path], fakes: list[Path], fit_count: int, folder: Path) -> dict[str, Any]:
    """Fit on the first ``fit_count`` real clips (and the first half of the fakes when the method uses them),
    check on the rest; save the calibration, with its check in ``extra``, as ``folder/<detector name>.json``."""
    name, kind, target = detector.name, detector.score_kind.value, folder / f"{detector.name}.json"
    real_scores = np.array([detector.analyse_video(path).score for path in reals])
    fake_scores = np.array([detector.analyse_video(path).score for path in fakes])
    use_fakes = name == "aigvdet"  # the audio-visual detector is calibrated as it is trained: on real videos only
    half = len(fake_scores) // 2
    calibration = fit_calibration(
        real_scores[:fit_count],
        fake_scores[:half] if use_fakes else None,
        detector=name,
        score_kind=kind,
        source=f"quickstart: {fit_count} synthetic real clips" + (f" and {half} fakes" if use_fakes else ""),
    )
    check = check_calibration(calibration, real_scores[fit_count:], fake_scores[half:] if use_fakes else fake_scores)
    ordered = np.sort(np.r_[real_scores, fake_scores])
    monotone = bool(np.all(np.diff(calibration.probability(ordered)) >= 0))
    calibration = dataclasses.replace(calibration, extra={"heldout": check, "monotone": monotone})
    save_calibration(calibration, target)
    return {"file": str(target), "method": calibration.method, "heldout": check, "monotone": monotone}


def main(args: argparse.Namespace) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    root = Path(args.output_dir)
    runs, steps = root / "runs", Steps()
    load = os.getloadavg()
    with steps("AIGVDet world"):
        world = generate(root / "aigvdet_world", WorldSpec(train=args.aigvdet_train, val=16), show_progress=False)
    with steps("AIGVDet training"):
        rgb, flow = train_aigvdet(world, runs, args.aigvdet_epochs).values()
    with steps("audio-visual world and training"):
        av = train_av(root / "av_world", runs, args.av_clips, args.av_epochs)
    pipeline = AIGVDetPipeline(
        load_classifier(rgb, "resnet18"), load_classifier(flow, "resnet18"), ClassicalFlow("dis"), crop_size=64
    )
    detector = AVForensicsDetector.from_checkpoints(
        CheckpointPaths(av["sync"], av["dist"], av["feat"], av["pca"]), progress=False
    )
    folder, total = root / "calibration", args.calibration_clips + args.heldout_clips
    calibrations = {}
    with steps("AIGVDet calibration"):
        reals = aigvdet_clips(folder / "aigvdet", total, "real", seed=101)
        fakes = aigvdet_clips(folder / "aigvdet", args.heldout_clips, "fake", seed=102)
        calibrations["aigvdet"] = calibrate(pipeline, reals, fakes, args.calibration_clips, folder)
    with steps("audio-visual calibration"):
        reals = write_dataset(folder / "av", total, frames=48, seed=30_000)
        fakes = write_dataset(folder / "av", args.heldout_clips // 2, frames=48, seed=40_000, kind="shift")
        fakes += write_dataset(folder / "av", args.heldout_clips // 2, frames=48, seed=50_000, kind="swap")
        calibrations["avforensics"] = calibrate(detector, reals, fakes, args.calibration_clips, folder)
    clips = root / "report_clips"
    inputs = {
        "aigvdet_world_real": aigvdet_clips(clips, 1, "real", seed=201, frames=24)[0],
        "aigvdet_world_fake": aigvdet_clips(clips, 1, "fake", seed=202, frames=24)[0],
    }
    # The manipulated span starts within the first 2 s, which the detector's video score (the authors') covers.
    real_av, fake_av = write_partial_fakes(clips / "av", 1, seconds=(6.0, 6.0), seed=3, after_s=0.5)
    inputs |= {"av_world_real": real_av.path, "av_world_fake": fake_av.path}
    common = ["--arch", "resnet18", "--crop_size", "64", "--flow_method", "dis", "-mor", str(rgb), "-mop", str(flow)]
    common += ["--sync_model_path", str(av["sync"]), "--dist_model_path", str(av["dist"])]
    common += ["--avfeature_model_path", str(av["feat"]), "--pca_path", str(av["pca"]), "--face_crop", "never"]
    common += ["--calibration", calibrations["aigvdet"]["file"], calibrations["avforensics"]["file"]]
    reports = {}
    with steps("reports"):
        for name, path in inputs.items():
            target = root / "reports" / name
            report.main(report.get_args_parser().parse_args([str(path), "--output_dir", str(target), *common]))
            reports[name] = str(target / f"{path.stem}.html")
    summary = {
        "seconds": steps.seconds,
        "total_seconds": steps.total,
        "load_average_at_start": [round(v, 2) for v in load],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "threads": torch.get_num_threads(),
        "calibrations": calibrations,
        "reports": reports,
        "manipulated_span_s": {"av_world_fake": fake_av.segment},
    }
    atomic.write_json(root / "summary.json", summary, end="\n", indent=2)
    print(f"\nquickstart done in {steps.total:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in steps.seconds.items())})")
    for name, record in calibrations.items():
        check = record["heldout"]
        print(
            f"{name} calibration ({record['method']}): {check['false_positives']} of {check['real']} held-out real "
            f"clips flagged at the {check['target_fpr']:.0%} threshold (FPR {check['fpr']:.1%})"
        )
    print("reports:\n" + "\n".join(f"  {path}" for path in reports.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
