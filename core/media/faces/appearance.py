"""A face's colour appearance: what tells the same person's tracks apart from another's across a shot cut.

Boxes cannot join a person's tracks across a cut (a wide shot and a close-up put the same face at other places
and sizes), and no face-recognition weights ship with the toolkit (MTCNN's do, inside facenet-pytorch; its
recognition network's are downloaded at run time). What a cut keeps is the face's colours: skin, hair, glasses,
lighting. Each detection is described by a hue-saturation histogram of the inner part of its box (the central
60%: mostly face, little background), taken on the detector's downscaled copy, so its cost is a few
microseconds per detection. Two descriptors are compared by half their L1 distance: 0 for the same colour
distribution, 1 for disjoint ones. The same face in a wide shot and a close-up measures ~0.1; two people
differ by more as their skin, hair and lighting differ. It is a weak identity cue, used only to decide whether
the faces on both sides of a cut are the same person (:mod:`core.media.faces.people`).
"""

from __future__ import annotations

import cv2
import numpy as np

HUE_BINS = 8
SATURATION_BINS = 4
INNER = 0.6  # central share of the box's sides that is described
SIZE = HUE_BINS * SATURATION_BINS


def face_appearance(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(SIZE,) normalised hue-saturation histogram of the inner part of ``box`` [x1, y1, x2, y2] in ``frame``
    (RGB uint8); zeros when the box holds no pixel."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    margin_x, margin_y = (1 - INNER) / 2 * (x2 - x1), (1 - INNER) / 2 * (y2 - y1)
    height, width = frame.shape[:2]
    left, right = int(np.clip(round(x1 + margin_x), 0, width)), int(np.clip(round(x2 - margin_x), 0, width))
    top, bottom = int(np.clip(round(y1 + margin_y), 0, height)), int(np.clip(round(y2 - margin_y), 0, height))
    if right <= left or bottom <= top:
        return np.zeros(SIZE)
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[top:bottom, left:right]), cv2.COLOR_RGB2HSV)
    hue = hsv[..., 0].astype(np.int64) * HUE_BINS // 180  # OpenCV's 8-bit hue runs 0..179
    saturation = hsv[..., 1].astype(np.int64) * SATURATION_BINS // 256
    counts = np.bincount((hue * SATURATION_BINS + saturation).ravel(), minlength=SIZE).astype(np.float64)
    return counts / counts.sum()


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between two descriptors, in [0, 1]."""
    return float(0.5 * np.abs(np.asarray(a) - np.asarray(b)).sum())
