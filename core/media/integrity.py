"""Truncated or damaged videos: fewer decoded frames than the container declares.

A file whose data was cut (an interrupted download or copy; an mp4 with its index first still declares every
frame) decodes without an error up to the cut: the decoder prints a libav line and stops early, and a
detector would score the frames it got as if they were the whole video. :func:`frame_shortfall` compares the
number of frames decoded with the number the container declares (PyAV's ``stream.frames``, else the stream's
own duration x the frame rate; see :func:`stream_duration_s`) and returns ``truncated: decoded N of M frames``
when markedly fewer came out (more than 5% and more than 2 frames: decoders legitimately differ by a frame or
two at the end of a stream, and declared counts are estimates in some containers). Both detectors use it: AIGVDet on
every decoded frame, the audio-visual detector on the frames it needed.

Where the cut falls inside a packet, the decoder raises on it instead of stopping: :func:`until_damaged`
ends such a stream at the error (after at least one frame) so that the frames before it are kept and the
shortfall is reported the same way.
"""

from __future__ import annotations

import logging
from typing import Iterable, Iterator, TypeVar

import av

from core.media.in_memory import VideoSource, open_container

T = TypeVar("T")
log = logging.getLogger(__name__)

MIN_MISSING_FRAMES = 2  # a shortfall must exceed this many frames ...
MIN_MISSING_FRACTION = 0.05  # ... and this fraction of the frames expected


def _tag_seconds(tag: str | None) -> float | None:
    """Matroska's per-stream ``DURATION`` tag, ``HH:MM:SS.fffffffff``, in seconds (None when absent or odd)."""
    try:
        hours, minutes, seconds = (tag or "").split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def stream_duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration: its header's, else its Matroska ``DURATION`` tag, else the container's
    when no other audio or video stream could have made that longer (an audio track often outlasts the video)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tagged = _tag_seconds(stream.metadata.get("DURATION"))
    if tagged:
        return tagged
    others = [s for s in container.streams if s is not stream and s.type in ("audio", "video")]
    if container.duration and not others:
        return container.duration / 1_000_000  # in AV_TIME_BASE units
    return None


def declared_frames(path: VideoSource, fps: float | None = None) -> int | None:
    """How many frames the container says its first video stream has (None: it does not say, or unreadable).

    With ``fps`` the count is of the stream re-timed to that rate (its declared duration x ``fps``), as a
    decoder that resamples to ``fps`` would give.
    """
    try:
        with open_container(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0.0)
            duration = stream_duration_s(container, stream)
            if stream.frames and (fps is None or rate > 0):
                return int(stream.frames) if fps is None else round(stream.frames / rate * fps)
            if duration and (fps or rate):
                return round(duration * (fps or rate))
    except Exception as exc:  # noqa: BLE001 -- a file PyAV cannot read declares nothing; the decoder reports it
        log.debug("%s: no declared frame count (%s)", path, exc)
    return None


def is_shortfall(decoded: int, expected: int) -> bool:
    missing = expected - decoded
    return missing > MIN_MISSING_FRAMES and missing > MIN_MISSING_FRACTION * expected


def frame_shortfall(path: VideoSource, decoded: int, needed: int | None = None, fps: float | None = None) -> str | None:
    """``truncated: decoded N of M frames`` when ``decoded`` falls markedly short of the declared count M, else None.

    ``needed``: the decoder stopped on purpose after that many frames (a detector that looks no further), so
    only a shortfall within them counts. ``fps``: the frames were re-timed to that rate (see ``declared_frames``).
    """
    declared = declared_frames(path, fps)
    if declared is None:
        return None
    expected = declared if needed is None else min(declared, needed)
    if not is_shortfall(decoded, expected):
        return None
    return f"truncated: decoded {decoded} of {declared} frames"


def until_damaged(frames: Iterable[T], name: str) -> Iterator[T]:
    """The decoded frames up to the first decoding error, when at least one came before it (a cut file's partial
    last packet); an error before any frame is raised: the file is unreadable, not truncated."""
    count = 0
    iterator = iter(frames)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            if count == 0:
                raise
            log.warning("%s: decoding stopped after %d frames (%s)", name, count, exc)
            return
        count += 1
        yield item
