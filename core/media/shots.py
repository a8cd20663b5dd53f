"""Shot cuts from colour histograms and tiny thumbnails of consecutive frames.

A cut changes the colour distribution of the whole frame at once, while a talking head moving, a camera
pan or lighting flicker change it a little per frame. Each frame is summarised by three 16-bin channel
histograms of a thumbnail (every few pixels: the count is what matters, not the detail), and the distance
between frames is half the L1 distance, averaged over channels: 0 for the same distribution, 1 for
disjoint ones. Consecutive frames of one shot measure ~0.01; a distance above 0.3 is taken as a cut.

A cut within one scene (a wide shot to a close-up of the same room) can keep the colours; it moves the
picture. So the mean absolute difference of 32x18 grey thumbnails (0..1) is a second test: consecutive frames
of a shot measure under 0.06 (the fixture's talking face, filling the frame: median 0.016, at most 0.057), a cut
between two textured scenes of the same palette 0.22-0.23; above 0.12 is taken as a cut. A false cut (a very
fast move) costs little: the face tracks it splits are joined again across it (:mod:`core.media.faces.people`).
"""

from __future__ import annotations

import cv2
import numpy as np

BINS = 16
THUMBNAIL_SIDE = 128


def frame_histogram(frame: np.ndarray, bins: int = BINS, thumbnail_side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """(3, bins) normalised per-channel histograms of an RGB uint8 frame, from about thumbnail_side px across."""
    step = max(1, max(frame.shape[:2]) // thumbnail_side)
    pixels = frame[::step, ::step].reshape(-1, frame.shape[2]).astype(np.int64) * bins // 256
    counts = np.stack([np.bincount(pixels[:, k], minlength=bins) for k in range(pixels.shape[1])])
    return counts / max(1, pixels.shape[0])


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between two (C, bins) normalised histograms, averaged over channels: in [0, 1]."""
    return float(0.5 * np.abs(a - b).sum(axis=1).mean())


THUMBNAIL_SIZE = (32, 18)


def grey_thumbnail(frame: np.ndarray, size: tuple[int, int] = THUMBNAIL_SIZE) -> np.ndarray:
    """A tiny grey copy of an RGB uint8 frame, values in [0, 1] (area averaging: what a cut changes, not noise)."""
    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def thumbnail_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two :func:`grey_thumbnail` s, in [0, 1]."""
    return float(np.abs(a - b).mean())
