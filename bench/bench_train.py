"""Training throughput: our loop (core.aigvdet.training.Trainer: fused Adam; bf16 autocast and channels_last on GPU)
against a plain single-process PyTorch loop (fp32, default Adam), same model, same data, same loader.

    python -m bench.bench_train                                  # resnet50, 448 crops, batch 64, GPU if any
    python -m bench.bench_train --arch resnet18 --crop 64 --batch 16 --steps 10 --csv bench/results.csv

Data are random frames written once to a temporary folder in the training layout, loaded through the
training transform (blur/JPEG/crop/flip/normalise). Prints images/s of both loops and their ratio.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from bench.common import append_csv_row
from core.aigvdet import build_classifier
from core.aigvdet.training import build_config
from core.aigvdet.training.data import ShardedSampler, build_dataset
from core.aigvdet.training.engine import Trainer
from core.runs.distributed import DistInfo


def write_frames(root: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        label = ("0_real", "1_fake")[index % 2]
        folder = root / "train" / "bench" / label / f"video_{index // 8:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{index % 8:05d}.png"), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, loader, steps: int, warmup: int, device: torch.device) -> float:
    """Images per second over ``steps`` batches after ``warmup`` untimed ones (the loader cycles)."""
    batches = iter(())
    done, images, started = 0, 0, None
    while done < warmup + steps:
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            continue
        if done == warmup:
            sync(device)
            started, images = time.perf_counter(), 0
        step(x, y)
        images += len(x)
        done += 1
    sync(device)
    return images / (time.perf_counter() - started)


def plain_loop(arch: str, loader, steps: int, warmup: int, device: torch.device) -> float:
    """The textbook loop: fp32, contiguous tensors, default Adam."""
    torch.manual_seed(0)
    model = build_classifier(arch).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999))
    loss_fn = nn.BCEWithLogitsLoss()

    def step(x, y):
        x, y = x.to(device), y.to(device).float()
        loss = loss_fn(model(x).squeeze(1), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return timed(step, loader, steps, warmup, device)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--crop", type=int, default=448)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--csv", default=None, help="append a result row here")
    return parser


def main(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        write_frames(Path(tmp), max(args.batch * 2, 16), args.crop + 32)
        cfg = build_config(
            "bench",
            None,
            None,
            [
                "dataset_root",
                tmp,
                "exp_root",
                tmp,
                "datasets",
                "bench",
                "datasets_test",
                "bench",
                "arch",
                args.arch,
                "pretrained",
                "False",
                "cropSize",
                str(args.crop),
                "batch_size",
                str(args.batch),
                "num_workers",
                str(args.workers),
            ],
        )
        dataset = build_dataset(cfg, "train")
        loader = DataLoader(
            dataset,
            batch_size=args.batch,
            sampler=ShardedSampler(dataset.targets, seed=0),
            num_workers=args.workers,
            pin_memory=device.type == "cuda",
            persistent_workers=args.workers > 0,
            drop_last=True,
        )

        plain = plain_loop(args.arch, loader, args.steps, args.warmup, device)
        trainer = Trainer(cfg, DistInfo(device=device))
        trainer.network.train()
        ours = timed(trainer.train_step, loader, args.steps, args.warmup, device)

    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'} x{torch.get_num_threads()}"
    )
    print(
        f"{args.arch} crop {args.crop} batch {args.batch} on {name}: plain {plain:.1f} img/s, "
        f"ours {ours:.1f} img/s (precision {cfg.precision if device.type == 'cuda' else 'fp32'}), "
        f"ratio {ours / plain:.2f}x"
    )
    if args.csv:
        append_csv_row(
            args.csv,
            {
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "bench": "train",
                "device": name,
                "arch": args.arch,
                "crop": args.crop,
                "batch": args.batch,
                "steps": args.steps,
                "plain_img_s": round(plain, 2),
                "ours_img_s": round(ours, 2),
                "ratio": round(ours / plain, 3),
            },
        )


if __name__ == "__main__":
    main(get_args_parser().parse_args())
