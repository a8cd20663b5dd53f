"""The provenance detector: what a video's content credentials declare, and facts about its container.

It implements the detector interface (:class:`core.forensics.evidence.Detector`) with its own score kind,
``declaration``: 1.0 where intact credentials declare generated content, 0.0 where they declare none, NaN where
there is no intact declaration (no credentials, or broken ones). It estimates nothing: its verdict is the
category of :mod:`core.provenance.categories`, in ``details["category"]``. It needs no weights and decodes no
frame (it reads the container's headers and the manifest), so it is cheap enough to run on every video.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
from pathlib import Path
from typing import Any, ClassVar

from core.errors import InputError, ToolkitError
from core.forensics.evidence import Evidence, ScoreKind, VideoFacts
from core.media.in_memory import InMemoryVideo, VideoSource, check_source, source_name
from core.provenance.boxes import walk_boxes
from core.provenance.categories import (
    CAPTURED,
    GENERATED_UNVERIFIED,
    GENERATED_VALID,
    NO_CREDENTIALS,
    NO_CREDENTIALS_MEANS,
    categorise,
    generation_declared,
    validation_text,
)
from core.provenance.container import container_facts, hints
from core.provenance.credentials import read_credentials

TABLE_FIELDS = ("category", "generator", "signer", "validation")
MAX_ANCHORS_BYTES = 4 * 1024 * 1024


def load_trust_anchors(path: str | os.PathLike) -> str:
    """The PEM text of a trust-anchor file; InputError for a missing file or one without a certificate."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"trust anchor file not found: {source}")
    if source.stat().st_size > MAX_ANCHORS_BYTES:
        raise InputError(f"trust anchor file {source} is over {MAX_ANCHORS_BYTES:,} bytes: not a PEM list")
    text = source.read_text(encoding="ascii", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InputError(f"trust anchor file {source} holds no PEM certificate")
    return text


def signer_text(signer: dict[str, Any] | None) -> str:
    if not signer or not (signer.get("common_name") or signer.get("organisation")):
        return ""
    text = signer.get("common_name") or ""
    if signer.get("organisation") and signer["organisation"] != text:
        text += f" ({signer['organisation']})" if text else signer["organisation"]
    return text + (f", issued by {signer['issuer']}" if signer.get("issuer") else "")


class ProvenanceDetector:
    """See the module docstring; ``trust_anchors``: PEM text of the certificates the user trusts (none built in)."""

    name: ClassVar[str] = "provenance"
    score_kind: ClassVar[ScoreKind] = ScoreKind.DECLARATION
    table_fields: ClassVar[tuple[str, ...]] = TABLE_FIELDS

    def __init__(self, trust_anchors: str | None = None) -> None:
        if importlib.util.find_spec("c2pa") is None:
            raise ToolkitError("c2pa-python is not installed (it is in requirements.txt): content credentials unread")
        self.trust_anchors = trust_anchors

    def analyse_video(self, path: VideoSource) -> Evidence:
        check_source(path)
        try:
            with io.BytesIO(path.data) if isinstance(path, InMemoryVideo) else open(path, "rb") as handle:
                boxes = walk_boxes(handle)
        except OSError as exc:
            raise InputError(f"cannot read {source_name(path)}: {exc}") from None
        container = container_facts(path, boxes)
        credentials = read_credentials(path, boxes, container.get("format"), self.trust_anchors)
        category = categorise(credentials)
        declared = generation_declared(credentials)  # shown even when broken; counted only when intact
        active = credentials.active or {}
        generator = next((d["software_agent"] for d in declared if d["software_agent"]), None)
        details = {
            "category": category,
            "generator": generator or active.get("claim_generator") or "",
            "signer": signer_text(active.get("signer")),
            "validation": validation_text(credentials),
            "meaning": NO_CREDENTIALS_MEANS if category == NO_CREDENTIALS else "",
            "declarations": declared,
            "credentials": credentials.as_dict(),
            "container": container,
            "hints": hints(container),
        }
        if category == GENERATED_VALID:  # a verified declaration settles the verdict (core.forensics.verdicts)
            what = declared[0]["digital_source_type"] + (f" by {generator}" if generator else "")
            details["declared_verdict"] = "fake"
            details["declared_because"] = (
                f"its content credentials, signed by {details['signer']} and verified against the trust anchors "
                f"given, declare it generated ({what})"
            )
        score = (
            1.0 if category in (GENERATED_VALID, GENERATED_UNVERIFIED) else 0.0 if category == CAPTURED else math.nan
        )
        video = next((s for s in container.get("streams", []) if s["type"] == "video"), {})
        facts = VideoFacts(source_name(path), video.get("width", 0), video.get("height", 0), video.get("fps", 0.0), 0)
        warnings = [] if container.get("readable") else [container["problem"]]
        return Evidence(self.name, score, self.score_kind, facts, details=details, warnings=warnings)


def summary_lines(details: dict[str, Any]) -> list[str]:
    """The provenance evidence for a person, one fact a line (the command line and reports print these)."""
    credentials = details["credentials"]
    lines = [f"provenance: {details['category']}"]
    if details.get("meaning"):
        lines.append(f"  {details['meaning']}")
    lines.append(f"  validation: {details['validation']}")
    if details.get("signer"):
        lines.append(f"  signer: {details['signer']}")
    if details.get("generator"):
        lines.append(f"  tool: {details['generator']}")
    active = credentials.get("active")
    for manifest in ([active] if active else []) + credentials.get("chain", []):
        lines.append(f"  manifest {manifest['label']} by {manifest['claim_generator'] or 'an unnamed generator'}")
        if manifest.get("signing_time"):
            lines.append(f"    signed at {manifest['signing_time']}")
        for action in manifest["actions"]:
            parts = [action["action"] or "?"]
            parts += [
                f"{k.replace('_', ' ')} {action[k]}" for k in ("digital_source_type", "software_agent") if action[k]
            ]
            lines.append("    action " + ", ".join(parts))
    for failure in credentials.get("failures", []):
        lines.append(f"  failed check {failure['code']}: {failure['explanation']}")
    container = details["container"]
    if container.get("readable"):
        brands = ", ".join(container.get("compatible_brands") or [])
        lines.append(
            f"  container: {container['format']}"
            + (f", brand {container['major_brand']} ({brands})" if container.get("major_brand") else "")
            + f", {container['video_streams']} video stream(s)"
        )
    lines += [f"  hint: {hint}" for hint in details["hints"]]
    return lines
