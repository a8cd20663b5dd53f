"""AIGVDet evaluation of a frame/flow dataset: per-video and per-frame CSVs and the summary metrics.

The reference's command line works unchanged:

    python test.py -fop "data/test/hotshot" -mop "checkpoints/optical_aug.pth" \
        -for "data/test/original/hotshot" -mor "checkpoints/original_aug.pth" \
        -e "data/results/T2V/hotshot.csv" -ef "data/results/frame/T2V/hotshot.csv" -t 0.5

Both roots hold ``0_real/<video>/`` and ``1_fake/<video>/`` folders of images (make them from videos with
``python -m core.aigvdet.data.prepare``). Writes the video CSV (``name, pro, flag, optical_pro, original_pro``), the
frame CSV (``original_path, original_pro, optical_path, optical_pro, flag``), appending to existing files
without repeating the header as the reference does, and the summary as JSON beside the video CSV
(``<excel_path stem>_summary.json``, or ``--summary_json``).

Rows are written as each video finishes. A rerun into the same CSVs with the same checkpoints and options
skips the videos they already hold (and appends the new ones); with other checkpoints it is refused;
``--overwrite`` starts the CSVs anew.
"""

from __future__ import annotations

import core  # noqa: F401 -- before torch: sets the OpenMP wait policy (see core/__init__.py)

# isort: split
import argparse
import logging
import os
from pathlib import Path

import torch

from core import atomic
from core.aigvdet import load_classifier
from core.aigvdet.data.layout import CLASS_FOLDERS, find_videos
from core.aigvdet.evaluate import SkippedVideo, VideoEvaluation, collect_videos, iter_evaluations
from core.aigvdet.evaluation_tables import EvaluationTables
from core.aigvdet.options import add_classifier_arguments
from core.cli import add_device_arguments, device_from_args, run_cli
from core.errors import InputError
from core.metrics.classification import LOW_FPRS, summarize
from core.runs.precision import PRECISIONS
from core.runs.result_table import SettingsMismatch, file_fingerprint
from core.runs.status import skipped_record
from core.runs.writable import require_writable_file, require_writable_folder

log = logging.getLogger("test")

SUMMARY_KEYS = ("tnr", "tpr", "acc", "ap", "auc", "p", "n", "tp", "tn")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "-fop",
        "--folder_optical_flow_path",
        default="data/test/T2V/videocraft",
        help="optical-flow image root (0_real/, 1_fake/)",
    )
    parser.add_argument(
        "-for",
        "--folder_original_path",
        default="data/test/original/T2V/videocraft",
        help="RGB frame root (0_real/, 1_fake/)",
    )
    parser.add_argument("-e", "--excel_path", default="data/results/moonvalley_wang.csv", help="video-level CSV")
    parser.add_argument(
        "-ef", "--excel_frame_path", default="data/results/frame/moonvalley_wang.csv", help="frame-level CSV"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start the CSVs anew (default: append, skipping the videos they already hold for the same checkpoints)",
    )
    parser.add_argument("--summary_json", default=None, help="summary JSON (default: beside the video CSV)")
    add_classifier_arguments(parser, batch_size=32)
    parser.add_argument(
        "--num_workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="image-loading processes (default: 4, or fewer on a machine with fewer cores)",
    )
    parser.add_argument("--plot", default=None, metavar="DIR", help="write ROC and score histograms here")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="add 95%% bootstrap intervals (N stratified resamples, seeded) to the summary JSON",
    )
    add_device_arguments(parser)
    return parser


def frame_level_summaries(videos: list[VideoEvaluation], threshold: float) -> dict[str, dict]:
    """Metrics over single images of each branch (each frame or flow image carries its video's label)."""
    return {
        branch: summarize(
            [v.label for v in videos for _ in getattr(v, probs)],
            [p for v in videos for p in getattr(v, probs)],
            threshold,
            unit="frames",
        )
        for branch, probs in (("original", "rgb_probs"), ("optical", "flow_probs"))
    }


def fingerprint(args: argparse.Namespace) -> dict:
    """What a rerun into the same CSVs must share to skip the videos already there: the checkpoints (by hash)
    and every option that changes a probability (not the roots: other datasets append to the same CSVs)."""
    return {
        "checkpoints": {
            "original": file_fingerprint(args.model_original_path),
            "optical": file_fingerprint(args.model_optical_flow_path),
        },
        "arch": args.arch,
        "aug_norm": args.aug_norm,
        "crop_size": args.crop_size,
        "classifier_precision": args.classifier_precision,
        "channels_last": args.channels_last,
    }


