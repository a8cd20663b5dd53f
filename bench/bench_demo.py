"""Speed of demo.py's pipeline against the reference's way of doing the same work, on one video.

Reference style (multimediaFor/AIGVDet demo.py, rebuilt from our modules so it runs from this repo):
frames written as PNG, read back one by one; RAFT per pair (both frames through the feature encoder,
mask head and upsampling at every iteration); each flow image written as PNG; both classifiers one
image at a time from the files. Ours: ``AIGVDetPipeline`` (streamed, shared, batched, in memory).
Both run on the same frames and weights, each in its own process (warm-up run, then a timed run); the
script checks the probabilities agree and prints the ratio. Ours sets glibc to reuse freed memory as
demo.py does (core/memory.py); ``--reference_allocator tuned`` gives the reference style that too.

    python -m bench.bench_demo --size 256x448 --frames 6                 # CPU, random weights
    python -m bench.bench_demo --size 720x1280 --frames 16 --device cuda --csv bench/results.csv
    python -m bench.bench_demo --video clip.mp4 --raft checkpoints/raft-things.pth \
        -mor checkpoints/original.pth -mop checkpoints/optical.pth --device cuda

Without weight files it uses random ones (timings do not depend on the values).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

from bench.common import append_csv_row, classifier_pair
from core.aigvdet import AIGVDetPipeline
from core.cli import resolve_device
from core.flow import RAFT, FlowExtractor, flow_to_image, load_raft, pad_to_multiple_of_8
from core.flow.corr import CorrBlock, coords_grid
from core.flow.raft import normalize_frames, upsample_flow_bilinear, upsample_flow_convex
from core.memory import reuse_freed_cpu_memory
from core.runs.precision import PRECISIONS


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=None, help="video to use (default: a synthetic one)")
    parser.add_argument("--size", default="256x448", help="HxW of the synthetic video")
    parser.add_argument("--frames", type=int, default=6, help="frames of the synthetic video")
    parser.add_argument("--raft", default=None, help="RAFT weights (default: random)")
    parser.add_argument("-mor", "--model_original_path", default=None)
    parser.add_argument("-mop", "--model_optical_flow_path", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument(
        "--mixed_precision",
        action="store_true",
        help="RAFT autocast (ours; the reference style too on CUDA, where the reference has it)",
    )
    parser.add_argument("--classifier_precision", choices=sorted(PRECISIONS), default="fp32", help="ours only")
    parser.add_argument("--channels_last", action="store_true", help="ours only (the ResNets and RAFT)")
    parser.add_argument("--skip_reference", action="store_true", help="time ours only")
    parser.add_argument(
        "--reference_allocator",
        choices=["default", "tuned"],
        default="default",
        help="'tuned': give the reference style our glibc setting too (core.memory), which "
        "isolates the speed-up of the pipeline itself",
    )
    parser.add_argument("--side", choices=["ours", "reference"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--csv", default=None, help="append a result row to this CSV file")
    return parser


def reference_style_flow(model: RAFT, image1: torch.Tensor, image2: torch.Tensor, iters: int) -> torch.Tensor:
    """The reference's test-mode forward: features of both frames, upsampling at every iteration."""
    image1, image2 = normalize_frames(image1), normalize_frames(image2)
    fmap1, fmap2 = model.encode_features(torch.cat([image1, image2])).split(1)
    net, inp = model.encode_context(image1)
    corr_fn = CorrBlock(fmap1, fmap2, num_levels=model.corr_levels, radius=model.corr_radius)
    coords0 = coords_grid(1, *fmap1.shape[-2:], fmap1.device)
    coords1 = coords0.clone()
    for _ in range(iters):
        corr = corr_fn(coords1)
        with model._autocast(fmap1.device):
            net, mask, delta = model.update_block(net, inp, corr, coords1 - coords0, with_mask=True)
        coords1 = coords1 + delta
        flow_up = (
            upsample_flow_bilinear(coords1 - coords0) if mask is None else upsample_flow_convex(coords1 - coords0, mask)
        )
    return flow_up


@torch.inference_mode()
def run_reference_style(video: Path, raft: RAFT, rgb_model, flow_model, device, iters: int, workdir: Path):
    frames_dir, flows_dir = workdir / "frames", workdir / "flows"
    frames_dir.mkdir()
    flows_dir.mkdir()
    cap = cv2.VideoCapture(str(video))
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        cv2.imwrite(str(frames_dir / f"frame_{count:05d}.png"), frame)
        count += 1
    cap.release()
    files = sorted(frames_dir.glob("*.png"))

    def load(p):
        return torch.from_numpy(np.array(Image.open(p)).astype(np.uint8)).permute(2, 0, 1).float()[None].to(device)

    for first, second in zip(files[:-1], files[1:]):
        pair = pad_to_multiple_of_8(torch.cat([load(first), load(second)]))
        flow = reference_style_flow(raft, pair[:1], pair[1:], iters)
        cv2.imwrite(str(flows_dir / first.name), flow_to_image(flow[0].permute(1, 2, 0).float().cpu().numpy()))
    transform = T.Compose([T.CenterCrop((448, 448)), T.ToTensor()])

    def classify(folder: Path, model) -> list[float]:
        probs = []
        for path in sorted(folder.glob("*.png")):
            image = TF.normalize(
                transform(Image.open(path).convert("RGB")), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
            )
            probs.append(model(image[None].to(device)).sigmoid().item())
        return probs

    return classify(frames_dir, rgb_model), classify(flows_dir, flow_model)


