"""Videos held in memory: a perturbed copy is scored without writing a file.

A :class:`InMemoryVideo` is a whole container (e.g. QuickTime) as bytes plus the path it stands for. The media
readers accept it wherever they accept a path: PyAV opens it from a ``BytesIO``; OpenCV cannot, so the AIGVDet
reader uses PyAV for it. ``name`` is what results tables and logs show (the original path), so a perturbed
copy reads as its source. It is deliberately not path-like (no ``__fspath__``): code that would open
``name`` from disk, and so silently read the unperturbed original, fails instead.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import av

from core.errors import InputError


@dataclass(frozen=True)
class InMemoryVideo:
    name: str  # the path it stands for (outputs, logs)
    data: bytes  # a whole container
    description: str = ""  # what was done to it, e.g. "jpeg:50"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"InMemoryVideo({self.name!r}, {len(self.data)} bytes, {self.description!r})"


VideoSource = Union[str, os.PathLike, InMemoryVideo]


def source_name(source: VideoSource) -> str:
    """The path a source stands for, as a string."""
    return source.name if isinstance(source, InMemoryVideo) else os.fspath(source)


def source_path(source: VideoSource) -> Path:
    """The path a source stands for (for file names derived from it: stems, suffixes)."""
    return Path(source_name(source))


def check_source(source: VideoSource) -> None:
    """Raise InputError ("file not found" / "not a file") for a path that cannot be read; in-memory is fine."""
    if isinstance(source, InMemoryVideo):
        return
    path = Path(source)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file")


def open_container(source: VideoSource) -> av.container.InputContainer:
    """PyAV's container for a path or an in-memory video."""
    if isinstance(source, InMemoryVideo):
        return av.open(io.BytesIO(source.data), mode="r")
    return av.open(os.fspath(source))
