"""Turn videos into AIGVDet's RGB-frame and optical-flow folders (the official dataset layout).

    # videos laid out as <videos>/0_real/*.mp4 and <videos>/1_fake/*.mp4
    python -m core.aigvdet.data.prepare --videos data/videos/mytest --rgb_out data/test/original/mytest \
        --flow_out data/test/mytest --model checkpoints/raft-things.pth

    # a list file: one "path label" per line (label 0/1 or real/fake); paths relative to the list file
    python -m core.aigvdet.data.prepare --videos my_videos.txt --rgb_out ... --flow_out ...

    # several GPUs: each rank takes its shard of the videos
    torchrun --nproc_per_node 4 -m core.aigvdet.data.prepare --videos ... --rgb_out ... --flow_out ...

    # no RAFT weights: OpenCV's DIS flow (NOT what the official flow checkpoint was trained on)
    python -m core.aigvdet.data.prepare --videos ... --rgb_out ... --flow_out ... --flow_method dis

Frames are named and encoded exactly as AIGVDet's demo writes them (``frame_00000.png``; a flow image
named after the first frame of its pair, written from RAFT's padded flow), so the folders and the
official preprocessed data are interchangeable. Resumable: each video is written to ``<name>.partial``
folders renamed when complete; complete videos are skipped. A bad video is logged and reported in
``prepare_report.csv`` (under ``--rgb_out``) and the rest go on; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from core.aigvdet.data.layout import CLASS_FOLDERS, FrameFlowWriter
from core.cli import add_device_arguments, add_flow_arguments, corr_mode_of, device_from_args, flow_from_args, run_cli
from core.errors import ToolkitError
from core.flow import FlowExtractor, flow_to_classifier_rgb
from core.flow.extractor import frames_to_tensor
from core.flow.raft import frame_size_problem
from core.media.sources import VideoEntry, read_video_list
from core.media.video import VideoReader, chunked, sample_frames
from core.runs.progress import progress_bar
from core.runs.status import Status
from core.runs.writable import require_writable_folder

log = logging.getLogger("core.aigvdet.data.prepare")

REPORT_NAME = "prepare_report.csv"


@dataclass
class PrepareOptions:
    stride: int = 1
    max_frames: int | None = None
    extension: str = ".png"
    batch_size: int = 8


def prepare_video(item: VideoEntry, rgb_root: Path, flow_root: Path, flow, options: PrepareOptions) -> tuple[str, int]:
    """Write one video's frames and flows; returns (status, frames written). Raises ToolkitError on bad input."""
    rgb_final = rgb_root / CLASS_FOLDERS[item.label] / item.name
    flow_final = flow_root / CLASS_FOLDERS[item.label] / item.name
    if rgb_final.is_dir() and flow_final.is_dir():
        return "skipped (complete)", len(list(rgb_final.iterdir()))
    rgb_partial, flow_partial = (p.with_name(p.name + ".partial") for p in (rgb_final, flow_final))
    for folder in (rgb_partial, flow_partial, rgb_final, flow_final):
        shutil.rmtree(folder, ignore_errors=True)  # leftovers of an interrupted run
    video = VideoReader(item.path)  # opened before anything is created: a bad file leaves no trace
    problem = frame_size_problem(video.info.width, video.info.height) if isinstance(flow, FlowExtractor) else None
    if problem:
        video.close()
        raise ToolkitError(f"frames of {video.info.width}x{video.info.height}: {problem}")
    writer = FrameFlowWriter(rgb_partial, flow_partial, options.extension)
    flow.reset()
    written = 0

    expected = -(-video.info.frame_count // options.stride) if video.info.frame_count else 0
    if options.max_frames is not None:
        expected = min(expected, options.max_frames) if expected else options.max_frames
    try:
        with video, progress_bar(expected, item.name) as bar:
            if isinstance(flow, FlowExtractor):
                flow.on_pairs = bar.update  # a pair of large frames can take minutes on a CPU
            for chunk in chunked(sample_frames(video, options.stride, options.max_frames), options.batch_size):
                writer.write_frames(written, chunk)
                flows = flow.push(frames_to_tensor(chunk, flow.device))
                first_pair = written - 1 if written else 0  # the previous chunk's last frame opens the first pair
                images = [flow_to_classifier_rgb(f) for f in flows.permute(0, 2, 3, 1).float().cpu().numpy()]
                writer.write_flows(first_pair, images)
                written += len(chunk)
                bar.update(written - bar.n)
        if written < 2:
            raise ToolkitError(f"{written} frame(s) kept; need at least 2 for optical flow")
    except BaseException:
        if isinstance(flow, FlowExtractor):
            flow.on_pairs = None
        shutil.rmtree(rgb_partial, ignore_errors=True)
        shutil.rmtree(flow_partial, ignore_errors=True)
        raise
    # Flows first: a video counts as complete only when its RGB folder exists too.
    flow_partial.rename(flow_final)
    rgb_partial.rename(rgb_final)
    return "ok", written


def labelled_videos(source: str | os.PathLike) -> list[VideoEntry]:
    """The labelled videos of ``source``; two that would share an output folder are refused before any work."""
    items = read_video_list(source, require_labels=True)
    clashes = [key for key, count in Counter((i.label, i.name) for i in items).items() if count > 1]
    if clashes:
        names = ", ".join(f"{CLASS_FOLDERS[label]}/{name}" for label, name in clashes)
        raise ToolkitError(f"several videos would share an output folder: {names}; rename them")
    return items


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="folder with 0_real/ and 1_fake/ videos, or a list file")
    parser.add_argument("--rgb_out", required=True, help="RGB frame root to write")
    parser.add_argument("--flow_out", required=True, help="optical-flow image root to write")
    add_flow_arguments(parser)
    parser.add_argument("--stride", type=int, default=1, help="keep every N-th frame")
    parser.add_argument("--max_frames", type=int, default=None, help="keep at most this many frames per video")
    parser.add_argument("--image_format", choices=("png", "jpg"), default="png")
    parser.add_argument("--batch_size", type=int, default=8)
    add_device_arguments(parser)
    return parser


