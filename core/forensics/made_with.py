"""What a result was made with, so a report can be traced: versions, the toolkit's commit, files' SHA-256."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from core.checkpoint_registry import file_sha256

log = logging.getLogger(__name__)

TOOLKIT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("torch", "torchvision", "numpy", "av", "opencv-python-headless", "scikit-learn", "matplotlib")


def toolkit_commit(root: str | os.PathLike = TOOLKIT_ROOT) -> dict[str, Any] | None:
    """``{"commit", "modified"}`` of the toolkit's git checkout (``modified``: tracked files differ from the
    commit); None when it is not a git checkout or git is missing."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", os.fspath(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        modified = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified": modified}


def versions() -> dict[str, Any]:
    """The toolkit's commit, Python's version and platform, and the installed versions of the main packages."""
    installed = {}
    for package in PACKAGES:
        try:
            installed[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed[package] = None
    return {
        "toolkit": toolkit_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": installed,
    }


def file_record(role: str, path: str | os.PathLike) -> dict[str, Any]:
    """``{"role", "path", "sha256", "bytes"}`` of a file the result depends on (a checkpoint, a calibration)."""
    return {
        "role": role,
        "path": os.fspath(path),
        "sha256": file_sha256(path),
        "bytes": Path(path).stat().st_size,
    }
