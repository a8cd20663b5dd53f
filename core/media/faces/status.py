"""Which face track is the speaker's, why a video cannot be cropped, and whether it is already a face crop.

:func:`select_main_track` picks the track with the largest length x area and raises a
:class:`FaceTrackError` subclass when the video cannot give a usable face crop; each class carries a
short ``status`` string for batch tables (:func:`track_status` returns it instead of raising):

=====================  ==========================================================================
status                 when
=====================  ==========================================================================
no face                no track at all
face too small         the main track's median face size is under ``min_face_px`` (the size is said)
several speakers       another comparable face (>= half the size) is on screen for >= half of the
                       main track: whose voice it is cannot be told from the boxes
face leaves the frame  the face box is partly outside the frame on many frames, or the main track is
                       too short and ends (or starts) at the frame border
cut by a shot change   the main track is too short and a shot change bounds it
face track too short   the main track is too short for another reason (tracks under 6 frames are
                       never candidates)
=====================  ==========================================================================

"Too short" means fewer than ``min_frames``: the caller passes what its detector needs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from core.errors import InputError
from core.media.faces.crop import outside_fraction
from core.media.faces.tracks import MIN_TRACK_FRAMES, FaceTrack

MIN_FACE_PX = 80.0  # larger box side; its crop (1.4x) is then upscaled at most 2x to 224


class FaceTrackError(InputError):
    """The video gives no usable face crop; ``status`` is a short label for tables."""

    status = "face problem"


class NoFace(FaceTrackError):
    status = "no face"


class FaceTooSmall(FaceTrackError):
    status = "face too small"


class SeveralSpeakers(FaceTrackError):
    status = "several speakers"


class FaceLeavesFrame(FaceTrackError):
    status = "face leaves the frame"


class TrackCutShort(FaceTrackError):
    status = "cut by a shot change"


class TrackTooShort(FaceTrackError):
    status = "face track too short"


def _px(size: float, minimum: float) -> str:
    """A face size for a message: whole pixels, or one decimal where rounding would reach the minimum."""
    return f"{size:.0f}" if round(size) < minimum else f"{size:.1f}"


def main_track(tracks: Sequence[FaceTrack]) -> FaceTrack | None:
    """The usable (not skipped) track with the largest length x median area, or None."""
    usable = [track for track in tracks if track.skipped is None]
    return max(usable, key=lambda track: track.length * track.area, default=None)


def _overlap(a: FaceTrack, b: FaceTrack) -> int:
    return max(0, min(int(a.frames[-1]), int(b.frames[-1])) - max(int(a.frames[0]), int(b.frames[0])) + 1)


def _at_border(box: np.ndarray, width: int, height: int, margin: float) -> bool:
    pad = margin * max(box[2] - box[0], box[3] - box[1])
    return box[0] <= pad or box[1] <= pad or box[2] >= width - pad or box[3] >= height - pad


def _too_short(track: FaceTrack, min_frames: int, what: str) -> FaceTrackError:
    detail = f"{what} lasts {track.length} frames (from frame {int(track.frames[0])}), need {min_frames}"
    if "cut" in (track.start, track.end):
        return TrackCutShort(f"face track cut short by a shot change: {detail}")
    ends = [(track.start, track.smoothed[0]), (track.end, track.smoothed[-1])]
    width, height = track.frame_width, track.frame_height
    if any(reason in ("appeared", "lost") and _at_border(box, width, height, 0.1) for reason, box in ends):
        return FaceLeavesFrame(f"the face leaves the frame: {detail}")
    return TrackTooShort(f"face track too short: {detail}")


def select_main_track(
    tracks: Sequence[FaceTrack],
    min_face_px: float = MIN_FACE_PX,
    min_frames: int = MIN_TRACK_FRAMES,
    max_outside: float = 0.25,
    max_outside_share: float = 0.1,
    speaker_size_ratio: float = 0.5,
    speaker_overlap: float = 0.5,
) -> FaceTrack:
    """The speaker's track, or a :class:`FaceTrackError` saying why there is none (see the module docstring)."""
    if not tracks:
        raise NoFace("no face found")
    main = main_track(tracks)
    if main is None:
        longest = max(tracks, key=lambda track: track.length)
        raise _too_short(longest, max(min_frames, MIN_TRACK_FRAMES), "the longest face track")
    if main.size < min_face_px:
        raise FaceTooSmall(f"face too small: {_px(main.size, min_face_px)} px, need at least {min_face_px:.0f} px")
    for other in tracks:
        if other is main or other.skipped is not None:
            continue
        if other.size >= speaker_size_ratio * main.size and _overlap(main, other) >= speaker_overlap * main.length:
            raise SeveralSpeakers(
                f"several faces on screen at once: frames {max(main.frames[0], other.frames[0])}-"
                f"{min(main.frames[-1], other.frames[-1])}"
            )
    if main.length < min_frames:
        raise _too_short(main, min_frames, "the main face track")
    outside = outside_fraction(main.smoothed, main.frame_width, main.frame_height) > max_outside
    if outside.mean() > max_outside_share:
        raise FaceLeavesFrame(
            f"the face leaves the frame: more than {max_outside:.0%} of the face is outside on "
            f"{int(outside.sum())} of {main.length} frames"
        )
    return main


