"""``python -m core.aigvdet.synthetic``: write the synthetic world (see ``core/synthetic/__init__.py``)."""

from __future__ import annotations

import argparse

from core.aigvdet.synthetic import WorldSpec, generate
from core.aigvdet.synthetic import __doc__ as package_doc
from core.cli import run_cli


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.aigvdet.synthetic",
        description=package_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = WorldSpec()
    parser.add_argument("--out", default="data/synthetic", help="output folder")
    parser.add_argument("--name", default=defaults.name, help="dataset name inside each split")
    parser.add_argument("--train", type=int, default=defaults.train, help="training videos per class")
    parser.add_argument("--val", type=int, default=defaults.val, help="validation videos per class")
    parser.add_argument("--test", type=int, default=defaults.test, help="test videos per class")
    parser.add_argument("--frames", type=int, default=defaults.frames, help="frames per video (at least 2)")
    parser.add_argument("--size", type=int, nargs=2, default=(defaults.height, defaults.width), metavar=("H", "W"))
    parser.add_argument("--fps", type=float, default=defaults.fps)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    return parser


def main(args: argparse.Namespace) -> int:
    if args.frames < 2:
        raise ValueError("--frames must be at least 2 (flow needs frame pairs)")
    if min(args.size) < 16:
        raise ValueError("--size must be at least 16 x 16")
    spec = WorldSpec(
        train=args.train,
        val=args.val,
        test=args.test,
        frames=args.frames,
        height=args.size[0],
        width=args.size[1],
        fps=args.fps,
        seed=args.seed,
        name=args.name,
    )
    root = generate(args.out, spec)
    print(
        f"synthetic world in {root}: dataset_root {root / 'rgb'} (RGB) and {root / 'flow'} (flow), "
        f"dataset {args.name}; videos in {root / 'videos'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
