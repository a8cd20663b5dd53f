"""The real data the tests share, and one rule for its absence.

The fixtures live beside the repository in ``../shared/fixtures`` (never copied into it): the authors'
audio-visual checkpoints and PCA, and ``avforensics/test.mp4``, a real 5.4 s talking-face clip. A local run
without them skips the tests that need them, with a reason naming the path. In CI (``CI=true`` in the
environment) a missing fixture fails those tests instead: a CI run must not turn green by skipping every test
on real data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
AVFORENSICS = SHARED / "avforensics"
FIXTURE_VIDEO = AVFORENSICS / "test.mp4"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def require(*paths: Path, what: str) -> Path:
    """The first of ``paths`` when they are all files; otherwise skip the test (fail it in CI)."""
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        reason = f"{what} not found at {missing[0]} (see ../shared/fixtures)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true: the shared fixtures must be there", pytrace=False)
        pytest.skip(reason)
    return Path(paths[0])
