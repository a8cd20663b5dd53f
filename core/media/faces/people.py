"""One person's face tracks across shot cuts, joined into one track.

Tracking never links boxes across a cut (:mod:`core.media.faces.tracks`): a wide shot and a close-up put the
same face at another place and size, so box continuity says nothing there. Here the tracks that end on the
last frame before a cut and those that start on its first frame are paired by appearance
(:mod:`core.media.faces.appearance`, a colour descriptor: no face-recognition weights ship with the toolkit),
closest pair first, when their distance is at most ``max_distance``. A joined track covers both shots without
a gap, so the audio-visual detector scores the person's speech across the edit as one clip (its crop jumps
with the picture at the cut, as the edit itself does). Tracks separated by a stretch without the face are not
joined: nothing could be cropped in between.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from core.media.faces.appearance import appearance_distance
from core.media.faces.tracks import FaceTrack

log = logging.getLogger(__name__)

JOIN_DISTANCE = 0.35  # same face wide and close ~0.1; the synthetic tests' other faces > 0.5


def join_tracks(first: FaceTrack, second: FaceTrack) -> FaceTrack:
    """``first`` and ``second`` (which starts on the frame after ``first`` ends) as one track."""
    weights = [max(1, int(track.detected.sum())) for track in (first, second)]
    appearance = None
    if first.appearance is not None and second.appearance is not None:
        appearance = np.average([first.appearance, second.appearance], axis=0, weights=weights)
    return FaceTrack(
        np.concatenate([first.frames, second.frames]),
        np.concatenate([first.boxes, second.boxes]),
        np.concatenate([first.scores, second.scores]),
        np.concatenate([first.detected, second.detected]),
        np.concatenate([first.smoothed, second.smoothed]),
        first.start,
        second.end,
        first.frame_width,
        first.frame_height,
        first.video_frames,
        None,
        appearance,
        first.cuts + (int(second.frames[0]),) + second.cuts,
    )


def join_across_cuts(tracks: Sequence[FaceTrack], max_distance: float = JOIN_DISTANCE) -> list[FaceTrack]:
    """The tracks with each person's tracks on both sides of a cut joined (see the module docstring).

    Only usable tracks (not ``skipped``) with an appearance descriptor are joined; the others are kept as they are.
    The result is in time order (first frame, then left edge), as :func:`core.media.faces.tracks.track_faces`'s.
    """
    tracks = list(tracks)
    cut_frames = sorted({int(track.frames[0]) for track in tracks if track.start == "cut"})
    for cut in cut_frames:
        joinable = [track for track in tracks if track.skipped is None and track.appearance is not None]
        ending = [track for track in joinable if track.end == "cut" and int(track.frames[-1]) == cut - 1]
        starting = [track for track in joinable if track.start == "cut" and int(track.frames[0]) == cut]
        pairs = sorted(
            (appearance_distance(a.appearance, b.appearance), i, j)
            for i, a in enumerate(ending)
            for j, b in enumerate(starting)
        )
        used_ending: set[int] = set()
        used_starting: set[int] = set()
        for distance, i, j in pairs:
            if distance > max_distance:
                break
            if i in used_ending or j in used_starting:
                continue
            used_ending.add(i)
            used_starting.add(j)
            joined = join_tracks(ending[i], starting[j])
            log.info("face tracks joined across the cut at frame %d (appearance distance %.2f)", cut, distance)
            tracks = [track for track in tracks if track is not ending[i] and track is not starting[j]] + [joined]
    return sorted(tracks, key=lambda track: (int(track.frames[0]), float(track.boxes[0][0])))
