"""A video's content credentials (C2PA), read and validated with ``c2pa-python``, offline.

What is read: the active manifest and the chain of manifests its ingredients point to (claim generator, signer,
signing time, actions with their digital source type and software agent, ingredients) and the validation state
the SDK gives: ``Trusted`` (signature, hashes and certificate chain valid, the signer's chain ends at one of the
user's trust anchors), ``Valid`` (signature and hashes valid, the signer not verified: no trust anchors given, or
not among them), ``Invalid`` (a check failed, e.g. ``assertion.bmffHash.mismatch`` after the file was edited).

No trust anchors are built in and nothing is fetched (no remote manifests, no OCSP). Bounds: a manifest store
larger than :data:`MAX_MANIFEST_BYTES` is not handed to the SDK (its size is reported instead); at most
:data:`MAX_MANIFESTS` manifests of a chain, :data:`MAX_ITEMS` actions or ingredients each and :data:`MAX_TEXT`
characters of any text are kept. A file the SDK cannot parse is a state, never an exception.
"""

from __future__ import annotations

import io
import json
import logging
import mimetypes
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from core.media.in_memory import InMemoryVideo, VideoSource, source_name
from core.provenance.boxes import BoxFacts

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 32 * 1024 * 1024
MAX_MANIFESTS = 16
MAX_ITEMS = 32
MAX_TEXT = 300
PRESENT, ABSENT, UNSUPPORTED, UNREADABLE = "present", "absent", "unsupported format", "unreadable"
UNTRUSTED = "signingCredential.untrusted"
NO_C2PA_FORMATS = ("matroska", "webm")  # containers C2PA defines no way to embed a manifest in


