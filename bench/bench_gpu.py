"""GPU throughput in one run: AIGVDet frames/s at 720p end to end, audio-visual seconds of video per second, face
tracking frames/s (the dataset-scale issue's figures), each against its baseline where one exists.

Each part runs in its own process, on the same device, and appends its row to a CSV in a scratch folder:

1. ``bench_demo``, float32: ours and the reference-style pipeline (PNG round trips, RAFT per pair, one image at a
   time) on the same 720p frames and weights; the float32 path must stay within 1e-4 of the reference.
2. ``bench_demo`` with ``--mixed_precision --classifier_precision bf16 --channels_last``: ours in frames/s (decode,
   RAFT, both ResNets; goal at least 100) and its speed-up over the reference style run as the reference's
   ``--mixed_precision`` runs it (goal at least 5x).
3. ``bench_whole_video``: whole-video audio-visual scoring of a synthetic clip (official model sizes, random
   weights), seconds of video per second, against the first-2-seconds scoring.
4. ``bench_face_tracks``: decoding + face tracking, and decoding + cropping, in frames/s.

It prints one table and appends it to ``--csv``. A part that fails is reported and the others still run.

    python -m bench.bench_gpu --device cuda --csv bench/results_gpu.csv
    python -m bench.bench_gpu --device cpu --size 128x224 --frames 3 --av_seconds 4 --face_seconds 1  # smoke run
"""

from __future__ import annotations

import argparse
import csv
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from bench.common import append_csv_row

REPO = Path(__file__).resolve().parents[1]
FAST_FLAGS = ["--mixed_precision", "--classifier_precision", "bf16", "--channels_last"]
FLOAT32_TOLERANCE = 1e-4
GOAL_FRAMES_PER_S = 100.0
GOAL_SPEEDUP = 5.0


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", default="720x1280", help="HxW of the AIGVDet video")
    parser.add_argument("--frames", type=int, default=64, help="frames of the AIGVDet video")
    parser.add_argument("--batch_size", type=int, default=16, help="AIGVDet frames per chunk")
    parser.add_argument("--av_seconds", type=float, default=60.0, help="length of the audio-visual clip")
    parser.add_argument("--face_seconds", type=float, default=10.0, help="length of the face-tracking video")
    parser.add_argument("--parts", default="float32,fast,av,faces", help="which parts to run")
    parser.add_argument("--csv", default=None, help="append the summary rows here")
    return parser


def run_part(module: str, args: list[str], csv_path: Path) -> tuple[dict | None, float, str]:
    """(its CSV row or None, wall seconds, the tail of its output) for one benchmark module in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--csv", str(csv_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    output = (done.stdout + done.stderr).strip()
    print(output[-3000:], flush=True)
    if done.returncode != 0 or not csv_path.is_file():
        return None, seconds, output[-500:]
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return (rows[-1] if rows else None), seconds, output[-500:]


def aigvdet_part(name: str, flags: list[str], args: argparse.Namespace, scratch: Path) -> dict:
    demo_args = ["--size", args.size, "--frames", str(args.frames), "--device", args.device]
    demo_args += ["--batch_size", str(args.batch_size), *flags]
    row, _, tail = run_part("bench.bench_demo", demo_args, scratch / f"{name}.csv")
    if row is None:
        return {"part": f"aigvdet {name}", "status": f"failed: {tail.splitlines()[-1] if tail else '?'}"}
    frames, ours_s, reference_s = int(row["frames"]), float(row["ours_s"]), float(row["reference_s"])
    diff = float(row["max_prob_diff"])
    result = {
        "part": f"aigvdet {name}",
        "status": "ok",
        "value": round(frames / ours_s, 2),
        "unit": "frames/s",
        "baseline": round(frames / reference_s, 2),
        "ratio": round(reference_s / ours_s, 2),
        "max_diff": f"{diff:.2e}",
    }
    if name == "float32":
        result["goal"] = f"max_diff <= {FLOAT32_TOLERANCE:g}: {'met' if diff <= FLOAT32_TOLERANCE else 'MISSED'}"
    else:
        met = frames / ours_s >= GOAL_FRAMES_PER_S and reference_s / ours_s >= GOAL_SPEEDUP
        result["goal"] = f">= {GOAL_FRAMES_PER_S:g} frames/s and >= {GOAL_SPEEDUP:g}x: {'met' if met else 'MISSED'}"
    return result


def av_part(args: argparse.Namespace, scratch: Path) -> dict:
    av_args = ["--seconds", f"{args.av_seconds:g}", "--device", args.device, "--default_runs", "1"]
    av_args += ["--video", str(scratch / "av_clip_{seconds:g}s.mkv")]
    row, _, tail = run_part("bench.bench_whole_video", av_args, scratch / "av.csv")
    if row is None:
        return {"part": "audio-visual whole video", "status": f"failed: {tail.splitlines()[-1] if tail else '?'}"}
    return {
        "part": "audio-visual whole video",
        "status": "ok",
        "value": round(float(row["seconds"]) / float(row["whole_wall_s"]), 2),
        "unit": "s of video/s",
        "ratio": row["ratio_wall"],
        "goal": "cost per second vs first 2 s (ratio) <= 1.2",
    }


def faces_part(args: argparse.Namespace, scratch: Path) -> dict:
    face_args = ["--seconds", f"{args.face_seconds:g}", "--device", args.device]
    row, _, tail = run_part("bench.bench_face_tracks", face_args, scratch / "faces.csv")
    if row is None:
        return {"part": "face tracking", "status": f"failed: {tail.splitlines()[-1] if tail else '?'}"}
    return {"part": "face tracking", "status": "ok", "value": row["track_fps"], "unit": "frames/s"}


def main(args: argparse.Namespace) -> int:
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as folder:
        scratch = Path(folder)
        if "float32" in parts:
            results.append(aigvdet_part("float32", [], args, scratch))
        if "fast" in parts:
            results.append(aigvdet_part("fast", FAST_FLAGS, args, scratch))
        if "av" in parts:
            results.append(av_part(args, scratch))
        if "faces" in parts:
            results.append(faces_part(args, scratch))
    print(f"\n{name} ({args.device}); AIGVDet {args.frames} frames at {args.size}, batch {args.batch_size}")
    print("| part | status | value | unit | baseline | ratio | max diff | goal |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        cells = [result.get(key, "") for key in ("part", "status", "value", "unit", "baseline", "ratio", "max_diff")]
        print("| " + " | ".join(str(cell) for cell in cells + [result.get("goal", "")]) + " |")
    if args.csv:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for result in results:
            row = {"date": stamp, "device": name, "size": args.size, "frames": args.frames}
            for key in ("part", "status", "value", "unit", "baseline", "ratio", "max_diff", "goal"):
                row[key] = result.get(key, "")
            append_csv_row(args.csv, row)
    return 0 if all(result["status"] == "ok" for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(get_args_parser().parse_args()))
