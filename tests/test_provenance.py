"""The provenance detector on videos the tests sign themselves: declarations, trust, edits, chains, bad files."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

pytest.importorskip("c2pa", reason="c2pa-python is not installed (requirements.txt)")
pytest.importorskip("cryptography", reason="cryptography is not installed (requirements-dev.txt)")

from core.errors import InputError  # noqa: E402
from core.forensics.evidence import Detector, ScoreKind  # noqa: E402
from core.media.in_memory import InMemoryVideo  # noqa: E402
from core.provenance import ProvenanceDetector, load_trust_anchors  # noqa: E402
from core.provenance.__main__ import get_args_parser, main  # noqa: E402
from core.provenance.boxes import MAX_BOXES, walk_boxes  # noqa: E402
from core.provenance.categories import (  # noqa: E402
    BROKEN,
    CAPTURED,
    GENERATED_UNVERIFIED,
    GENERATED_VALID,
    NO_CREDENTIALS,
)
from tests import provenance_factories as pf  # noqa: E402


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> dict[str, Path]:
    """An unsigned MP4, the same signed as generated, edited after signing, re-signed with it as an ingredient,
    signed as captured; the CA as a PEM file; a WebM."""
    folder = tmp_path_factory.mktemp("provenance")
    chain = pf.make_chain()
    plain = pf.write_mp4(folder / "plain.mp4")
    generated = pf.sign(plain, folder / "generated.mp4", chain, pf.actions_manifest("g", pf.TRAINED, "VideoModel X"))
    captured = pf.sign(plain, folder / "captured.mp4", chain, pf.actions_manifest("c", pf.CAPTURE, "Camera Y"))
    edited = pf.changed_in_box(generated, folder / "edited.mp4", b"mdat")
    opened = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}
    editor = {
        "claim_generator_info": [{"name": "Editor Z", "version": "3"}],
        "title": "cut",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [opened, {"action": "c2pa.edited"}]}}],
    }
    chained = pf.sign(generated, folder / "chained.mp4", chain, editor, parent=generated)
    anchors = folder / "anchors.pem"
    anchors.write_text(chain.ca_pem)
    return {
        "plain": plain,
        "generated": generated,
        "captured": captured,
        "edited": edited,
        "chained": chained,
        "anchors": anchors,
        "webm": pf.write_webm(folder / "clip.webm"),
        "folder": folder,
    }


def analyse(path, anchors: Path | None = None):
    return ProvenanceDetector(load_trust_anchors(anchors) if anchors else None).analyse_video(path)


def test_it_is_a_detector_of_its_own_score_kind():
    detector = ProvenanceDetector()
    assert isinstance(detector, Detector)
    assert detector.score_kind == ScoreKind.DECLARATION and detector.name == "provenance"


def test_generated_declaration_is_trusted_with_the_anchor_and_unverified_without(signed):
    trusted = analyse(signed["generated"], signed["anchors"])
    details = trusted.details
    assert details["category"] == GENERATED_VALID and trusted.score == 1.0
    assert details["validation"] == "valid, signer trusted"
    assert details["generator"] == "VideoModel X"
    assert details["signer"] == f"{pf.SIGNER_NAME} ({pf.SIGNER_ORG}), issued by CN={pf.CA_NAME}, O=Test CA Org"
    action = details["credentials"]["active"]["actions"][0]
    assert action == {
        "action": "c2pa.created",
        "digital_source_type": "trainedAlgorithmicMedia",
        "software_agent": "VideoModel X",
        "when": None,
    }
    assert details["credentials"]["active"]["claim_generator"] == "TestGen 1.0"

    untrusted = analyse(signed["generated"])
    assert untrusted.details["category"] == GENERATED_UNVERIFIED and untrusted.score == 1.0
    assert untrusted.details["validation"] == "signed, signer not verified (no trust anchors given)"
    other_ca = signed["folder"] / "other.pem"
    other_ca.write_text(pf.make_chain("Another CA").ca_pem)
    assert analyse(signed["generated"], other_ca).details["category"] == GENERATED_UNVERIFIED


def test_a_file_edited_after_signing_is_broken_and_names_the_check(signed):
    evidence = analyse(signed["edited"], signed["anchors"])
    details = evidence.details
    assert details["category"] == BROKEN and math.isnan(evidence.score)
    assert [f["code"] for f in details["credentials"]["failures"]] == ["assertion.bmffHash.mismatch"]
    assert details["validation"] == "invalid: assertion.bmffHash.mismatch"
    assert details["declarations"][0]["software_agent"] == "VideoModel X"  # what it claimed, shown though broken


def test_unsigned_file_has_no_credentials_which_is_evidence_of_nothing(signed):
    evidence = analyse(signed["plain"])
    assert evidence.details["category"] == NO_CREDENTIALS and math.isnan(evidence.score)
    assert "evidence of nothing" in evidence.details["meaning"]
    assert evidence.details["credentials"]["state"] == "absent"
    assert evidence.facts.width == 64 and evidence.facts.height == 48 and evidence.facts.frames == 0


def test_captured_declaration_and_a_chain_with_an_ingredient_manifest(signed):
    captured = analyse(signed["captured"], signed["anchors"])
    assert captured.details["category"] == CAPTURED and captured.score == 0.0
    chained = analyse(signed["chained"], signed["anchors"]).details
    credentials = chained["credentials"]
    assert credentials["active"]["claim_generator"] == "Editor Z 3"
    assert [m["claim_generator"] for m in credentials["chain"]] == ["TestGen 1.0"]
    assert credentials["active"]["ingredients"][0]["relationship"] == "parentOf"
    assert chained["category"] == GENERATED_VALID  # the ingredient declares generated material
    assert chained["declarations"][0]["manifest"] == credentials["chain"][0]["label"]


def test_webm_has_no_credentials_support_as_a_clear_status(signed):
    details = analyse(signed["webm"]).details
    assert details["category"] == NO_CREDENTIALS
    assert details["credentials"]["state"] == "unsupported format"
    assert "cannot be embedded in a matroska,webm file" in details["validation"]
    assert details["container"]["format"] == "matroska,webm"


def test_malformed_and_oversized_manifest_boxes_are_broken_statuses(signed):
    garbled = pf.changed_in_box(signed["generated"], signed["folder"] / "garbled.mp4", b"uuid", every=7)
    details = analyse(garbled).details
    assert details["category"] == BROKEN
    assert details["credentials"]["state"] == "unreadable"
    data = bytearray(signed["generated"].read_bytes())
    _, offset, _ = next(box for box in pf.top_boxes(bytes(data)) if box[0] == b"uuid")
    data[offset : offset + 4] = struct.pack(">I", 0xFFFFFFF0)  # a manifest box claiming 4 GB
    huge = signed["folder"] / "huge.mp4"
    huge.write_bytes(bytes(data))
    evidence = analyse(huge)
    assert evidence.details["category"] == BROKEN
    assert "over the" in evidence.details["validation"] and "not read" in evidence.details["validation"]
    assert evidence.warnings  # PyAV cannot open it either: a warning, not an exception


def test_container_facts_and_hints(signed):
    container = analyse(signed["generated"]).details["container"]
    assert container["major_brand"] == "isom" and "mp41" in container["compatible_brands"]
    assert container["video_streams"] == 1 and container["streams"][0]["start_s"] == 0.0
    assert container["top_level_boxes"][:2] == ["ftyp", "uuid"]
    assert container["tracks"][0]["handler"] == "vide"
    hints = analyse(signed["generated"]).details["hints"]
    assert any(hint.startswith("encoder Lavf") for hint in hints)


def test_box_walk_is_bounded(tmp_path):
    many = tmp_path / "many.mp4"
    many.write_bytes(
        struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 0) + struct.pack(">I4s", 8, b"free") * (MAX_BOXES + 5)
    )
    with open(many, "rb") as handle:
        facts = walk_boxes(handle)
    assert facts.is_bmff and len(facts.top_level) == MAX_BOXES
    assert any("boxes: the rest was not read" in p for p in facts.problems)


def test_in_memory_copy_and_bad_inputs(signed, tmp_path):
    memory = InMemoryVideo(str(signed["generated"]), signed["generated"].read_bytes(), "copy")
    assert analyse(memory).details["category"] == GENERATED_UNVERIFIED
    with pytest.raises(InputError, match="file not found"):
        analyse(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    evidence = analyse(junk)  # a status, not a crash
    assert evidence.details["category"] == NO_CREDENTIALS and evidence.warnings
    not_pem = tmp_path / "anchors.pem"
    not_pem.write_text("hello")
    with pytest.raises(InputError, match="no PEM certificate"):
        load_trust_anchors(not_pem)


def test_command_line_prints_and_writes_json(signed, tmp_path, capsys):
    target = tmp_path / "out.json"
    args = get_args_parser().parse_args(
        [str(signed["generated"]), "--json", str(target), "--trust_anchors", str(signed["anchors"])]
    )
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"provenance: {GENERATED_VALID}" in printed and pf.SIGNER_NAME in printed and "VideoModel X" in printed
    record = json.loads(target.read_text())
    assert record["category"] == GENERATED_VALID and record["credentials"]["active"]["actions"]
