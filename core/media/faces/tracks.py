"""Face tracks through a video: detect every few frames, link by overlap, interpolate, smooth, split at cuts.

One pass over the frames (nothing but one small copy of the previous frame is kept):

* every frame is shrunk as the detector wants it (:meth:`FaceDetector.prepare`) and its colour histogram
  is compared with the previous frame's: half the L1 distance above ``cut_threshold`` marks a shot cut;
* faces are detected every ``detect_every`` frames (5 Hz by default: every 5th frame at 25 fps), and also
  on both sides of each cut and on the last frame, so tracks start and end exactly at shot boundaries;
* detections are linked in time order to the track whose box, extrapolated at its current speed, is
  nearest (IoU >= ``iou_threshold`` or the centre within ``max_shift`` face sizes, and sides within
  ``max_size_ratio``: see :func:`link_detections`). A track is never continued across
  a cut or a gap longer than ``max_gap_s``. A track that finds no match while a new face appears near it
  has jumped: it ends there and the new face starts another track;
* the frames between detections get linearly interpolated boxes (``detected`` is False there), and the
  box centre and size are smoothed by a centred running median (as SyncNet's pycrop does: ~0.5 s for the
  centre, 1 s for the slowly changing size) followed by a short centred mean that rounds off the corners
  of the interpolation.

Tracks shorter than ``min_track_frames`` are kept in the result with ``skipped`` saying why; statuses and
the choice of the speaker's track are in :mod:`core.media.faces.status`, crops in :mod:`core.media.faces.crop`.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from core.errors import InputError
from core.media.faces.appearance import face_appearance
from core.media.faces.crop import crop_boxes, crop_track
from core.media.faces.detector import FaceDetector
from core.media.shots import frame_histogram, grey_thumbnail, histogram_distance, thumbnail_distance

log = logging.getLogger(__name__)

__all__ = ["FaceTrack", "TrackConfig", "track_faces", "crop_track", "link_detections", "smooth_boxes", "build_tracks"]

MIN_TRACK_FRAMES = 6


@dataclass(frozen=True)
class TrackConfig:
    detect_every: int | None = None  # frames between detections; None: a fifth of a second
    iou_threshold: float = 0.3  # looser than SyncNet's 0.5 per frame: boxes are 5 frames apart
    max_size_ratio: float = 1.5
    max_shift: float = 0.5  # or link when the centre moved less than this times the face size
    max_gap_s: float = 1.0
    median_s: float = 0.5  # running median of the box centre over about this long (odd number of frames)
    size_median_s: float = 1.0  # and of its size
    mean_frames: int = 5
    cut_threshold: float = 0.3  # colour-histogram distance of a cut (core.media.shots)
    cut_picture_threshold: float = 0.12  # thumbnail difference of a cut that keeps the colours
    min_track_frames: int = MIN_TRACK_FRAMES


@dataclass(eq=False)  # identity, not field-wise: the fields are arrays (== on them is elementwise, or fails)
class FaceTrack:
    """One face over consecutive frames. Boxes are [x1, y1, x2, y2] in source pixels.

    A track joined across shot cuts (:mod:`core.media.faces.people`) lists the first frames of its later shots
    in ``cuts``; its boxes were smoothed shot by shot, so its crop jumps with the picture at each cut.
    """

    frames: np.ndarray  # (T,) consecutive frame indices
    boxes: np.ndarray  # (T, 4) detected, or interpolated between detections
    scores: np.ndarray  # (T,) detector confidence; NaN where interpolated
    detected: np.ndarray  # (T,) bool
    smoothed: np.ndarray  # (T, 4) the boxes crops are made from
    start: str  # "video", "cut", "jump" or "appeared"
    end: str  # "video", "cut", "jump" or "lost"
    frame_width: int
    frame_height: int
    video_frames: int
    skipped: str | None = None
    appearance: np.ndarray | None = None  # mean colour descriptor of its detections (people.face_appearance)
    cuts: tuple[int, ...] = ()  # shot cuts inside the track (joined tracks only)

    def __repr__(self) -> str:
        reason = f", skipped: {self.skipped}" if self.skipped else ""
        return (
            f"FaceTrack(frames {int(self.frames[0])}-{int(self.frames[-1])}, {int(self.detected.sum())} detected, "
            f"size {self.size:.0f} px, {self.start} -> {self.end}{reason})"
        )

    @property
    def length(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> float:
        """Median of the larger side of the smoothed box, in pixels."""
        sides = np.maximum(self.smoothed[:, 2] - self.smoothed[:, 0], self.smoothed[:, 3] - self.smoothed[:, 1])
        return float(np.median(sides))

    @property
    def area(self) -> float:
        boxes = self.smoothed
        return float(np.median((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))

    def crop_boxes(self, **kwargs) -> np.ndarray:
        """(T, 4) square crop boxes, see :func:`core.media.faces.crop.crop_boxes` for the options."""
        return crop_boxes(self.smoothed, **kwargs)


@dataclass
class Chain:
    """Detections linked into one track, before interpolation."""

    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    start: str = "appeared"
    end: str = "lost"
    appearances: list[np.ndarray] = field(default_factory=list)  # per detection, when the detections carry one

    def predict(self, frame: int) -> np.ndarray:
        """Box at ``frame`` extrapolated at the speed between the last two detections, at most one step ahead
        (after a gap the old speed says little)."""
        if len(self.frames) < 2:
            return self.boxes[-1]
        step = self.frames[-1] - self.frames[-2]
        speed = (self.boxes[-1] - self.boxes[-2]) / step
        return self.boxes[-1] + speed * min(frame - self.frames[-1], step)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4) -> (N, M)."""
    a, b = np.asarray(a, dtype=np.float64)[:, None, :4], np.asarray(b, dtype=np.float64)[None, :, :4]
    inter_w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    inter_h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def _larger_side(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 0:2] + boxes[..., 2:4]) / 2


