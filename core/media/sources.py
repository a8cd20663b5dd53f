"""Where videos come from: one video, a folder laid out by class, or a list file with an optional label column.

One parser for every command that takes many videos (AIGVDet's ``prepare``, ``detect.py``, the audio-visual
trainers):

* a path whose suffix is a video suffix is that one video (it need not exist yet: whoever decodes it
  records "file not found" for that entry, so one bad line never stops a batch);
* a folder holds ``0_real/`` and ``1_fake/`` sub-folders of videos (labels 0 and 1);
* any other file is a list: one video per line, relative to the list file's folder; blank lines and ``#``
  comments are skipped; a line may end with a label (``0``/``1``/``real``/``fake``) after whitespace.
  Paths may contain spaces: the last word is a label only when it is one of those values.

With ``subsets`` (batch scoring with per-subset metrics): class folders are searched recursively and a
video's subset is its folder below the class folder (``1_fake/sora/x.mp4``: ``sora``; directly inside:
none); a list line may end with ``LABEL SUBSET``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError

CLASS_FOLDERS = ("0_real", "1_fake")  # label = index; AIGVDet's dataset layout, also accepted for raw videos
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".gif", ".3gp", ".ts"}
)
LABELS = {"0": 0, "real": 0, "0_real": 0, "1": 1, "fake": 1, "1_fake": 1}


@dataclass(frozen=True)
class VideoEntry:
    """One video of a source; ``label`` is 0 (real), 1 (fake) or None (not given)."""

    path: Path
    label: int | None = None
    subset: str | None = None  # e.g. the generator of a fake video, for per-subset metrics

    @property
    def name(self) -> str:
        """The file name without its suffix (a video's folder name in AIGVDet's dataset layout)."""
        return self.path.stem


def _list_file_entries(source: Path, subsets: bool = False) -> list[VideoEntry]:
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        return [VideoEntry(source)]  # not text: let the decoder judge it as a video
    entries = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        label, subset = None, None
        three = line.rsplit(None, 2)
        if subsets and len(three) == 3 and three[1].lower() in LABELS and three[2].lower() not in LABELS:
            line, label, subset = three[0], LABELS[three[1].lower()], three[2]
        else:
            parts = line.rsplit(None, 1)
            if len(parts) == 2 and parts[1].lower() in LABELS:
                line, label = parts[0], LABELS[parts[1].lower()]
        path = Path(line).expanduser()
        entries.append(VideoEntry(path if path.is_absolute() else source.parent / path, label, subset))
    if not entries:
        raise InputError(f"list file {source} names no video")
    return entries


def _subset(folder: Path, path: Path) -> str | None:
    parent = path.parent.relative_to(folder)
    return None if parent == Path(".") else parent.as_posix()


def _class_folder_entries(source: Path, subsets: bool = False) -> list[VideoEntry]:
    entries = [
        VideoEntry(path, label, _subset(source / class_folder, path))
        for label, class_folder in enumerate(CLASS_FOLDERS)
        if (source / class_folder).is_dir()
        for path in sorted((source / class_folder).rglob("*") if subsets else (source / class_folder).iterdir())
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
    ]
    if not entries:
        raise InputError(f"no videos found in {source}/0_real or {source}/1_fake")
    return entries


def read_video_list(source: str | os.PathLike, require_labels: bool = False, subsets: bool = False) -> list[VideoEntry]:
    """The videos of ``source`` (see the module docstring), in order; with ``require_labels`` every entry needs one."""
    source = Path(source)
    if source.suffix.lower() in VIDEO_SUFFIXES and not source.is_dir():
        entries = [VideoEntry(source)]
    elif source.is_dir():
        entries = _class_folder_entries(source, subsets)
    elif source.is_file():
        entries = _list_file_entries(source, subsets)
    else:
        raise InputError(f"no such video, folder or list file: {source}")
    if require_labels:
        unlabelled = [str(entry.path) for entry in entries if entry.label is None]
        if unlabelled:
            raise InputError(
                f"{source}: every video needs a label (a folder with 0_real/ and 1_fake/, or 'PATH LABEL' lines "
                f"with LABEL 0/1/real/fake); none for {', '.join(unlabelled[:3])}"
                f"{' ...' if len(unlabelled) > 3 else ''}"
            )
    return entries
