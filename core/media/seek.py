"""Read chosen frames of a video by seeking, not by decoding everything before them.

``index_frames`` demuxes the video stream without decoding (cheap: packets are only read) to learn every
frame's presentation time and which frames are keyframes. ``read_frames_at`` then decodes only what the
wanted frames need: where a keyframe lies between the current position and the next wanted frame it seeks
(PyAV ``container.seek`` lands on the keyframe at or before a time) and decodes forward from there; otherwise
it keeps decoding forward. Each frame it returns is checked by its timestamp against the index, so a
container whose seeking is imprecise cannot hand over the wrong frame silently.

Frame ``i`` is the ``i``-th frame in presentation order. Times are in seconds from the stream's start time,
as ``VideoReader`` gives them (and OpenCV's ``CAP_PROP_POS_MSEC``). Frames come as displayed, turned by the
stream's rotation (:mod:`core.media.orientation`), like ``VideoReader``'s.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Iterator, Sequence

import numpy as np

from core.errors import InputError
from core.media.in_memory import InMemoryVideo, VideoSource, open_container, source_name
from core.media.orientation import displayed_size, opencv_orientation, upright, video_rotation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameIndex:
    """Every frame of a video stream in presentation order (from its packets, nothing decoded)."""

    source: VideoSource  # the file, or an in-memory video (read again by ``read_frames_at``)
    pts: np.ndarray  # (N,) int64, increasing, in ``time_base`` units
    keyframe: np.ndarray  # (N,) bool
    time_base: Fraction
    start_pts: int
    fps: float
    width: int  # displayed size: the coded size turned by ``rotation``
    height: int
    rotation: int = 0  # clockwise degrees the coded frames are turned to be displayed

    def __len__(self) -> int:
        return len(self.pts)

    @property
    def path(self) -> str:
        """The path the video is or stands for (messages)."""
        return source_name(self.source)

    @cached_property
    def time_s(self) -> np.ndarray:
        return (self.pts - self.start_pts).astype(np.float64) * float(self.time_base)

    @cached_property
    def time_tolerance_s(self) -> float:
        """Half the smallest gap between frames (at least a millisecond): a decoded frame this close to a
        frame's time is that frame."""
        return max(1e-3, 0.5 * float(np.min(np.diff(self.time_s)))) if len(self) > 1 else 1e-3

    def frames_between(self, start_s: float | None, end_s: float | None) -> range:
        """Indices of the frames shown from ``start_s`` (inclusive) to ``end_s`` (exclusive) seconds."""
        times = self.time_s
        first = 0 if start_s is None else int(np.searchsorted(times, start_s, side="left"))
        last = len(times) if end_s is None else int(np.searchsorted(times, end_s, side="left"))
        return range(first, max(first, last))


