"""Which stretches of a video a face clip covers, and why the others are not scored.

A face clip covers its track's frames only. A video with cuts, several people or stretches without a face has
time the clip does not cover; a reader must see why, not a gap in a curve. :func:`face_coverage` labels every
tracked frame, from one scored track's point of view, with the first that applies of:

=========================  ============================================================================
status                     when
=========================  ============================================================================
``scored``                 the frame is in the scored clip
``another face``           only other usable faces are on screen (``track`` says which: e.g. a listener)
the track's face status    only faces that cannot be scored are there (``face too small``, ...)
``no face``                no face was found
=========================  ============================================================================

and merges runs of one label into stretches with times in seconds: ``[first / fps, end / fps)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from core.media.faces.status import MIN_FACE_PX, FaceTrackError, check_track
from core.media.faces.tracks import MIN_TRACK_FRAMES, FaceTrack

SCORED = "scored"
ANOTHER_FACE = "another face"
NO_FACE = "no face"


@dataclass(frozen=True)
class Stretch:
    """Frames ``first``..``end - 1`` of the video, all with one status."""

    first: int
    end: int
    status: str
    track: int | None = None  # the scored track, or the other usable track on screen; None otherwise
    fps: float = 25.0

    @property
    def start_s(self) -> float:
        return self.first / self.fps

    @property
    def end_s(self) -> float:
        return self.end / self.fps

    def as_dict(self) -> dict:
        return {"start_s": self.start_s, "end_s": self.end_s, "status": self.status, "track": self.track}


def face_coverage(
    tracks: Sequence[FaceTrack],
    video_frames: int,
    scored_track: int | None,
    scored_frames: tuple[int, int] | None,
    min_face_px: float = MIN_FACE_PX,
    min_frames: int = MIN_TRACK_FRAMES,
    fps: float = 25.0,
) -> list[Stretch]:
    """The stretches of frames 0..video_frames-1 (see the module docstring).

    ``scored_frames``: the scored clip's [first, end) frames (None: nothing scored); ``scored_track``: its track.
    """
    labels: list[tuple[int, str, int | None]] = [(3, NO_FACE, None)] * video_frames  # (rank, status, track)
    for index, track in enumerate(tracks):
        try:
            check_track(track, min_face_px, min_frames)
            rank, status, which = 1, ANOTHER_FACE, index
        except FaceTrackError as exc:
            rank, status, which = 2, exc.status, None
        for frame in range(max(0, int(track.frames[0])), min(video_frames, int(track.frames[-1]) + 1)):
            if rank < labels[frame][0]:
                labels[frame] = (rank, status, which)
    if scored_frames is not None:
        for frame in range(max(0, scored_frames[0]), min(video_frames, scored_frames[1])):
            labels[frame] = (0, SCORED, scored_track)
    stretches: list[Stretch] = []
    for frame, (_, status, which) in enumerate(labels):
        last = stretches[-1] if stretches else None
        if last is not None and last.status == status and last.track == which and last.end == frame:
            stretches[-1] = Stretch(last.first, frame + 1, status, which, fps)
        else:
            stretches.append(Stretch(frame, frame + 1, status, which, fps))
    return stretches


def unscored(stretches: Sequence[Stretch]) -> list[Stretch]:
    """The stretches that are not scored."""
    return [stretch for stretch in stretches if stretch.status != SCORED]
