"""report.py on videos the tests sign: the Provenance section, a verified declaration settling the verdict, a
file edited after signing shown as broken with its check."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("c2pa", reason="c2pa-python is not installed (requirements.txt)")
pytest.importorskip("cryptography", reason="cryptography is not installed (requirements-dev.txt)")

import report  # noqa: E402
from core.cli import run_cli  # noqa: E402
from tests import provenance_factories as pf  # noqa: E402


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signed_report")
    chain = pf.make_chain()
    plain = pf.write_mp4(folder / "plain.mp4", frames=6, size=(64, 64))
    signed = pf.sign(plain, folder / "signed.mp4", chain, pf.actions_manifest("s", pf.TRAINED, "VideoModel X"))
    edited = pf.changed_in_box(signed, folder / "edited.mp4", b"mdat")
    anchors = folder / "anchors.pem"
    anchors.write_text(chain.ca_pem)
    return {"signed": signed, "edited": edited, "anchors": anchors}


def run_report(video, out, weights_dir, *extra) -> tuple[int, dict, str]:
    argv = [str(video), "--arch", "resnet18", "--crop_size", "64", "--flow_method", "dis", "--use_cpu"]
    argv += ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth")]
    argv += ["--detectors", "provenance", "aigvdet", "--output_dir", str(out), *extra]
    code = run_cli(report.main, report.get_args_parser(), argv)
    stem = video.stem
    return code, json.loads((out / f"{stem}.json").read_text()), (out / f"{stem}.html").read_text()


def test_verified_declaration_settles_the_verdict_and_the_page_says_why(videos, weights_dir, tmp_path, capsys):
    code, data, page = run_report(videos["signed"], tmp_path, weights_dir, "--trust_anchors", str(videos["anchors"]))
    assert code == 0
    provenance = data["provenance"]
    assert provenance["category"] == "declared generated (signature valid)"
    assert provenance["signer"].startswith(pf.SIGNER_NAME) and provenance["generator"] == "VideoModel X"
    fusion = data["fusion"]
    assert fusion["verdict"] == "fake" and fusion["declared_by"] == "provenance"
    assert fusion["detectors_fusion"] == {"fused": False, "reason": "no fusion: only aigvdet ran"}
    assert page.index("<h2>Provenance</h2>") < page.index("<h2>Verdicts</h2>")  # at the top
    for shown in (pf.SIGNER_NAME, "VideoModel X", "declared generated", "The verdict is fake because"):
        assert shown in page
    printed = capsys.readouterr().out
    assert "provenance: declared generated (signature valid)" in printed and "fusion: fake" in printed


def test_unverified_declaration_is_shown_but_does_not_settle(videos, weights_dir, tmp_path):
    _, data, page = run_report(videos["signed"], tmp_path, weights_dir)
    assert data["provenance"]["category"] == "declared generated (signer not verified)"
    assert data["fusion"] == {"fused": False, "reason": "no fusion: only aigvdet ran"}
    assert "signer not verified" in page and pf.SIGNER_NAME in page


def test_edited_after_signing_is_broken_and_names_the_check(videos, weights_dir, tmp_path):
    _, data, page = run_report(videos["edited"], tmp_path, weights_dir, "--trust_anchors", str(videos["anchors"]))
    assert data["provenance"]["category"] == "credentials broken"
    assert "assertion.bmffHash.mismatch" in data["provenance"]["validation"]
    assert "declared_by" not in data["fusion"]
    assert "credentials broken" in page and "assertion.bmffHash.mismatch" in page and "Failed checks" in page
