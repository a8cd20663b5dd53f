"""One loader for every official and home-made checkpoint layout.

Accepted layouts: a bare state dict; ``{"model": state_dict, ...}`` (AIGVDet's trainer, ours);
``{"state_dict": ...}``; keys prefixed with ``module.`` (saved from ``DataParallel``/DDP). Loading is
strict: every missing, unexpected or mis-shaped key is named in the error, never silently skipped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from core.errors import CheckpointError

log = logging.getLogger(__name__)

# Where the authors publish each official file; shown when one is missing.
WEIGHT_SOURCES: dict[str, str] = {
    "raft-things.pth": "RAFT weights from princeton-vl/RAFT (download_models.sh, or the Google Drive "
    "folder linked in its README: https://drive.google.com/drive/folders/1sWDsfuZ3Up38EUQt7-JDTT1HcGHuJgvT)",
    "raft-small.pth": "RAFT-small weights from princeton-vl/RAFT (download_models.sh, or the Google Drive "
    "folder linked in its README: https://drive.google.com/drive/folders/1sWDsfuZ3Up38EUQt7-JDTT1HcGHuJgvT)",
    "original.pth": "AIGVDet RGB-branch weights from multimediaFor/AIGVDet (Google Drive folder in its README: "
    "https://drive.google.com/drive/folders/18JO_YxOEqwJYfbVvy308XjoV-N6fE4yP)",
    "optical.pth": "AIGVDet optical-flow-branch weights from multimediaFor/AIGVDet (Google Drive folder in its "
    "README: https://drive.google.com/drive/folders/18JO_YxOEqwJYfbVvy308XjoV-N6fE4yP)",
    "sync_model.pth": "audio-visual synchronisation model from cfeng16/audio-visual-forensics (Google Drive: "
    "https://drive.google.com/file/d/1BxaPiZmpiOJDsbbq8ZIDHJU7--RJE7Br)",
    "dist_regressive_model.pth": "offset-distribution autoregressive model, in the repository "
    "cfeng16/audio-visual-forensics (file dist_regressive_model.pth)",
    "avfeature_regressive_model.pth": "audio-visual-feature autoregressive model, in the repository "
    "cfeng16/audio-visual-forensics (file avfeature_regressive_model.pth)",
    "pca.pkl": "PCA of audio-visual features, in the repository cfeng16/audio-visual-forensics (file pca.pkl)",
}
# AIGVDet's README also uses *_aug.pth names for the augmentation-trained weights.
WEIGHT_SOURCES["original_aug.pth"] = WEIGHT_SOURCES["original.pth"]
WEIGHT_SOURCES["optical_aug.pth"] = WEIGHT_SOURCES["optical.pth"]

_NESTED_KEYS = ("model", "state_dict", "model_state_dict", "net")
_SHOW = 8  # keys named per category in an error message


def require_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise a CheckpointError saying which file is needed and where to get it."""
    path = Path(path)
    if path.is_file():
        return path
    source = WEIGHT_SOURCES.get(path.name)
    hint = f"; get it from the {source} and put it there (or pass its path)" if source else ""
    raise CheckpointError(f"{what} not found: {path}{hint}")


def read_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """Load a ``.pth`` file on the CPU with ``weights_only=True``: tensors and plain containers, never code.

    There is no fallback to full unpickling: a pickle can run any code while it loads. A file that does
    not load raises one CheckpointError line saying whether it is corrupt, not a torch file, or holds
    Python objects we refuse to unpickle.
    """
    path = require_file(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- every failure becomes one line naming the file
        raise CheckpointError(f"cannot read {what} {path}: {_load_failure(path, exc)}") from None


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format is a zip archive
_PICKLE_PROTOCOL = b"\x80"  # the legacy format (and plain pickles) start with a pickle protocol opcode
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _load_failure(path: Path, exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in one line."""
    message = " ".join(str(exc).split())
    if isinstance(exc, pickle.UnpicklingError) and "GLOBAL" in message:
        found = _REFUSED_GLOBAL.search(message)
        named = f" ({found.group(1)})" if found else ""
        return (
            f"it holds Python objects{named} that loading would have to run, which we refuse; if you trust "
            "the file, load it yourself and re-save only its state dict with torch.save"
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        return "the file is empty"
    first = "".join(c if c.isprintable() else "?" for c in message.split(". ")[0])[:200]  # torch adds advice after
    detail = f"{exc.__class__.__name__}: {first}"
    if head.startswith(_ZIP_MAGIC):
        return f"the torch file is corrupt or truncated ({detail})"
    if head.startswith(_PICKLE_PROTOCOL):
        return f"corrupt, or a pickle that is not a torch checkpoint ({detail})"
    return f"not a torch checkpoint (it starts with bytes {head!r})"


def extract_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Find the state dict in any supported layout and strip ``module.`` prefixes."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"expected a state dict, found a {type(obj).__name__}")
    for key in _NESTED_KEYS:
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    state = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            continue
        state[key[len("module.") :] if key.startswith("module.") else key] = value
    if not state:
        raise CheckpointError("the checkpoint holds no tensors")
    return state


def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` into ``model``; on any mismatch raise one CheckpointError naming the keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
        if keys:
            more = f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
            problems.append(f"{len(keys)} {label}: {', '.join(keys[:_SHOW])}{more}")
    if problems:
        raise CheckpointError(
            f"{source} does not fit {type(model).__name__}"
            f"{' (' + model.describe() + ')' if hasattr(model, 'describe') else ''}: " + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True)


def load_weights(model: nn.Module, path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """Load a checkpoint file into ``model`` strictly; return the raw checkpoint object (for metadata)."""
    raw = read_checkpoint(path, what)
    try:
        state = extract_state_dict(raw)
    except CheckpointError as exc:
        raise CheckpointError(f"{what} {path}: {exc}") from None
    load_state_dict_strict(model, state, f"{what} {path}")
    return raw


_HASHES: dict[tuple[str, int, int], str] = {}
_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, computed once per process for each (path, size, modification time).

    The one identity of a checkpoint (or any file a result depends on) in run records and in resumable tables'
    settings (:func:`core.runs.result_table.file_fingerprint`).
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]
