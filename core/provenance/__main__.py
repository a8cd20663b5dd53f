"""One video's provenance: its content credentials (C2PA) and container facts, printed and optionally as JSON.

    python -m core.provenance video.mp4
    python -m core.provenance video.mp4 --json video.provenance.json --trust_anchors my_anchors.pem

Without trust anchors (none are built in) a valid signature reads "signed, signer not verified". Exit code 0
for any readable file, credentials or not; 1 with one ``error:`` line for a missing file or a bad anchor file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core import atomic
from core.cli import run_cli
from core.provenance.detector import ProvenanceDetector, load_trust_anchors, summary_lines


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.provenance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("video")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the evidence as JSON")
    parser.add_argument("--trust_anchors", default=None, metavar="PEM", help="certificates you trust (PEM)")
    return parser


def main(args: argparse.Namespace) -> int:
    anchors = load_trust_anchors(args.trust_anchors) if args.trust_anchors else None
    evidence = ProvenanceDetector(anchors).analyse_video(args.video)
    print("\n".join(summary_lines(evidence.details)))
    for warning in evidence.warnings:
        print(f"warning: {warning}")
    if args.json:
        record = {"video": str(args.video), "warnings": evidence.warnings, **evidence.details}
        atomic.write_json(Path(args.json), json.loads(json.dumps(record, default=str)), indent=1)
        print(f"data: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
