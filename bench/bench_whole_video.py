"""Cost per second of video: whole-video audio-visual scoring against the authors' first-2-seconds scoring.

Writes (or reuses) a synthetic talking-"face" clip of ``--seconds`` at 224x224, then times, on the same
official-size models (random weights: the cost does not depend on them) and the same clip:

* default: decode what the first 50 steps need and score them (today's detect.py), per second scored (2 s);
* whole video: decode everything, extract every step, score sliding windows, build the curve and segments,
  per second of video.

Both include decoding. Wall time and this process's CPU time are printed (CPU time is less sensitive to
other work on a shared machine); the goal is whole <= 1.2x default per second.

    python -m bench.bench_whole_video --seconds 60 --threads 2 --csv outputs/bench_whole_video.csv
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import append_csv_row
from core.avforensics.pca import PcaMap
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.sync_transformer import SyncModel
from core.avforensics.synthetic import render_clip, write_av
from core.avforensics.whole_video import WholeVideoSettings
from core.cli import run_cli

log = logging.getLogger("bench_whole_video")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--video",
        default="outputs/bench_whole_video/clip_{seconds:g}s.mkv",
        help="clip to write or reuse ({seconds} is replaced)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--window_batch", type=int, default=8)
    parser.add_argument("--default_runs", type=int, default=2, help="timed default runs (after one warm-up)")
    parser.add_argument("--csv", default="", help="CSV file a result row is appended to")
    return parser


def _random_models(seed: int = 0) -> tuple[SyncModel, AutoregressiveModel, AutoregressiveModel, PcaMap]:
    torch.manual_seed(seed)
    sync = SyncModel()
    with torch.no_grad():
        sync.vis_enc.conv1.weight.mul_(1 / 128)  # raw 0..255 pixels: keep activations O(1)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((1024, 31)))
    pca = PcaMap(rng.standard_normal(1024), rng.random(1024) + 0.5, np.zeros(1024), basis.T.copy())
    return sync.eval(), AutoregressiveModel().eval(), AutoregressiveModel().eval(), pca


def _timed(detector: AVForensicsDetector, path: Path) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    analysis = detector.analyse(detector.load_clip(path))
    if detector.features.device.type == "cuda":
        torch.cuda.synchronize(detector.features.device)
    return time.perf_counter() - wall, time.process_time() - cpu, analysis.steps


def main(args: argparse.Namespace) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    path = Path(args.video.format(seconds=args.seconds))
    frames = int(round(args.seconds * 25))
    if not path.is_file():
        log.info("writing a %g s clip to %s", args.seconds, path)
        clip = render_clip(0, frames=frames, size=224)
        write_av(path, clip.frames, clip.audio)
    sync, dist, feat, pca = _random_models()
    common = dict(device=args.device, window_batch=args.window_batch, progress=False)
    default = AVForensicsDetector(sync, dist, feat, pca, **common)
    whole = AVForensicsDetector(sync, dist, feat, pca, whole_video=WholeVideoSettings(), **common)

    _timed(default, path)  # warm-up: allocator, kernels
    default_runs = [_timed(default, path) for _ in range(max(1, args.default_runs))]
    default_wall = min(r[0] for r in default_runs)
    default_cpu = min(r[1] for r in default_runs)
    default_seconds = default_runs[0][2] / 25.0
    whole_wall, whole_cpu, whole_steps = _timed(whole, path)
    whole_seconds = whole_steps / 25.0

    per_default = (default_wall / default_seconds, default_cpu / default_seconds)
    per_whole = (whole_wall / whole_seconds, whole_cpu / whole_seconds)
    ratio_wall, ratio_cpu = per_whole[0] / per_default[0], per_whole[1] / per_default[1]
    print(f"clip {path} ({args.seconds:g} s), device {args.device}, torch threads {torch.get_num_threads()}")
    print("| scoring | steps | wall s | CPU s | wall s per s of video | CPU s per s of video |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| default (first 50 steps) | {default_runs[0][2]} | {default_wall:.1f} | {default_cpu:.1f} | "
        f"{per_default[0]:.2f} | {per_default[1]:.2f} |"
    )
    print(
        f"| whole video | {whole_steps} | {whole_wall:.1f} | {whole_cpu:.1f} | {per_whole[0]:.2f} | "
        f"{per_whole[1]:.2f} |"
    )
    print(f"whole / default per second of video: {ratio_wall:.2f}x wall, {ratio_cpu:.2f}x CPU (goal <= 1.2x)")
    if args.csv:
        append_csv_row(
            args.csv,
            {
                "bench": "whole_video",
                "seconds": args.seconds,
                "device": args.device,
                "threads": torch.get_num_threads(),
                "default_wall_s": round(default_wall, 2),
                "default_cpu_s": round(default_cpu, 2),
                "whole_wall_s": round(whole_wall, 2),
                "whole_cpu_s": round(whole_cpu, 2),
                "ratio_wall": round(ratio_wall, 3),
                "ratio_cpu": round(ratio_cpu, 3),
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
