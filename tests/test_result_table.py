"""The resumable results table and the atomic whole-file writes (core.runs.result_table, core.atomic)."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
import torch

from core import atomic
from core.runs.result_table import ResultTable, SettingsMismatch, file_fingerprint, settings_differences, settings_path

COLUMNS = ["path", "track", "score", "status"]
SETTINGS = {"model": {"sha256": "ab" * 32, "size": 10}, "lam": 0.0, "max_len": 50}


def _open(path, settings=SETTINGS, **kwargs) -> ResultTable:
    return ResultTable(path, COLUMNS, ["path", "track"], settings, **kwargs)


def test_rows_are_on_disk_as_soon_as_appended_and_a_fresh_table_is_plain_csv(tmp_path):
    path = tmp_path / "out" / "scores.csv"
    table = _open(path)
    table.append({"path": "a b.mp4", "track": "none", "score": repr(0.1 + 0.2), "status": "ok"})
    table.append(["c,d.mp4", "none", "nan", 'failed: "quoted"'])
    # Not closed: the rows must already be in the file (another process reading it sees them).
    assert path.read_bytes() == (
        b'path,track,score,status\r\na b.mp4,none,0.30000000000000004,ok\r\n"c,d.mp4",none,nan,"failed: ""quoted"""\r\n'
    )
    table.close()
    record = json.loads(settings_path(path).read_text())
    assert record["settings"] == SETTINGS and record["columns"] == COLUMNS


def test_rerun_with_the_same_settings_skips_what_is_done_and_keeps_appending(tmp_path):
    path = tmp_path / "scores.csv"
    with _open(path) as table:
        table.append_rows([["a.mp4", "0", "1.5", "ok"], ["a.mp4", "1", "2.5", "ok"]])
    with _open(path) as table:
        assert table.resumed and [r["score"] for r in table.rows] == ["1.5", "2.5"]
        assert table.done_before(("a.mp4", "0")) and table.done_before(["a.mp4", 1])
        assert not table.done_before(("b.mp4", "0"))
        table.append(["b.mp4", "0", "3.5", "ok"])
        assert not table.done_before(("b.mp4", "0"))  # only earlier runs count: duplicates in one run are rows
    with _open(path) as table:
        assert [r["path"] for r in table.rows] == ["a.mp4", "a.mp4", "b.mp4"]
        assert table.done_before(("b.mp4", "0"))


def test_a_half_written_last_line_after_a_kill_is_dropped_on_reopen(tmp_path):
    path = tmp_path / "scores.csv"
    with _open(path) as table:
        table.append(["a.mp4", "none", "1.5", "ok"])
    complete = path.read_bytes()
    path.write_bytes(complete + b"b.mp4,none,2.")  # what a kill in the middle of a write leaves
    with _open(path) as table:
        assert [r["path"] for r in table.rows] == ["a.mp4"]
        assert not table.done_before(("b.mp4", "none"))
        table.append(["b.mp4", "none", "2.5", "ok"])
    assert path.read_bytes() == complete + b"b.mp4,none,2.5,ok\r\n"
    # Killed before even the header was complete: started again.
    path.write_bytes(b"path,tra")
    with _open(path) as table:
        assert table.rows == []
    assert path.read_bytes() == b"path,track,score,status\r\n"


def test_other_settings_are_refused_in_one_line_and_overwrite_starts_over(tmp_path):
    path = tmp_path / "scores.csv"
    with _open(path) as table:
        table.append(["a.mp4", "none", "1.5", "ok"])
    before = path.read_bytes()
    other = {**SETTINGS, "lam": 1.0, "model": {"sha256": "cd" * 32, "size": 10}}
    with pytest.raises(SettingsMismatch) as caught:
        _open(path, other)
    message = str(caught.value)
    assert "\n" not in message and "lam: 0.0 -> 1.0" in message and "model.sha256" in message
    assert path.read_bytes() == before  # refused: nothing touched
    with _open(path, other, overwrite=True) as table:
        assert table.rows == [] and not table.resumed
    assert path.read_bytes() == b"path,track,score,status\r\n"
    assert json.loads(settings_path(path).read_text())["settings"]["lam"] == 1.0


