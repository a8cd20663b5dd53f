"""Streaming video decoding to RGB uint8 frames, in memory.

OpenCV is tried first because AIGVDet's reference extracts frames with ``cv2.VideoCapture``: the same
decoder gives the same pixels, which the official weights were evaluated on. PyAV is the fallback for
files OpenCV cannot open (and can be asked for explicitly).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import numpy as np

from core.errors import InputError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "opencv", "pyav")
T = TypeVar("T")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video. ``frame_count`` is the container's estimate (0 if unknown)."""

    path: str
    fps: float
    frame_count: int
    width: int
    height: int
    backend: str


class VideoReader:
    """Iterate over the frames of a video as (H, W, 3) RGB uint8 arrays, one at a time.

    >>> with VideoReader("clip.mp4") as video:          # doctest: +SKIP
    ...     print(video.info.fps)
    ...     for frame in video: ...
    """

    def __init__(self, path: str | os.PathLike, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"video not found: {self.path}")
        if not self.path.is_file():
            raise InputError(f"not a file: {self.path}")
        self._cap = None
        self._container = None
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
        return VideoInfo(str(self.path), fps, count, width, height, "opencv")

    def _open_pyav(self) -> VideoInfo:
        import av

        try:
            container = av.open(str(self.path))
        except Exception as exc:  # PyAV raises its own error classes per FFmpeg error code
            raise InputError(f"PyAV cannot open it ({exc.__class__.__name__})") from None
        if not container.streams.video:
            container.close()
            raise InputError("it has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._container = container
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        return VideoInfo(str(self.path), fps, int(stream.frames or 0), stream.width, stream.height, "pyav")

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._cap is not None:
            yield from self._iter_opencv()
        else:
            yield from self._iter_pyav()

    def _iter_opencv(self) -> Iterator[np.ndarray]:
        import cv2

        while True:
            ok, frame = self._cap.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _iter_pyav(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
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
