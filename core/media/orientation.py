"""Phone rotation: turning decoded frames into the picture players display.

Phones store portrait video as landscape coded frames and a display matrix on the video stream (older files a
``rotate`` tag) saying how to turn them. Everything here counts degrees **clockwise**, the ``rotate`` tag's
convention: a portrait phone clip is ``90`` (FFmpeg's display matrix reads -90, counter-clockwise), and its
coded frames are turned 90 degrees clockwise to be displayed. Only quarter turns are supported; a matrix that
mirrors the picture is read for its rotation alone.

Where the rotation is found differs across PyAV/FFmpeg versions, so :func:`stream_rotation` tries each: the
stream's ``rotate`` tag (FFmpeg before 5), the stream's side data (some PyAV versions), and the display
matrix FFmpeg attaches to every decoded frame (:func:`frame_rotation`, PyAV 13 and later).
"""

from __future__ import annotations

import logging

import numpy as np

from core.media.in_memory import VideoSource, open_container

log = logging.getLogger(__name__)

QUARTER_TURNS = (0, 90, 180, 270)


def normalise(degrees: float) -> int:
    """Clockwise ``degrees`` as one of 0/90/180/270 (the nearest quarter turn; a log line when it is not one)."""
    turned = int(round(float(degrees) / 90.0)) % 4 * 90
    if abs((float(degrees) - turned + 180) % 360 - 180) > 1:
        log.warning("display rotation of %g degrees is not a quarter turn; using %d", degrees, turned)
    return turned


def upright(frame: np.ndarray, degrees: int) -> np.ndarray:
    """The (H, W, ...) frame turned ``degrees`` clockwise: a decoded frame as players display it.

    Returns ``frame`` itself when ``degrees`` is 0, so unrotated videos keep their exact pixel path.
    """
    turns = normalise(degrees) // 90
    if turns == 0:
        return frame
    # np.rot90 turns counter-clockwise for positive k; contiguous so encoders and OpenCV take it as is.
    return np.ascontiguousarray(np.rot90(frame, k=-turns, axes=(0, 1)))


def displayed_size(width: int, height: int, degrees: int) -> tuple[int, int]:
    """(width, height) of the displayed picture of ``width`` x ``height`` coded frames."""
    return (height, width) if normalise(degrees) in (90, 270) else (width, height)


def frame_rotation(frame) -> int | None:
    """Clockwise rotation of a decoded PyAV frame from its display matrix; None where PyAV cannot tell."""
    try:
        counter_clockwise = getattr(frame, "rotation", None)
    except Exception:  # a PyAV that exposes the attribute but fails on a frame without side data
        return None
    if counter_clockwise is None:
        return None
    return normalise(-float(counter_clockwise))


def stream_rotation(stream, first_frame=None) -> int:
    """Clockwise rotation of a PyAV video stream, from its tag, its side data, or ``first_frame``'s matrix."""
    tag = (stream.metadata or {}).get("rotate")
    if tag not in (None, ""):
        try:
            return normalise(float(tag))
        except ValueError:
            log.warning("ignoring rotate tag %r", tag)
    side_data = getattr(stream, "side_data", None)  # some PyAV versions: {"DISPLAYMATRIX": counter-clockwise deg}
    if isinstance(side_data, dict):
        matrix = side_data.get("DISPLAYMATRIX", side_data.get("display_matrix"))
        if isinstance(matrix, (int, float)):
            return normalise(-float(matrix))
    if first_frame is not None:
        return frame_rotation(first_frame) or 0
    return 0


def video_rotation(source: VideoSource) -> int:
    """Clockwise rotation of the first video stream of ``source`` (0 for a file PyAV cannot read or decode)."""
    try:
        with open_container(source) as container:
            if not container.streams.video:
                return 0
            stream = container.streams.video[0]
            first = None
            tagged = (stream.metadata or {}).get("rotate") is not None
            if not tagged and not isinstance(getattr(stream, "side_data", None), dict):
                first = next(iter(container.decode(stream)), None)  # the matrix travels on decoded frames
            return stream_rotation(stream, first)
    except Exception as exc:  # an unreadable file is reported by the reader that opens it, not here
        log.debug("no rotation read from %s: %s", source, exc)
        return 0


def opencv_orientation(cap, source: VideoSource) -> tuple[int, int]:
    """(clockwise rotation of the video, degrees still to turn the frames ``cap`` gives: 0 where OpenCV turns them).

    OpenCV 4.5.1+ with FFmpeg applies the display matrix by default (``CAP_PROP_ORIENTATION_AUTO``) and then
    reports the displayed frame size; older or other builds hand over the coded frames, turned here instead.
    """
    import cv2

    auto = getattr(cv2, "CAP_PROP_ORIENTATION_AUTO", None)
    if auto is not None and cap.get(auto) > 0:
        return normalise(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0), 0
    rotation = video_rotation(source)
    return rotation, rotation
