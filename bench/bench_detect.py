"""Time the audio-visual detector against the authors' loop structure on one clip, and check they agree.

The baseline is :func:`core.avforensics.reference_loop.reference_style_analysis`: the authors' per-step,
per-offset loop (video encoder 62 times per step) rebuilt from our modules, so this runs from the repo
without their code. Both paths get the same decoded clip and the same models; the script prints the
largest logit difference, both scores for lam 0 and 1, the times and their ratio, and appends a CSV row.

    python -m bench.bench_detect --video ../shared/fixtures/avforensics/test.mp4 \
        --checkpoints_dir ../shared/fixtures/avforensics --random_sync_model --device cpu --threads 2
    python -m bench.bench_detect --video data/test.mp4 --checkpoints_dir checkpoints --device cuda

(Run it as a module from the repository root so ``core`` is importable.)

Without the official sync_model.pth, ``--random_sync_model`` uses random weights (fine for timing and
agreement; the scores mean nothing then).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from bench.av_reference_loop import reference_style_analysis
from bench.common import append_csv_row
from core.avforensics.pca import load_pca
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.sync_transformer import SyncModel
from core.checkpoints import load_weights
from core.cli import run_cli
from core.media.av_clip import load_av_clip

log = logging.getLogger("bench_detect")

CSV_FIELDS = [
    "video",
    "device",
    "threads",
    "steps",
    "decode_s",
    "fast_s",
    "fast_score_lam0",
    "fast_score_lam1",
    "reference_s",
    "reference_steps",
    "speedup",
    "max_logit_diff",
    "max_score_diff",
    "agree",
]


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="fast detector vs the authors' loop structure")
    parser.add_argument("--video", required=True)
    parser.add_argument(
        "--checkpoints_dir",
        default="checkpoints",
        help="folder with dist_regressive_model.pth, avfeature_regressive_model.pth, pca.pkl "
        "(and sync_model.pth unless --random_sync_model)",
    )
    parser.add_argument("--random_sync_model", action="store_true", help="random sync-model weights (seeded)")
    parser.add_argument("--sync_model_path", default="", help="sync_model.pth elsewhere than --checkpoints_dir")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--max-len", "--max_len", dest="max_len", type=int, default=50)
    parser.add_argument("--window_batch", type=int, default=8)
    parser.add_argument("--skip_reference", action="store_true", help="time only the fast path")
    parser.add_argument(
        "--reference_steps",
        type=int,
        default=0,
        help="run the slow loop on the first N steps only and extrapolate its time "
        "(logits of those steps are compared; scores need the full loop)",
    )
    parser.add_argument("--csv", default="outputs/bench_detect.csv", help="CSV file a result row is appended to")
    return parser


def _random_sync_model(seed: int = 0) -> SyncModel:
    torch.manual_seed(seed)
    model = SyncModel()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
        model.vis_enc.conv1.weight.mul_(1 / 128)  # raw 0..255 pixels: keep activations O(1)
    return model


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(args: argparse.Namespace) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    folder = Path(args.checkpoints_dir)
    if args.random_sync_model:
        sync_model = _random_sync_model()
    else:
        sync_model = SyncModel()
        load_weights(sync_model, args.sync_model_path or folder / "sync_model.pth", "audio-visual sync model")
    regressive = []
    for name in ("dist_regressive_model.pth", "avfeature_regressive_model.pth"):
        model = AutoregressiveModel()
        load_weights(model, folder / name, name)
        regressive.append(model)
    detector = AVForensicsDetector(
        sync_model,
        *regressive,
        load_pca(folder / "pca.pkl"),
        max_len=args.max_len,
        device=device,
        window_batch=args.window_batch,
        progress=False,
    )

    started = time.perf_counter()
    clip = load_av_clip(args.video, max_frames=detector.frames_needed)
    decode_s = time.perf_counter() - started

    detector.analyse(clip) if device.type == "cuda" else None  # warm-up (cuDNN autotuning, lazy init)
    _synchronize(device)
    started = time.perf_counter()
    fast = detector.analyse(clip)
    _synchronize(device)
    fast_s = time.perf_counter() - started
    row = {
        "video": args.video,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "steps": fast.steps,
        "decode_s": round(decode_s, 3),
        "fast_s": round(fast_s, 3),
        "fast_score_lam0": fast.scores.combined(0.0),
        "fast_score_lam1": fast.scores.combined(1.0),
    }
    print(f"clip: {clip.num_frames} frames, {fast.steps} steps; decode {decode_s:.2f} s")
    print(
        f"fast pipeline: {fast_s:.2f} s ({fast_s / fast.steps * 1000:.0f} ms/step); "
        f"score lam0 {fast.scores.combined(0.0):.6f}, lam1 {fast.scores.combined(1.0):.6f}"
    )
    if not args.skip_reference:
        partial = 0 < args.reference_steps < fast.steps
        started = time.perf_counter()
        slow = reference_style_analysis(detector, clip, progress=True, max_steps=args.reference_steps or None)
        _synchronize(device)
        slow_s = time.perf_counter() - started
        if partial:
            slow_s *= fast.steps / slow.steps  # per-step cost is the same at every step
        logit_diff = float(np.abs(fast.logits[: slow.steps] - slow.logits).max())
        pca_diff = float(np.abs(fast.pca_features[: slow.steps] - slow.pca_features).max())
        score_diffs = (
            [] if partial else [abs(fast.scores.combined(lam) - slow.scores.combined(lam)) for lam in (0.0, 1.0)]
        )
        print(
            f"reference-style loop: {slow_s:.2f} s{' (extrapolated from %d steps)' % slow.steps if partial else ''} "
            f"({slow_s / fast.steps:.2f} s/step)"
            + ("" if partial else f"; score lam0 {slow.scores.combined(0.0):.6f}, lam1 {slow.scores.combined(1.0):.6f}")
        )
        print(
            f"max |logit diff| {logit_diff:.2e}, max |pca diff| {pca_diff:.2e}"
            + ("" if partial else f"; |score diff| lam0 {score_diffs[0]:.2e}, lam1 {score_diffs[1]:.2e}")
            + f"; speed-up x{slow_s / fast_s:.1f}"
        )
        row.update(
            reference_s=round(slow_s, 3),
            reference_steps=slow.steps,
            speedup=round(slow_s / fast_s, 2),
            max_logit_diff=logit_diff,
            max_score_diff=max(score_diffs) if score_diffs else "",
            agree=logit_diff <= 1e-4 and max(score_diffs, default=0.0) <= 1e-4,
        )
    append_csv_row(args.csv, {field: row.get(field, "") for field in CSV_FIELDS})
    return 0 if row.get("agree", True) else 1


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
