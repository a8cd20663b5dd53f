"""Frames for the face tracking tests: the real fixture face pasted into larger textured frames."""

from __future__ import annotations

import av
import cv2
import numpy as np

from tests.shared_fixtures import FIXTURE_VIDEO, require


def fixture_frames(count: int) -> np.ndarray:
    """The first ``count`` frames of the shared 224x224 talking-face clip (skips the test when it is absent)."""
    require(FIXTURE_VIDEO, what="face fixture clip")
    frames = []
    with av.open(str(FIXTURE_VIDEO)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


def textured_background(width: int, height: int, seed: int, tint: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Smooth colour blobs plus fine grain: something for a detector to find false faces in."""
    rng = np.random.default_rng(seed)
    blobs = cv2.resize(
        rng.integers(0, 256, (height // 40 + 2, width // 40 + 2, 3), dtype=np.uint8),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    ).astype(np.int16)
    grain = rng.integers(-20, 21, (height, width, 3), dtype=np.int16)
    return np.clip(blobs + grain + np.array(tint, dtype=np.int16), 0, 255).astype(np.uint8)


def paste_drifting(
    faces: np.ndarray,
    width: int,
    height: int,
    scale: float,
    drift: tuple[float, float] = (3.0, -2.0),
    seed: int = 0,
    tint: tuple[int, int, int] = (0, 0, 0),
    origin: tuple[int, int] | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Paste each face frame, scaled, into the background at a position drifting by ``drift`` px per frame.

    Returns the frames and the (T, 4) boxes [x0, y0, x1, y1] where the pasted face frames lie.
    """
    background = textured_background(width, height, seed, tint)
    side = int(round(faces.shape[1] * scale))
    x0, y0 = origin if origin is not None else ((width - side) // 2, (height - side) // 2)
    frames, boxes = [], []
    for index, face in enumerate(faces):
        x = int(round(x0 + drift[0] * index))
        y = int(round(y0 + drift[1] * index))
        frame = background.copy()
        frame[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        frames.append(frame)
        boxes.append([x, y, x + side, y + side])
    return frames, np.asarray(boxes, dtype=np.float64)
