"""How long demo.py takes on a long video with ``--sample_pairs``: the whole command, start to finish.

Makes (once, then reuses) a synthetic 60 s 1280x720 H.264 video at 25 fps (x264, keyframe every 250 frames,
its default: seeking lands up to 10 s before a wanted frame), writes random RAFT-large and ResNet-50 weights
in the official formats (timings do not depend on the values), and runs ``demo.py --use_cpu --sample_pairs N
--timeline --json`` in a fresh process. It prints the wall-clock time, the process's CPU time and the machine's
load average before and after (on a shared machine the wall-clock time depends on what else runs; CPU time
less so), checks the report (N pairs, spread over the video), and extrapolates what every frame would cost
from the measured time per pair.

    python -m bench.bench_long_video                                # 60 s 720p, 16 pairs
    python -m bench.bench_long_video --sample_pairs 4 --seconds 10  # quicker
    python -m bench.bench_long_video --video my_long.mp4 --csv bench/results.csv
    python -m bench.bench_long_video --mixed_precision --channels_last --classifier_precision bf16 --baseline
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from bench.common import add_long_video_arguments, append_csv_row, result_row
from core.aigvdet import build_classifier
from core.flow import RAFT
from core.media.encode import write_video

REPO = Path(__file__).resolve().parents[1]


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_long_video_arguments(parser)
    parser.add_argument("--sample_pairs", type=int, default=16)
    parser.add_argument("--iters", type=int, default=20, help="RAFT iterations (20: demo.py's default)")
    parser.add_argument("--mixed_precision", action="store_true", help="pass --mixed_precision (bfloat16 RAFT)")
    parser.add_argument("--channels_last", action="store_true", help="pass --channels_last")
    parser.add_argument("--classifier_precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument(
        "--baseline", action="store_true", help="also run the float32 default first; print the speed-up and differences"
    )
    parser.add_argument("--csv", default=None, help="append a result row here")
    return parser


def synthetic_long_video(path: Path, seconds: float, height: int, width: int, fps: int) -> Path:
    """A textured scene under a camera moving on a slow Lissajous path, H.264 with x264's defaults."""

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    margin = 160
    scene = cv2.resize(
        rng.integers(0, 256, ((height + 2 * margin) // 16, (width + 2 * margin) // 16, 3), np.uint8),
        (width + 2 * margin, height + 2 * margin),
        interpolation=cv2.INTER_CUBIC,
    )

    def frame(i: int) -> np.ndarray:
        t = i / fps
        x = int(margin + (margin - 1) * np.sin(0.31 * t))
        y = int(margin + (margin - 1) * np.sin(0.23 * t + 1.0))
        return scene[y : y + height, x : x + width]

    frames = (frame(i) for i in range(round(seconds * fps)))
    return write_video(path, frames, fps, size=(width, height), video_options={"preset": "veryfast"})


def random_weights(folder: Path) -> tuple[Path, Path, Path]:
    """RAFT large and two ResNet-50 classifiers with random weights, saved as the official files are."""
    torch.manual_seed(0)
    raft, rgb, flow = folder / "raft-things.pth", folder / "original.pth", folder / "optical.pth"
    torch.save({f"module.{k}": v for k, v in RAFT().state_dict().items()}, raft)
    torch.save({"model": build_classifier("resnet50").state_dict()}, rgb)
    torch.save(build_classifier("resnet50").state_dict(), flow)
    return raft, rgb, flow


def run_demo(video: Path, weights: tuple[Path, Path, Path], args: argparse.Namespace, flags: list[str], out: Path):
    """One ``demo.py`` run in a fresh process: (wall-clock seconds, CPU seconds, JSON report)."""
    raft, rgb, flow = weights
    command = [
        sys.executable,
        "demo.py",
        "--use_cpu",
        "--path",
        str(video),
        "--model",
        str(raft),
        "-mor",
        str(rgb),
        "-mop",
        str(flow),
        "--iters",
        str(args.iters),
        "--sample_pairs",
        str(args.sample_pairs),
        "--timeline",
        "--json",
        str(out),
        *flags,
    ]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return seconds, cpu_seconds, json.loads(out.read_text())


def speed_flags(args: argparse.Namespace) -> list[str]:
    flags = ["--mixed_precision"] if args.mixed_precision else []
    flags += ["--channels_last"] if args.channels_last else []
    return flags + ["--classifier_precision", args.classifier_precision]


def main(args: argparse.Namespace) -> int:
    height, width = (int(v) for v in args.size.lower().split("x"))
    video = (
        Path(args.video)
        if args.video
        else synthetic_long_video(
            Path(args.cache_dir) / f"long_{height}p_{args.seconds:g}s_{args.fps}fps.mp4",
            args.seconds,
            height,
            width,
            args.fps,
        )
    )
    flags = speed_flags(args)
    runs = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_long_") as tmp:
        weights = random_weights(Path(tmp))
        if args.baseline:
            runs["float32 (default)"] = run_demo(video, weights, args, [], Path(tmp) / "baseline.json")
        runs[" ".join(flags)] = run_demo(video, weights, args, flags, Path(tmp) / "report.json")
    load_after = os.getloadavg()
    seconds, cpu_seconds, report = runs[" ".join(flags)]
    analysis = report["analysis"]
    pairs = len(report["optical_probs"])
    assert pairs == min(args.sample_pairs, analysis["video_frames"] - 1), "the report does not hold the asked pairs"
    times = report["time_s"]
    total_pairs = analysis["video_frames"] - 1
    print(
        f"video: {video} ({analysis['video_frames']} frames, {report['width']}x{report['height']}, "
        f"{report['fps']:g} fps); analysed {pairs} pairs at {times[0]:.2f} .. {times[-1]:.2f} s"
    )
    for name, (wall, cpu, _) in runs.items():
        print(f"demo.py --sample_pairs {args.sample_pairs} {name}: {wall:.1f} s wall clock, {cpu:.1f} s CPU")
    print(f"{os.cpu_count()} CPUs; load average before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    baseline = runs.get("float32 (default)")
    if baseline is not None and len(runs) == 2:
        differences = [
            abs(a - b)
            for key in ("original_probs", "optical_probs")
            for a, b in zip(baseline[2][key], report[key], strict=True)
        ]
        print(
            f"speed-up over float32: {baseline[0] / seconds:.2f}x; largest per-frame probability difference "
            f"{max(differences):.2e}, fused video probability {baseline[2]['predict']:.4f} vs {report['predict']:.4f}"
        )
    print(f"every pair at that rate (an extrapolation, not run): about {seconds / pairs * total_pairs / 60:.0f} min")
    if args.csv:
        append_csv_row(
            args.csv,
            result_row(
                "long_video",
                video_frames=analysis["video_frames"],
                size=f"{report['width']}x{report['height']}",
                sample_pairs=args.sample_pairs,
                iters=args.iters,
                flags=" ".join(flags),
                wall_s=round(seconds, 1),
                cpu_s=round(cpu_seconds, 1),
                baseline_wall_s=round(baseline[0], 1) if baseline else "",
                load_before=round(load_before[0], 1),
                load_after=round(load_after[0], 1),
            ),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(get_args_parser().parse_args()))
