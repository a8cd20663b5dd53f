"""Known official checkpoint files, recognised by their SHA-256, so a file given in the wrong role is refused.

The two autoregressive models of the audio-visual detector share one architecture: the distribution model
loads without complaint where the feature model belongs (and the reverse), and the detector then computes
wrong scores (reported: 1.06 instead of 2.36 on a real clip). Shapes cannot catch that; the file's hash can.

``describe_checkpoint(path, role)`` returns ``{"path", "sha256", "known"}`` (``known``: the official name, or
None for any other file, which still loads) and raises a CheckpointError when the file is a known official
file of another role. Hashes (:func:`core.checkpoints.file_sha256`) are cached per (path, size, mtime) for the life
of the process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.checkpoints import WEIGHT_SOURCES, file_sha256, require_file
from core.errors import CheckpointError

log = logging.getLogger(__name__)

# Roles: what a loader expects a file to be (one per loading call site).
DIST_MODEL = "offset-distribution autoregressive model"
FEATURE_MODEL = "audio-visual-feature autoregressive model"
PCA = "PCA file"


@dataclass(frozen=True)
class KnownFile:
    name: str  # the authors' file name
    sha256: str
    size: int  # bytes; a file of any other size is not this one, so most files need no hashing to identify
    role: str
    source: str  # where the authors publish it


def _known(name: str, sha256: str, size: int, role: str) -> KnownFile:
    return KnownFile(name, sha256, size, role, WEIGHT_SOURCES[name])


# Files from cfeng16/audio-visual-forensics as published (hashes of the copies in the shared test fixtures).
KNOWN_FILES: tuple[KnownFile, ...] = (
    _known(
        "dist_regressive_model.pth",
        "e9158714f334688c95ce725e4c56d0bc5b7dc5cd4d7e275cfcb22d69fc873971",
        3319816,
        DIST_MODEL,
    ),
    _known(
        "avfeature_regressive_model.pth",
        "8ee382e4d4dc915fabe78bfc39fd971efa5935b476cd8498a103c47589b79d39",
        3319944,
        FEATURE_MODEL,
    ),
    _known("pca.pkl", "41a6f56615b220fb98ea160aaacf06bf1db4fad5b64a35f51598d504352237f7", 288749, PCA),
)


def identify(path: str | os.PathLike) -> KnownFile | None:
    """The known official file ``path`` is, or None; only files of a known file's size are hashed."""
    size = Path(path).stat().st_size
    candidates = [k for k in KNOWN_FILES if k.size == size]
    if not candidates:
        return None
    digest = file_sha256(path)
    return next((k for k in candidates if k.sha256 == digest), None)


def check_role(path: str | os.PathLike, role: str) -> KnownFile | None:
    """Raise a CheckpointError if ``path`` is a known official file made for another role; return what it is."""
    known = identify(path)
    if known is not None and known.role != role:
        raise CheckpointError(
            f"{path} is the official {known.name} (the {known.role}), not the {role}; files swapped between "
            "roles can load without error and give wrong scores"
        )
    return known


def describe_checkpoint(path: str | os.PathLike, role: str) -> dict[str, Any]:
    """Check the role, then return ``{"path", "sha256", "known"}`` for the run's records.

    ``known`` is the official file's name when the hash matches one, else None (the file still loads).
    """
    known = check_role(require_file(path, role), role)
    record = {"path": str(path), "sha256": file_sha256(path), "known": known.name if known else None}
    if known is not None:
        log.info("%s: the official %s (sha256 verified)", path, known.name)
    return record
