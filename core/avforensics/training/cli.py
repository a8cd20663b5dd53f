"""Train the audio-visual forensics models on your own real videos (self-supervised: no fake video needed).

Two steps, then detect.py. Video lists are text files, one video per line (relative to the list file).

1. Sync model (phase 1 contrastive, phase 2 offset classification) -> RUN/sync_model.pth (+ .json):

    python -m core.avforensics.training sync --train_list real_train.txt --val_list real_val.txt \
        --output_dir runs/avsync --epochs1 10 --epochs2 10 --batch_size1 32 --batch_size2 16 --num_workers 8
    torchrun --nproc_per_node 4 -m core.avforensics.training sync --train_list real_train.txt \
        --val_list real_val.txt --output_dir runs/avsync --num_workers 8

2. Anomaly models (sequences extracted with the trained sync model, PCA, two autoregressive models)
   -> RUN/dist_regressive_model.pth, RUN/avfeature_regressive_model.pth, RUN/pca.npz:

    python -m core.avforensics.training anomaly --sync_model runs/avsync/sync_model.pth \
        --train_list real_train.txt --val_list real_val.txt --output_dir runs/avanomaly --epochs 50

3. Score:

    python detect.py --test_video_path test.txt --sync_model_path runs/avsync/sync_model.pth \
        --dist_model_path runs/avanomaly/dist_regressive_model.pth \
        --avfeature_model_path runs/avanomaly/avfeature_regressive_model.pth --pca_path runs/avanomaly/pca.npz

Small CPU run on synthetic clips (a disc whose size follows a tone's loudness; about 2 minutes on 2 cores).
detect.py reads sync_model.json beside the weights, so it scores models of any size:

    python -m core.avforensics.training synth --output_dir data/av_synth --count 16 --frames 48
    python -m core.avforensics.training sync --train_list data/av_synth/train.txt --val_list data/av_synth/val.txt \
        --output_dir runs/avsync_small --frame_size 32 --width_div 16 --epochs1 3 --epochs2 40 --batch_size1 16 \
        --batch_size2 8 --windows_per_video 8 --lr1 3e-3 --lr2 3e-3 --cache true --num_workers 0
    python -m core.avforensics.training anomaly --sync_model runs/avsync_small/sync_model.pth \
        --train_list data/av_synth/train.txt --val_list data/av_synth/val.txt --output_dir runs/avanomaly_small \
        --epochs 30 --batch_size 4 --lr 1e-3
    python detect.py --test_video_path data/av_synth/test.txt --sync_model_path runs/avsync_small/sync_model.pth \
        --dist_model_path runs/avanomaly_small/dist_regressive_model.pth \
        --avfeature_model_path runs/avanomaly_small/avfeature_regressive_model.pth \
        --pca_path runs/avanomaly_small/pca.npz --output_dir runs/avscore_small

Every run folder is laid out as AIGVDet's (``core.runs.folder``): config.yaml, metrics.csv/metrics.json (one row
per epoch) and ckpt/model_epoch_latest.pth; ``--resume true`` (the default) continues from it when it exists
(or from last.pth, where earlier versions kept it).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from core.cli import add_precision_arg, run_cli, str2bool
from core.media.faces.clip import FACE_CROPS

log = logging.getLogger("core.avforensics.training")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--train_list", required=True, help="real videos for training: a video or a text file of videos"
    )
    parser.add_argument("--val_list", default=None, help="held-out real videos for validation (recommended)")
    parser.add_argument("--output_dir", required=True, help="run folder: config, metrics, checkpoints, exported models")
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="under torchrun each process uses the GPU of its LOCAL_RANK",
    )
    add_precision_arg(parser, "--precision", "bf16", "autocast on GPU (the CPU uses fp32)")
    parser.add_argument(
        "--num_workers", type=int, default=min(4, os.cpu_count() or 1), help="data-loader processes (at most 4)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resume", type=str2bool, default=True, help="continue from output_dir/ckpt/model_epoch_latest.pth if present"
    )
    parser.add_argument("--window_batch", type=int, default=8, help="5-frame windows per encoder batch in extraction")
    parser.add_argument(
        "--face_crop",
        choices=FACE_CROPS,
        default="auto",
        help="as detect.py: never trains on whole frames, always on each video's tracked face crop, "
        "auto crops raw videos and leaves face crops whole (faces are tracked once per video)",
    )
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.avforensics.training",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sync = commands.add_parser("sync", help="train the audio-visual synchronisation model")
    _common(sync)
    sync.add_argument("--frame_size", type=int, default=224, help="square frame size (224: the official model)")
    sync.add_argument("--width_div", type=int, default=1, help="divide every layer width (1: the official model)")
    sync.add_argument("--epochs1", type=int, default=10, help="epochs of phase 1 (contrastive across clips)")
    sync.add_argument("--epochs2", type=int, default=10, help="epochs of phase 2 (31-way offset classification)")
    sync.add_argument("--batch_size1", type=int, default=32, help="clips per process per batch, phase 1 (B x B pairs)")
    sync.add_argument(
        "--batch_size2", type=int, default=16, help="clips per process per batch, phase 2 (x31 audio windows)"
    )
    sync.add_argument("--lr1", type=float, default=1e-4)
    sync.add_argument("--lr2", type=float, default=5e-5)
    sync.add_argument("--weight_decay", type=float, default=1e-4)
    sync.add_argument("--windows_per_video", type=int, default=4, help="random 5-frame windows per video per epoch")
    sync.add_argument("--max_frames", type=int, default=250, help="frames decoded per video (windows come from these)")
    sync.add_argument("--cache", type=str2bool, default=False, help="keep decoded videos in memory (small sets)")
    sync.add_argument("--val_max_len", type=int, default=50, help="steps per validation video (as detect.py --max-len)")

    anomaly = commands.add_parser("anomaly", help="fit the PCA and train the two autoregressive models")
    _common(anomaly)
    anomaly.add_argument(
        "--sync_model", required=True, help="sync_model.pth from the sync step (its .json gives the size)"
    )
    anomaly.add_argument("--max_len", type=int, default=50, help="sequence length, as detect.py --max-len (<= 50)")
    anomaly.add_argument(
        "--extract_len",
        type=int,
        default=None,
        help="steps extracted per training video (default max_len); longer gives random crops",
    )
    anomaly.add_argument("--epochs", type=int, default=50)
    anomaly.add_argument("--batch_size", type=int, default=32)
    anomaly.add_argument("--lr", type=float, default=1e-4)
    anomaly.add_argument("--weight_decay", type=float, default=1e-4)

    synth = commands.add_parser("synth", help="write tiny synthetic clips and lists (train/val real, test real+fakes)")
    synth.add_argument("--output_dir", required=True)
    synth.add_argument("--count", type=int, default=24, help="real training clips (val and test: a quarter each)")
    synth.add_argument("--frames", type=int, default=40)
    synth.add_argument("--size", type=int, default=32)
    return parser


def main(args: argparse.Namespace) -> int:
    config = {k: v for k, v in vars(args).items() if k != "command"}
    if args.command == "sync":
        from core.avforensics.training.sync import train_sync

        train_sync(config)
    elif args.command == "anomaly":
        from core.avforensics.training.anomaly import train_anomaly

        train_anomaly(config)
    else:
        from core.avforensics.synthetic import write_synthetic_splits

        write_synthetic_splits(Path(args.output_dir), args.count, args.frames, args.size)
    return 0


def entry(argv: list[str] | None = None) -> int:
    return run_cli(main, get_args_parser(), argv)
