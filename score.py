"""Score a dataset of raw videos with AIGVDet and/or the audio-visual detector into one results table.

With ``provenance`` among the detectors, each video's content credentials and container are read too (no
weights): columns provenance_category, _generator, _signer and _validation (--trust_anchors: certificates you
trust).

    # a folder with 0_real/ and 1_fake/ (subsets in folders below them), or a list file "PATH [LABEL [SUBSET]]"
    python score.py --videos data/mydataset --detectors aigvdet,av --output_dir outputs/mydataset
    # rerun: skips what is done; --retry_failed also retries failures; --overwrite starts over
    python score.py --videos data/mydataset --detectors av --output_dir outputs/mydataset --retry_failed
    # one perturbation, in memory
    python score.py --videos data/mydataset --detectors aigvdet --perturb jpeg:50 --output_dir outputs/jpeg50
    # the robustness suite: clean and every level of each kind (default kinds: h264,jpeg,resize,blur,noise)
    python score.py --videos data/mydataset --detectors aigvdet,av --robustness --output_dir outputs/robust
    # long videos: AIGVDet on 16 evenly spaced frame pairs of each
    python score.py --videos data/raw_footage --detectors aigvdet --sample_pairs 16 --output_dir outputs/raw
    # many GPUs: one process per GPU; rank 0 merges the parts when all are done
    torchrun --nproc_per_node 8 score.py --videos data/big.txt --detectors aigvdet --output_dir outputs/big
    # two nodes (run on each, with its --node_rank)
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint host0:29500 \
        score.py --videos /shared/big.txt --detectors aigvdet,av --output_dir /shared/outputs/big
    # every face track of the audio-visual detector: one row each (the main face's row gives the metrics)
    python score.py --videos data/panels --detectors av --all_faces --output_dir outputs/panels
    # what the files declare (content credentials) beside the detectors' scores
    python score.py --videos data/mydataset --detectors aigvdet,av,provenance --output_dir outputs/mydataset_prov
    # merge the parts again (e.g. after a node failed and was rerun)
    python score.py --merge_only --output_dir outputs/big

Outputs in --output_dir: results.csv and results.parquet (columns: core/forensics/batch_table.py), parts/ (one
resumable part per process), with labels summary.json (metrics per condition and detector, per subset) and
with --plot the ROC and histogram figures; with --robustness robustness.csv and robustness.png; with
--save_evidence evidence/*.npz (each detector's per-time series).
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
from core.aigvdet.options import add_aigvdet_arguments, add_budget_arguments, pipeline_from_args, time_budget_of
from core.aigvdet.pipeline import any_sampled
from core.avforensics.options import add_avforensics_arguments, avforensics_checkpoints, detector_from_args
from core.avforensics.whole_video import WholeVideoSettings
from core.cli import add_device_arguments, device_from_args, run_cli
from core.errors import InputError
from core.flow.build import raft_checkpoint
from core.forensics.batch import BatchSettings, run_batch
from core.forensics.batch_table import (
    RESULTS_CSV,
    clear_done,
    mark_done,
    merge_parts,
    scored,
    video_rows,
    wait_for_parts,
)
from core.forensics.robustness import condition_summaries, plot_robustness, robustness_rows, write_robustness_csv
from core.media.perturb import LEVELS, Perturbation, parse_perturbations
from core.media.sources import read_video_list
from core.provenance import ProvenanceDetector, load_trust_anchors
from core.runs.distributed import barrier, process_group
from core.runs.result_table import file_fingerprint
from core.runs.status import TRUNCATED, Status

log = logging.getLogger("score")

DETECTORS = ("aigvdet", "av", "provenance")
ALIASES = {"avforensics": "av"}
DEFAULTS = {"window_stride": WholeVideoSettings.stride, "min_context": WholeVideoSettings.min_context}
DEFAULT_SUITE = ("h264", "jpeg", "resize", "blur", "noise")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", help="a video, a folder with 0_real/ and 1_fake/, or a list file")
    parser.add_argument(
        "--detectors",
        default="aigvdet,av",
        help="comma-separated: aigvdet, avforensics (or av), provenance; the audio-visual columns are named av_*",
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite", action="store_true", help="start over (delete earlier results)")
    parser.add_argument("--retry_failed", action="store_true", help="score again the videos that failed before")
    parser.add_argument("--merge_only", action="store_true", help="only merge the parts into the results table")
    parser.add_argument("--perturb", default=None, help="a perturbation chain, e.g. jpeg:50 or blur:2+noise:5")
    parser.add_argument(
        "--robustness",
        nargs="?",
        const=",".join(DEFAULT_SUITE),
        default=None,
        metavar="KINDS",
        help=f"clean plus every level of these kinds (default {','.join(DEFAULT_SUITE)}; all: {','.join(LEVELS)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations' noise")
    parser.add_argument("--save_evidence", action="store_true", help="write each detector's per-time series")
    parser.add_argument(
        "--prefetch", "--n_workers", type=int, default=2, help="videos decoded ahead in background threads"
    )
    parser.add_argument("--plot", action="store_true", help="ROC and histogram figures of labelled runs")
    parser.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for confidence intervals")
    parser.add_argument("--no_progress", action="store_true")
    add_device_arguments(parser)  # under torchrun, a CUDA device is each rank's own GPU
    add_budget_arguments(add_aigvdet_arguments(parser))  # the same AIGVDet options as demo.py and report.py
    add_avforensics_arguments(parser)  # the same audio-visual options as detect.py and report.py
    provenance = parser.add_argument_group("provenance")
    provenance.add_argument("--trust_anchors", default=None, metavar="PEM", help="certificates you trust (PEM)")
    return parser


def conditions_of(args: argparse.Namespace) -> list[list[Perturbation]]:
    if args.perturb and args.robustness:
        raise InputError("--perturb and --robustness exclude each other")
    if args.perturb:
        return [parse_perturbations(args.perturb)]
    if args.robustness:
        kinds = [kind.strip() for kind in args.robustness.split(",") if kind.strip()]
        unknown = [kind for kind in kinds if kind not in LEVELS]
        if unknown:
            raise InputError(f"unknown perturbation kind(s) {unknown}; known: {', '.join(LEVELS)}")
        return [[]] + [[Perturbation(kind, level)] for kind in kinds for level in LEVELS[kind]]
    return [[]]


def aigvdet_time_budget(
    args: argparse.Namespace, names: list[str], entries: list, device: torch.device
) -> float | None:
    """AIGVDet's CPU time budget when it samples some video of the run; None when every video is analysed fully,
    as without a budget (short videos, a GPU, --full, --sample_pairs): the table and its fingerprint stay as before."""
    budget = time_budget_of(args, device)
    if budget is None or "aigvdet" not in names or args.flow_method != "raft":
        return None
    if not any_sampled((entry.path for entry in entries), budget):
        return None
    log.info("AIGVDet: videos over a %g s CPU budget get evenly spaced frame pairs (column aigvdet_pairs)", budget)
    return budget


def build_detectors(
    args: argparse.Namespace, names: list[str], device: torch.device, time_budget_s: float | None = None
) -> tuple[dict, dict]:
    """The detectors and the fingerprint of everything that changes their results (``time_budget_s``: see
    :func:`aigvdet_time_budget`)."""
    detectors, fingerprint = {}, {}
    if "aigvdet" in names:
        detectors["aigvdet"] = pipeline_from_args(
            args, device, time_budget_s=time_budget_s, pairs_column=time_budget_s is not None
        )
        fingerprint["aigvdet"] = {
            "rgb": file_fingerprint(args.model_original_path),
            "flow_branch": file_fingerprint(args.model_optical_flow_path),
            "flow": file_fingerprint(raft_checkpoint(args.model, args.small))
            if args.flow_method == "raft"
            else args.flow_method,
            **{k: getattr(args, k) for k in ("small", "arch", "aug_norm", "iters", "mixed_precision", "threshold")},
            "crop_size": args.crop_size,
            "classifier_precision": args.classifier_precision,
            # Options added after score.py first shipped count only when used: older tables still resume.
            **{k: getattr(args, k) for k in ("channels_last", "sample_pairs") if getattr(args, k)},
            **({"time_budget": time_budget_s} if time_budget_s is not None else {}),
        }
    if "av" in names:
        checkpoints = avforensics_checkpoints(args)
        detectors["av"] = detector_from_args(args, device)
        fingerprint["av"] = {
            **{name: file_fingerprint(path) for name, path in vars(checkpoints).items()},
            **{k: getattr(args, k) for k in ("lam", "max_len", "face_crop", "whole_video")},
            **({"all_faces": True} if args.all_faces else {}),
            # Whole-video options added after score.py first shipped count only when changed: older tables resume.
            **{
                k: getattr(args, k)
                for k in ("window_stride", "min_context")
                if args.whole_video and getattr(args, k) != DEFAULTS[k]
            },
            **(
                {"segment_threshold": args.segment_threshold}
                if args.whole_video and args.segment_threshold is not None
                else {}
            ),
        }
    if "provenance" in names:
        anchors = load_trust_anchors(args.trust_anchors) if args.trust_anchors else None
        detectors["provenance"] = ProvenanceDetector(anchors)
        fingerprint["provenance"] = {"trust_anchors": file_fingerprint(args.trust_anchors) if anchors else None}
    return detectors, fingerprint


def write_summaries(args: argparse.Namespace, rows: list[dict], columns: list[str]) -> None:
    output_dir = Path(args.output_dir)
    summaries = condition_summaries(rows, columns, args.bootstrap)
    if not summaries:
        return
    atomic.write_json(output_dir / "summary.json", summaries, indent=2)
    for condition, per_detector in summaries.items():
        for name, summary in per_detector.items():
            print(f"{condition} {name}: auc:{summary['auc']} ap:{summary['ap']} videos:{summary['p'] + summary['n']}")
    if args.plot:
        from core.metrics.plots import plot_scores

        for name in {n for per in summaries.values() for n in per}:
            kept = [r for r in video_rows(rows) if r["perturbation"] == rows[0]["perturbation"]]
            kept = [r for r in kept if r["label"] != "" and scored(r, name)]  # the AUC's videos, truncated too
            plot_scores(
                [int(r["label"]) for r in kept],
                [float(r[f"{name}_score"]) for r in kept],
                output_dir / "plots" / name,
                score_name=f"{name} score",
            )
    if len(summaries) > 1:
        table = robustness_rows(summaries)
        print(f"robustness table: {write_robustness_csv(table, output_dir / 'robustness.csv')}")
        print(f"robustness plot: {plot_robustness(table, output_dir / 'robustness.png')}")


def main(args: argparse.Namespace) -> int:
    output_dir = Path(args.output_dir)
    if not args.merge_only:
        if not args.videos:
            raise InputError("--videos is required (or --merge_only)")
        # One key per detector (its name); the audio-visual one keeps "av" as its table prefix and alias.
        names = [ALIASES.get(name.strip(), name.strip()) for name in args.detectors.split(",") if name.strip()]
        # provenance last: a row's width, height and fps come from the first detector that decoded the video
        names = sorted(names, key=lambda name: name == "provenance")
        unknown = [name for name in names if name not in DETECTORS]
        if unknown or not names:
            raise InputError(f"--detectors takes {', '.join(DETECTORS)}; got {args.detectors!r}")
        conditions = conditions_of(args)
        if args.all_faces and ("av" not in names or args.face_crop == "never"):
            log.warning("--all_faces does nothing without the av detector and face cropping: one row per video")
        entries = read_video_list(args.videos, subsets=True)
        group_device = "cpu" if args.use_cpu else args.device if args.device in ("auto", "cpu") else "cuda"
        with process_group(group_device) as info:
            device = info.device if info.distributed else device_from_args(args)
            clear_done(output_dir, info.rank)
            barrier()  # every rank has cleared its marker before any can wait for them
            detectors, fingerprint = build_detectors(
                args, names, device, aigvdet_time_budget(args, names, entries, device)
            )
            settings = BatchSettings(
                output_dir,
                conditions,
                seed=args.seed,
                retry_failed=args.retry_failed,
                overwrite=args.overwrite,
                save_evidence=args.save_evidence,
                prefetch=args.prefetch,
                rank=info.rank,
                world_size=info.world_size,
                progress=not args.no_progress and info.is_primary,
                face_tracks=args.all_faces and "av" in names,
            )
            part = run_batch(entries, detectors, settings, fingerprint)
            mark_done(output_dir, info.rank)
            log.info("rank %d: results in %s", info.rank, part)
            if not info.is_primary:
                return 0
            wait_for_parts(output_dir, info.world_size)
    rows = merge_parts(output_dir)
    columns = list(rows[0]) if rows else []
    print(f"{len(rows)} rows: {output_dir / RESULTS_CSV} (and results.parquet)")
    statuses = [[Status.parse(row[c]) for c in columns if c.endswith("_status")] for row in rows]
    failed = sum(not all(s.has_score() for s in row) for row in statuses)
    if failed:
        print(f"{failed} row(s) with a failed detector (see the *_status columns)")
    truncated = sum(any(s.kind == TRUNCATED for s in row) for row in statuses)
    if truncated:
        print(f"{truncated} row(s) scored from a truncated file (the part that decoded)")
    write_summaries(args, rows, columns)
    json_path = output_dir / "run.json"
    atomic.write_json(json_path, {"args": vars(args), "pid": os.getpid()}, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