def test_a_table_without_its_settings_record_or_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("path,score\nold.mp4,1.0\n")
    with pytest.raises(SettingsMismatch, match="no settings record"):
        _open(path)
    with _open(path, overwrite=True) as table:
        table.append(["a.mp4", "none", "1.5", "ok"])
    with pytest.raises(SettingsMismatch, match="columns"):
        ResultTable(path, ["path", "score"], ["path"], SETTINGS)


def test_a_table_without_rows_is_started_again_with_new_settings(tmp_path):
    # A run that failed before its first item (a wrong option) must not block the corrected rerun.
    path = tmp_path / "scores.csv"
    _open(path).close()
    with _open(path, {**SETTINGS, "lam": 2.0}) as table:
        assert not table.resumed
    assert json.loads(settings_path(path).read_text())["settings"]["lam"] == 2.0


def test_retain_drops_rows_atomically_and_they_count_as_not_done(tmp_path):
    path = tmp_path / "scores.csv"
    with _open(path) as table:
        table.append_rows([["a.mp4", "0", "1", "ok"], ["b.mp4", "0", "2", "ok"]])
    with _open(path) as table:
        assert table.retain(lambda row: row["path"] != "b.mp4") == 1
        assert not table.done_before(("b.mp4", "0")) and table.done_before(("a.mp4", "0"))
        table.append(["c.mp4", "0", "3", "ok"])
    assert path.read_text().splitlines() == ["path,track,score,status", "a.mp4,0,1,ok", "c.mp4,0,3,ok"]


def test_file_fingerprint_is_the_hash_and_size_so_a_moved_copy_matches(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"12345")
    expected = {"sha256": hashlib.sha256(b"12345").hexdigest(), "size": 5}
    assert file_fingerprint(weights) == expected
    (tmp_path / "moved").mkdir()
    assert file_fingerprint(weights.rename(tmp_path / "moved" / "w.pth")) == expected


def test_a_table_whose_record_names_files_by_path_and_time_still_resumes(tmp_path):
    """Tables written before every file was fingerprinted by its hash (score.py's, a calibration in detect.py's)
    resume while the recorded file is unchanged; a changed file is another setting."""
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"12345")
    stat = weights.stat()
    earlier = {"path": str(weights.resolve()), "size": 5, "mtime_ns": stat.st_mtime_ns}
    path = tmp_path / "scores.csv"
    with _open(path, {**SETTINGS, "model": earlier}) as table:
        table.append(["a.mp4", "none", "1.5", "ok"])
    with _open(path, {**SETTINGS, "model": file_fingerprint(weights)}) as table:
        assert table.resumed and table.done_before(("a.mp4", "none"))
    assert settings_differences({"model": file_fingerprint(weights)}, {"model": earlier}) == []  # either way round
    weights.write_bytes(b"54321")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(SettingsMismatch, match="model"):
        _open(path, {**SETTINGS, "model": file_fingerprint(weights)})


def test_checkpoints_are_saved_atomically_and_independently_of_their_name(tmp_path):
    state = {"weight": torch.arange(4.0)}
    first = atomic.save_checkpoint(state, tmp_path / "a" / "model.pth")
    second = atomic.save_checkpoint(state, tmp_path / "other.pth")
    assert first.read_bytes() == second.read_bytes()
    assert torch.equal(torch.load(first)["weight"], state["weight"])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["model.pth"]


def test_atomic_writes_replace_whole_files_and_leave_nothing_on_failure(tmp_path):
    target = tmp_path / "report.json"
    atomic.write_json(target, {"a": 1}, indent=2)
    assert target.read_text() == json.dumps({"a": 1}, indent=2)
    with pytest.raises(RuntimeError):
        with atomic.atomic_open(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == json.dumps({"a": 1}, indent=2)  # the old file survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind
    atomic.write_json(tmp_path / "line.json", [1], end="\n")
    assert (tmp_path / "line.json").read_text() == "[1]\n"
    atomic.save_npy(tmp_path / "scores.npy", np.arange(3.0))
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), np.arange(3.0))
    atomic.write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(OSError):  # a path under a regular file cannot be written
        atomic.write_text(tmp_path / "b.bin" / "x.txt", "x")
