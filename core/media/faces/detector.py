"""Face detection on video frames: MTCNN (facenet-pytorch) on a downscaled copy, boxes in source pixels.

The weights (P-, R- and O-Net) ship inside the facenet-pytorch wheel, so nothing is downloaded at run time.
Each frame is shrunk so its long side is at most ``long_side`` pixels (480 by default: a 720p face of
100 px is still 37 px there, and MTCNN's cost grows with the pixel count), detected in batches, and the
boxes are scaled back to the source frame. Detections below ``min_confidence`` or whose longer side is
under ``min_size`` source pixels are dropped: MTCNN's weak and tiny hits on texture are rarely faces.
MTCNN finds faces down to ``mtcnn_min_face`` pixels *in the downscaled copy* (20 px: 53 px in a 720p
source, 80 px in 1080p); smaller faces are simply not found.

MTCNN runs hundreds of tiny tensor operations per frame (one resize per candidate box); with several
OpenMP threads each one pays a fork/join, which on a busy 2-core machine made them ~200x slower than
single-threaded (measured: 15 ms against 0.08 ms per candidate resize). Detection therefore runs with
``num_threads`` (1 by default) torch threads and restores the previous setting afterwards.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch

from core.errors import ToolkitError

log = logging.getLogger(__name__)

LONG_SIDE = 480
MIN_CONFIDENCE = 0.9
MIN_SIZE = 24.0
MTCNN_MIN_FACE = 20
MTCNN_THRESHOLDS = (0.6, 0.7, 0.7)  # MTCNN's own per-stage defaults


def downscale_factor(height: int, width: int, long_side: int = LONG_SIDE) -> float:
    """Factor (<= 1) that brings the frame's long side to at most ``long_side``; frames are never enlarged."""
    return min(1.0, long_side / max(height, width))


def filter_detections(
    detections: np.ndarray, min_confidence: float = MIN_CONFIDENCE, min_size: float = MIN_SIZE
) -> np.ndarray:
    """Keep rows [x1, y1, x2, y2, conf] with conf >= ``min_confidence`` and a longer side >= ``min_size``."""
    sides = np.maximum(detections[:, 2] - detections[:, 0], detections[:, 3] - detections[:, 1])
    keep = (detections[:, 4] >= min_confidence) & (sides >= min_size)
    return detections[keep]


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads (``None``: leave them), then restore the setting."""
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class FaceDetector:
    """Batched MTCNN face detection. Call it with same-sized RGB uint8 frames (H, W, 3).

    Returns one float32 array (N, 5) per frame: [x1, y1, x2, y2, confidence] in source pixels, most
    confident first. Boxes may extend a little past the frame (MTCNN regresses the whole face).
    """

    def __init__(
        self,
        long_side: int = LONG_SIDE,
        min_confidence: float = MIN_CONFIDENCE,
        min_size: float = MIN_SIZE,
        mtcnn_min_face: int = MTCNN_MIN_FACE,
        thresholds: Sequence[float] = MTCNN_THRESHOLDS,
        device: str | torch.device = "cpu",
        num_threads: int | None = 1,
        batch_size: int = 8,
    ) -> None:
        self.long_side = long_side
        self.min_confidence = min_confidence
        self.min_size = min_size
        self.mtcnn_min_face = mtcnn_min_face
        self.thresholds = list(thresholds)
        self.device = torch.device(device)
        self.num_threads = num_threads
        self.batch_size = batch_size
        self._mtcnn = None

    def _model(self):
        if self._mtcnn is None:
            try:
                from facenet_pytorch import MTCNN
            except ImportError as exc:
                raise ToolkitError(f"face detection needs the facenet-pytorch package ({exc})") from None
            # Building the nets draws their initial weights from torch's global generator before the real ones
            # are loaded: keep the caller's random stream (training dropout, resumes) as it was.
            with torch.random.fork_rng(devices=[]):
                self._mtcnn = MTCNN(
                    min_face_size=self.mtcnn_min_face,
                    thresholds=self.thresholds,
                    keep_all=True,
                    select_largest=False,
                    device=self.device,
                ).eval()
        return self._mtcnn

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The downscaled copy that is detected on (area averaging, as a camera would see a smaller frame)."""
        factor = downscale_factor(frame.shape[0], frame.shape[1], self.long_side)
        if factor >= 1.0:
            return np.array(frame, copy=True)  # a copy: readers may reuse their frame buffer
        size = (max(1, round(frame.shape[1] * factor)), max(1, round(frame.shape[0] * factor)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def detect_prepared(self, small: Sequence[np.ndarray], source_shape: tuple[int, int]) -> list[np.ndarray]:
        """Detect on frames made by :meth:`prepare` from frames of ``source_shape`` (H, W)."""
        if not small:
            return []
        scale_y = source_shape[0] / small[0].shape[0]
        scale_x = source_shape[1] / small[0].shape[1]
        model = self._model()
        results: list[np.ndarray] = []
        with torch_threads(self.num_threads), torch.inference_mode():
            for start in range(0, len(small), self.batch_size):
                batch = np.stack(small[start : start + self.batch_size])
                boxes, probs = model.detect(batch)
                for frame_boxes, frame_probs in zip(boxes, probs):
                    results.append(self._to_source(frame_boxes, frame_probs, scale_x, scale_y))
        return results

    def _to_source(self, boxes, probs, scale_x: float, scale_y: float) -> np.ndarray:
        if boxes is None:
            return np.zeros((0, 5), dtype=np.float32)
        probs = np.asarray(probs, dtype=np.float32)[:, None]
        rows = np.concatenate([np.asarray(boxes, dtype=np.float32), probs], axis=1)
        rows[:, [0, 2]] *= scale_x
        rows[:, [1, 3]] *= scale_y
        rows = filter_detections(rows, self.min_confidence, self.min_size)
        return rows[np.argsort(-rows[:, 4], kind="stable")]

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not len(frames):
            return []
        return self.detect_prepared([self.prepare(frame) for frame in frames], frames[0].shape[:2])