def link_detections(
    detections: Mapping[int, np.ndarray],
    cuts: Sequence[int] = (),
    iou_threshold: float = 0.3,
    max_gap: int = 25,
    max_size_ratio: float = 1.5,
    max_shift: float = 0.5,
) -> list[Chain]:
    """Link per-frame detections (N, 5 + D) into chains; ``cuts`` are the first frames of new shots.

    Columns: the box, the detector's score, then an optional D-long appearance descriptor kept with the chain.

    A detection continues a chain when it overlaps the chain's extrapolated box by ``iou_threshold`` or
    its centre is within ``max_shift`` of the box's larger side, and the sides differ by at most
    ``max_size_ratio``; pairs are taken closest first.
    """
    cuts = sorted(cuts)
    cut_set = set(cuts)
    active: list[Chain] = []
    done: list[Chain] = []
    for frame in sorted(detections):
        shot = bisect.bisect_right(cuts, frame)
        for chain in list(active):
            last = chain.frames[-1]
            if bisect.bisect_right(cuts, last) != shot:
                chain.end = "cut" if (last + 1) in cut_set else "lost"
            elif frame - last > max_gap:
                chain.end = "lost"
            else:
                continue
            active.remove(chain)
            done.append(chain)
        dets = np.asarray(detections[frame], dtype=np.float64)
        dets = dets.reshape(-1, dets.shape[-1] if dets.ndim == 2 else 5)
        matched_dets: set[int] = set()
        matched_chains: set[int] = set()
        if active and len(dets):
            predicted = np.stack([chain.predict(frame) for chain in active])
            iou = iou_matrix(predicted, dets)
            sides = np.maximum(_larger_side(predicted)[:, None], 1e-9)
            ratio = sides / np.maximum(_larger_side(dets[:, :4])[None, :], 1e-9)
            shift = np.linalg.norm(_centres(predicted)[:, None] - _centres(dets)[None], axis=-1) / sides
            # A small face moving fast overlaps little after 5 frames, yet its centre stays within half its size.
            similar = (ratio <= max_size_ratio) & (ratio >= 1 / max_size_ratio)
            ok = ((iou >= iou_threshold) | (shift <= max_shift)) & similar
            for flat in np.argsort(np.where(ok, shift, np.inf), axis=None, kind="stable"):
                c, d = np.unravel_index(flat, iou.shape)
                if not ok[c, d]:
                    break
                if c in matched_chains or d in matched_dets:
                    continue
                matched_chains.add(c)
                matched_dets.add(d)
                active[c].frames.append(frame)
                active[c].boxes.append(dets[d, :4])
                active[c].scores.append(float(dets[d, 4]))
                active[c].appearances.append(dets[d, 5:])
        new_dets = [d for d in range(len(dets)) if d not in matched_dets]
        jumped_to: set[int] = set()
        for c, chain in enumerate(list(active)):
            if c in matched_chains or chain.frames[-1] == frame:
                continue
            # An unmatched track with a new face close by has jumped (a sudden move, or another person in
            # the same place): end it now rather than after max_gap, so the two are never interpolated.
            last = chain.boxes[-1]
            for d in new_dets:
                if d not in jumped_to and np.linalg.norm(_centres(dets[d]) - _centres(last)) < _larger_side(last):
                    chain.end = "jump"
                    active.remove(chain)
                    done.append(chain)
                    jumped_to.add(d)
                    break
        for d in new_dets:
            start = "video" if frame == 0 else "cut" if frame in cut_set else "jump" if d in jumped_to else "appeared"
            active.append(Chain([frame], [dets[d, :4]], [float(dets[d, 4])], start=start, appearances=[dets[d, 5:]]))
    last_frame = max(detections) if detections else -1
    for chain in active:
        chain.end = "video" if chain.frames[-1] == last_frame else "lost"
    return sorted(done + active, key=lambda chain: (chain.frames[0], chain.boxes[0][0]))


