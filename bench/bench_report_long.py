"""How long report.py takes with its defaults on a long 720p video on a CPU: the whole command, start to finish.

Makes (once, then reuses) the synthetic 60 s 1280x720 H.264 video of ``bench_long_video`` (a textured scene under
a moving camera, 25 fps, no audio), writes random RAFT-large and ResNet-50 weights in the official formats (the
cost does not depend on the values), and runs ``report.py VIDEO --use_cpu -mor .. -mop .. --model ..`` in a fresh
process with every other option at its default: AIGVDet's CPU time budget (``core.aigvdet.budget``) picks the
pairs. It prints the estimate report.py logged before the work, the wall-clock and CPU time, the ratio to the
goal (6 minutes) and to the budget's own estimate of the AIGVDet analysis, and checks that the JSON and the HTML
say what was sampled.

The audio-visual detector is not run (its default weight files are absent, as on a fresh checkout, and the clip
has no audio): on 60 s its whole-video pass alone costs about 380 s on this CPU (docs/detect.md).

    python -m bench.bench_report_long                       # 60 s of 720p: the goal is under 6 minutes
    python -m bench.bench_report_long --seconds 5           # quick check that it works
    python -m bench.bench_report_long --csv bench/results.csv
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.bench_long_video import random_weights, synthetic_long_video
from bench.common import append_csv_row

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 360.0


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=None, help="video to use (default: a synthetic one, made once)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic video")
    parser.add_argument("--size", default="720x1280", help="HxW of the synthetic video")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--cache_dir", default="outputs/bench", help="where the synthetic video is kept")
    parser.add_argument("--csv", default=None, help="append a result row here")
    parser.add_argument("extra", nargs="*", help="more report.py options after --, e.g. -- --time_budget 120")
    return parser


def run_report(video: Path, weights: tuple[Path, Path, Path], out: Path, extra: list[str]):
    """One ``report.py`` run in a fresh process: (wall seconds, CPU seconds, the estimate line it logged, JSON)."""
    raft, rgb, flow = weights
    missing = out / "no_av_weights"  # the audio-visual detector's files: absent, as on a fresh checkout
    command = [sys.executable, "report.py", str(video), "--use_cpu", "--output_dir", str(out)]
    command += ["--model", str(raft), "-mor", str(rgb), "-mop", str(flow)]
    command += ["--sync_model_path", str(missing / "sync_model.pth"), *extra]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"report.py failed with exit code {done.returncode}")
    cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    estimate = next((line for line in done.stderr.splitlines() if " pairs: " in line), "(no estimate logged)")
    return seconds, cpu_seconds, estimate, json.loads((out / f"{video.stem}.json").read_text())


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
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        weights = random_weights(Path(tmp))
        seconds, cpu_seconds, estimate, data = run_report(video, weights, Path(tmp) / "out", args.extra)
        page = (Path(tmp) / "out" / f"{video.stem}.html").read_text()
    load_after = os.getloadavg()
    aigvdet = data["detectors"]["aigvdet"]
    analysis = aigvdet["details"].get("analysis", {})
    budget = analysis.get("budget")
    pairs = len(aigvdet["series"]["flow"]["values"])
    print(f"video: {video} ({data['video']['frames']} frames, {data['video']['width']}x{data['video']['height']})")
    print(f"estimate logged before the work: {estimate.split(f'{video}: ', 1)[-1]}")
    if budget:
        assert analysis["sampling"] in page, "the page does not say what was sampled"
        print(f"the report says: {analysis['sampling']} (JSON and HTML)")
    else:
        print(f"the report says: every pair was analysed ({pairs} pairs)")
    print(f"report.py with defaults: {seconds:.1f} s wall clock, {cpu_seconds:.1f} s CPU")
    print(f"goal {GOAL_S:.0f} s: ratio {seconds / GOAL_S:.2f} ({'met' if seconds <= GOAL_S else 'MISSED'})")
    if budget:
        # The budget's model: the planned pairs plus the page's two illustration pairs, at the per-pair estimate.
        modelled = budget["per_pair_s"] * (pairs + 2)
        print(
            f"AIGVDet took {aigvdet['seconds']:.1f} s for {pairs} + 2 illustration pairs; the budget's model said "
            f"{modelled:.1f} s (ratio {aigvdet['seconds'] / modelled:.2f}); every pair: "
            f"~{budget['estimated_all_s']:.0f} s"
        )
    print(f"{os.cpu_count()} CPUs; load average before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    if args.csv:
        append_csv_row(
            args.csv,
            {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "bench": "report_long",
                "cpu": platform.processor() or "cpu",
                "video_frames": data["video"]["frames"],
                "size": f"{data['video']['width']}x{data['video']['height']}",
                "sample_pairs": pairs,
                "flags": " ".join(args.extra),
                "wall_s": round(seconds, 1),
                "cpu_s": round(cpu_seconds, 1),
                "load_before": round(load_before[0], 1),
                "load_after": round(load_after[0], 1),
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(get_args_parser().parse_args()))
