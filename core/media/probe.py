"""What a video file is, read from its container and packets with PyAV (nothing decoded but the first frame, for
its display matrix): for reports.

Duration, displayed frame size and rotation (a phone's portrait clip, :mod:`core.media.orientation`), frame
rate and whether it varies, codecs, and the audio track if there is one. The frame rate is the container's
average; the frame timing comes from the video packets' presentation timestamps
(:func:`core.media.seek.index_frames`), so a variable-frame-rate file is recognised as one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.media.seek import index_frames

# Frame intervals that differ from their median by more than this share make a variable frame rate (containers
# round timestamps to their time base, so equal intervals can differ by a tick).
VFR_TOLERANCE = 0.05


@dataclass(frozen=True)
class MediaFacts:
    path: str
    file_bytes: int
    container: str
    duration_s: float | None  # the container's duration, else the last frame's time plus one interval
    width: int  # as displayed: the coded size turned by ``rotation``
    height: int
    video_codec: str
    pixel_format: str | None
    frames: int  # video packets with a timestamp
    fps: float  # the stream's average rate (0: unknown)
    variable_frame_rate: bool
    frame_interval_s: tuple[float, float] | None  # shortest and longest interval between frames
    audio: bool
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    rotation: int = 0  # clockwise degrees the coded frames are turned to be displayed (a phone's portrait: 90)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _frame_timing(time_s: np.ndarray) -> tuple[bool, tuple[float, float] | None]:
    intervals = np.diff(time_s)
    if intervals.size == 0:
        return False, None
    median = float(np.median(intervals))
    varies = bool(np.any(np.abs(intervals - median) > VFR_TOLERANCE * median))
    return varies, (float(intervals.min()), float(intervals.max()))


def probe_video(path: str | os.PathLike) -> MediaFacts:
    """The facts of ``path``; raises InputError for a file PyAV cannot open or without a video stream."""
    import av

    source = Path(path)
    if not source.is_file():
        raise InputError(f"video not found: {source}")
    index = index_frames(source)  # InputError for unreadable files and files without video
    try:
        container = av.open(os.fspath(source))
    except Exception as exc:  # PyAV raises one error class per FFmpeg error code
        raise InputError(f"cannot read video {source}: {exc}") from None
    with container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        varies, interval = _frame_timing(index.time_s)
        duration = container.duration / 1_000_000 if container.duration else None
        if duration is None and len(index):
            duration = float(index.time_s[-1]) + (interval[0] if interval else 0.0)
        return MediaFacts(
            path=str(source),
            file_bytes=source.stat().st_size,
            container=container.format.name,
            duration_s=duration,
            width=index.width,
            height=index.height,
            video_codec=video.codec_context.name,
            pixel_format=video.codec_context.pix_fmt,
            frames=len(index),
            fps=index.fps,
            variable_frame_rate=varies,
            frame_interval_s=interval,
            audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
            audio_channels=audio.layout.nb_channels if audio is not None else None,
            rotation=index.rotation,
        )
