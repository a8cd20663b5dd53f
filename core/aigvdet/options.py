"""AIGVDet's command-line options, defined once, and the detector built from them.

Every script that runs AIGVDet (``demo.py``, ``score.py``, ``report.py``) adds these options with
:func:`add_aigvdet_arguments` and builds the pipeline with :func:`pipeline_from_args`, so the same flag means
the same thing everywhere and a speed or memory option reaches every script. The flags are the reference's
(``-mor``, ``-mop``, ``--model``, ``-t``, ``--arch``, ``--aug_norm``, ``--small``, ``--mixed_precision``,
``--alternate_corr``, ``--iters``) plus ours. Values are checked where they are used: the pipeline's constructor
raises for an impossible setting (:class:`core.errors.SettingsError`: one ``error:`` line in a script).
"""

from __future__ import annotations

import argparse

import torch

from core.aigvdet.budget import DEFAULT_CPU_BUDGET_S
from core.aigvdet.classifier import load_classifier
from core.aigvdet.pipeline import AIGVDetPipeline
from core.aigvdet.preprocess import CROP_SIZE
from core.cli import add_flow_arguments, corr_mode_of, flow_from_args, str2bool
from core.flow.build import raft_checkpoint
from core.runs.precision import PRECISIONS

# The flag that names each checkpoint role, for messages about a missing file.
CHECKPOINT_FLAGS = {"RGB classifier": "-mor", "optical-flow classifier": "-mop", "RAFT": "--model"}


def add_classifier_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, batch_size: int = 8) -> None:
    """The two ResNet branches' options (checkpoints, threshold, architecture, input, precision, layout): what
    demo.py, score.py, report.py and test.py share."""
    parser.add_argument("-mor", "--model_original_path", default="checkpoints/original.pth", help="RGB branch")
    parser.add_argument("-mop", "--model_optical_flow_path", default="checkpoints/optical.pth", help="flow branch")
    parser.add_argument("-t", "--threshold", type=float, default=0.5, help="fake at or above this probability")
    parser.add_argument("--arch", default="resnet50", help="classifier architecture of both branches")
    parser.add_argument("--aug_norm", type=str2bool, default=True, help="ImageNet normalisation of inputs")
    parser.add_argument(
        "--crop_size", type=int, default=CROP_SIZE, help="centre crop of the classifier input (448: official weights)"
    )
    parser.add_argument("--batch_size", type=int, default=batch_size, help="images per classifier batch")
    parser.add_argument(
        "--classifier_precision",
        choices=sorted(PRECISIONS),
        default="fp32",
        help="autocast dtype of the ResNets (fp32 reproduces the reference; bf16 is faster on GPUs and on "
        "CPUs with bf16 instructions)",
    )
    parser.add_argument(
        "--channels_last",
        action="store_true",
        help="channels-last convolutions in the ResNets and in RAFT (faster, on a CPU too; results differ "
        "slightly from the default)",
    )


def add_aigvdet_arguments(parser: argparse.ArgumentParser, sample_pairs: bool = True) -> argparse._ArgumentGroup:
    """The classifier, flow, speed and memory options of AIGVDet, in one group; returns the group."""
    group = parser.add_argument_group("AIGVDet")
    add_classifier_arguments(group)
    if sample_pairs:
        group.add_argument(
            "--sample_pairs",
            type=int,
            default=None,
            metavar="N",
            help="analyse only N evenly spaced consecutive frame pairs (RGB branch on each pair's first frame, "
            "flow branch on the pair), read by seeking: long videos in bounded time",
        )
    add_flow_arguments(group)
    return group


def add_budget_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--time_budget`` and ``--full``: on a CPU, long videos get as many evenly spaced pairs as fit the budget."""
    parser.add_argument(
        "--time_budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"on a CPU, analyse every frame pair only when that fits about this many seconds, else as many evenly "
        f"spaced pairs as fit (default {DEFAULT_CPU_BUDGET_S:g}; 0: every pair; GPUs always analyse every pair; "
        "--sample_pairs wins)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="no time budget: every frame pair (and in report.py every audio-visual window), whatever it costs "
        "(--time_budget 0)",
    )


def cpu_time_budget(args: argparse.Namespace, device: torch.device) -> float | None:
    """The whole CPU time budget of :func:`add_budget_arguments`' options on ``device``: None for no limit (a GPU,
    ``--full`` or ``--time_budget 0``)."""
    if args.full or device.type != "cpu":
        return None
    budget = DEFAULT_CPU_BUDGET_S if args.time_budget is None else args.time_budget
    return budget if budget > 0 else None


def time_budget_of(args: argparse.Namespace, device: torch.device) -> float | None:
    """AIGVDet's time budget: :func:`cpu_time_budget`, or None for every pair where the options fix a sample
    count (``--sample_pairs`` wins)."""
    return None if getattr(args, "sample_pairs", None) is not None else cpu_time_budget(args, device)


def aigvdet_checkpoints(args: argparse.Namespace) -> dict[str, str]:
    """The checkpoint files the options name, by role (RAFT's only when it computes the flow)."""
    files = {"RGB classifier": args.model_original_path, "optical-flow classifier": args.model_optical_flow_path}
    if args.flow_method == "raft":
        files["RAFT"] = str(raft_checkpoint(args.model, args.small))
    return files


def pipeline_from_args(
    args: argparse.Namespace, device: torch.device, illustrate: bool = False, **overrides
) -> AIGVDetPipeline:
    """The AIGVDet pipeline of :func:`add_aigvdet_arguments`' options (``overrides``: constructor arguments that
    win over the options, e.g. a sample count a script chose itself)."""
    settings = dict(
        normalize=args.aug_norm,
        batch_size=args.batch_size,
        classifier_dtype=PRECISIONS[args.classifier_precision],
        channels_last=args.channels_last,
        crop_size=args.crop_size,
        threshold=args.threshold,
        illustrate=illustrate,
        sample_pairs=getattr(args, "sample_pairs", None),
    )
    settings.update(overrides)
    flow = flow_from_args(args, device, corr_mode_of(args))  # first, as demo.py always did: RAFT's problems first
    return AIGVDetPipeline(
        rgb_model=load_classifier(args.model_original_path, args.arch, "RGB-branch checkpoint (-mor)"),
        flow_model=load_classifier(args.model_optical_flow_path, args.arch, "optical-flow-branch checkpoint (-mop)"),
        flow_extractor=flow,
        **settings,
    )
