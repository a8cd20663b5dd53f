"""Where videos to prepare come from: a folder laid out by class, or a list file with labels."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.data.layout import CLASS_FOLDERS
from core.errors import InputError

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".gif"}
LABELS = {"0": 0, "real": 0, "0_real": 0, "1": 1, "fake": 1, "1_fake": 1}


@dataclass(frozen=True)
class VideoItem:
    path: Path
    label: int  # 0 real, 1 fake

    @property
    def name(self) -> str:
        """Folder name of the video in the dataset layout: its file name without the extension."""
        return self.path.stem


def read_video_list(source: str | os.PathLike) -> list[VideoItem]:
    """Videos of ``source``: ``<dir>/0_real/*`` and ``<dir>/1_fake/*``, or a text file of ``path label`` lines
    (blank lines and ``#`` comments skipped; relative paths are relative to the list file)."""
    source = Path(source)
    if source.is_dir():
        items = [
            VideoItem(path, label)
            for label, class_folder in enumerate(CLASS_FOLDERS)
            if (source / class_folder).is_dir()
            for path in sorted((source / class_folder).iterdir())
            if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS
        ]
        if not items:
            raise InputError(f"no videos found in {source}/0_real or {source}/1_fake")
    elif source.is_file():
        items = []
        for number, raw in enumerate(source.read_text().splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.rsplit(None, 1)
            if len(parts) != 2 or parts[1].lower() not in LABELS:
                raise InputError(f"{source}:{number}: expected 'PATH LABEL' with LABEL 0/1/real/fake, got {line!r}")
            path = Path(parts[0])
            items.append(VideoItem(path if path.is_absolute() else source.parent / path, LABELS[parts[1].lower()]))
    else:
        raise InputError(f"video folder or list not found: {source}")
    clashes = [key for key, count in Counter((i.label, i.name) for i in items).items() if count > 1]
    if clashes:
        names = ", ".join(f"{CLASS_FOLDERS[label]}/{name}" for label, name in clashes)
        raise InputError(f"several videos would share an output folder: {names}; rename them")
    return items
