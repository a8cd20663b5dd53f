"""The rule for the shared real-data fixtures: a local run skips without them, CI (CI=true) fails."""

from __future__ import annotations

import pytest

from tests.shared_fixtures import require


def test_a_missing_fixture_skips_locally_and_fails_in_ci(tmp_path, monkeypatch):
    present, missing = tmp_path / "clip.mp4", tmp_path / "gone.pth"
    present.write_bytes(b"x")
    monkeypatch.delenv("CI", raising=False)
    assert require(present, what="clip") == present
    with pytest.raises(pytest.skip.Exception, match="gone.pth"):
        require(present, missing, what="checkpoints")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require(present, missing, what="checkpoints")
