"""What works across detectors, on one interface: a detector analyses a video and returns its ``Evidence``.

``core.forensics.evidence`` defines that interface (the ``Detector`` protocol, ``Evidence``, ``TimeSeries``,
``VideoFacts``; ``FaceTrackDetector`` for a detector that can score every face track of a video). Both detectors
implement it (``core.aigvdet.pipeline``, ``core.avforensics.pipeline``); the tools built on it (timelines,
calibration, reports, batch scoring) use only the interface, never a detector's insides, and so never import a
detector.
"""

from core.forensics.evidence import (
    Detector,
    Evidence,
    FaceTrackDetector,
    Illustration,
    PreparedTrack,
    ScoreKind,
    TimeSeries,
    VideoFacts,
)

__all__ = [
    "Detector",
    "Evidence",
    "FaceTrackDetector",
    "Illustration",
    "PreparedTrack",
    "ScoreKind",
    "TimeSeries",
    "VideoFacts",
]
