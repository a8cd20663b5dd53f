"""The official AIGVDet dataset layout, and writing frames and flow images into it.

``<root>/0_real/<video>/<frame>.png|jpg|JPEG`` and ``<root>/1_fake/<video>/...``; an RGB root and an
optical-flow root mirror each other, the flow folder of a video holding one image per consecutive pair
named after the pair's first frame. Frames are ``frame_00000.png``... as AIGVDet's demo writes them.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.media.sources import CLASS_FOLDERS

FRAME_NAME = "frame_{:05d}"
# The reference globs exactly these patterns (case-sensitive), concatenated, then sorts the paths.
IMAGE_PATTERNS = ("*.jpg", "*.png", "*.JPEG")


def list_images(folder: str | os.PathLike) -> list[str]:
    """Image files of a video folder in the reference's order: sorted(glob jpg + png + JPEG)."""
    found: list[str] = []
    for pattern in IMAGE_PATTERNS:
        found += glob.glob(os.path.join(glob.escape(str(folder)), pattern))
    return sorted(found)


@dataclass(frozen=True)
class VideoFolders:
    """One video of a dataset: its name, label (0 real, 1 fake) and its RGB and flow folders."""

    name: str
    label: int
    rgb_dir: Path
    flow_dir: Path


def find_videos(rgb_root: str | os.PathLike, flow_root: str | os.PathLike) -> list[VideoFolders]:
    """Videos under ``rgb_root/{0_real,1_fake}/`` (sorted by name), paired with their flow folders.

    The flow folder may be missing; callers decide what to do with such a video.
    """
    rgb_root, flow_root = Path(rgb_root), Path(flow_root)
    if not rgb_root.is_dir():
        raise InputError(f"RGB frame root not found: {rgb_root}")
    videos = []
    for label, class_folder in enumerate(CLASS_FOLDERS):
        class_dir = rgb_root / class_folder
        if not class_dir.is_dir():
            continue
        for entry in sorted(class_dir.iterdir()):
            if entry.is_dir():
                videos.append(VideoFolders(entry.name, label, entry, flow_root / class_folder / entry.name))
    return videos


class FrameFlowWriter:
    """Writes RGB frames and flow images with the reference demo's names and encoding.

    Frames: RGB arrays reversed to BGR for ``cv2.imwrite``, as the reference writes its BGR frames.
    Flows: the reference hands ``cv2.imwrite`` the RGB colour picture; given the classifier's pixels (that
    picture reversed, see ``core.flow.visualize``), we reverse them back so the files are identical.
    Either folder may be None (nothing written there).
    """

    def __init__(self, rgb_dir=None, flow_dir=None, extension: str = ".png") -> None:
        import cv2

        self._imwrite = cv2.imwrite
        self.extension = extension if extension.startswith(".") else f".{extension}"
        self.rgb_dir = Path(rgb_dir) if rgb_dir else None
        self.flow_dir = Path(flow_dir) if flow_dir else None
        for folder in (self.rgb_dir, self.flow_dir):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)

    @property
    def writes_flows(self) -> bool:
        return self.flow_dir is not None

    def _write(self, folder: Path, first_index: int, images: list[np.ndarray]) -> None:
        for offset, image in enumerate(images):
            target = folder / (FRAME_NAME.format(first_index + offset) + self.extension)
            if not self._imwrite(str(target), image):
                raise InputError(f"cannot write {target}")

    def write_frames(self, first_index: int, frames_rgb: list[np.ndarray]) -> None:
        if self.rgb_dir is not None:
            self._write(self.rgb_dir, first_index, [f[..., ::-1] for f in frames_rgb])

    def write_flows(self, first_index: int, classifier_rgb: list[np.ndarray]) -> None:
        if self.flow_dir is not None:
            self._write(self.flow_dir, first_index, [f[..., ::-1] for f in classifier_rgb])
