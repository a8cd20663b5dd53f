"""The upload matrix: every kind of file in ``tests/uploads.py`` through detect.py (default, and whole video with
every face), demo.py, report.py and score.py. Each gives a score or one line saying what it cannot do; never a
``failed: <Python exception>`` status. Random small weights; the files are made once per module."""

from __future__ import annotations

import csv
import json
import math

import pytest

import demo
import detect
import report
import score
from core.cli import run_cli
from tests.avforensics_factories import save_small_av_checkpoints
from tests.factories import demo_argv
from tests.shared_fixtures import FIXTURE_VIDEO, in_ci, require
from tests.uploads import UPLOAD_KINDS, _count, make_all

# Encodes a dozen kinds of file and runs four scripts on each (its three slowest setups took 50 s in one full run).
pytestmark = pytest.mark.slow

KINDS = list(UPLOAD_KINDS)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict:
    if in_ci():  # most kinds are made from the fixture clip: CI must not skip them
        require(FIXTURE_VIDEO, what="face fixture clip")
    made = make_all(tmp_path_factory.mktemp("uploads"))
    if all(isinstance(v, str) for v in made.values()):
        pytest.skip(next(iter(made.values())))
    return made


def upload(uploads, kind):
    made = uploads[kind]
    if isinstance(made, str):
        pytest.skip(f"{kind}: {made}")
    return made


@pytest.fixture(scope="module")
def av_flags(tmp_path_factory) -> list[str]:
    return save_small_av_checkpoints(tmp_path_factory.mktemp("uploads_av_weights"))


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text.strip() and not text.startswith("failed")


def scored_or_reason(status: str, value: str) -> None:
    """A score (ok, or truncated with a score), or a one-line reason with no score; never a crash."""
    assert one_line(status), status
    if status == "ok" or status.startswith("truncated"):
        assert math.isfinite(float(value)), (status, value)
    else:
        assert math.isnan(float(value or "nan")), (status, value)


def expects_score(kind: str) -> bool:
    """The kind is one every detector must score (the others may give a reason instead)."""
    return UPLOAD_KINDS[kind].expect == "score"


def check_result(kind: str, status: str, value: str) -> None:
    """:func:`scored_or_reason`, and ``ok`` for a kind that :func:`expects_score`."""
    scored_or_reason(status, value)
    assert status == "ok" or not expects_score(kind), (kind, status)


def read_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run_detect(uploads, folder, av_flags, *flags) -> dict[str, list[dict]]:
    """One detect.py run over every kind made; rows grouped by kind."""
    paths = {str(p): k for k, p in uploads.items() if not isinstance(p, str)}
    listing = folder / "list.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    argv = ["--test_video_path", str(listing), "--device", "cpu", "--output_dir", str(folder / "out")]
    assert run_cli(detect.main, detect.get_args_parser(), argv + ["--no_progress"] + av_flags + list(flags)) == 0
    rows: dict[str, list[dict]] = {}
    for row in read_rows(folder / "out" / "scores.csv"):
        rows.setdefault(paths[row["path"]], []).append(row)
    return rows


@pytest.fixture(scope="module")
def detect_default(uploads, av_flags, tmp_path_factory):
    return run_detect(uploads, tmp_path_factory.mktemp("detect_default"), av_flags)


@pytest.fixture(scope="module")
def detect_whole(uploads, av_flags, tmp_path_factory):
    return run_detect(uploads, tmp_path_factory.mktemp("detect_whole"), av_flags, "--whole_video", "--all_faces")


