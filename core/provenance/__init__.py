"""The provenance detector: a video's content credentials (C2PA) and its container's facts.

``core.provenance.detector.ProvenanceDetector`` implements the detector interface; it imports neither other
detector. Reading: :mod:`core.provenance.boxes` (a bounded ISO-BMFF box walk), :mod:`core.provenance.container`
(facts and hints), :mod:`core.provenance.credentials` (the manifests and their validation),
:mod:`core.provenance.categories` (the verdict vocabulary). ``python -m core.provenance VIDEO`` prints one file's.
"""

from core.provenance.categories import CATEGORIES
from core.provenance.detector import ProvenanceDetector, load_trust_anchors, summary_lines

__all__ = ["CATEGORIES", "ProvenanceDetector", "load_trust_anchors", "summary_lines"]
