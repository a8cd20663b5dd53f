"""Verdicts of one video: each detector's raw and calibrated verdict, and their fusion.

Pure functions of the detector interface (``Evidence``) and calibrations (``core.forensics.calibration``).

The fusion rule, defined only where every detector that ran is calibrated on the user's own source:

* **verdict**: "fake" when at least one detector's calibrated verdict is "fake", else "real". Each calibrated
  threshold flags at most its target share of real videos, so the fused verdict flags at most the sum of the
  detectors' target false-positive rates (the union bound; less when their mistakes coincide). A fake that only
  one detector can see (a generated video with its own soundtrack; a real video with replaced audio) is caught.
* **probability**: the mean of the calibrated probabilities of fake, when every calibration maps to one
  (isotonic or Platt, fitted with fakes). A ``real_tail`` calibration gives the share of real videos that
  scored lower, which is not a probability of fake: then no mean is given.

Without calibrations there is no fusion: an uncalibrated probability (AIGVDet's 0.5 was never calibrated for
any source) and an unbounded anomaly score are not on one scale.

Declarations (score kind ``declaration``, the provenance detector) are not estimates and take no part in that
rule. A declaration whose evidence carries ``declared_verdict`` (content credentials that declare generation,
signed by a signer verified against the user's trust anchors) settles the verdict whatever the detectors say:
:func:`settle` replaces the fusion by it, keeping the detectors' fusion beside it and saying why.
"""

from __future__ import annotations

import math
from typing import Any

from core.forensics.calibration import FAKE_METHODS, Calibration
from core.forensics.evidence import Evidence, ScoreKind

SCORE_MEANINGS = {
    ScoreKind.PROBABILITY.value: "probability of fake in [0, 1]",
    ScoreKind.ANOMALY.value: "anomaly score: unbounded, higher is more suspicious",
    ScoreKind.DECLARATION.value: "declaration: 1 declared generated, 0 declared not generated, none without one",
}


def _number(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def detector_verdict(
    evidence: Evidence, calibration: Calibration | None = None, calibration_file: str | None = None
) -> dict[str, Any]:
    """The raw verdict (at the detector's own threshold, if it has one) and, with a calibration, the calibrated
    probability and verdict, JSON-ready."""
    kind = ScoreKind(evidence.score_kind).value
    record: dict[str, Any] = {
        "score": _number(evidence.score),
        "score_kind": kind,
        "score_meaning": SCORE_MEANINGS[kind],
        "threshold": _number(evidence.threshold),
        "verdict": evidence.verdict,
        "calibration": None,
    }
    if calibration is not None:
        if calibration.detector != evidence.detector:
            raise ValueError(f"a calibration of {calibration.detector} cannot calibrate {evidence.detector}'s score")
        record["calibration"] = {
            **calibration.apply(evidence.score),
            "meaning": calibration.meaning,
            "probability_of_fake": calibration.method in FAKE_METHODS,
            "file": calibration_file,
            "real_count": calibration.real_count,
            "fake_count": calibration.fake_count,
            "source": calibration.source,
        }
    return record


def fuse(verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fusion of the detectors' ``detector_verdict`` records (see the module docstring)."""
    names = sorted(verdicts)
    if len(names) < 2:
        ran = f"only {names[0]} ran" if names else "no detector ran"
        return {"fused": False, "reason": f"no fusion: {ran}"}
    uncalibrated = [name for name in names if verdicts[name]["calibration"] is None]
    if uncalibrated:
        kinds = sorted({verdicts[name]["score_kind"] for name in names})
        scale = f"uncalibrated scores of different kinds ({', '.join(kinds)})" if len(kinds) > 1 else "uncalibrated"
        return {
            "fused": False,
            "reason": f"no fusion: {scale}; calibrate {' and '.join(uncalibrated)} on videos of your own source",
        }
    calibrated = {name: verdicts[name]["calibration"] for name in names}
    if any(c["calibrated_verdict"] is None for c in calibrated.values()):
        return {"fused": False, "reason": "no fusion: a detector has no score"}
    flagged = [name for name in names if calibrated[name]["calibrated_verdict"] == "fake"]
    bound = min(1.0, sum(c["target_fpr"] for c in calibrated.values()))
    fused: dict[str, Any] = {
        "fused": True,
        "detectors": names,
        "verdict": "fake" if flagged else "real",
        "flagged_by": flagged,
        "rule": "fake when any detector's calibrated verdict is fake",
        "false_positive_bound": bound,
        "probability": None,
        "probability_rule": "mean of the calibrated probabilities of fake",
    }
    if all(c["probability_of_fake"] for c in calibrated.values()):
        fused["probability"] = sum(c["calibrated"] for c in calibrated.values()) / len(calibrated)
    else:
        tails = [name for name in names if not calibrated[name]["probability_of_fake"]]
        fused["probability_note"] = (
            f"no mean: the calibrated value of {', '.join(tails)} is the share of real videos that scored lower, "
            "not a probability of fake (calibrate with fakes for one)"
        )
    return fused


def is_declaration(record: dict[str, Any]) -> bool:
    """Whether a ``detector_verdict`` record is a declaration (see the module docstring), not an estimate."""
    return record.get("score_kind") == ScoreKind.DECLARATION.value


def settle(fusion: dict[str, Any], declarations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``fusion`` replaced by the first declaration with a ``declared_verdict`` in its details (see the module
    docstring), or ``fusion`` itself when none has one."""
    for name in sorted(declarations):
        details = declarations[name].get("details") or {}
        if details.get("declared_verdict"):
            return {
                "fused": True,
                "verdict": details["declared_verdict"],
                "declared_by": name,
                "because": details.get("declared_because", ""),
                "rule": "a verified declaration of generation settles the verdict, whatever the detectors say",
                "detectors_fusion": fusion,
            }
    return fusion
