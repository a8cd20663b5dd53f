"""Which frames AIGVDet analyses: every frame, the frames of a time segment, or N evenly spaced frame pairs.

A plan is made from the video's frame index (``core.media.seek``), so it knows the frames before decoding
any, and reading it seeks rather than decoding the whole video.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from core.errors import InputError
from core.media.seek import FrameIndex


@dataclass(frozen=True)
class FramePlan:
    """The frames to analyse: ``frames`` (increasing indices) and, when pairs are sampled, their first frames."""

    frames: list[int]
    pair_starts: list[int] | None  # None: every consecutive pair of ``frames`` (a contiguous range)
    start_s: float | None
    end_s: float | None
    video_frames: int

    @property
    def sampled(self) -> bool:
        return self.pair_starts is not None

    def describe(self) -> dict:
        """What was analysed, for reports."""
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "video_frames": self.video_frames,
            "analysed_frames": len(self.frames),
            "sample_pairs": len(self.pair_starts) if self.pair_starts is not None else None,
        }


def evenly_spaced_pairs(first: int, stop: int, count: int) -> list[int]:
    """First frames of ``count`` evenly spaced consecutive pairs among frames ``first .. stop - 1``.

    The ``stop - first - 1`` available pairs are cut into ``count`` equal parts and the pair at each part's
    middle is taken: ``first + floor((2k + 1) * pairs / (2 * count))``; every pair when ``count`` is at least
    the number of pairs.
    """
    if count < 1:
        raise ValueError(f"the number of pairs must be at least 1, got {count}")
    pairs = stop - first - 1
    if count >= pairs:
        return list(range(first, first + max(pairs, 0)))
    return [first + (2 * k + 1) * pairs // (2 * count) for k in range(count)]


def plan_frames(
    index: FrameIndex, start_s: float | None = None, end_s: float | None = None, sample_pairs: int | None = None
) -> FramePlan:
    """The frames shown in ``[start_s, end_s)`` seconds (the whole video by default); with ``sample_pairs``, only
    that many evenly spaced pairs of them (all of them when there are no more pairs than that)."""
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise InputError(f"the segment to analyse ends ({end_s} s) before it starts ({start_s} s)")
    frames = index.frames_between(start_s, end_s)
    if len(frames) < 2:
        raise InputError(
            f"{index.path} has {len(frames)} frame(s) between {start_s or 0} s and "
            f"{'its end' if end_s is None else f'{end_s} s'}; AIGVDet needs at least 2 for optical flow"
        )
    starts = None
    if sample_pairs is not None:
        starts = evenly_spaced_pairs(frames.start, frames.stop, sample_pairs)
        if len(starts) == len(frames) - 1:
            starts = None  # every pair: analyse every frame, as without sampling
    wanted = sorted({i for s in starts for i in (s, s + 1)}) if starts is not None else list(frames)
    return FramePlan(wanted, starts, start_s, end_s, len(index))


def pairs_of(
    frames: Iterable[tuple[int, float, np.ndarray]], starts: list[int]
) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
    """``(time of the first frame, first frame, second frame)`` for each pair start, from the plan's frames in order."""
    wanted, previous = set(starts), None
    for index, time_s, frame in frames:
        if previous is not None and previous[0] == index - 1 and previous[0] in wanted:
            yield previous[1], previous[2], frame
        previous = (index, time_s, frame)
