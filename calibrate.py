"""Calibrate a detector on your own videos: a threshold at a chosen false-positive rate and calibrated probabilities.

Reads the result tables the scripts already write, so nothing is scored twice: test.py's video CSV (AIGVDet,
labels in its ``flag`` column) or detect.py's ``scores.csv`` (audio-visual; labels when the run had them, or
``--real_only`` for a run on real videos only). Writes a JSON calibration file for demo.py and detect.py
(``--calibration FILE``).

    # AIGVDet: test.py on a labelled dataset of your source, then calibrate on its video CSV
    python calibrate.py outputs/mysource.csv --output calibration/aigvdet_mysource.json --holdout 0.3
    # audio-visual: detect.py on real videos of your source only
    python calibrate.py outputs/avforensics/scores.csv --real_only --output calibration/av_mysource.json
    # detect.py on a labelled list (PATH LABEL lines), Platt scaling, threshold at 5% FPR
    python calibrate.py runs/labelled/scores.csv --method platt --target_fpr 0.05 --output cal.json

The threshold is the lowest that flags at most ``--target_fpr`` of the real videos; with fakes, the EER threshold
and an isotonic (default) or Platt map to a probability of fake; with real videos only, the calibrated value is
the share of real videos that scored lower. ``--holdout F`` fits on the rest and reports the false-positive
rate at the threshold on the held-out fraction F (the saved file is the one fitted on the rest).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from core.aigvdet import AIGVDetPipeline
from core.avforensics.pipeline import AVForensicsDetector
from core.cli import run_cli
from core.errors import InputError
from core.forensics.calibration import (
    METHODS,
    check_calibration,
    fit_calibration,
    holdout_split,
    save_calibration,
)
from core.forensics.score_tables import read_score_tables

log = logging.getLogger("calibrate")

DETECTORS = {"test.py": AIGVDetPipeline, "detect.py": AVForensicsDetector}  # which script's table is whose score


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tables", nargs="+", help="test.py video CSV(s) or detect.py scores.csv file(s)")
    parser.add_argument("--output", required=True, help="calibration JSON to write")
    parser.add_argument(
        "--real_only",
        action="store_true",
        help="every scored video of an unlabelled table is real; with labels, fakes are ignored",
    )
    parser.add_argument("--target_fpr", type=float, default=0.01, help="false-positive rate of the threshold")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="score-to-probability map (default: isotonic with fakes, real_tail without)",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=None,
        metavar="FRACTION",
        help="hold out this fraction of each class and report the false-positive rate on it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out draw")
    return parser


def _percent(value: float | None) -> str:
    return "undefined" if value is None else f"{100 * value:.2f}%"


def main(args: argparse.Namespace) -> int:
    table = read_score_tables(args.tables)
    detector = DETECTORS[table.producer]
    if table.dropped:
        log.info("%d rows without a score left out (first: %s: %s)", len(table.dropped), *table.dropped[0])
    if table.labels is None:
        if not args.real_only:
            raise InputError(
                f"{table.path} has no label column: pass --real_only if every video in it is real, "
                "or score a labelled list (PATH LABEL lines, or 0_real/ and 1_fake/ folders)"
            )
        labels = np.zeros(table.scores.size, dtype=np.int64)
    else:
        labels = table.labels
    if args.real_only:
        scores, labels = table.scores[labels == 0], labels[labels == 0]
    else:
        scores = table.scores
    fit, held = (np.arange(scores.size), np.array([], dtype=np.int64))
    if args.holdout is not None:
        fit, held = holdout_split(labels, args.holdout, args.seed)
    source = ", ".join(args.tables)
    calibration = fit_calibration(
        scores[fit][labels[fit] == 0],
        scores[fit][labels[fit] == 1],
        detector=detector.name,
        score_kind=detector.score_kind.value,
        target_fpr=args.target_fpr,
        method=args.method,
        source=source,
    )
    print(
        f"{detector.name} ({calibration.score_kind} score): fitted on {calibration.real_count} real and "
        f"{calibration.fake_count} fake videos, map {calibration.method} ({calibration.meaning})"
    )
    print(
        f"threshold at {_percent(calibration.target_fpr)} FPR: {calibration.threshold!r} "
        f"(flags {_percent(calibration.fpr_at_threshold)} of the fitted real videos)"
    )
    if calibration.eer is not None:
        print(f"EER: {_percent(calibration.eer)} at threshold {calibration.eer_threshold!r}")
    for note in calibration.notes:
        print(f"note: {note}")
    if held.size:
        check = check_calibration(calibration, scores[held][labels[held] == 0], scores[held][labels[held] == 1])
        calibration.extra["holdout"] = {**check, "fraction": args.holdout, "seed": args.seed}
        print(
            f"held out: {check['real']} real, {check['fake']} fake videos; FPR at the threshold "
            f"{_percent(check['fpr'])} ({check['false_positives']} of {check['real']}), TPR {_percent(check['tpr'])}"
        )
    path = save_calibration(calibration, args.output)
    print(f"Calibration has been saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