@dataclass
class Credentials:
    state: str  # PRESENT, ABSENT, UNSUPPORTED or UNREADABLE
    note: str = ""  # why, for the last three
    manifest_box: bool = False  # the file has a C2PA manifest box (whether or not the SDK could read it)
    validation_state: str | None = None  # Trusted, Valid or Invalid (the SDK's words)
    failures: list[dict[str, str]] = field(default_factory=list)  # failed checks: {code, explanation}
    untrusted: bool = False  # the signer's certificate chain ends at no given trust anchor
    trust_anchors: bool = False  # whether the user gave any
    active: dict[str, Any] | None = None  # the active manifest's summary
    chain: list[dict[str, Any]] = field(default_factory=list)  # its ingredients' manifests, nearest first

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _agent(agent: Any) -> str | None:
    if isinstance(agent, dict):
        return _short(" ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)) or agent)
    return _short(agent)


def _generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info") or []
    names = [" ".join(str(i[k]) for k in ("name", "version") if i.get(k)) for i in infos[:4] if isinstance(i, dict)]
    return _short(", ".join(n for n in names if n) or manifest.get("claim_generator"))


def _name(parts: dict[str, Any] | None) -> str | None:
    if not isinstance(parts, dict):
        return None
    return _short(", ".join(f"{k}={v}" for k, v in parts.items() if k in ("CN", "O", "OU", "C")) or None)


def _summary(label: str, manifest: dict[str, Any], certificate: dict[str, Any]) -> dict[str, Any]:
    signature = manifest.get("signature_info") or {}
    subject = certificate.get("subject") or {}
    actions = []
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in ((assertion.get("data") or {}).get("actions") or [])[:MAX_ITEMS]:
                source = action.get("digitalSourceType")
                actions.append(
                    {
                        "action": _short(action.get("action")),
                        "digital_source_type": _short(source.rsplit("/", 1)[-1]) if isinstance(source, str) else None,
                        "software_agent": _agent(action.get("softwareAgent")),
                        "when": _short(action.get("when")),
                    }
                )
    ingredients = [
        {
            "title": _short(i.get("title")),
            "relationship": _short(i.get("relationship")),
            "manifest": _short(i.get("active_manifest")),
        }
        for i in (manifest.get("ingredients") or [])[:MAX_ITEMS]
    ]
    return {
        "label": _short(label),
        "title": _short(manifest.get("title")),
        "claim_generator": _generator(manifest),
        "signer": {
            "common_name": _short(signature.get("common_name") or subject.get("CN")),
            # c2pa names the subject's organisation "issuer"; the certificate's issuer is read from crJSON
            "organisation": _short(subject.get("O") or signature.get("issuer")),
            "issuer": _name(certificate.get("issuer")),
            "algorithm": _short(signature.get("alg")),
            "serial": _short(signature.get("cert_serial_number")),
        },
        "signing_time": _short(signature.get("time")),  # from a timestamp authority; absent without one
        "actions": actions,
        "ingredients": ingredients,
    }


def _certificates(reader) -> dict[str, dict[str, Any]]:
    """{manifest label: certificate info (subject, issuer, validity)} from the SDK's crJSON; {} if unavailable."""
    try:
        manifests = json.loads(reader.crjson()).get("manifests") or []
    except Exception as exc:  # an optional view: never worth failing the reading for
        log.debug("no crJSON: %s", exc)
        return {}
    return {
        m.get("label"): (m.get("signature") or {}).get("certificateInfo") or {}
        for m in manifests
        if isinstance(m, dict)
    }


def _checks(results: dict[str, Any]) -> list[dict[str, str]]:
    failed = list((results.get("activeManifest") or {}).get("failure") or [])
    for delta in results.get("ingredientDeltas") or []:
        failed += (delta.get("validationDeltas") or {}).get("failure") or []
    seen, checks = set(), []
    for item in failed:
        key = (item.get("code"), item.get("explanation"))
        if key not in seen and len(checks) < MAX_ITEMS:
            seen.add(key)
            checks.append({"code": _short(item.get("code")), "explanation": _short(item.get("explanation"))})
    return checks


def _mime(source: VideoSource, boxes: BoxFacts, container_format: str | None) -> str | None:
    if boxes.is_bmff:
        return "video/quicktime" if (boxes.major_brand or "").strip() == "qt" else "video/mp4"
    if container_format and any(name in container_format for name in NO_C2PA_FORMATS):
        return None
    return mimetypes.guess_type(source_name(source))[0]


def _open(source: VideoSource) -> BinaryIO:
    return io.BytesIO(source.data) if isinstance(source, InMemoryVideo) else open(source, "rb")


def read_credentials(
    source: VideoSource, boxes: BoxFacts, container_format: str | None = None, trust_anchors: str | None = None
) -> Credentials:
    """The content credentials of ``source`` (see the module docstring); ``trust_anchors``: PEM text."""
    import c2pa

    found = Credentials(ABSENT, manifest_box=bool(boxes.c2pa_boxes), trust_anchors=bool(trust_anchors))
    mime = _mime(source, boxes, container_format)
    if mime is None:
        found.state = UNSUPPORTED
        found.note = f"content credentials cannot be embedded in a {container_format or 'file of this type'} file"
        return found
    store = sum(size for _, size in boxes.c2pa_boxes)
    if store > MAX_MANIFEST_BYTES:
        found.state = UNREADABLE
        found.note = f"manifest store of {store:,} bytes is over the {MAX_MANIFEST_BYTES:,}-byte limit: not read"
        return found
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    try:
        with c2pa.Context.from_dict(settings) as context, _open(source) as handle:
            reader = c2pa.Reader.try_create(mime, handle, None, context)
            if reader is None:
                return found
            with reader:
                data = json.loads(reader.json())
                state = reader.get_validation_state()
                certificates = _certificates(reader)
    except c2pa.C2paError.NotSupported as exc:
        found.state, found.note = UNSUPPORTED, _short(f"the C2PA library does not read this format ({exc})") or ""
        return found
    except (c2pa.C2paError, ValueError, OSError) as exc:
        found.state, found.note = UNREADABLE, _short(f"the C2PA library could not read it: {exc}") or ""
        return found
    found.state = PRESENT
    found.manifest_box = True
    manifests = data.get("manifests") or {}
    found.validation_state = state or data.get("validation_state")
    checks = _checks(data.get("validation_results") or {})
    found.untrusted = any(c["code"] == UNTRUSTED for c in checks)
    found.failures = [c for c in checks if c["code"] != UNTRUSTED]
    label = data.get("active_manifest")
    if label in manifests:
        found.active = _summary(label, manifests[label], certificates.get(label, {}))
        queue, seen = [i["manifest"] for i in found.active["ingredients"]], {label}
        while queue and len(found.chain) < MAX_MANIFESTS:
            label = queue.pop(0)
            if label in seen or label not in manifests:
                continue
            seen.add(label)
            found.chain.append(_summary(label, manifests[label], certificates.get(label, {})))
            queue += [i["manifest"] for i in found.chain[-1]["ingredients"]]
    return found