def main(args: argparse.Namespace) -> int:
    if args.stride < 1 or (args.max_frames is not None and args.max_frames < 2):
        raise ToolkitError("--stride must be >= 1 and --max_frames >= 2")
    require_writable_folder(args.rgb_out, "RGB frames (--rgb_out) to")
    require_writable_folder(args.flow_out, "flow images (--flow_out) to")
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    device = device_from_args(args)
    if world > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    flow = flow_from_args(args, device, corr_mode_of(args))
    items = labelled_videos(args.videos)[rank::world]
    rgb_root, flow_root = Path(args.rgb_out), Path(args.flow_out)
    options = PrepareOptions(args.stride, args.max_frames, f".{args.image_format}", args.batch_size)
    rows = []
    report = rgb_root / (REPORT_NAME if world == 1 else f"prepare_report.rank{rank}.csv")
    rgb_root.mkdir(parents=True, exist_ok=True)
    # The report is written as the videos go (a row on disk per video), so a crash or Ctrl-C keeps it.
    with report.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["video", "label", "name", "status", "frames"])
        writer.writeheader()
        for item in progress_bar(None, f"prepare[{rank}]" if world > 1 else "prepare", "video", True, iterable=items):
            try:
                status, frames = prepare_video(item, rgb_root, flow_root, flow, options)
            except ToolkitError as exc:
                status, frames = f"failed: {exc}", 0
                log.error("%s: %s", item.path, exc)
            except (RuntimeError, ValueError) as exc:  # a decoder or model failure on one file must not stop the batch
                status, frames = str(Status.from_exception(exc)), 0
                log.error("%s: %s", item.path, status)
            rows.append(
                {"video": str(item.path), "label": item.label, "name": item.name, "status": status, "frames": frames}
            )
            writer.writerow(rows[-1])
            handle.flush()
            os.fsync(handle.fileno())
    failed = sum(row["status"].startswith("failed") for row in rows)
    log.info("%d video(s): %d failed; report in %s", len(rows), failed, report)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