def synthetic_video(path: Path, frames: int, height: int, width: int) -> Path:
    rng = np.random.default_rng(0)
    texture = cv2.resize(
        rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8),
        (width + 4 * frames, height + 4 * frames),
        interpolation=cv2.INTER_CUBIC,
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for i in range(frames):
        writer.write(np.ascontiguousarray(texture[2 * i : 2 * i + height, 3 * i : 3 * i + width]))
    writer.release()
    return path


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_models(args: argparse.Namespace, device: torch.device):
    torch.manual_seed(0)  # random weights are the same in both sides' processes
    channels_last = args.channels_last and args.side == "ours"  # the reference has no such option
    raft = (
        load_raft(args.raft, mixed_precision=args.mixed_precision, device=device, channels_last=channels_last)
        if args.raft
        else RAFT(mixed_precision=args.mixed_precision, channels_last=channels_last).to(device).eval()
    )
    rgb_model, flow_model = classifier_pair(args, device)
    return raft, rgb_model, flow_model


def time_side(args: argparse.Namespace) -> dict:
    """One side, in this process: a warm-up run (allocator, cuDNN autotuning, lazy imports), then a timed one."""
    device = resolve_device(device=args.device)
    video = Path(args.video)
    raft, rgb_model, flow_model = load_models(args, device)
    if args.side == "ours":
        # As demo.py does (through core.errors.run_cli); the reference style keeps glibc's defaults, as
        # the reference runs, unless --reference_allocator tuned asks for the same setting on both sides.
        tuned = reuse_freed_cpu_memory()
        pipeline = AIGVDetPipeline(
            rgb_model,
            flow_model,
            FlowExtractor(raft, iters=args.iters, batch_size=args.batch_size),
            batch_size=args.batch_size,
            classifier_dtype=PRECISIONS[args.classifier_precision],
            channels_last=args.channels_last,
        )
        run = lambda: pipeline.score_video(video)  # noqa: E731
    else:
        tuned = args.reference_allocator == "tuned" and reuse_freed_cpu_memory()
        # The reference's autocast is CUDA-only: on a CPU it always runs RAFT in float32.
        raft.mixed_precision = args.mixed_precision and device.type == "cuda"
        workdir = Path(args.result).parent  # the parent's scratch folder, removed when it is done

        def run():
            return run_reference_style(
                video,
                raft,
                rgb_model,
                flow_model,
                device,
                args.iters,
                Path(tempfile.mkdtemp(dir=workdir)),
            )

    run()
    synchronize(device)
    start = time.perf_counter()
    result = run()
    synchronize(device)
    seconds = time.perf_counter() - start
    if args.side == "ours":
        original, optical = result.rgb_probs, result.flow_probs
        extra = {"frames": result.frame_count, "size": f"{result.width}x{result.height}"}
    else:
        (original, optical), extra = result, {}
    return {
        "seconds": seconds,
        "device": str(device),
        "allocator_tuned": bool(tuned),
        "original_probs": list(map(float, original)),
        "optical_probs": list(map(float, optical)),
        **extra,
    }


def allocator_label(tuned: bool) -> str:
    return "tuned" if tuned else "default"


def run_side_in_subprocess(side: str, video: Path, argv: list[str], workdir: Path) -> dict:
    """Each side gets a fresh process, so neither inherits the other's allocator state or warm caches."""
    result_path = workdir / f"{side}.json"
    command = [
        sys.executable,
        "-m",
        "bench.bench_demo",
        *argv,
        "--video",
        str(video),
        "--side",
        side,
        "--result",
        str(result_path),
    ]
    subprocess.run(command, check=True)
    return json.loads(result_path.read_text())


def main(args: argparse.Namespace, argv: list[str]) -> None:
    if args.side:
        Path(args.result).write_text(json.dumps(time_side(args)))
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    if args.video:
        video = Path(args.video)
    else:
        height, width = (int(v) for v in args.size.lower().split("x"))
        video = synthetic_video(workdir / "synthetic.avi", args.frames, height, width)
    ours = run_side_in_subprocess("ours", video, argv, workdir)
    frames = ours["frames"]
    print(
        f"ours:      {ours['seconds']:8.2f} s  ({frames / ours['seconds']:6.2f} frames/s)  {frames} frames "
        f"{ours['size']} on {ours['device']}, allocator {allocator_label(ours['allocator_tuned'])}"
    )
    device = torch.device(ours["device"])
    row = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": ours["device"],
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "size": ours["size"],
        "frames": frames,
        "iters": args.iters,
        "batch_size": args.batch_size,
        "mixed_precision": args.mixed_precision,
        "classifier_precision": args.classifier_precision,
        "channels_last": args.channels_last,
        "ours_allocator": allocator_label(ours["allocator_tuned"]),
        "reference_allocator": args.reference_allocator,
        "ours_s": round(ours["seconds"], 3),
        "reference_s": "",
        "speedup": "",
        "max_prob_diff": "",
    }
    if not args.skip_reference:
        reference = run_side_in_subprocess("reference", video, argv, workdir)
        diff = max(
            np.abs(np.subtract(reference["original_probs"], ours["original_probs"])).max(),
            np.abs(np.subtract(reference["optical_probs"], ours["optical_probs"])).max(),
        )
        ratio = reference["seconds"] / ours["seconds"]
        print(
            f"reference: {reference['seconds']:8.2f} s  ({frames / reference['seconds']:6.2f} frames/s)  "
            f"allocator {allocator_label(reference['allocator_tuned'])}"
        )
        print(f"speedup:   {ratio:8.2f}x   max |prob difference| {diff:.2e}")
        row.update(reference_s=round(reference["seconds"], 3), speedup=round(ratio, 3), max_prob_diff=f"{diff:.2e}")
    if args.csv:
        append_csv_row(args.csv, row)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    argv = sys.argv[1:]
    main(get_args_parser().parse_args(argv), argv)
