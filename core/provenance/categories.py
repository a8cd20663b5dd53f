"""The provenance detector's verdict vocabulary: what a file's content credentials declare, and how firmly.

In order of strength:

* ``declared generated (signature valid)``: intact credentials, signed by a certificate whose chain ends at one of
  the user's trust anchors, declare generated content (an action's digital source type is one of
  :data:`GENERATIVE_SOURCES`, in the active manifest or an ingredient's);
* ``declared generated (signer not verified)``: the same with a valid signature whose signer is not verified
  (no trust anchors given, or not among them): anyone can make such a certificate;
* ``credentials broken``: credentials are present but a check failed (e.g. the file's hash no longer matches
  after an edit) or they could not be read: evidence that the file was changed after signing;
* ``declared captured/edited``: intact credentials that declare no generation;
* ``no credentials``: most videos. Evidence of nothing: almost no camera or editor writes credentials yet, and
  re-encoding or re-uploading removes them.
"""

from __future__ import annotations

from core.provenance.credentials import PRESENT, UNREADABLE, Credentials

GENERATED_VALID = "declared generated (signature valid)"
GENERATED_UNVERIFIED = "declared generated (signer not verified)"
BROKEN = "credentials broken"
CAPTURED = "declared captured/edited"
NO_CREDENTIALS = "no credentials"
CATEGORIES = (GENERATED_VALID, GENERATED_UNVERIFIED, BROKEN, CAPTURED, NO_CREDENTIALS)
NO_CREDENTIALS_MEANS = "no credentials: evidence of nothing (most videos carry none, and re-encoding removes them)"

# IPTC digital source types (the last part of their URI) that declare generated or synthetic content.
GENERATIVE_SOURCES = frozenset(
    {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia", "compositeSynthetic"}
)


def generation_declared(credentials: Credentials) -> list[dict]:
    """The actions that declare generated content, each with the manifest that holds it."""
    manifests = ([credentials.active] if credentials.active else []) + credentials.chain
    return [
        {"manifest": manifest["label"], **action}
        for manifest in manifests
        for action in manifest["actions"]
        if action["digital_source_type"] in GENERATIVE_SOURCES
    ]


def validation_text(credentials: Credentials) -> str:
    """The validation state in words, e.g. ``signed, signer not verified`` or ``invalid: assertion.bmffHash...``."""
    if credentials.state != PRESENT:
        return credentials.state if not credentials.note else f"{credentials.state}: {credentials.note}"
    if credentials.failures or credentials.validation_state == "Invalid":
        return "invalid: " + (", ".join(f["code"] for f in credentials.failures) or "the SDK says invalid")
    if credentials.validation_state == "Trusted":
        return "valid, signer trusted"
    anchors = "not among the trust anchors given" if credentials.trust_anchors else "no trust anchors given"
    return f"signed, signer not verified ({anchors})"


def categorise(credentials: Credentials) -> str:
    """The file's category (see the module docstring)."""
    if credentials.state != PRESENT:
        # A manifest box the SDK cannot read is a broken credential; no box (or a format without any) is none.
        return BROKEN if credentials.manifest_box and credentials.state == UNREADABLE else NO_CREDENTIALS
    if credentials.failures or credentials.validation_state not in ("Trusted", "Valid"):
        return BROKEN
    if generation_declared(credentials):
        trusted = credentials.validation_state == "Trusted" and not credentials.untrusted
        return GENERATED_VALID if trusted else GENERATED_UNVERIFIED
    return CAPTURED
