"""The detector interface: analyse one video, return its evidence.

A detector's evidence is its video-level score with what that number means, the per-time evidence behind it
with timestamps in seconds, and what the video is. Three kinds of score exist today:

* ``probability``: a fake probability in [0, 1] with a decision threshold (AIGVDet; 0.5 by default);
* ``anomaly``: unbounded, higher is more suspicious, no threshold until one is calibrated on real videos of
  the user's own source (the audio-visual detector);
* ``declaration``: what the file declares about itself, not an estimate: 1 where intact content credentials
  declare generated content, 0 where they declare none, NaN without an intact declaration (the provenance
  detector; its verdict is a category in ``details["category"]``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np


class ScoreKind(str, Enum):
    PROBABILITY = "probability"
    ANOMALY = "anomaly"
    DECLARATION = "declaration"


@dataclass(frozen=True)
class TimeSeries:
    """Per-time evidence: ``values[i]`` (a number, or a vector) holds at ``time_s[i]`` seconds."""

    time_s: np.ndarray  # (N,) float64, non-decreasing
    values: np.ndarray  # (N,) or (N, K)
    description: str

    def __post_init__(self) -> None:
        if len(self.time_s) != len(self.values):
            raise ValueError(f"{len(self.time_s)} timestamps for {len(self.values)} values")

    def __len__(self) -> int:
        return len(self.time_s)


@dataclass(frozen=True)
class Illustration:
    """A picture of what the detector saw, for a person: a frame, a flow image, a face crop on its frame.

    Illustrations of one ``group`` (e.g. "most suspicious frame") belong side by side; ``caption`` says what
    the picture is and why it was chosen (e.g. the frame's probability).
    """

    label: str  # what the picture is, e.g. "frame", "optical flow"
    time_s: float  # when in the video
    image: np.ndarray  # (H, W, 3) uint8 RGB
    group: str = ""
    caption: str = ""

    def __post_init__(self) -> None:
        if self.image.dtype != np.uint8 or self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(
                f"an illustration is an (H, W, 3) uint8 RGB image, got {self.image.dtype} {self.image.shape}"
            )


@dataclass(frozen=True)
class VideoFacts:
    """What the video is, as the detector decoded it."""

    path: str
    width: int
    height: int
    fps: float
    frames: int  # frames the detector looked at

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else math.nan


@dataclass
class Evidence:
    """One detector's analysis of one video."""

    detector: str
    score: float
    score_kind: ScoreKind
    facts: VideoFacts
    series: dict[str, TimeSeries] = field(default_factory=dict)
    threshold: float | None = None  # the detector's own decision threshold, if it has one
    details: dict[str, Any] = field(default_factory=dict)  # detector-specific numbers (e.g. branch means)
    warnings: list[str] = field(default_factory=list)
    # Pictures for a report; empty unless the detector was asked for them (they cost a little extra decoding).
    illustrations: list[Illustration] = field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        """'fake' or 'real' at the detector's threshold (``score >= threshold`` is fake); None without one."""
        if self.threshold is None or math.isnan(self.score):
            return None
        return "fake" if self.score >= self.threshold else "real"


@runtime_checkable
class Detector(Protocol):
    """What every detector offers to the cross-detector tools."""

    name: ClassVar[str]
    score_kind: ClassVar[ScoreKind]

    def analyse_video(self, path: str | os.PathLike) -> Evidence:
        """Decode and analyse one video; raises ``core.errors.InputError`` for a video it cannot use."""
        ...


@dataclass(frozen=True)
class PreparedTrack:
    """One face track of a video, decoded and ready for the detector's ``analyse_prepared``."""

    track: str  # its name in results: the track's index in the video ("0", "1", ...), "none" for the whole frame
    main: bool  # the video's main track: the one whose score is the video's score
    prepared: Any  # what ``analyse_prepared`` takes; it raises InputError for a track it cannot score


@runtime_checkable
class FaceTrackDetector(Protocol):
    """A detector that can score every face track of a video, not just its main one (the audio-visual one)."""

    def prepare_tracks(self, path: str | os.PathLike) -> list[PreparedTrack]:
        """Decode every face track of one video (at least one item; raises InputError for an unreadable file)."""
        ...

    def analyse_prepared(self, prepared: Any) -> Evidence: ...
