"""Crop geometry: the SyncNet "pycrop" square around a face box, padded and resized to 224x224.

The audio-visual authors cut their clips with SyncNet's pipeline (joonson/syncnet_python,
``run_pipeline.py``, ``crop_video``). From a face box with centre (cx, cy) and half-size bs (half its
larger side, median-smoothed over time) it takes the square

    x in [cx - bs(1 + cs), cx + bs(1 + cs)],  y in [cy - bs, cy + bs(1 + 2 cs)],  cs = 0.4,

of side 2 bs (1 + cs) = 2.8 bs: the face sits in the upper part, with room for the chin and neck below.
Parts outside the frame are filled with the constant 110 (pycrop pads with 110 before cutting). The
crop is then resized to 224x224 with PIL bicubic, as the detector's loader resizes frames (pycrop itself
used OpenCV's bilinear resize; the difference is small next to the encoder's compression).

MTCNN against S3FD (the authors' detector). The fixture clip ``test.mp4`` is a 224x224 crop made by
this convention, so in its pixels the authors' box had bs = 80 and centre y = 80. We pasted its 134
frames, scaled 1.5x, 2x and 3x, into 1280x720 and 1920x1080 textured frames and tracked them as
:mod:`core.media.faces.tracks` does (detecting every frame, or every 5th). The MTCNN boxes, in fixture
pixels, had a median bs of 81.0-82.9 (raw or smoothed; a 227-232 px crop: larger than the authors', not
smaller as first thought), centre y 75.3-76.9 and centre x 112-115 (112 expected): MTCNN's box reaches
~6 px higher up the forehead and agrees at the chin. ``BOX_SCALE`` = 0.975 and ``CENTRE_SHIFT`` = 0.045
(of bs, downwards) map MTCNN boxes onto the authors' convention: the crop of the fixture frame is then
~224 px at the same place. Both come from one clip and are small (2.5%, 3.7 px); on the 224x224 fixture
itself MTCNN extrapolates the box past the top edge (bs 86, a 241 px crop), which only matters for
inputs that already are crops (see :func:`core.media.faces.status.looks_like_face_crop`).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from PIL import Image

from core.media.av_clip import FRAME_SIZE

CROP_SCALE = 0.4  # SyncNet's cs
PAD_VALUE = 110  # pycrop's constant padding
CROP_SIZE = FRAME_SIZE  # the audio-visual detector's frame side
BOX_SCALE = 0.975  # MTCNN half-size -> S3FD half-size (see module docstring)
CENTRE_SHIFT = 0.045  # MTCNN centre y + this * bs -> S3FD centre y


def box_centres_sizes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., 4) boxes [x1, y1, x2, y2] -> centre x, centre y, half of the larger side (pycrop's bs)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    cx = (boxes[..., 0] + boxes[..., 2]) / 2
    cy = (boxes[..., 1] + boxes[..., 3]) / 2
    bs = np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]) / 2
    return cx, cy, bs


def crop_boxes(
    face_boxes: np.ndarray,
    crop_scale: float = CROP_SCALE,
    box_scale: float = BOX_SCALE,
    centre_shift: float = CENTRE_SHIFT,
) -> np.ndarray:
    """Face boxes (..., 4) -> square crop boxes (..., 4) [x0, y0, x1, y1] by the convention above.

    ``box_scale=1, centre_shift=0`` is pycrop's formula on the boxes as given (e.g. S3FD boxes).
    """
    cx, cy, bs = box_centres_sizes(face_boxes)
    cy = cy + centre_shift * bs
    bs = bs * box_scale
    half_width = bs * (1 + crop_scale)
    return np.stack([cx - half_width, cy - bs, cx + half_width, cy + bs * (1 + 2 * crop_scale)], axis=-1)


def cut_padded(frame: np.ndarray, box: np.ndarray, pad_value: int = PAD_VALUE) -> np.ndarray:
    """The integer-pixel square ``box`` of ``frame``; what lies outside the frame is ``pad_value``."""
    side = max(1, int(round(box[2] - box[0])))
    x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
    height, width = frame.shape[:2]
    out = np.full((side, side) + frame.shape[2:], pad_value, dtype=frame.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    return out


def crop_frame(frame: np.ndarray, box: np.ndarray, size: int = CROP_SIZE, pad_value: int = PAD_VALUE) -> np.ndarray:
    """Cut the crop ``box`` out of an RGB uint8 frame (padding outside) and resize it to size x size, bicubic."""
    patch = cut_padded(frame, box, pad_value)
    if patch.shape[0] != size:
        patch = np.asarray(Image.fromarray(patch).resize((size, size), Image.BICUBIC))
    return patch


def crop_track(frames: Iterable[np.ndarray], track, size: int = CROP_SIZE, pad_value: int = PAD_VALUE) -> np.ndarray:
    """Crops of ``track`` (a :class:`core.media.faces.tracks.FaceTrack`) -> (T, size, size, 3) uint8.

    ``frames`` is the video from its first frame (e.g. a second decoding pass); only the frames of the
    track are cut, and iteration stops after its last frame.
    """
    boxes = track.crop_boxes()
    first, last = int(track.frames[0]), int(track.frames[-1])
    out = np.empty((len(track.frames), size, size, 3), dtype=np.uint8)
    filled = 0
    for index, frame in enumerate(frames):
        if index < first:
            continue
        if index > last:
            break
        out[index - first] = crop_frame(frame, boxes[index - first], size, pad_value)
        filled += 1
    if filled != len(out):
        raise ValueError(f"the frames ended at {first + filled} before the track's last frame {last}")
    return out


def outside_fraction(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Share of each box's area (..., 4) that lies outside a width x height frame, in [0, 1]."""
    boxes = np.asarray(boxes, dtype=np.float64)
    area = np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)
    inside_w = np.clip(np.minimum(boxes[..., 2], width) - np.maximum(boxes[..., 0], 0), 0, None)
    inside_h = np.clip(np.minimum(boxes[..., 3], height) - np.maximum(boxes[..., 1], 0), 0, None)
    return 1.0 - inside_w * inside_h / np.maximum(area, 1e-9)
