"""AIGVDet on one video: RGB-frame and optical-flow ResNet-50 detectors, fused 0.5/0.5.

The reference's command line works unchanged (and on a CPU-only Linux machine):

    python demo.py --use_cpu --path video/000000.mp4 \
        --folder_original_path frame/000000 --folder_optical_flow_path optical_result/000000 \
        -mop checkpoints/optical.pth -mor checkpoints/original.pth

Without the two folder flags nothing is written to disk. A JSON report with per-frame probabilities:

    python demo.py --path clip.mp4 --model checkpoints/raft-things.pth --json outputs/clip.json

With a calibration file of your own source (``python calibrate.py``), the calibrated probability and the verdict
at the calibrated threshold are printed after the reference's lines and added to the JSON:

    python demo.py --path clip.mp4 --calibration calibration/aigvdet_mysource.json --json outputs/clip.json

A long video in bounded time, with per-frame times, a per-second summary and localised segments:

    python demo.py --path long.mp4 --sample_pairs 16 --timeline --json outputs/long.json \
        --timeline_csv outputs/long.csv
    python demo.py --path long.mp4 --start 30 --end 40 --timeline --json outputs/part.json

On a CPU with bfloat16 instructions, about twice as fast (probabilities move by about 1e-3):

    python demo.py --use_cpu --path long.mp4 --sample_pairs 16 --mixed_precision --channels_last \
        --classifier_precision bf16 --json outputs/long.json

Exit code 0 on success (whatever the verdict), 1 with one ``error:`` line for unusable input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core import atomic
from core.aigvdet import AIGVDetPipeline
from core.aigvdet.options import add_aigvdet_arguments, pipeline_from_args
from core.aigvdet.timeline import timeline_report, write_timeline_csv
from core.cli import CORR_MEMORY_HINT, add_device_arguments, device_from_args, run_cli
from core.errors import ToolkitError
from core.flow.corr_budget import out_of_memory_as_error
from core.forensics.calibration import load_calibration
from core.runs.writable import require_writable_file, require_writable_folder

log = logging.getLogger("demo")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="video/000000.mp4", help="video to test")
    parser.add_argument(
        "--folder_original_path", default=None, help="also write the RGB frames here, named as the reference does"
    )
    parser.add_argument(
        "--folder_optical_flow_path",
        default=None,
        help="also write the flow images here, named and encoded as the reference does",
    )
    parser.add_argument("--backend", choices=("auto", "opencv", "pyav"), default="auto", help="video decoder")
    parser.add_argument("--json", default=None, help="write a JSON report here")
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="calibration JSON of AIGVDet scores (calibrate.py): adds the calibrated probability "
        "and the verdict at its threshold",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="add per-frame times, fused probabilities, a per-second summary and the segments at or "
        "above --threshold to the JSON report",
    )
    parser.add_argument("--timeline_csv", default=None, help="write per-frame rows time_s,rgb,flow,fused here")
    parser.add_argument(
        "--segment_min_gap", type=float, default=0.0, help="merge segments separated by at most this many seconds"
    )
    parser.add_argument("--segment_min_len", type=float, default=0.0, help="drop segments shorter than this (s)")
    parser.add_argument("--start", type=float, default=None, help="analyse from this time (s)")
    parser.add_argument("--end", type=float, default=None, help="analyse up to this time (s, exclusive)")
    add_device_arguments(parser)
    add_aigvdet_arguments(parser)
    return parser


def check_window_args(args: argparse.Namespace) -> None:
    if args.start is not None and args.start < 0:
        raise ToolkitError(f"--start cannot be negative, got {args.start}")
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise ToolkitError(f"--end ({args.end}) must be after --start ({args.start})")
    if args.sample_pairs is not None and (args.folder_original_path or args.folder_optical_flow_path):
        raise ToolkitError(
            "--folder_original_path and --folder_optical_flow_path need every frame: not with --sample_pairs"
        )


def check_outputs(args: argparse.Namespace) -> None:
    """Every output location must be writable before any work (one ``error:`` line naming it)."""
    for path, what in ((args.json, "the --json report"), (args.timeline_csv, "the --timeline_csv table")):
        if path:
            require_writable_file(path, what)
    for path, what in (
        (args.folder_original_path, "frames (--folder_original_path) to"),
        (args.folder_optical_flow_path, "flow images (--folder_optical_flow_path) to"),
    ):
        if path:
            require_writable_folder(path, what)


def main(args: argparse.Namespace) -> int:
    check_window_args(args)
    check_outputs(args)
    device = device_from_args(args)
    calibration = load_calibration(args.calibration, AIGVDetPipeline.name) if args.calibration else None
    pipeline = pipeline_from_args(args, device)
    with out_of_memory_as_error(f"scoring {args.path}", CORR_MEMORY_HINT if args.flow_method == "raft" else ""):
        result = pipeline.score_video(
            args.path,
            args.folder_original_path,
            args.folder_optical_flow_path,
            args.backend,
            start_s=args.start,
            end_s=args.end,
            sample_pairs=args.sample_pairs,
        )

    for warning in result.warnings:  # stderr: stdout's lines stay the reference's
        print(f"warning: {args.path}: {warning}; the score covers the decoded frames only", file=sys.stderr)
    print("*" * 30)
    print("original prob", result.rgb_prob)
    print("optical prob", result.flow_prob)
    print(f"predict:{result.predict}")
    print("Fake video" if result.predict >= args.threshold else "Real video")
    report = result.report(args.threshold)
    if calibration is not None:
        calibrated = calibration.apply(result.predict)
        print(f"calibrated prob {calibrated['calibrated']} ({calibration.meaning})")
        print(
            f"calibrated verdict: {str(calibrated['calibrated_verdict']).capitalize()} video "
            f"(threshold {calibration.threshold} for {calibration.target_fpr:.2%} false positives)"
        )
        report.update(calibrated, calibration_file=str(args.calibration))
    try:  # the results are printed above: a failing write says so in one line
        if args.json:
            target = Path(args.json)
            target.parent.mkdir(parents=True, exist_ok=True)
            if args.timeline:
                report |= timeline_report(result, args.threshold, args.segment_min_gap, args.segment_min_len)
            atomic.write_json(target, report, indent=2)
            log.info("report written to %s", target)
        if args.timeline_csv:
            log.info("timeline written to %s", write_timeline_csv(result, args.timeline_csv))
    except OSError as exc:
        raise ToolkitError(f"cannot write {exc.filename or 'an output'}: {exc.strerror or exc}") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