def interpolate_chain(chain: Chain) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chain -> (frames, boxes, scores, detected) over every frame from its first to its last detection."""
    known = np.asarray(chain.frames)
    frames = np.arange(known[0], known[-1] + 1)
    boxes = np.stack([np.interp(frames, known, np.asarray(chain.boxes)[:, k]) for k in range(4)], axis=1)
    detected = np.isin(frames, known)
    scores = np.full(len(frames), np.nan)
    scores[known - known[0]] = chain.scores
    return frames, boxes, scores, detected


def _running(values: np.ndarray, kernel: int, reduce, inside: bool = False) -> np.ndarray:
    """Centred running ``reduce`` over ``kernel`` (made odd, at most the length) values.

    At the ends the window is either padded with the end value (``inside=False``: follows motion up to the
    last frame) or kept whole inside the series (``inside=True``: the last frames get the statistic of the
    last ``kernel`` values, more robust for a quantity that changes slowly).
    """
    kernel = min(kernel, len(values) - (len(values) + 1) % 2)
    if kernel <= 1:
        return values.copy()
    if inside:
        stats = reduce(np.lib.stride_tricks.sliding_window_view(values, kernel), axis=-1)
        return stats[np.clip(np.arange(len(values)) - kernel // 2, 0, len(values) - kernel)]
    padded = np.pad(values, kernel // 2, mode="edge")
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, kernel), axis=-1)


def smooth_boxes(
    boxes: np.ndarray, median_frames: int = 13, mean_frames: int = 5, size_median_frames: int = 25
) -> np.ndarray:
    """Smooth box centre and size over time: centred running median, then a short running mean.

    The size gets a longer median window kept inside the track at its ends: a face's size changes slowly,
    while one detection's size is off by up to ~10% when the face is small in the detector's copy.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = (_running(_running(c, median_frames, np.median), mean_frames, np.mean) for c in (cx, cy))
    w, h = (_running(_running(v, size_median_frames, np.median, True), mean_frames, np.mean, True) for v in (w, h))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _odd(frames: float) -> int:
    return max(1, int(round(frames)) // 2 * 2 + 1)


def build_tracks(
    chains: Sequence[Chain],
    width: int,
    height: int,
    video_frames: int,
    fps: float = 25.0,
    config: TrackConfig = TrackConfig(),
) -> list[FaceTrack]:
    """Interpolate and smooth chains into tracks; short ones are marked ``skipped`` with the reason."""
    tracks = []
    for chain in chains:
        frames, boxes, scores, detected = interpolate_chain(chain)
        smoothed = smooth_boxes(
            boxes, _odd(config.median_s * fps), config.mean_frames, _odd(config.size_median_s * fps)
        )
        skipped = None
        if len(frames) < config.min_track_frames:
            skipped = f"too short: {len(frames)} frames, need {config.min_track_frames}"
        described = [a for a in chain.appearances if a.size]
        appearance = np.mean(described, axis=0) if described else None
        tracks.append(
            FaceTrack(
                frames,
                boxes,
                scores,
                detected,
                smoothed,
                chain.start,
                chain.end,
                width,
                height,
                video_frames,
                skipped,
                appearance,
            )
        )
    return tracks


def track_faces(
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    detector: FaceDetector | None = None,
    config: TrackConfig = TrackConfig(),
    info: dict | None = None,
) -> list[FaceTrack]:
    """Detect, link and smooth the faces of a video given as RGB uint8 frames (H, W, 3) -> all tracks.

    ``info``, when given, receives ``cuts`` (the first frame of each new shot) and ``frames`` (how many were seen).
    Raises :class:`InputError` when there are no frames or their size changes.
    """
    detector = detector or FaceDetector()
    every = config.detect_every or max(1, round(fps / 5))
    shape = None
    queued: dict[int, np.ndarray] = {}  # frame index -> detector-sized copy, waiting for a batch
    done: set[int] = set()
    detections: dict[int, np.ndarray] = {}
    cuts: list[int] = []
    previous: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None  # index, small copy, histogram, thumbnail

    def queue(index: int, small: np.ndarray) -> None:
        if index not in done:
            done.add(index)
            queued[index] = small
        if len(queued) >= detector.batch_size:
            flush()

    def flush() -> None:
        found = detector.detect_prepared(list(queued.values()), shape)
        for (index, small), boxes in zip(queued.items(), found):
            # Each detection's colour descriptor, from the small copy at hand (joins a person's tracks across cuts).
            scale = np.array([small.shape[1] / shape[1], small.shape[0] / shape[0]] * 2)
            described = [face_appearance(small, box[:4] * scale) for box in boxes]
            detections[index] = np.concatenate([boxes, np.stack(described)], axis=1) if described else boxes
        queued.clear()

    count = 0
    for index, frame in enumerate(frames):
        if shape is None:
            shape = frame.shape[:2]
        elif frame.shape[:2] != shape:
            raise InputError(
                f"the frame size changes at frame {index}: {frame.shape[1]}x{frame.shape[0]}, was {shape[1]}x{shape[0]}"
            )
        small = detector.prepare(frame)
        histogram, thumbnail = frame_histogram(small), grey_thumbnail(small)
        is_cut = previous is not None and (
            histogram_distance(previous[2], histogram) > config.cut_threshold
            or thumbnail_distance(previous[3], thumbnail) > config.cut_picture_threshold
        )
        if is_cut:
            cuts.append(index)
            queue(previous[0], previous[1])
        if index % every == 0 or is_cut:
            queue(index, small)
        previous = (index, small, histogram, thumbnail)
        count = index + 1
    if previous is None:
        raise InputError("the video has no frames")
    queue(previous[0], previous[1])
    if queued:
        flush()
    chains = link_detections(
        detections,
        cuts,
        config.iou_threshold,
        max(1, round(config.max_gap_s * fps)),
        config.max_size_ratio,
        config.max_shift,
    )
    tracks = build_tracks(chains, shape[1], shape[0], count, fps, config)
    if info is not None:
        info.update(cuts=list(cuts), frames=count)
    log.info(
        "%d frames, %d detected, %d shot cuts, %d face tracks (%d too short)",
        count,
        len(detections),
        len(cuts),
        len(tracks),
        sum(track.skipped is not None for track in tracks),
    )
    return tracks
