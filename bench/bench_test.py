"""Frames per second of test.py's evaluation against the reference's one-image-at-a-time loop.

Both classify every RGB frame and flow image of a frame/flow dataset with the same two ResNets; the
reference style opens each file with PIL, crops and normalises it with torchvision's transforms and runs
the model on a batch of one; ours is ``core.aigvdet.evaluate`` (DataLoader workers, batches, optional
bf16/channels_last). Prints both rates, the ratio and the largest probability difference.

    python -m bench.bench_test --videos 4 --frames 8                         # synthetic dataset, CPU
    python -m bench.bench_test -for data/test/original/x -fop data/test/x -mor ... -mop ... --device cuda
"""

from __future__ import annotations

import argparse
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
from core.aigvdet.data.layout import find_videos
from core.aigvdet.evaluate import collect_videos, evaluate_videos
from core.cli import resolve_device
from core.runs.precision import PRECISIONS


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-for", "--folder_original_path", default=None, help="RGB root (default: synthetic)")
    parser.add_argument("-fop", "--folder_optical_flow_path", default=None)
    parser.add_argument("-mor", "--model_original_path", default=None, help="default: random weights")
    parser.add_argument("-mop", "--model_optical_flow_path", default=None)
    parser.add_argument("--videos", type=int, default=4, help="synthetic videos per class")
    parser.add_argument("--frames", type=int, default=8, help="frames per synthetic video")
    parser.add_argument("--size", default="480x640", help="HxW of synthetic frames")
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--num_workers", type=int, default=4)
    parser.add_argument("--classifier_precision", choices=sorted(PRECISIONS), default="fp32")
    parser.add_argument("--channels_last", action="store_true")
    parser.add_argument("--csv", default=None, help="append a result row to this CSV file")
    return parser


def synthetic_dataset(root: Path, videos: int, frames: int, height: int, width: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    for branch in ("rgb", "flow"):
        for label in ("0_real", "1_fake"):
            for v in range(videos):
                folder = root / branch / label / f"video_{v:03d}"
                folder.mkdir(parents=True)
                for i in range(frames - (branch == "flow")):
                    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                    cv2.imwrite(str(folder / f"frame_{i:05d}.png"), image)
    return root / "rgb", root / "flow"


@torch.inference_mode()
def reference_loop(paths: list[str], model, device) -> list[float]:
    transform = T.Compose([T.CenterCrop((448, 448)), T.ToTensor()])
    probs = []
    for path in paths:
        image = TF.normalize(transform(Image.open(path).convert("RGB")), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        probs.append(model(image[None].to(device)).sigmoid().item())
    return probs


def main(args: argparse.Namespace) -> None:
    device = resolve_device(device=args.device)
    if args.folder_original_path:
        rgb_root, flow_root = Path(args.folder_original_path), Path(args.folder_optical_flow_path)
    else:
        height, width = (int(v) for v in args.size.lower().split("x"))
        rgb_root, flow_root = synthetic_dataset(
            Path(tempfile.mkdtemp(prefix="bench_test_")), args.videos, args.frames, height, width
        )
    torch.manual_seed(0)
    rgb_model, flow_model = classifier_pair(args, device)
    videos, _ = collect_videos(find_videos(rgb_root, flow_root))
    images = sum(len(v.rgb_paths) + len(v.flow_paths) for v in videos)

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - start

    options = dict(
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        autocast_dtype=PRECISIONS[args.classifier_precision],
        channels_last=args.channels_last,
    )
    if args.channels_last:
        rgb_model, flow_model = (m.to(memory_format=torch.channels_last) for m in (rgb_model, flow_model))
    (scored, _), ours_s = timed(lambda: evaluate_videos(videos, rgb_model, flow_model, **options))
    ours = [p for v in scored for p in v.rgb_probs + v.flow_probs]
    rgb_model, flow_model = (m.to(memory_format=torch.contiguous_format) for m in (rgb_model, flow_model))
    reference, ref_s = timed(
        lambda: [
            p
            for v in videos
            for p in reference_loop(v.rgb_paths, rgb_model, device) + reference_loop(v.flow_paths, flow_model, device)
        ]
    )
    diff = float(np.abs(np.subtract(ours, reference)).max())
    print(f"images:    {images} on {device}")
    print(f"ours:      {ours_s:8.2f} s  ({images / ours_s:7.2f} images/s)")
    print(f"reference: {ref_s:8.2f} s  ({images / ref_s:7.2f} images/s)")
    print(f"speedup:   {ref_s / ours_s:8.2f}x   max |prob difference| {diff:.2e}")
    if args.csv:
        row = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bench": "test",
            "device": str(device),
            "images": images,
            "ours_s": round(ours_s, 3),
            "reference_s": round(ref_s, 3),
            "speedup": round(ref_s / ours_s, 3),
            "max_prob_diff": f"{diff:.2e}",
        }
        append_csv_row(args.csv, row)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
