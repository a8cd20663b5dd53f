"""How long report.py takes with its defaults on a long 720p video on a CPU: the whole command, start to finish.

Makes (once, then reuses) the synthetic 60 s 1280x720 H.264 video of ``bench_long_video`` (a textured scene under
a moving camera, 25 fps, no audio), writes random RAFT-large and ResNet-50 weights in the official formats (the
cost does not depend on the values), and runs ``report.py VIDEO --use_cpu -mor .. -mop .. --model ..`` in a fresh
process with every other option at its default: AIGVDet's CPU time budget (``core.aigvdet.budget``) picks the
pairs. It prints the estimate report.py logged before the work, the wall-clock and CPU time, the ratio to the
goal (6 minutes) and to the budget's own estimate of the AIGVDet analysis, and checks that the JSON and the HTML
say what was sampled.

With ``--talking_face`` (the default when ../shared/fixtures is there) the video is the issue's upload instead:
the fixture's real 5.4 s talking-face clip looped to the length, pasted 1.5x into a 1280x720 textured scene, with
its voice, so the audio-visual detector runs too: a random sync model of the official size (the official one is
not public; the cost does not depend on the values) with the authors' autoregressive checkpoints and PCA. Both
estimating detectors then share the budget (``report.py --time_budget``).

    python -m bench.bench_report_long                       # 60 s of 720p: the goal is under 6 minutes
    python -m bench.bench_report_long --seconds 5           # quick check that it works
    python -m bench.bench_report_long --csv bench/results.csv
    python -m bench.bench_report_long --no_talking_face      # the textured scene without audio: AIGVDet only
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

from bench.bench_long_video import random_weights, synthetic_long_video
from bench.common import add_long_video_arguments, append_csv_row, result_row
from core.avforensics.sync_transformer import SyncModel
from core.media.encode import write_video

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "avforensics"
GOAL_S = 360.0


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_long_video_arguments(parser)
    parser.add_argument("--csv", default=None, help="append a result row here")
    parser.add_argument(
        "--talking_face",
        action=argparse.BooleanOptionalAction,
        default=FIXTURES.is_dir(),
        help="the fixture's talking face looped in a 720p scene, with its voice: the audio-visual detector runs too",
    )
    parser.add_argument("extra", nargs="*", help="more report.py options after --, e.g. -- --time_budget 120")
    return parser


def talking_face_video(path: Path, seconds: float, height: int, width: int, fps: int = 25) -> Path:
    """The fixture clip looped to ``seconds``, pasted 1.5x into a textured ``width`` x ``height`` scene, with sound."""
    import av

    if path.exists():
        return path
    with av.open(str(FIXTURES / "test.mp4")) as container:
        faces = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(FIXTURES / "test.mp4")) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        chunks = [f.to_ndarray() for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    voice = np.concatenate(chunks, axis=1)[0][: len(faces) * 640]
    rng = np.random.default_rng(0)
    scene = cv2.resize(rng.integers(0, 256, (height // 16, width // 16, 3), np.uint8), (width, height), cv2.INTER_CUBIC)
    side, frames = 336, round(seconds * fps)
    x, y = (width - side) // 2, (height - side) // 3
    path.parent.mkdir(parents=True, exist_ok=True)

    def scene_frame(i: int) -> np.ndarray:
        image = scene.copy()
        image[y : y + side, x : x + side] = cv2.resize(faces[i % len(faces)], (side, side), cv2.INTER_CUBIC)
        return image

    audio = np.tile(voice, frames // len(faces) + 1)[: frames * 640]
    images = (scene_frame(i) for i in range(frames))
    return write_video(path, images, fps, size=(width, height), video_options={"preset": "veryfast"}, audio=audio)


def av_weights(folder: Path) -> list[str]:
    """report.py's flags for a random official-size sync model and the authors' other three files."""
    torch.manual_seed(0)
    torch.save(SyncModel().state_dict(), folder / "sync_model.pth")
    return [
        "--sync_model_path",
        str(folder / "sync_model.pth"),
        "--dist_model_path",
        str(FIXTURES / "dist_regressive_model.pth"),
        "--avfeature_model_path",
        str(FIXTURES / "avfeature_regressive_model.pth"),
        "--pca_path",
        str(FIXTURES / "pca.pkl"),
    ]


def run_report(video: Path, weights: tuple[Path, Path, Path], out: Path, av: list[str] | None, extra: list[str]):
    """One ``report.py`` run in a fresh process: (wall seconds, CPU seconds, the estimate line it logged, JSON).
    ``av``: the audio-visual detector's flags; None: its files are absent, as on a fresh checkout."""
    raft, rgb, flow = weights
    command = [sys.executable, "report.py", str(video), "--use_cpu", "--output_dir", str(out)]
    command += ["--model", str(raft), "-mor", str(rgb), "-mop", str(flow)]
    command += av if av is not None else ["--sync_model_path", str(out / "no_av_weights" / "sync_model.pth")]
    command += extra
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
    if args.video:
        video = Path(args.video)
    elif args.talking_face:
        video = talking_face_video(
            Path(args.cache_dir) / f"face_{height}p_{args.seconds:g}s.mp4", args.seconds, height, width
        )
    else:
        name = f"long_{height}p_{args.seconds:g}s_{args.fps}fps.mp4"
        video = synthetic_long_video(Path(args.cache_dir) / name, args.seconds, height, width, args.fps)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        weights = random_weights(Path(tmp))
        av = av_weights(Path(tmp)) if args.talking_face else None
        seconds, cpu_seconds, estimate, data = run_report(video, weights, Path(tmp) / "out", av, args.extra)
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
    audio_visual = data["detectors"].get("avforensics", {})
    if audio_visual.get("status") in ("ok", "truncated"):
        sampling = audio_visual["details"].get("sampling", "every window")
        assert sampling == "every window" or sampling in page, "the page does not say which windows were scored"
        face = audio_visual["details"].get("face_status")
        print(f"audio-visual detector: {audio_visual['seconds']:.1f} s, face {face}, {sampling}")
    elif audio_visual:
        print(f"audio-visual detector: {audio_visual.get('status')}: {audio_visual.get('reason')}")
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
            result_row(
                "report_long",
                video_frames=data["video"]["frames"],
                size=f"{data['video']['width']}x{data['video']['height']}",
                sample_pairs=pairs,
                flags=" ".join(args.extra),
                wall_s=round(seconds, 1),
                cpu_s=round(cpu_seconds, 1),
                load_before=round(load_before[0], 1),
                load_after=round(load_after[0], 1),
            ),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(get_args_parser().parse_args()))
