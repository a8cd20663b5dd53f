"""Time face tracking and cropping on a talking-head video: frames/s and CPU seconds per second of video.

    python -m bench.bench_face_tracks                       # a 10 s 1280x720 video made from the fixture face
    python -m bench.bench_face_tracks --video talk.mp4 --seconds 20

Without ``--video`` the shared fixture face (../shared/fixtures/avforensics/test.mp4), scaled 2x, drifts over
a textured 1280x720 background; the synthetic video is encoded once (H.264) and not timed. Three passes
are timed, each decoding the file again with PyAV: decoding alone, decoding + :func:`track_faces`, and
decoding + :func:`crop_track` of the main track. CPU time is the process's (all threads); the goal is at
most 1 s of CPU per second of 25 fps video. Run it as a module from the repository root.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np
import torch

from bench.common import append_csv_row
from core.cli import run_cli
from core.errors import InputError
from core.media.encode import write_video
from core.media.faces.crop import crop_track
from core.media.faces.detector import FaceDetector
from core.media.faces.status import select_main_track
from core.media.faces.tracks import track_faces

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "avforensics" / "test.mp4"


def decode(path: Path, max_frames: int) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in itertools.islice(container.decode(stream), max_frames):
            yield frame.to_ndarray(format="rgb24")


def synthesize(target: Path, seconds: float, width: int = 1280, height: int = 720, scale: float = 2.0) -> Path:
    if not FIXTURE.is_file():
        raise InputError(f"the fixture face {FIXTURE} is absent: give a video instead")
    faces = list(decode(FIXTURE, 10_000))
    rng = np.random.default_rng(0)
    background = cv2.resize(
        rng.integers(0, 256, (height // 40, width // 40, 3), dtype=np.uint8),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    side = int(224 * scale)

    def frame(index: int) -> np.ndarray:
        image = background.copy()
        x = int((width - side) / 2 + 80 * np.sin(index / 40))  # a slow sway, as a speaker moves
        y = (height - side) // 2
        image[y : y + side, x : x + side] = cv2.resize(faces[index % len(faces)], (side, side))
        return image

    return write_video(target, (frame(index) for index in range(int(seconds * 25))), size=(width, height))


def timed(work) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        video = Path(args.video) if args.video else synthesize(Path(folder) / "talk.mp4", args.seconds)
        max_frames = int(args.seconds * 25)
        frames, decode_wall, decode_cpu = timed(lambda: sum(1 for _ in decode(video, max_frames)))
        detector = FaceDetector(device=args.device, num_threads=args.detector_threads)
        detector([np.zeros((64, 64, 3), np.uint8)])  # load the weights outside the timing
        tracks, track_wall, track_cpu = timed(lambda: track_faces(decode(video, max_frames), 25.0, detector))
        main_track = select_main_track(tracks)
        crops, crop_wall, crop_cpu = timed(lambda: crop_track(decode(video, max_frames), main_track))
    seconds = frames / 25.0
    print(f"{video.name}: {frames} frames ({seconds:.1f} s at 25 fps), {len(tracks)} tracks, main {main_track}")
    print(f"{'pass':<22}{'frames/s':>10}{'CPU s per video s':>20}")
    for name, wall, cpu in (
        ("decode", decode_wall, decode_cpu),
        ("decode + track_faces", track_wall, track_cpu),
        ("decode + crop_track", crop_wall, crop_cpu),
    ):
        print(f"{name:<22}{frames / wall:>10.1f}{cpu / seconds:>20.3f}")
    total = (track_cpu + crop_cpu - decode_cpu) / seconds
    print(f"tracking + cropping, one decode: {total:.3f} CPU s per video s (goal <= 1)")
    if args.csv:
        append_csv_row(
            args.csv,
            {
                "video": video.name if args.video else "synthetic-1280x720",
                "frames": frames,
                "device": args.device,
                "threads": args.threads,
                "detector_threads": args.detector_threads,
                "decode_cpu_per_s": round(decode_cpu / seconds, 3),
                "track_cpu_per_s": round(track_cpu / seconds, 3),
                "crop_cpu_per_s": round(crop_cpu / seconds, 3),
                "track_fps": round(frames / track_wall, 1),
                "crops": len(crops),
            },
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=None, help="a talking-head video (default: synthesized from the fixture)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of video to process")
    parser.add_argument("--threads", type=int, default=2, help="torch threads outside the detector")
    parser.add_argument("--detector_threads", type=int, default=1, help="torch threads while detecting")
    parser.add_argument("--device", default="cpu", help="where the face detector runs (cpu, cuda)")
    parser.add_argument("--csv", default=None, help="append a result row to this CSV file")
    return parser


if __name__ == "__main__":
    logging.getLogger("core.media.faces.tracks").setLevel(logging.WARNING)
    raise SystemExit(run_cli(main, build_parser()))
