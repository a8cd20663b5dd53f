"""Weight-free optical flow with OpenCV (DIS or Farneback), for people without RAFT weights.

NOT the distribution AIGVDet's official flow branch was trained on: its images come from RAFT. Use it
to train and evaluate your own flow branch end to end, never to score with the official ``optical.pth``.
Same interface as ``FlowExtractor`` (``reset``/``push``) and the same padded output size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from core.flow.padding import pad_to_multiple_of_8

METHODS = ("dis", "farneback")


class ClassicalFlow:
    """Consecutive-pair flow of a frame stream with an OpenCV method, on CPU."""

    def __init__(self, method: str = "dis", device: str | torch.device = "cpu") -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        # OpenCV computes on the CPU; ``device`` is where callers keep frames and classifiers.
        self.device = torch.device(device)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None
        self.reset()

    def reset(self) -> None:
        self._previous: np.ndarray | None = None

    def _pair(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        if self._dis is not None:
            return self._dis.calc(first, second, None)
        return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, 15, 3, 5, 1.2, 0)

    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) RGB frames -> flows (M, 2, H', W') of the pairs they complete, padded like RAFT's."""
        padded = pad_to_multiple_of_8(frames.float()).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        flows = []
        for frame in padded:
            gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
            if self._previous is not None:
                flows.append(torch.from_numpy(self._pair(self._previous, gray)).permute(2, 0, 1))
            self._previous = gray
        if not flows:
            return torch.zeros((0, 2, *padded.shape[1:3]))
        return torch.stack(flows)
