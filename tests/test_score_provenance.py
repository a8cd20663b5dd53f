"""score.py --detectors with provenance: its own columns beside the other detectors', and tables without it
unchanged."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("c2pa", reason="c2pa-python is not installed (requirements.txt)")
pytest.importorskip("cryptography", reason="cryptography is not installed (requirements-dev.txt)")

import score  # noqa: E402
from core.cli import run_cli  # noqa: E402
from core.forensics.batch_table import result_columns  # noqa: E402
from tests import provenance_factories as pf  # noqa: E402

COLUMNS = ["provenance_category", "provenance_generator", "provenance_signer", "provenance_validation"]


def test_provenance_columns_in_the_results_table(tmp_path, weights_dir):
    chain = pf.make_chain()
    plain = pf.write_mp4(tmp_path / "plain.mp4", frames=6, size=(64, 64))
    signed = pf.sign(plain, tmp_path / "signed.mp4", chain, pf.actions_manifest("s", pf.TRAINED, "VideoModel X"))
    edited = pf.changed_in_box(signed, tmp_path / "edited.mp4", b"mdat")
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{plain} 0\n{signed} 1\n{edited} 1\n")
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(chain.ca_pem)
    out = tmp_path / "out"
    argv = ["--videos", str(listing), "--detectors", "provenance,aigvdet", "--output_dir", str(out)]
    argv += ["--arch", "resnet18", "--crop_size", "64", "--flow_method", "dis", "--device", "cpu", "--no_progress"]
    argv += ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth")]
    assert run_cli(score.main, score.get_args_parser(), argv + ["--trust_anchors", str(anchors)]) == 0
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header[-9:] == ["provenance_" + f for f in ("score", "status", "seconds", "frames", "threshold")] + COLUMNS
    assert header.index("aigvdet_score") < header.index("provenance_score")  # provenance last, whatever the order
    by_name = {row["path"].rsplit("/", 1)[-1]: row for row in rows}
    assert by_name["plain.mp4"]["provenance_category"] == "no credentials"
    assert by_name["signed.mp4"]["provenance_category"] == "declared generated (signature valid)"
    assert by_name["signed.mp4"]["provenance_generator"] == "VideoModel X"
    assert by_name["signed.mp4"]["provenance_signer"].startswith(pf.SIGNER_NAME)
    assert by_name["signed.mp4"]["provenance_validation"] == "valid, signer trusted"
    assert by_name["edited.mp4"]["provenance_category"] == "credentials broken"
    assert by_name["edited.mp4"]["provenance_validation"] == "invalid: assertion.bmffHash.mismatch"
    assert all(row["provenance_status"] == "ok" and row["aigvdet_status"] == "ok" for row in rows)
    assert by_name["signed.mp4"]["width"] == "64"


def test_tables_without_provenance_keep_their_columns():
    assert result_columns(["aigvdet", "av"]) == result_columns(["aigvdet", "av"], False, {})
    assert not any(c.endswith(("_category", "_signer")) for c in result_columns(["aigvdet", "av"]))