def open_tables(args: argparse.Namespace) -> EvaluationTables:
    try:
        return EvaluationTables(args.excel_path, args.excel_frame_path, fingerprint(args), args.overwrite)
    except SettingsMismatch as exc:
        raise SettingsMismatch(f"{exc}; use --overwrite to start over, or other -e/-ef files") from None


def evaluate(
    args: argparse.Namespace, videos: list[VideoEvaluation], tables: EvaluationTables, models: tuple
) -> tuple[list[VideoEvaluation], list[SkippedVideo]]:
    """Score the videos not in the tables yet, writing each one's rows as it finishes; (videos, unreadable) in
    dataset order, the earlier runs' videos restored from the tables."""
    restored = {id(video): tables.restored(video) for video in videos}
    todo = [video for video in videos if restored[id(video)] is None]
    if len(todo) < len(videos):
        log.info(
            "%d of %d videos already in %s: not scored again", len(videos) - len(todo), len(videos), args.excel_path
        )
    unreadable = []
    scored = iter_evaluations(
        todo,
        *models,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        normalize=args.aug_norm,
        autocast_dtype=PRECISIONS[args.classifier_precision],
        channels_last=args.channels_last,
        crop_size=args.crop_size,
    )
    for video, skip in scored:
        if skip is None:
            tables.add(video)
        else:
            unreadable.append(skip)
    bad = {(s.name, s.label) for s in unreadable}
    done = [restored[id(v)] or v for v in videos if (v.name, v.label) not in bad]
    return done, unreadable


def main(args: argparse.Namespace) -> int:
    excel = Path(args.excel_path)
    summary_path = Path(args.summary_json or excel.with_name(excel.stem + "_summary.json"))
    # Every output must be writable before any work (one error line naming it).
    require_writable_file(args.excel_path, "the video CSV (-e)")
    require_writable_file(args.excel_frame_path, "the frame CSV (-ef)")
    require_writable_file(summary_path, "the summary JSON")
    if args.plot:
        require_writable_folder(args.plot, "figures (--plot) to")
    device = device_from_args(args)
    videos, skipped = collect_videos(find_videos(args.folder_original_path, args.folder_optical_flow_path))
    if videos:
        rgb_model = load_classifier(args.model_original_path, args.arch, "RGB-branch checkpoint (-mor)").to(device)
        flow_model = load_classifier(
            args.model_optical_flow_path, args.arch, "optical-flow-branch checkpoint (-mop)"
        ).to(device)
        if args.channels_last:
            rgb_model, flow_model = (m.to(memory_format=torch.channels_last) for m in (rgb_model, flow_model))
        print("*" * 50)
        with open_tables(args) as tables:
            videos, unreadable = evaluate(args, videos, tables, (rgb_model, flow_model))
        skipped += unreadable
    for video in videos:
        print(
            f"{CLASS_FOLDERS[video.label]}/{video.name}: original prob {video.rgb_prob} "
            f"optical prob {video.flow_prob} flag:{video.label} predict:{video.predict}"
        )

    labels, scores = [v.label for v in videos], [v.predict for v in videos]
    summary = summarize(labels, scores, args.threshold, bootstrap=args.bootstrap)
    summary["frame_level"] = frame_level_summaries(videos, args.threshold)
    summary["skipped"] = [skipped_record(s.name, s.label, s.reason) for s in skipped]
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(summary_path, summary, indent=2)
    if not videos:
        raise InputError(
            f"no video could be evaluated under {args.folder_original_path} (expected 0_real/<video>/ and "
            f"1_fake/<video>/ image folders, mirrored under {args.folder_optical_flow_path}); "
            f"{len(skipped)} skipped, see {summary_path}"
        )
    for key in SUMMARY_KEYS:
        print(f"{key}:{summary[key] if summary[key] is not None else 'undefined'}")
    for note in summary["notes"]:
        if not note.startswith(tuple(LOW_FPRS)):  # those concern keys that are not printed (in the JSON only)
            print(f"note: {note}")
    if skipped:
        print(f"skipped {len(skipped)} video(s); reasons in {summary_path}")
    print(f"Results have been saved to {args.excel_path}")
    print(f"Results have been saved to {args.excel_frame_path}")
    print(f"Summary has been saved to {summary_path}")
    if args.plot:
        from core.metrics.plots import plot_scores  # matplotlib is imported only when figures are asked for

        plot_scores(labels, scores, args.plot, threshold=args.threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
