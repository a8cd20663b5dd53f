"""A forensic report of one video that a person can read: every detector with weights, its evidence, its verdict.

Writes OUTPUT_DIR/<stem>.html (one self-contained page: figures embedded, no network, no JavaScript) and
OUTPUT_DIR/<stem>.json (the same record as data). Each detector whose weight files are present runs (a missing one
is listed as not run, with where to get its files): AIGVDet's per-frame probabilities, localised segments and its
most and least suspicious frames with their optical flow; the audio-visual detector over the whole video (its
anomaly curve, segments, the 31-offset synchronisation map and the face track). With a calibration file per
detector (``calibrate.py``), calibrated probabilities and verdicts, and their fusion where both ran. First, the
video's provenance (no weights needed): its content credentials (C2PA) and container facts; a verified
declaration of generation settles the verdict (``--trust_anchors``: the certificates you trust; none built in).

    python report.py video.mp4 --output_dir reports
    python report.py video.mp4 --calibration calibration/aigvdet_mine.json calibration/av_mine.json \
        --output_dir reports
    # detectors you trained yourself (the quickstart's tiny models)
    python report.py clip.mkv --arch resnet18 --crop_size 64 --flow_method dis -mor rgb.pth -mop flow.pth \
        --sync_model_path runs/avsync/sync_model.pth --dist_model_path runs/avanomaly/dist_regressive_model.pth \
        --avfeature_model_path runs/avanomaly/avfeature_regressive_model.pth --pca_path runs/avanomaly/pca.npz

Exit code 0 when at least one detector analysed the video; 1 with one ``error:`` line otherwise (the report is
still written when the video could be read) or for unusable input.
"""

from __future__ import annotations

import core  # noqa: F401 -- before torch: sets the OpenMP wait policy (see core/__init__.py)

# isort: split
import argparse
import logging
from pathlib import Path

import torch

from core.aigvdet import AIGVDetPipeline
from core.aigvdet.options import CHECKPOINT_FLAGS as AIGVDET_FLAGS
from core.aigvdet.options import (
    add_aigvdet_arguments,
    add_budget_arguments,
    aigvdet_checkpoints,
    cpu_time_budget,
    pipeline_from_args,
    time_budget_of,
)
from core.avforensics.options import CHECKPOINT_FLAGS as AV_FLAGS
from core.avforensics.options import add_avforensics_arguments, avforensics_checkpoints, detector_from_args
from core.avforensics.pipeline import AVForensicsDetector
from core.checkpoints import WEIGHT_SOURCES
from core.cli import add_device_arguments, device_from_args, run_cli
from core.errors import InputError, ToolkitError
from core.forensics.calibration import Calibration, load_calibration
from core.forensics.report import DetectorRun, build_report, write_report
from core.forensics.verdicts import is_declaration
from core.provenance import ProvenanceDetector, load_trust_anchors, summary_lines
from core.runs.status import TRUNCATED, has_score

log = logging.getLogger("report")

AIGVDET = ("AIGVDet (RGB frames + optical flow)", "Two ResNet classifiers look for the traces video generators leave "
           "in single frames and in the motion between frames (Bai et al., PRCV 2024).")  # fmt: skip
PROVENANCE = ("Provenance (content credentials and container)", "Reads what the file declares about itself: "
              "signed C2PA content credentials and the container's facts.")  # fmt: skip
AVFORENSICS = ("Audio-visual synchronisation anomaly", "Checks whether the mouth and the voice stay in sync the way "
               "they do in real talking-face videos (Feng, Chen & Owens, CVPR 2023).")  # fmt: skip


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", help="the video to report on")
    parser.add_argument("--output_dir", default="reports", help="folder for <stem>.html and <stem>.json")
    parser.add_argument(
        "--calibration", nargs="+", default=[], metavar="FILE", help="calibration JSON files (calibrate.py), any order"
    )
    parser.add_argument(
        "--detectors",
        nargs="+",
        choices=("aigvdet", "avforensics", "provenance"),
        default=["provenance", "aigvdet", "avforensics"],
    )
    parser.add_argument(
        "--trust_anchors", default=None, metavar="PEM", help="certificates whose signatures you trust (provenance)"
    )
    add_device_arguments(parser)
    add_budget_arguments(add_aigvdet_arguments(parser))  # the same AIGVDet options as demo.py and score.py
    add_avforensics_arguments(parser, whole_video_flag=False)  # as detect.py; a report always scores whole videos
    return parser


def missing(files: dict[str, str], flags: dict[str, str]) -> str | None:
    """ "<file> missing (where to get it)" for the first missing file, or None."""
    for role, path in files.items():
        if not Path(path).is_file():
            source = WEIGHT_SOURCES.get(Path(path).name)
            where = f"get it from the {source}" if source else f"pass its path with {flags[role]}"
            return f"{path} missing ({where})"
    return None


