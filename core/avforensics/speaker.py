"""Whose mouth goes with the voice: the synchronisation model chooses the speaking face among several.

With two faces on screen, the largest or the first need not be the speaker. The sync model answers the
question directly: for each 5-frame step of a face's crop it gives a distribution over 31 audio offsets, and a
face whose mouth moves with the voice puts its mass on offset 0, while a listener's face (or a photo, or a
face dubbed with another voice) spreads it. The speaker is the face track with the highest mean probability
of offset 0 over its steps; the margin to the next track says how clear the choice was (a small margin: two
faces that move alike, or no one speaking). The choice costs one sync pass per candidate face, which the
detector then reuses for the chosen face's score.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from core.avforensics.scoring import ALIGNED_OFFSET
from core.media.av_clip import AVClip
from core.media.faces.clip import FaceClip

log = logging.getLogger(__name__)

Extract = Callable[[AVClip], tuple[np.ndarray, np.ndarray]]


def aligned_probability(logits: np.ndarray) -> float:
    """Mean over steps of the softmax probability of offset 0 in (steps, 31) sync logits."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return float(np.mean(shifted[:, ALIGNED_OFFSET] / shifted.sum(axis=1)))


def choose_speaker(faces: Sequence[FaceClip], extract: Extract, reuse: bool = True) -> FaceClip:
    """The face (of those with a clip) whose sync evidence puts the most probability on offset 0.

    Sets each face's ``speaker_sync`` and, with ``reuse``, keeps its sync evidence in ``evidence`` (``extract``'s
    output, reused when the face is scored: not when ``extract`` looks at part of the clip only); the chosen
    face's ``speaker_margin`` is its lead over the next one.
    """
    if not faces:
        raise ValueError("no face to choose a speaker from")
    for face in faces:
        evidence = extract(face.require())
        face.speaker_sync = aligned_probability(evidence[0])
        face.evidence = evidence if reuse else None
    # Ties (e.g. two copies of one face) go to the longer clip, then to the earlier track.
    ranked = sorted(faces, key=lambda face: (-face.speaker_sync, -face.require().num_frames))
    speaker = ranked[0]
    speaker.speaker_margin = speaker.speaker_sync - ranked[1].speaker_sync if len(ranked) > 1 else None
    log.info(
        "%s: the speaker is face track %s (mean probability of offset 0: %s)",
        speaker.require().path,
        speaker.face_crop,
        ", ".join(f"track {face.face_crop} {face.speaker_sync:.3f}" for face in ranked),
    )
    return speaker
