"""Whole-file result writes that never leave half a file: write a temporary file beside the target, then rename.

``os.replace`` within one folder is atomic on POSIX: a reader (or a rerun after a kill, a full disk or a
Ctrl-C) sees either the previous file or the complete new one, never a truncated mix. The temporary name is
``.<name>.<pid>.tmp<suffix>`` in the target's folder (a rename across file systems would not be atomic; the
suffix stays for writers that choose a format by it, as video muxers do) and is removed when the write fails.
Files keep the permissions a plain ``open`` would give them (umask), unlike ``tempfile.mkstemp``'s 0600.

Every whole-file write of the toolkit goes through here (summary and report JSON, score arrays, HTML reports,
rebuilt logs, configurations, metrics, checkpoints, figures, encoded videos). Files written through a handle are
fsync'ed before the rename, so after a power cut the new name never points at a file whose data did not reach
the disk. Append-only tables are :mod:`core.runs.result_table`. A foundation below every other package, so that
media writers can use it too.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp{target.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write a whole file to (for writers that open files themselves, as video muxers do);
    on a clean exit it replaces ``path``, on an error it is deleted. The target's folder must exist."""
    target = Path(path)
    temporary = _temporary(target)
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", fsync: bool = True, **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing; on a clean exit it replaces ``path``, on an error it is deleted.

    ``mode`` is ``"w"`` (text; ``encoding`` defaults to UTF-8) or ``"wb"``. The target's folder must exist.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as temporary, open(temporary, mode, **open_kwargs) as handle:
        yield handle
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8", newline: str | None = None) -> Path:
    """Like ``Path.write_text`` (``newline=None`` translates ``\\n`` as the platform does), but atomic."""
    with atomic_open(path, "w", encoding=encoding, newline=newline) as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, value: Any, end: str = "", **dumps_kwargs: Any) -> Path:
    """``json.dumps(value, **dumps_kwargs) + end`` written atomically (``end="\\n"`` for a final line break)."""
    return write_text(path, json.dumps(value, **dumps_kwargs) + end)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """``np.save`` atomically, to exactly ``path`` (no ``.npy`` suffix is added)."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(array))
    return Path(path)


def save_checkpoint(state: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically, creating the folder: an interrupted save leaves the previous checkpoint intact.

    Saved through a file handle, so the archive's inner folder is torch's fixed ``archive`` whatever the file's
    name (the bytes of a checkpoint do not depend on where it is written)."""
    import torch  # here: the rest of this module is used by tools that never load torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)
    return path


def save_figure(figure: Any, path: str | os.PathLike, dpi: int) -> Path:
    """A matplotlib figure, atomically, in the format its suffix names (PNG without one); the figure's tight
    layout is applied first."""
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format=Path(path).suffix[1:].lower() or "png", dpi=dpi)
    return Path(path)
