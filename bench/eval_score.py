"""score.py on the two synthetic worlds: resume after Ctrl-C, torchrun shards, robustness, bad videos, throughput.

    python -m bench.eval_score --models_dir quickstart/runs --work_dir outputs/eval_score

Uses the tiny models the quickstart trains (``--models_dir``: synth_rgb/, synth_flow/, avsync/, avanomaly/).
Writes ``--count`` real and ``--count`` fake held-out videos of each world (seeds the quickstart never used),
then runs score.py as a user would (separate processes) and prints:

1. the uninterrupted table of each world (AIGVDet on its world, the audio-visual detector on its own) and the
   throughput (videos/s, seconds of video per second, wall clock of the whole command, start-up included);
2. a run killed with SIGINT after a few videos and rerun: the same rows as the uninterrupted run (timings
   aside);
3. ``torchrun --nproc_per_node 2`` on the CPU (gloo): the same rows as one process;
4. the robustness table (4 perturbation kinds x 3 levels per world) and its plot;
5. a batch with bad videos (missing, truncated, no audio, one frame): a status row each, the rest scored.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av

from core.aigvdet.synthetic.world import WorldSpec, generate
from core.avforensics.synthetic import render_clip, write_av, write_dataset
from core.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
AIGV_KINDS = "jpeg,resize,blur,noise"
AV_KINDS = "audio_noise,h264,blur,noise"


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models_dir", required=True, help="the quickstart's runs/ folder")
    parser.add_argument("--work_dir", default="outputs/eval_score")
    parser.add_argument("--count", type=int, default=20, help="real and fake videos per world")
    parser.add_argument("--skip", default="", help="comma-separated steps to skip: interrupt,torchrun,robustness,bad")
    return parser


def make_worlds(work: Path, count: int) -> tuple[Path, Path]:
    aigv_root = work / "aigvdet_world"
    if not aigv_root.exists():
        generate(aigv_root, WorldSpec(train=0, val=0, test=count, frames=8, seed=7_000), show_progress=False)
    aigv_list = work / "aigvdet.txt"
    videos = sorted((aigv_root / "videos" / "test" / "synth").rglob("*.avi"))
    aigv_list.write_text("".join(f"{v} {v.parent.name}\n" for v in videos))
    av_list = work / "av.txt"
    if not av_list.exists():
        folder = work / "av_world"
        lines = [f"{p} real" for p in write_dataset(folder, count, frames=48, seed=60_000)]
        lines += [f"{p} fake shift" for p in write_dataset(folder, count // 2, 48, seed=61_000, kind="shift")]
        lines += [f"{p} fake swap" for p in write_dataset(folder, count - count // 2, 48, seed=62_000, kind="swap")]
        av_list.write_text("\n".join(lines) + "\n")
    return aigv_list, av_list


def detector_args(models: Path, which: str) -> list[str]:
    if which == "aigvdet":
        return [
            "--detectors", "aigvdet", "-mor", str(models / "synth_rgb/ckpt/model_epoch_best.pth"),
            "-mop", str(models / "synth_flow/ckpt/model_epoch_best.pth"), "--arch", "resnet18",
            "--crop_size", "64", "--flow_method", "dis",
        ]  # fmt: skip
    anomaly = models / "avanomaly"
    return [
        "--detectors", "av", "--sync_model_path", str(models / "avsync/sync_model.pth"),
        "--dist_model_path", str(anomaly / "dist_regressive_model.pth"),
        "--avfeature_model_path", str(anomaly / "avfeature_regressive_model.pth"),
        "--pca_path", str(anomaly / "pca.npz"), "--face_crop", "never",
    ]  # fmt: skip


def score(argv: list[str], launcher: list[str] | None = None, threads: int | None = None) -> float:
    started = time.perf_counter()
    command = (launcher or [sys.executable]) + [str(ROOT / "score.py"), "--device", "cpu", "--no_progress", *argv]
    env = dict(os.environ) if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def largest_difference(one: list[dict], other: list[dict]) -> float:
    """The largest absolute difference between the score columns of two tables with the same rows."""
    return max(
        (
            abs(float(a[k]) - float(b[k]))
            for a, b in zip(one, other)
            for k in a
            if k.endswith("_score") and a[k] != b[k]
        ),
        default=0.0,
    )


def rows(folder: Path) -> list[dict]:
    with open(folder / "results.csv", newline="") as handle:
        return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in csv.DictReader(handle)]


def interrupted_run(argv: list[str], out: Path, after: int) -> int:
    """Start score.py, send SIGINT once ``after`` rows are on disk, then rerun it; returns the rows at the kill."""
    command = [sys.executable, str(ROOT / "score.py"), "--device", "cpu", "--no_progress", *argv]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = out / "parts" / "results.rank0.csv"
    while process.poll() is None:
        if part.exists() and len(part.read_text().splitlines()) - 1 >= after:
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    process.wait()
    written = len(part.read_text().splitlines()) - 1
    score(argv)
    return written


def video_seconds(table: list[dict]) -> float:
    total = 0.0
    for row in table:
        with av.open(row["path"]) as container:
            stream = container.streams.video[0]
            total += float(stream.frames or 0) / float(stream.average_rate or 25) if stream.frames else 0.0
            if not stream.frames:
                total += float(container.duration or 0) / 1e6
    return total


def bad_videos(work: Path, aigv_list: Path, av_list: Path) -> Path:
    folder = work / "bad"
    folder.mkdir(parents=True, exist_ok=True)
    good_av = av_list.read_text().split()[0]
    good_aigv = aigv_list.read_text().split()[0]
    data = Path(good_av).read_bytes()
    (folder / "truncated.mkv").write_bytes(data[: len(data) // 2])
    clip = render_clip(5, frames=1, size=32)
    write_av(folder / "one_frame.mkv", clip.frames, clip.audio)
    listing = folder / "list.txt"
    listing.write_text(
        f"{good_av} 0\n{folder / 'missing.mkv'} 1\n{folder / 'truncated.mkv'} 1\n{good_aigv} 1\n"
        f"{folder / 'one_frame.mkv'} 1\n"
    )
    return listing


def main(args: argparse.Namespace) -> int:
    work, models = Path(args.work_dir), Path(args.models_dir)
    work.mkdir(parents=True, exist_ok=True)
    skip = set(args.skip.split(","))
    aigv_list, av_list = make_worlds(work, args.count)
    for world, listing in (("aigvdet", aigv_list), ("av", av_list)):
        base = ["--videos", str(listing), *detector_args(models, world)]
        out = work / f"{world}_full"
        seconds = score([*base, "--output_dir", str(out), "--overwrite"])
        table = rows(out)
        ok = sum(r[f"{world}_status"] == "ok" for r in table)
        length = video_seconds(table)
        print(f"[{world}] {len(table)} videos ({ok} ok), {length:.1f} s of video: {seconds:.1f} s wall clock, "
              f"{len(table) / seconds:.2f} videos/s, {length / seconds:.2f} s of video per s")  # fmt: skip
        if "interrupt" not in skip:
            cut = work / f"{world}_interrupted"
            written = interrupted_run([*base, "--output_dir", str(cut), "--overwrite"], cut, after=5)
            print(f"[{world}] SIGINT with {written} rows written, rerun: same rows as uninterrupted: "
                  f"{rows(cut) == table}")  # fmt: skip
        if "torchrun" not in skip:
            # torchrun gives each process one OpenMP thread: the reference run gets one too, as float sums
            # over another number of threads differ in their last bits.
            single, sharded = work / f"{world}_one_thread", work / f"{world}_torchrun"
            score([*base, "--output_dir", str(single), "--overwrite"], threads=1)
            launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
            seconds = score([*base, "--output_dir", str(sharded), "--overwrite"], launcher)
            parts = sorted(p.name for p in (sharded / "parts").glob("*.csv"))
            print(f"[{world}] torchrun 2 processes ({', '.join(parts)}), {seconds:.1f} s: same rows as one "
                  f"process with one thread: {rows(sharded) == rows(single)}; largest score difference from the "
                  f"two-thread run: {largest_difference(table, rows(sharded)):.2g}")  # fmt: skip
        if "robustness" not in skip:
            robust = work / f"{world}_robustness"
            kinds = AIGV_KINDS if world == "aigvdet" else AV_KINDS
            seconds = score([*base, "--output_dir", str(robust), "--overwrite", "--robustness", kinds])
            print(f"[{world}] robustness ({kinds}), {seconds:.1f} s: {robust / 'robustness.csv'}")
            print((robust / "robustness.csv").read_text())
    if "bad" not in skip:
        listing = bad_videos(work, aigv_list, av_list)
        out = work / "bad_out"
        both = [*detector_args(models, "aigvdet"), *detector_args(models, "av")[2:]]
        score(["--videos", str(listing), "--detectors", "aigvdet,av", *both[2:], "--output_dir", str(out),
               "--overwrite"])  # fmt: skip
        for row in rows(out):
            print(f"[bad] {Path(row['path']).name}: aigvdet {row['aigvdet_status']!r}, av {row['av_status']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