def check_track(
    track: FaceTrack,
    min_face_px: float = MIN_FACE_PX,
    min_frames: int = MIN_TRACK_FRAMES,
    max_outside: float = 0.25,
    max_outside_share: float = 0.1,
    name: str = "the face track",
) -> None:
    """One track on its own (every track of a video scored): too short, too small or leaving the frame raise
    the :class:`FaceTrackError` :func:`select_main_track` would; ``name`` says which track in the message."""
    if track.skipped is not None or track.length < min_frames:
        raise _too_short(track, max(min_frames, MIN_TRACK_FRAMES), name)
    if track.size < min_face_px:
        raise FaceTooSmall(f"face too small: {_px(track.size, min_face_px)} px, need at least {min_face_px:.0f} px")
    outside = outside_fraction(track.smoothed, track.frame_width, track.frame_height) > max_outside
    if outside.mean() > max_outside_share:
        raise FaceLeavesFrame(
            f"the face leaves the frame: more than {max_outside:.0%} of the face is outside on "
            f"{int(outside.sum())} of {track.length} frames"
        )


def track_status(tracks: Sequence[FaceTrack], **kwargs) -> tuple[FaceTrack | None, str, str]:
    """Like :func:`select_main_track` but for batch rows: (track or None, status, message); status "ok" when fine."""
    try:
        return select_main_track(tracks, **kwargs), "ok", ""
    except FaceTrackError as exc:
        return None, exc.status, str(exc)


def looks_like_face_crop(
    tracks: Sequence[FaceTrack], min_cover: float = 0.8, min_share: float = 0.9, max_side_ratio: float = 1.5
) -> bool:
    """Whether the video already is a face crop: one face, present on >= ``min_share`` of the frames, whose
    crop box covers >= ``min_cover`` of the frame (and is at most ``max_side_ratio`` times its side) on
    >= ``min_share`` of those frames, with no other comparable face at the same time."""
    main = main_track(tracks)
    if main is None or main.length < min_share * main.video_frames:
        return False
    for other in tracks:
        if other is main or other.size < 0.5 * main.size:
            continue
        if _overlap(main, other) > (1 - min_share) * main.length:
            return False
    boxes = main.crop_boxes()
    width, height = main.frame_width, main.frame_height
    inside_w = np.clip(np.minimum(boxes[:, 2], width) - np.maximum(boxes[:, 0], 0), 0, None)
    inside_h = np.clip(np.minimum(boxes[:, 3], height) - np.maximum(boxes[:, 1], 0), 0, None)
    cover = inside_w * inside_h / (width * height)
    side_ok = (boxes[:, 2] - boxes[:, 0]) <= max_side_ratio * max(width, height)
    return bool(np.mean((cover >= min_cover) & side_ok) >= min_share)
