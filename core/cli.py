"""What every command-line script shares: ``run_cli`` (process setup, errors as one line) and argument helpers."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

import torch

from core.errors import ToolkitError
from core.flow.build import build_flow, raft_checkpoint
from core.flow.classical import ClassicalFlow
from core.flow.corr_budget import CORR_MODES, DEFAULT_CORR_MODE, gib_to_bytes
from core.flow.extractor import FlowExtractor
from core.memory import reuse_freed_cpu_memory
from core.runs.precision import PRECISIONS

log = logging.getLogger(__name__)


def run_cli(
    main: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> int:
    """Parse ``argv`` with ``parser``, call ``main(args)`` and map user errors to exit codes.

    Also sets up the process: logging, and glibc's handling of large freed blocks (``core.memory``).
    Returns the exit code: ``main``'s return value (``None`` means 0), 1 for a ``ToolkitError``
    (printed as ``error: <message>`` on stderr), 130 when interrupted.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    reuse_freed_cpu_memory()  # large CPU tensors reuse memory instead of fresh pages (see core.memory)
    try:
        code = main(args)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0 if code is None else int(code)


def str2bool(value: str | bool) -> bool:
    """Parse yes/no flags the way the reference scripts accept them (``--aug_norm false``)."""
    if isinstance(value, bool):
        return value
    lowered = value.lower()
    if lowered in ("true", "yes", "on", "t", "y", "1"):
        return True
    if lowered in ("false", "no", "off", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {value!r}")


def add_precision_arg(parser: argparse.ArgumentParser, flag: str, default: str, help: str) -> None:
    """A precision flag whose choices are the toolkit's precision names (``core.runs.precision``)."""
    parser.add_argument(flag, choices=sorted(PRECISIONS), default=default, help=help)


def resolve_device(use_cpu: bool = False, device: str | None = None) -> torch.device:
    """``--use_cpu`` wins; then an explicit ``--device``; then (no device, or "auto") CUDA if present, else the CPU."""
    if use_cpu:
        return torch.device("cpu")
    if device and device != "auto":
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise ToolkitError(f"invalid --device {device!r}: {exc}") from None
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise ToolkitError(f"--device {device} asked for, but CUDA is not available here (use --use_cpu)")
        return resolved
    if torch.cuda.is_available():
        return torch.device("cuda")
    log.info("CUDA is not available; running on the CPU")
    return torch.device("cpu")


# Appended to RAFT's out-of-memory errors by the scripts that take ``add_corr_arguments``.
CORR_MEMORY_HINT = "--corr_mode on_the_fly (or a lower --corr_budget_gb) bounds RAFT's memory by the frame area"


def _gib(value: str) -> float:
    number = float(value)
    if not number >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a non-negative number of GiB, got {value!r}")
    return number


def add_corr_arguments(parser: argparse.ArgumentParser) -> None:
    """RAFT's correlation flags: ``--corr_mode`` and ``--corr_budget_gb`` (see core.flow.corr_budget)."""
    parser.add_argument(
        "--corr_mode",
        choices=CORR_MODES,
        default=DEFAULT_CORR_MODE,
        help="RAFT correlation: all-pairs volume (memory grows with the frame area squared), "
        "on-the-fly windows (memory linear in the area, slower) or auto: all-pairs while "
        "it fits --corr_budget_gb",
    )
    parser.add_argument(
        "--corr_budget_gb",
        type=_gib,
        default=None,
        help="largest all-pairs correlation auto builds, in GiB (default: 4 on CPU, half the free memory on GPU)",
    )


def flow_from_args(
    args: argparse.Namespace, device: torch.device, corr_mode: str | None = None
) -> FlowExtractor | ClassicalFlow:
    """The flow extractor of the flow options the AIGVDet commands share (``--flow_method``, ``--model``, else the
    official checkpoint of the variant, ``--small``, ``--mixed_precision``, ``--iters``, ``--batch_size``, the
    correlation flags and, where the command has it, ``--channels_last``); ``corr_mode`` overrides ``--corr_mode``."""
    return build_flow(
        args.flow_method,
        raft_checkpoint(args.model, args.small),
        device,
        small=args.small,
        mixed_precision=args.mixed_precision,
        iters=args.iters,
        batch_size=args.batch_size,
        corr_mode=corr_mode or args.corr_mode,
        corr_budget_bytes=gib_to_bytes(args.corr_budget_gb),
        channels_last=getattr(args, "channels_last", False),
    )


# --- shared argument groups: one definition per option, the same flag for the same thing in every script -----------


def add_device_arguments(parser: argparse.ArgumentParser, default_device: str | None = "auto") -> None:
    """``--device``, ``--use_cpu`` (the reference scripts' flag), ``--threads`` (see :func:`resolve_device`)."""
    group = parser.add_argument_group("device")
    group.add_argument(
        "--device", default=default_device, help="torch device: auto (cuda when available), cpu, cuda, cuda:1 ..."
    )
    group.add_argument("--use_cpu", action="store_true", help="run everything on the CPU (same as --device cpu)")
    group.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")


def device_from_args(args: argparse.Namespace) -> torch.device:
    """The device of :func:`add_device_arguments`' options, after setting torch's thread count."""
    if getattr(args, "threads", 0) and args.threads > 0:
        torch.set_num_threads(args.threads)
    return resolve_device(args.use_cpu, args.device)


def add_flow_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The optical-flow options of every command that computes flow (what :func:`flow_from_args` reads)."""
    from core.flow import DEFAULT_ITERS
    from core.flow.classical import METHODS

    parser.add_argument(
        "--flow_method",
        choices=("raft", *METHODS),
        default="raft",
        help="optical flow: RAFT (what the official flow branch was trained on) or OpenCV's weight-free "
        "DIS/Farneback (only for flow branches trained on those)",
    )
    parser.add_argument(
        "--model", default=None, help="RAFT weights (default: checkpoints/raft-things.pth; raft-small.pth with --small)"
    )
    parser.add_argument("--small", action="store_true", help="RAFT-small")
    parser.add_argument("--iters", type=int, default=DEFAULT_ITERS, help="RAFT refinement iterations")
    parser.add_argument(
        "--mixed_precision",
        action="store_true",
        help="RAFT under autocast: float16 on CUDA (as the reference), bfloat16 on the CPU",
    )
    parser.add_argument(
        "--alternate_corr",
        action="store_true",
        help="the reference's memory-saving correlation: same as --corr_mode on_the_fly",
    )
    add_corr_arguments(parser)


def corr_mode_of(args: argparse.Namespace) -> str:
    """``--corr_mode``, with the reference's ``--alternate_corr`` meaning on-the-fly when the mode is left to auto."""
    return "on_the_fly" if getattr(args, "alternate_corr", False) and args.corr_mode == "auto" else args.corr_mode
