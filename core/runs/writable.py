"""Check, before any work starts, that an output file or folder can be written: fail in one line, not after hours.

Nothing is created: the nearest existing folder on the way to the output must be a folder (not a regular
file, e.g. ``notes.txt/out``) in which a probe file can be created and removed, and an existing output
file must open for appending (which leaves it unchanged). Permission bits alone are not trusted: as root
``os.access`` says yes to everything, so the probe is an actual write.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import ToolkitError


class OutputNotWritable(ToolkitError):
    """An output location that cannot be written (the message names it and why)."""


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _probe_folder(folder: Path, target: Path, what: str) -> None:
    if not folder.is_dir():
        raise OutputNotWritable(f"cannot write {what} {target}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputNotWritable(f"cannot write {what} {target}: {folder}: {exc.strerror or exc}") from None


def require_writable_file(path: str | os.PathLike, what: str = "output") -> Path:
    """Raise :class:`OutputNotWritable` unless the file ``path`` can be created or appended to."""
    target = Path(path)
    if target.is_dir():
        raise OutputNotWritable(f"cannot write {what} {target}: it is a folder")
    if target.exists():
        try:
            with open(target, "ab"):
                pass
        except OSError as exc:
            raise OutputNotWritable(f"cannot write {what} {target}: {exc.strerror or exc}") from None
    # Atomic writes create a temporary file beside the target: its folder must take new files too.
    _probe_folder(_nearest_existing(target.parent), target, what)
    return target


def require_writable_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Raise :class:`OutputNotWritable` unless files can be created in the folder ``path`` (made if missing)."""
    target = Path(path)
    _probe_folder(_nearest_existing(target), target, what)
    return target
