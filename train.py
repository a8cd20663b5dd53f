r"""Train one AIGVDet branch (RGB frames or optical-flow images) as the reference's train.py does.

Data: <dataset_root>/train/<dataset>/{0_real,1_fake}/<video>/<frame>.png for training and
<dataset_root>/val/<dataset_test>/... for validation (dataset_root defaults to data/). Settings are the
reference's (see core/aigvdet/training/config.py), overridden by --config FILE.yaml and then by trailing KEY VALUE
pairs; lists are comma separated. Runs go to data/exp/<exp_name>/ (config.yaml, logs.txt, metrics.csv,
ckpt/model_epoch_{latest,best,N}.pth loadable by test.py and demo.py).

Single GPU (the reference's command):

    python train.py --gpus 0 --exp_name TRAIN_RGB_BRANCH datasets RGB_TRAINSET datasets_test RGB_TESTSET
    python train.py --gpus 0 --exp_name TRAIN_OF_BRANCH datasets OpticalFlow_TRAINSET datasets_test OpticalFlow_TESTSET

Four GPUs, DistributedDataParallel (batch_size stays the global batch, 16 per GPU here):

    torchrun --standalone --nproc_per_node 4 train.py --gpus 0 1 2 3 --exp_name RGB4 datasets a,b datasets_test c
    python train.py --gpus 0 1 2 3 --exp_name RGB4 datasets a,b datasets_test c      # spawns the 4 itself

Resume, a YAML config, CPU quickstart on the synthetic world (python -m core.aigvdet.synthetic, see the README):

    python train.py --exp_name RGB4 continue_train True
    python train.py --exp_name mine --config my.yaml lr 1e-5
    python -m core.aigvdet.synthetic
    python train.py --exp_name synth_rgb dataset_root data/synthetic/rgb datasets synth datasets_test synth \
        arch resnet18 pretrained False cropSize 64 batch_size 32 num_workers 2 nepoch 4
"""

from __future__ import annotations

import argparse
import logging

from core.aigvdet.training import build_config, launch
from core.cli import run_cli

log = logging.getLogger("train")


class IntermixedParser(argparse.ArgumentParser):
    """Flags parse wherever they stand, before, between or after the KEY VALUE pairs."""

    def parse_args(self, args=None, namespace=None):  # noqa: D102 -- argparse's signature
        return self.parse_intermixed_args(args, namespace)


def get_args_parser() -> argparse.ArgumentParser:
    parser = IntermixedParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", default=[0], type=int, nargs="+", help="GPU ids (several: one process each)")
    parser.add_argument("--exp_name", default="", help="run name: results go to <exp_root>/<exp_name>")
    parser.add_argument("--config", default=None, help="YAML file of KEY: VALUE settings (before the overrides)")
    parser.add_argument("--task", default="aigvdet", choices=("aigvdet",), help="what to train")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars (logs only)")
    parser.add_argument("opts", default=[], nargs="*", help="KEY VALUE overrides, e.g. lr 1e-5")
    return parser


def main(args: argparse.Namespace) -> int:
    cfg = build_config(args.exp_name, args.gpus, args.config, args.opts)
    result = launch(cfg, show_progress=not args.no_progress)
    if result is not None and result.is_primary and result.history:
        last = result.last
        print(
            f"{cfg.exp_name}: {len(result.history)} epochs, val ACC {last['ACC']:.4f} AP {last['AP']:.4f} "
            f"AUC {last['AUC']:.4f}; checkpoints in {result.exp_dir / 'ckpt'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