@pytest.fixture(scope="module")
def score_table(uploads, av_flags, weights_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    paths = {str(p): k for k, p in uploads.items() if not isinstance(p, str)}
    listing = folder / "list.txt"
    listing.write_text("".join(f"{p} 0\n" for p in paths))
    aigv = ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth"), "--arch", "resnet18"]
    aigv += ["--flow_method", "dis", "--crop_size", "64", "--sample_pairs", "4"]
    argv = ["--videos", str(listing), "--detectors", "av,aigvdet", "--output_dir", str(folder / "out")]
    argv += ["--device", "cpu", "--no_progress", "--prefetch", "1"] + av_flags + aigv
    assert run_cli(score.main, score.get_args_parser(), argv) == 0
    return {paths[r["path"]]: r for r in read_rows(folder / "out" / "results.csv")}


@pytest.mark.parametrize("kind", KINDS)
def test_detect_default(kind, uploads, detect_default):
    upload(uploads, kind)
    (row,) = detect_default[kind]
    check_result(kind, row["status"], row["score"])


@pytest.mark.parametrize("kind", KINDS)
def test_detect_whole_video_all_faces(kind, uploads, detect_whole):
    upload(uploads, kind)
    rows = detect_whole[kind]
    for row in rows:
        scored_or_reason(row["status"], row["score"])
    if expects_score(kind):
        assert any(r["status"] == "ok" for r in rows), rows


@pytest.mark.parametrize("kind", KINDS)
def test_demo_sample_pairs(kind, uploads, weights_dir, tmp_path, capsys):
    path = upload(uploads, kind)
    argv = demo_argv(weights_dir, path, "--sample_pairs", "4", "--json", str(tmp_path / "r.json"), raft_iters=None)
    code = run_cli(demo.main, demo.get_args_parser(), argv)
    err = capsys.readouterr().err
    if code == 0:
        data = json.loads((tmp_path / "r.json").read_text())
        assert 0.0 <= data["predict"] <= 1.0
        if expects_score(kind):
            assert not data.get("warnings") and data["frame_count"] > 0, data.get("warnings")
    else:
        assert not expects_score(kind) and err.startswith("error: ") and one_line(err), err


@pytest.mark.parametrize("kind", KINDS)
def test_report(kind, uploads, av_flags, weights_dir, tmp_path, capsys):
    path = upload(uploads, kind)
    argv = [str(path), "--arch", "resnet18", "--crop_size", "64", "--flow_method", "dis", "--sample_pairs", "4"]
    argv += ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth"), "--use_cpu"]
    argv += av_flags + ["--output_dir", str(tmp_path), "--detectors", "aigvdet", "avforensics"]
    assert run_cli(report.main, report.get_args_parser(), argv) == 0, capsys.readouterr().err
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    for name in ("aigvdet", "avforensics"):
        found = data["detectors"][name]
        assert found["status"] in ("ok", "not run") or found["status"].startswith("truncated"), found
        if found["status"] == "not run":
            assert one_line(found["reason"]) and not expects_score(kind), found
        else:
            assert found["status"] == "ok" or not expects_score(kind), found


@pytest.mark.parametrize("kind", KINDS)
def test_score(kind, uploads, score_table):
    upload(uploads, kind)
    row = score_table[kind]
    for name in ("av", "aigvdet"):
        check_result(kind, row[f"{name}_status"], row[f"{name}_score"])


def test_a_video_that_starts_late_meets_the_sound_played_with_it(uploads):
    """Frame 0 of ``video_late`` is shown at 0.52 s: the audio the detector pairs with it starts at 0.52 s too."""
    from core.media.av_clip import load_av_clip
    from tests.face_factories import FIXTURE_VIDEO
    from tests.uploads import VIDEO_LATE_S

    late, reference = load_av_clip(upload(uploads, "video_late")), load_av_clip(FIXTURE_VIDEO)
    shift = round(VIDEO_LATE_S * 25) * 640
    errors = [abs(late.audio[:16000] - reference.audio[s : s + 16000]).mean() for s in (0, shift)]
    assert errors[1] < 0.1 * errors[0], errors


def test_the_edit_is_scored_over_all_three_shots(uploads, detect_whole):
    """The person's tracks of the wide shot, the close-up and the wide shot again are joined across the cuts: one
    clip covers the whole edit (every 5-frame step of its 60 frames)."""
    upload(uploads, "cut_edit")
    (main,) = [row for row in detect_whole["cut_edit"] if row["status"] == "ok" and row["face_crop"] != "none"]
    assert int(main["steps"]) == _count() - 4


def test_the_rotated_phone_clip_is_tracked_upright_and_two_faces_give_two_rows(uploads, detect_default, detect_whole):
    upload(uploads, "rotated_phone")
    (row,) = detect_default["rotated_phone"]
    assert row["status"] == "ok" and row["face_crop"] == "0" and row["face_status"] == "ok"  # found, cropped
    upload(uploads, "two_faces")
    assert [r["face_crop"] for r in detect_whole["two_faces"]] == ["0", "1"]
