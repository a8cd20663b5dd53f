"""Streaming video decoding to RGB uint8 frames, in memory.

OpenCV is tried first because AIGVDet's reference extracts frames with ``cv2.VideoCapture``: the same
decoder gives the same pixels, which the official weights were evaluated on. PyAV is the fallback for
files OpenCV cannot open (and can be asked for explicitly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice
from typing import Iterable, Iterator, TypeVar

import numpy as np

from core.errors import InputError
from core.media.in_memory import InMemoryVideo, VideoSource, open_container, source_path
from core.media.integrity import until_damaged
from core.media.orientation import displayed_size, opencv_orientation, upright, video_rotation

log = logging.getLogger(__name__)

BACKENDS = ("auto", "opencv", "pyav")
T = TypeVar("T")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video. ``frame_count`` is the container's estimate (0 if unknown).

    ``width`` x ``height`` is the displayed size, which the frames have: a phone's portrait clip, stored as
    landscape frames and a ``rotation`` (clockwise degrees, :mod:`core.media.orientation`), reads as portrait.
    """

    path: str
    fps: float
    frame_count: int
    width: int
    height: int
    backend: str
    rotation: int = 0


class VideoReader:
    """Iterate over the frames of a video as (H, W, 3) RGB uint8 arrays, one at a time.

    ``timestamps`` gets each yielded frame's presentation time in seconds from the stream's start, as the
    decoder gives it (OpenCV's ``CAP_PROP_POS_MSEC``, PyAV's frame pts), so variable frame rates are timed
    right. Where the decoder gives no time for a frame, the previous frame's time plus 1 / fps stands in
    (counted in ``estimated_times``).

    >>> with VideoReader("clip.mp4") as video:          # doctest: +SKIP
    ...     print(video.info.fps)
    ...     for frame in video: ...
    ...     print(video.timestamps)
    """

    def __init__(self, path: VideoSource, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.source = path
        self.path = source_path(path)
        if isinstance(path, InMemoryVideo):
            if backend == "opencv":
                raise InputError(f"OpenCV cannot read an in-memory video ({self.path})")
            backend = "pyav"  # OpenCV opens files only
        elif not self.path.exists():
            raise InputError(f"video not found: {self.path}")
        elif not self.path.is_file():
            raise InputError(f"not a file: {self.path}")
        self._cap = None
        self._container = None
        self._turn = 0  # clockwise degrees the decoder's frames still need to be displayed
        self.timestamps: list[float] = []
        self.estimated_times = 0
        errors = []
        if backend in ("auto", "opencv"):
            try:
                self.info = self._open_opencv()
                return
            except InputError as exc:
                errors.append(str(exc))
        if backend in ("auto", "pyav"):
            try:
                self.info = self._open_pyav()
                return
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(f"cannot read video {self.path}: " + "; ".join(errors))

    def _open_opencv(self) -> VideoInfo:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise InputError("OpenCV cannot open it")
        # A container OpenCV "opens" but cannot decode (e.g. a text file via some demuxers) has no size.
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            cap.release()
            raise InputError("OpenCV finds no video stream")
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        rotation, self._turn = opencv_orientation(cap, self.source)
        width, height = displayed_size(width, height, self._turn)  # OpenCV's size is displayed when it turns
        return VideoInfo(str(self.path), fps, count, width, height, "opencv", rotation)

    def _open_pyav(self) -> VideoInfo:

        try:
            container = open_container(self.source)
        except Exception as exc:  # PyAV raises its own error classes per FFmpeg error code
            raise InputError(f"PyAV cannot open it ({exc.__class__.__name__})") from None
        if not container.streams.video:
            container.close()
            raise InputError("it has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._container = container
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        self._turn = video_rotation(self.source)  # read on a container of its own: this one stays at the start
        width, height = displayed_size(stream.width, stream.height, self._turn)
        return VideoInfo(str(self.path), fps, int(stream.frames or 0), width, height, "pyav", self._turn)

    def __iter__(self) -> Iterator[np.ndarray]:
        self.timestamps, self.estimated_times = [], 0
        frames = self._iter_opencv() if self._cap is not None else self._iter_pyav()
        for time_s, frame in frames:
            self._record_time(time_s)
            yield frame

    def _record_time(self, time_s: float | None) -> None:
        previous = self.timestamps[-1] if self.timestamps else None
        # OpenCV reports 0 for frames without a timestamp: a time that does not advance is no timestamp.
        if time_s is None or (previous is not None and time_s <= previous):
            self.estimated_times += 1
            time_s = 0.0 if previous is None else previous + (1.0 / self.info.fps if self.info.fps > 0 else 1.0)
        self.timestamps.append(float(time_s))

    def _iter_opencv(self) -> Iterator[tuple[float | None, np.ndarray]]:
        import cv2

        while True:
            ok, frame = self._cap.read()
            if not ok:
                return
            time_s = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            yield time_s, upright(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), self._turn)

    def _iter_pyav(self) -> Iterator[tuple[float | None, np.ndarray]]:
        stream = self._container.streams.video[0]
        start = stream.start_time or 0
        try:
            for frame in until_damaged(self._container.decode(video=0), str(self.path)):
                time_s = None if frame.pts is None else float((frame.pts - start) * stream.time_base)
                yield time_s, upright(frame.to_ndarray(format="rgb24"), self._turn)
        except Exception as exc:
            raise InputError(f"decoding {self.path} failed: {exc}") from None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sample_frames(frames: Iterable[T], stride: int = 1, max_frames: int | None = None) -> Iterator[T]:
    """Every ``stride``-th frame (starting with the first), at most ``max_frames`` of them."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return islice(islice(frames, 0, None, stride), max_frames)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter): how frame streams are batched."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
