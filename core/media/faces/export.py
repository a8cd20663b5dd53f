"""What a face crop looked like, for a person to check: the crop box per frame (CSV rows), the crop as a video,
and the box drawn on a source frame."""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from core.media.audio import SAMPLE_RATE
from core.media.av_clip import TARGET_FPS, AVClip
from core.media.encode import write_video
from core.media.faces.tracks import FaceTrack

TRACK_COLUMNS = ("frame", "time_s", "track", "x0", "y0", "x1", "y1", "detected")


def track_rows(track: FaceTrack, track_id: int, count: int, fps: float = TARGET_FPS) -> list[list]:
    """One row per scored frame (the first ``count`` of the track): ``TRACK_COLUMNS``, the crop box in source
    pixels, ``detected`` 1 where the face detector ran and found it, 0 where the box was interpolated."""
    boxes = track.crop_boxes()
    rows = []
    for k in range(min(count, track.length)):
        frame = int(track.frames[k])
        rows.append(
            [
                frame,
                f"{frame / fps:.2f}",
                track_id,
                *(f"{value:.1f}" for value in boxes[k]),
                int(bool(track.detected[k])),
            ]
        )
    return rows


def write_clip_video(
    path: str | os.PathLike, clip: AVClip, fps: float = TARGET_FPS, sample_rate: int = SAMPLE_RATE
) -> None:
    """The clip's frames (H.264, near-lossless) with its audio (AAC, mono): what the detector scored."""
    samples = np.clip(clip.audio, -32768, 32767).astype(np.int16)
    write_video(path, clip.frames, round(fps), video_options={"crf": "12"}, audio=samples, sample_rate=sample_rate)


def draw_boxes(
    frame: np.ndarray,
    boxes: Sequence[np.ndarray],
    colours: Sequence[tuple[int, int, int]] = ((255, 220, 0), (0, 170, 255)),
) -> np.ndarray:
    """A copy of an RGB frame with each [x0, y0, x1, y1] box outlined (lines ~0.4% of the frame wide)."""
    out = np.ascontiguousarray(frame).copy()
    thickness = max(2, round(max(frame.shape[:2]) / 250))
    for k, box in enumerate(boxes):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), colours[k % len(colours)], thickness)
    return out