def budget_share(args: argparse.Namespace, device: torch.device, name: str) -> float | None:
    """Detector ``name``'s share of the CPU time budget: AIGVDet and the audio-visual detector split it, unless
    AIGVDet's pairs are fixed (``--sample_pairs``), which leaves the whole budget to the audio-visual one."""
    budget = cpu_time_budget(args, device)
    aigvdet_budgeted = time_budget_of(args, device) is not None
    sharing = [n for n in args.detectors if n == "avforensics" or (n == "aigvdet" and aigvdet_budgeted)]
    return budget / len(sharing) if budget is not None and name in sharing else None


def aigvdet_run(args: argparse.Namespace, device: torch.device) -> DetectorRun:
    files = aigvdet_checkpoints(args)
    run = DetectorRun(AIGVDetPipeline.name, *AIGVDET, checkpoints=files)
    run.not_run = missing(files, AIGVDET_FLAGS)
    if run.not_run:
        return run
    run.detector = pipeline_from_args(args, device, illustrate=True, time_budget_s=budget_share(args, device, run.name))
    return run


def avforensics_run(args: argparse.Namespace, device: torch.device) -> DetectorRun:
    files = dict(zip(AV_FLAGS, vars(avforensics_checkpoints(args)).values()))
    run = DetectorRun(AVForensicsDetector.name, *AVFORENSICS, checkpoints=files)
    run.not_run = missing(files, AV_FLAGS)
    if run.not_run:
        return run
    run.detector = detector_from_args(
        args,
        device,
        progress=True,
        illustrate=True,
        whole_video=True,
        time_budget_s=budget_share(args, device, run.name),
    )
    return run


def provenance_run(args: argparse.Namespace, device: torch.device) -> DetectorRun:
    anchors = load_trust_anchors(args.trust_anchors) if args.trust_anchors else None
    run = DetectorRun(ProvenanceDetector.name, *PROVENANCE)
    try:
        run.detector = ProvenanceDetector(anchors)
    except ToolkitError as exc:  # c2pa-python missing: the rest of the report still runs
        run.not_run = str(exc)
    return run


def load_calibrations(paths: list[str], detectors: list[str]) -> dict[str, tuple[Calibration, str]]:
    found: dict[str, tuple[Calibration, str]] = {}
    for path in paths:
        calibration = load_calibration(path)
        if calibration.detector not in ("aigvdet", "avforensics"):
            raise InputError(f"calibration file {path} is for an unknown detector {calibration.detector!r}")
        if calibration.detector in found:
            raise InputError(
                f"two calibration files for {calibration.detector}: {found[calibration.detector][1]}, {path}"
            )
        if calibration.detector not in detectors:
            log.warning("calibration file %s is for %s, which is not run here", path, calibration.detector)
        found[calibration.detector] = (calibration, path)
    return found


def declarations_only(report) -> bool:
    """Whether only a declaration (provenance) analysed the video: no detector estimated anything."""
    return all(is_declaration(report.data["detectors"][name]) for name in report.evidence)


def main(args: argparse.Namespace) -> int:
    if not Path(args.video).is_file():
        raise InputError(f"video not found: {args.video}")
    calibrations = load_calibrations(args.calibration, args.detectors)
    device = device_from_args(args)
    builders = {"aigvdet": aigvdet_run, "avforensics": avforensics_run, "provenance": provenance_run}
    runs = [builders[name](args, device) for name in args.detectors]
    for run in runs:
        if run.name in calibrations:
            run.calibration, run.calibration_file = calibrations[run.name]
        if run.not_run:
            log.warning("%s not run: %s", run.name, run.not_run)
    report = build_report(args.video, runs)
    html_path, json_path = write_report(report, args.output_dir)
    for name, record in report.data["detectors"].items():
        if not has_score(record["status"]):
            print(f"{name}: {record['status']}: {record['reason']}")
            continue
        if is_declaration(record):
            print("\n".join(summary_lines(record["details"])))
            continue
        line = f"{name}: score {record['score']} ({record['score_kind']})"
        if record["verdict"]:
            line += f", verdict {record['verdict']}"
        if record["calibration"]:
            calibrated = record["calibration"]
            line += f", calibrated {calibrated['calibrated']}: {calibrated['calibrated_verdict']}"
        if record["status"] == TRUNCATED:
            line += f" ({TRUNCATED}: {record['reason']}; the score covers the decoded part)"
        print(line)
    fusion = report.data["fusion"]
    print(f"fusion: {fusion['verdict']}" if fusion["fused"] else fusion["reason"])
    print(f"report: {html_path}\ndata:   {json_path}")
    if not report.evidence or (declarations_only(report) and set(args.detectors) != {"provenance"}):
        raise ToolkitError(f"no detector could analyse {args.video}; the report says why: {html_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
