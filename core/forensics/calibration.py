"""Calibrated verdicts: from one detector's raw scores on videos of the user's own source to a threshold at a
chosen false-positive rate and a calibrated probability.

A calibration is fitted on numbers only (scores of real videos, and of fakes when there are some), so it works
for every detector of the interface, whatever its score means:

* the threshold is the lowest one that flags at most ``target_fpr`` of the real videos (``threshold_at_fpr``;
  with N real videos it can only move in steps of 1/N: with fewer than 1/target_fpr of them it sits just above
  the highest real score). A score at or above it is "fake";
* with fakes, the equal-error-rate threshold is kept too, and raw scores map to a probability of "fake" by
  isotonic regression (increasing, clipped outside the fitted range; the default) or Platt scaling (a logistic
  curve). Either estimates P(fake | score) with the share of fakes of the calibration set as the prior;
* with real videos only, the map is the empirical tail: the share of the real videos that scored lower,
  "more unusual than X% of real videos".

Every map is non-decreasing in the raw score. The file is JSON holding plain numbers (the isotonic steps as
lists, the sorted real scores of the tail map), so loading needs no pickle; ``load_calibration`` validates it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic
from core.errors import InputError
from core.metrics.classification import eer, threshold_at_fpr

log = logging.getLogger(__name__)

FORMAT = "video-forensics-calibration"
VERSION = 1
FAKE_METHODS = ("isotonic", "platt")
REAL_ONLY_METHOD = "real_tail"
METHODS = (*FAKE_METHODS, REAL_ONLY_METHOD)
PROBABILITY_MEANING = {
    "isotonic": "probability of fake by isotonic regression",
    "platt": "probability of fake by Platt scaling",
    "real_tail": "share of the calibration's real videos that scored lower",
}


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration of one detector's score (see the module docstring)."""

    detector: str
    score_kind: str
    method: str
    target_fpr: float
    threshold: float  # "fake" when score >= threshold
    fpr_at_threshold: float  # on the calibration set's real videos
    real_count: int
    fake_count: int
    map: dict[str, Any]  # isotonic: x, y; platt: slope, intercept; real_tail: real_scores (sorted)
    eer: float | None = None
    eer_threshold: float | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a held-out check; saved and loaded as is

    def probability(self, scores: float | np.ndarray) -> np.ndarray:
        """The calibrated value of each raw score (NaN stays NaN); non-decreasing in the score."""
        values = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            result = np.interp(values, self.map["x"], self.map["y"])  # clipped to the end values outside
        elif self.method == "platt":
            # The logistic function as 0.5 (1 + tanh(z / 2)): no overflow for large |z|.
            result = 0.5 * (1.0 + np.tanh((self.map["slope"] * values + self.map["intercept"]) / 2.0))
        else:
            reals = np.asarray(self.map["real_scores"], dtype=np.float64)
            result = np.searchsorted(reals, values, side="left") / reals.size
        return np.where(np.isnan(values), np.nan, result)

    def verdict(self, score: float) -> str | None:
        """'fake' (score >= threshold) or 'real'; None for a missing (NaN) score."""
        if math.isnan(score):
            return None
        return "fake" if score >= self.threshold else "real"

    @property
    def meaning(self) -> str:
        """What the calibrated value is, in words."""
        return PROBABILITY_MEANING[self.method]

    def apply(self, score: float) -> dict[str, Any]:
        """The calibrated record of one raw score, JSON-ready (NaN score: None values)."""
        value = float(self.probability(score))
        return {
            "calibrated": None if math.isnan(value) else value,
            "calibrated_verdict": self.verdict(score),
            "calibrated_threshold": self.threshold,
            "target_fpr": self.target_fpr,
            "calibration_method": self.method,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": FORMAT, "version": VERSION, **data}


def _finite(name: str, values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise InputError(f"{name} scores must be finite numbers (drop videos that could not be scored first)")
    return values


def fit_calibration(
    real_scores: np.ndarray | list[float],
    fake_scores: np.ndarray | list[float] | None = None,
    *,
    detector: str,
    score_kind: str,
    target_fpr: float = 0.01,
    method: str | None = None,
    source: str = "",
) -> Calibration:
    """Fit a calibration of ``detector``'s scores (see the module docstring).

    ``method``: ``isotonic`` (default with fakes), ``platt`` (needs fakes) or ``real_tail`` (default without
    fakes; with fakes, they then only give the EER). Raises ``InputError`` on unusable input.
    """
    reals = _finite("real", np.sort(np.asarray(real_scores, dtype=np.float64).ravel()))
    fakes = _finite("fake", np.sort(np.asarray([] if fake_scores is None else fake_scores, dtype=np.float64).ravel()))
    method = method or ("isotonic" if fakes.size else REAL_ONLY_METHOD)
    if method not in METHODS:
        raise InputError(f"unknown calibration method {method!r} (choose from {', '.join(METHODS)})")
    if not 0.0 < target_fpr < 1.0:
        raise InputError(f"the target false-positive rate must be between 0 and 1, got {target_fpr}")
    if reals.size == 0:
        raise InputError("a calibration needs scores of real videos (a false-positive rate is counted on them)")
    if method in FAKE_METHODS and fakes.size == 0:
        raise InputError(
            f"{method} calibration needs scores of fake videos too; with real videos only the "
            f"{REAL_ONLY_METHOD} map is fitted"
        )
    notes = []
    threshold = threshold_at_fpr(reals, target_fpr)
    fpr_at_threshold = float(np.mean(reals >= threshold))
    if reals.size * target_fpr < 1:
        notes.append(
            f"{reals.size} real videos: fewer than 1/{target_fpr:g}, so no real video may be flagged and the "
            "threshold sits just above the highest real score; its false-positive rate on new videos is "
            "only known to within about 1/(real videos + 1)"
        )
    labels = np.r_[np.zeros(reals.size, dtype=np.int64), np.ones(fakes.size, dtype=np.int64)]
    scores = np.r_[reals, fakes]
    equal_error = eer(labels, scores) if fakes.size else None
    if method == "isotonic":
        parameters = _fit_isotonic(scores, labels)
    elif method == "platt":
        parameters = _fit_platt(scores, labels)
    else:
        parameters = {"real_scores": reals.tolist()}
    if fakes.size and np.median(fakes) < np.median(reals):
        notes.append("the fakes score lower than the real videos (median): check the labels or the score direction")
    for note in notes:
        log.warning("calibration: %s", note)
    return Calibration(
        detector=detector,
        score_kind=str(score_kind),
        method=method,
        target_fpr=float(target_fpr),
        threshold=threshold,
        fpr_at_threshold=fpr_at_threshold,
        real_count=int(reals.size),
        fake_count=int(fakes.size),
        map=parameters,
        eer=equal_error.rate if equal_error else None,
        eer_threshold=equal_error.threshold if equal_error else None,
        source=source,
        notes=notes,
    )


def _fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> dict[str, list[float]]:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(scores, labels)
    return {"x": model.X_thresholds_.astype(np.float64).tolist(), "y": model.y_thresholds_.astype(np.float64).tolist()}


def _fit_platt(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    # Fitted on standardised scores (anomaly scores can be large), then folded back to raw-score units.
    center, spread = float(scores.mean()), float(scores.std()) or 1.0
    model = LogisticRegression().fit(((scores - center) / spread)[:, None], labels)
    coefficient, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
    if coefficient <= 0:
        raise InputError(
            "Platt scaling needs fake videos that score higher than real ones, and these score lower: "
            "check the labels (isotonic regression would give a flat map)"
        )
    return {"slope": coefficient / spread, "intercept": intercept - coefficient * center / spread}


# ---------------------------------------------------------------------------------------------------------------
# Held-out check


def holdout_split(labels: np.ndarray | list[int], fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices to fit on and indices held out: ``fraction`` of each class (rounded, at least one item of a class
    with two or more), drawn with ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(members.size - 1, max(1, round(fraction * members.size))) if members.size >= 2 else 0
        held.append(members[:count])
        fit.append(members[count:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(held))


def check_calibration(
    calibration: Calibration, real_scores: np.ndarray | list[float], fake_scores: np.ndarray | list[float] | None = None
) -> dict[str, Any]:
    """False-positive rate at the calibrated threshold on (held-out) real videos, and the TPR on fakes."""
    reals = np.asarray(real_scores, dtype=np.float64)
    fakes = np.asarray([] if fake_scores is None else fake_scores, dtype=np.float64)
    flagged = int((reals >= calibration.threshold).sum())
    caught = int((fakes >= calibration.threshold).sum())
    return {
        "real": int(reals.size),
        "false_positives": flagged,
        "fpr": flagged / reals.size if reals.size else None,
        "fake": int(fakes.size),
        "true_positives": caught,
        "tpr": caught / fakes.size if fakes.size else None,
        "target_fpr": calibration.target_fpr,
        "threshold": calibration.threshold,
    }


# ---------------------------------------------------------------------------------------------------------------
# The file


def save_calibration(calibration: Calibration, path: str | os.PathLike) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(target, calibration.to_dict(), end="\n", indent=2)
    return target


def _number(data: dict, key: str, optional: bool = False) -> float | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{key}' must be a finite number, got {value!r}")
    return float(value)


def _series(parameters: dict, key: str) -> np.ndarray:
    values = parameters.get(key)
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    ):
        raise ValueError(f"map '{key}' must be a non-empty list of numbers")
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all() or (np.diff(array) < 0).any():
        raise ValueError(f"map '{key}' must hold finite numbers in non-decreasing order")
    return array


def _validated(data: Any) -> Calibration:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f'not a calibration file (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ValueError(f"version {data.get('version')!r} is not supported (this toolkit reads version {VERSION})")
    for key in ("detector", "score_kind", "method"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"'{key}' must be a non-empty string")
    method = data["method"]
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})")
    target_fpr = _number(data, "target_fpr")
    if not 0.0 < target_fpr < 1.0:
        raise ValueError(f"'target_fpr' must be between 0 and 1, got {target_fpr}")
    parameters = data.get("map")
    if not isinstance(parameters, dict):
        raise ValueError("'map' must be an object")
    if method == "isotonic":
        x, y = _series(parameters, "x"), _series(parameters, "y")
        if x.size != y.size or y.min() < 0 or y.max() > 1:
            raise ValueError("isotonic map: 'x' and 'y' need equal lengths and 'y' values within [0, 1]")
    elif method == "platt":
        if _number(parameters, "slope") <= 0:
            raise ValueError("Platt map: 'slope' must be positive (the map rises with the score)")
        _number(parameters, "intercept")
    else:
        _series(parameters, "real_scores")
    counts = {key: data.get(key) for key in ("real_count", "fake_count")}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()):
        raise ValueError("'real_count' and 'fake_count' must be non-negative integers")
    known = {
        "format",
        "version",
        "detector",
        "score_kind",
        "method",
        "target_fpr",
        "threshold",
        "fpr_at_threshold",
        "real_count",
        "fake_count",
        "map",
        "eer",
        "eer_threshold",
        "source",
        "notes",
        "extra",
    }
    return Calibration(
        detector=data["detector"],
        score_kind=data["score_kind"],
        method=method,
        target_fpr=target_fpr,
        threshold=_number(data, "threshold"),
        fpr_at_threshold=_number(data, "fpr_at_threshold"),
        map=parameters,
        real_count=counts["real_count"],
        fake_count=counts["fake_count"],
        eer=_number(data, "eer", optional=True),
        eer_threshold=_number(data, "eer_threshold", optional=True),
        source=str(data.get("source", "")),
        notes=[str(note) for note in data.get("notes", [])],
        extra={**data.get("extra", {}), **{k: v for k, v in data.items() if k not in known}},
    )


def load_calibration(path: str | os.PathLike, detector: str | None = None) -> Calibration:
    """Read and validate a calibration file; with ``detector``, refuse a file made for another detector.

    Every problem is one ``InputError`` naming the file.
    """
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"calibration file not found: {source}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"calibration file {source} cannot be read as JSON: {exc}") from None
    try:
        calibration = _validated(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"calibration file {source} is not valid: {exc}") from None
    if detector is not None and calibration.detector != detector:
        raise InputError(
            f"calibration file {source} was made for the {calibration.detector} detector, not for "
            f"{detector}: calibrate {detector}'s own scores"
        )
    return calibration
