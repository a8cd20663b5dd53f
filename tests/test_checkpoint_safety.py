"""Checkpoint safety: no code runs while loading, one-line errors, official files recognised by hash and role."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

import detect
from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths
from core.avforensics.regressive import AutoregressiveModel
from core.avforensics.sync_arch import SyncArch, build_sync_model, export_sync_model
from core.checkpoint_registry import DIST_MODEL, FEATURE_MODEL, PCA, describe_checkpoint, file_sha256, identify
from core.checkpoints import load_weights, read_checkpoint
from core.cli import run_cli
from core.errors import CheckpointError
from tests.avforensics_factories import FIXTURES, random_pca, random_regressive_model
from tests.shared_fixtures import require

OFFICIAL = ("dist_regressive_model.pth", "avfeature_regressive_model.pth", "pca.pkl")


class WritesMarker:
    """Unpickling this runs ``exec``: with full unpickling, loading a file that holds it writes the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",)


def _error(call, *args) -> str:
    with pytest.raises(CheckpointError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message and message.isprintable()
    return message


def test_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(3), "payload": WritesMarker(marker)}, path)
    message = _error(read_checkpoint, path, "checkpoint")
    assert "Python objects" in message and "exec" in message and str(path) in message
    _error(load_weights, AutoregressiveModel(), path)
    assert not marker.exists()
    # The payload is real: full unpickling (what the loader used to fall back to) runs it.
    torch.load(path, weights_only=False)
    assert marker.read_text() == "code ran"


def test_corrupt_and_foreign_files_give_one_line(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(random_regressive_model(1).state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    assert "corrupt or truncated" in _error(read_checkpoint, truncated)
    assert "not a torch checkpoint" in _error(read_checkpoint, text)
    assert "empty" in _error(load_weights, AutoregressiveModel(), empty, DIST_MODEL)


def test_unknown_random_weights_still_load_and_are_recorded(tmp_path):
    path = tmp_path / "dist_regressive_model.pth"  # the official name, other contents: not the official file
    model = random_regressive_model(3)
    torch.save(model.state_dict(), path)
    record = describe_checkpoint(path, FEATURE_MODEL)  # unknown files are accepted in any role
    assert record == {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "known": None}
    loaded = AutoregressiveModel()
    load_weights(loaded, path)
    assert torch.equal(loaded.lin1.weight, model.lin1.weight)


def test_hash_is_cached_per_file_version(tmp_path, monkeypatch):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"a" * 100)
    first = file_sha256(path)
    calls = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: calls.append(1) or real_sha256(*a))
    assert file_sha256(path) == first and not calls  # second call: from the cache
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(1, 1))  # a rewritten file gets a new modification time
    assert file_sha256(path) == real_sha256(b"b" * 100).hexdigest() and len(calls) == 1
    assert identify(path) is None and len(calls) == 1  # no known file has this size: not hashed at all


def _require_official() -> Path:
    require(*(FIXTURES / name for name in OFFICIAL), what="official audio-visual forensics files")
    return FIXTURES


def test_official_files_are_known_in_their_roles():
    fixtures = _require_official()
    for name, role in zip(OFFICIAL, (DIST_MODEL, FEATURE_MODEL, PCA)):
        record = describe_checkpoint(fixtures / name, role)
        assert record["known"] == name
        assert record["sha256"] == hashlib.sha256((fixtures / name).read_bytes()).hexdigest()


def test_swapped_official_files_are_refused(tmp_path, capsys):
    fixtures = _require_official()
    dist, feature, pca = (fixtures / name for name in OFFICIAL)
    message = _error(describe_checkpoint, dist, FEATURE_MODEL)
    assert "dist_regressive_model.pth" in message and DIST_MODEL in message
    assert "avfeature_regressive_model.pth" in _error(describe_checkpoint, feature, DIST_MODEL)
    assert "pca.pkl" in _error(describe_checkpoint, pca, DIST_MODEL)
    # detect.py: both models swapped -> one error line before any work (the sync model is never read).
    sync = tmp_path / "sync_model.pth"
    sync.write_bytes(b"unused")
    code = run_cli(
        detect.main,
        detect.get_args_parser(),
        [
            "--test_video_path",
            str(fixtures / "test.mp4"),
            "--device",
            "cpu",
            "--output_dir",
            str(tmp_path / "out"),
            "--sync_model_path",
            str(sync),
            "--dist_model_path",
            str(feature),
            "--avfeature_model_path",
            str(dist),
            "--pca_path",
            str(pca),
        ],
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "official avfeature_regressive_model.pth" in err[0]
    assert not (tmp_path / "out").exists()


def test_detector_records_what_it_loaded(tmp_path):
    fixtures = _require_official()
    torch.manual_seed(0)
    export_sync_model(build_sync_model(SyncArch(32, 16)), tmp_path / "sync_model.pth", SyncArch(32, 16), {})
    random_pca(seed=2).save_npz(tmp_path / "pca.npz")
    detector = AVForensicsDetector.from_checkpoints(
        CheckpointPaths(
            tmp_path / "sync_model.pth", fixtures / OFFICIAL[0], fixtures / OFFICIAL[1], tmp_path / "pca.npz"
        )
    )
    records = detector.checkpoint_records
    assert records["dist_regressive_model"]["known"] == OFFICIAL[0]
    assert records["avfeature_regressive_model"]["known"] == OFFICIAL[1]
    assert records["pca"]["known"] is None and records["pca"]["path"] == str(tmp_path / "pca.npz")