def index_frames(path: VideoSource) -> FrameIndex:
    """Demux the first video stream of ``path`` (a file or an in-memory video); raises InputError when PyAV
    cannot read it or finds no frame."""
    try:
        container = open_container(path)
    except Exception as exc:  # PyAV raises its own error classes per FFmpeg error code
        raise InputError(f"cannot read video {path}: PyAV cannot open it ({exc.__class__.__name__})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"cannot read video {path}: it has no video stream")
        stream = container.streams.video[0]
        pts, keyframe = [], []
        try:
            for packet in container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None or packet.size == 0:
                    continue  # end-of-stream flush packets
                pts.append(stamp)
                keyframe.append(bool(packet.is_keyframe))
        except Exception as exc:
            raise InputError(f"reading {path} failed: {exc}") from None
        order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
        pts_arr = np.asarray(pts, dtype=np.int64)[order]
        start = stream.start_time if stream.start_time is not None else (int(pts_arr[0]) if pts_arr.size else 0)
        rotation = video_rotation(path)  # from a decoded frame's display matrix where the stream has no tag
        index = FrameIndex(
            path if isinstance(path, InMemoryVideo) else os.fspath(path),
            pts_arr,
            np.asarray(keyframe, dtype=bool)[order],
            stream.time_base,
            start,
            float(stream.average_rate or stream.guessed_rate or 0.0),
            *displayed_size(stream.width, stream.height, rotation),
            rotation,
        )
    if not len(index):
        raise InputError(f"{path} has no video frames")
    if len(np.unique(index.pts)) != len(index):
        raise InputError(f"{path} has frames with equal timestamps: its frames cannot be told apart by time")
    return index


def read_frames_at(
    index: FrameIndex, wanted: Sequence[int], backend: str = "pyav"
) -> Iterator[tuple[int, float, np.ndarray]]:
    """``(frame index, time_s, RGB uint8 frame)`` for each of the increasing frame indices ``wanted``.

    ``backend="pyav"`` seeks; ``"opencv"`` decodes every frame up to the last wanted one with OpenCV (for
    videos whose pixels must come from OpenCV) and checks times the same way.
    """
    wanted = list(wanted)
    if any(b <= a for a, b in zip(wanted, wanted[1:])) or (wanted and not 0 <= wanted[0] <= wanted[-1] < len(index)):
        raise ValueError(f"wanted frames must be increasing indices below {len(index)}")
    if backend == "opencv":
        yield from _read_opencv(index, wanted)
    else:
        yield from _read_pyav(index, wanted)


def _check_time(index: FrameIndex, frame: int, got_s: float) -> None:
    expected = float(index.time_s[frame])
    if abs(got_s - expected) > index.time_tolerance_s:
        raise InputError(
            f"decoding {index.path}: frame {frame} should be at {expected:.4f} s but the decoder gave "
            f"a frame at {got_s:.4f} s"
        )


def _read_opencv(index: FrameIndex, wanted: list[int]) -> Iterator[tuple[int, float, np.ndarray]]:
    import cv2

    if isinstance(index.source, InMemoryVideo):  # its name is the unperturbed original: never open that instead
        raise InputError(f"{index.path}: OpenCV cannot read an in-memory video; use the PyAV backend")
    cap = cv2.VideoCapture(index.path)
    turn = opencv_orientation(cap, index.source)[1] if index.rotation else 0
    try:
        position = -1
        for frame in wanted:
            image = None
            while position < frame:
                if not cap.grab():
                    raise InputError(f"decoding {index.path} stopped at frame {position + 1} of {len(index)}")
                position += 1
            ok, image = cap.retrieve()
            if not ok:
                raise InputError(f"decoding {index.path} failed at frame {frame}")
            got_s = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            _check_time(index, frame, got_s)
            yield frame, float(index.time_s[frame]), upright(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), turn)
    finally:
        cap.release()


def _read_pyav(index: FrameIndex, wanted: list[int]) -> Iterator[tuple[int, float, np.ndarray]]:
    keyframes = np.flatnonzero(index.keyframe)
    with open_container(index.source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = None  # the running decoder (a generator of frames in presentation order)
        position = -1  # index of the last frame decoded
        for frame in wanted:
            # The keyframe at or before the wanted frame: seeking there is worth it when it is ahead of us.
            before = keyframes[keyframes <= frame]
            key = int(before[-1]) if before.size else 0
            if frames is None or key > position + 1 or position >= frame:
                frames, position = _seek(container, stream, index, key), key - 1
            image, position = _decode_until(frames, index, frame, position)
            if image is None:  # the seek landed after the frame (imprecise index): decode from the start
                log.warning("%s: seeking missed frame %d; decoding from the start", index.path, frame)
                frames = _seek(container, stream, index, 0)
                image, position = _decode_until(frames, index, frame, -1)
                if image is None:
                    raise InputError(
                        f"decoding {index.path}: frame {frame} ({index.time_s[frame]:.4f} s) is not "
                        "in the decoded stream"
                    )
            yield frame, float(index.time_s[frame]), upright(image, index.rotation)


def _seek(container, stream, index: FrameIndex, frame: int) -> Iterator:
    """Seek to frame ``frame`` (a keyframe, or 0) and return a fresh decoder generator."""
    try:
        container.seek(int(index.pts[frame]), stream=stream, backward=True, any_frame=False)
    except Exception as exc:  # a container without seeking support: decode from where it is
        log.warning("%s: cannot seek (%s); decoding forward", index.path, exc)
    return container.decode(stream)


def _decode_until(frames: Iterator, index: FrameIndex, frame: int, position: int) -> tuple[np.ndarray | None, int]:
    """Decode forward to the frame with the wanted pts; (None, position) when the stream passes it or ends."""
    target = int(index.pts[frame])
    try:
        for decoded in frames:
            if decoded.pts is None:
                continue
            if decoded.pts == target:
                return decoded.to_ndarray(format="rgb24"), frame
            if decoded.pts > target:
                return None, position
    except Exception as exc:
        raise InputError(f"decoding {index.path} failed: {exc}") from None
    return None, position
