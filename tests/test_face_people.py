"""Issue 20: several faces and shots. Joining a person's tracks across cuts, whose mouth goes with the voice,
and which stretches of a video a face clip covers (and why the others are not scored).

Unit tests on synthetic tracks first; then, with the shared fixture's real face, whole videos through detect.py
and report.py: an edit between a wide shot and a close-up, and a video with a stretch without a face.
"""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

import detect
import report
from core.avforensics.speaker import aligned_probability
from core.cli import run_cli
from core.media.faces.appearance import appearance_distance, face_appearance
from core.media.faces.coverage import ANOTHER_FACE, NO_FACE, SCORED, face_coverage
from core.media.faces.people import join_across_cuts
from core.media.faces.tracks import Chain, build_tracks
from tests.avforensics_factories import save_small_av_checkpoints
from tests.face_factories import FIXTURE_VIDEO, fixture_frames, textured_background
from tests.shared_fixtures import require
from tests.test_face_crop_detect import face_audio, paste, write_video

SKIN, SHIRT = np.array([205, 150, 120], np.uint8), np.array([40, 60, 160], np.uint8)


def track(first, last, start="video", end="video", side=200.0, x=300.0, appearance=None, video_frames=140):
    chain = Chain(list(range(first, last + 1, 5)) + ([last] if (last - first) % 5 else []), start=start, end=end)
    chain.boxes = [np.array([x, 100.0, x + side, 100.0 + side]) for _ in chain.frames]
    chain.scores = [0.99] * len(chain.frames)
    (built,) = build_tracks([chain], 1280, 720, video_frames)
    built.appearance = appearance
    return built


def test_appearance_matches_a_face_at_two_scales_not_another_colour():
    face = np.zeros((100, 100, 3), np.uint8)
    face[:] = SKIN
    face[60:, :] = SHIRT
    face[30:40, 20:40] = 30  # an eye
    big = cv2.resize(face, (300, 300), interpolation=cv2.INTER_CUBIC)
    other = face.copy()
    other[:60] = np.array([120, 80, 60], np.uint8)
    whole = np.array([0.0, 0.0, 100.0, 100.0])
    assert appearance_distance(face_appearance(face, whole), face_appearance(big, whole * 3)) < 0.1
    assert appearance_distance(face_appearance(face, whole), face_appearance(other, whole)) > 0.5
    assert face_appearance(face, np.array([50.0, 50.0, 50.0, 80.0])).sum() == 0  # an empty box


def test_tracks_of_one_person_are_joined_across_cuts_and_no_others():
    a, b = np.eye(4)[0], np.eye(4)[1]
    wide = track(0, 39, end="cut", appearance=a)
    close = track(40, 89, start="cut", end="cut", side=500, x=100, appearance=a * 0.95 + b * 0.05)
    wide_again = track(90, 133, start="cut", appearance=a)
    (joined,) = join_across_cuts([close, wide_again, wide])
    assert joined.frames.tolist() == list(range(134)) and joined.cuts == (40, 90)
    assert (joined.start, joined.end, joined.skipped) == ("video", "video", None)
    assert joined.smoothed[39, 2] - joined.smoothed[39, 0] == pytest.approx(200)  # shots smoothed on their own
    assert joined.smoothed[40, 2] - joined.smoothed[40, 0] == pytest.approx(500)
    # Another person after the cut, a gap before the next shot, a short track: none is joined.
    stranger = track(40, 89, start="cut", end="lost", appearance=b)
    later = track(95, 133, start="appeared", appearance=a)
    assert len(join_across_cuts([wide, stranger, later])) == 3
    short = track(40, 43, start="cut", appearance=a)
    assert short.skipped and len(join_across_cuts([wide, short])) == 2


def test_a_track_that_is_not_the_first_can_be_chosen():
    """The crash of issue 20: ``tracks.index(chosen)`` compared numpy fields of tracks of different lengths."""
    tracks = [track(0, 20), track(0, 99, side=300)]
    assert tracks.index(tracks[1]) == 1 and tracks[0] != tracks[1]


def test_coverage_says_why_each_stretch_is_not_scored():
    tracks = [track(0, 39), track(50, 79, x=700), track(85, 94, side=40)]
    stretches = face_coverage(tracks, 110, scored_track=0, scored_frames=(0, 40))
    got = [(s.first, s.end, s.status, s.track) for s in stretches]
    assert got == [
        (0, 40, SCORED, 0),
        (40, 50, NO_FACE, None),
        (50, 80, ANOTHER_FACE, 1),
        (80, 85, NO_FACE, None),
        (85, 95, "face too small", None),
        (95, 110, NO_FACE, None),
    ]
    assert stretches[2].as_dict() == {"start_s": 2.0, "end_s": 3.2, "status": ANOTHER_FACE, "track": 1}


def test_aligned_probability_is_the_mean_probability_of_offset_zero():
    peaked = np.zeros((4, 31))
    peaked[:, 15] = 50.0
    assert aligned_probability(peaked) == pytest.approx(1.0)
    assert aligned_probability(np.zeros((3, 31))) == pytest.approx(1 / 31)


# --- whole videos with the fixture's real face ---------------------------------------------------------------------

WIDTH, HEIGHT = 640, 360


def close_up(face: np.ndarray) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    frame[:, (WIDTH - HEIGHT) // 2 : (WIDTH + HEIGHT) // 2] = cv2.resize(face, (HEIGHT, HEIGHT), cv2.INTER_CUBIC)
    return frame


@pytest.fixture(scope="module")
def edits(tmp_path_factory) -> dict:
    """60 frames: an edit wide / close-up / wide, and a face / no face / face video, with the clip's own voice."""
    require(FIXTURE_VIDEO, what="face fixture clip")
    folder = tmp_path_factory.mktemp("edits")
    faces = fixture_frames(60)
    background = textured_background(WIDTH, HEIGHT, 4)
    wide = [paste(background, face, 220, 70, 200) for face in faces]
    empty = np.full((HEIGHT, WIDTH, 3), (20, 30, 90), np.uint8)  # a title card: a cut to a shot without a face
    audio = np.concatenate([face_audio(), np.zeros(60 * 640)])[: 65 * 640]
    return {
        "edit": write_video(folder / "edit.mp4", wide[:20] + [close_up(f) for f in faces[20:40]] + wide[40:], audio),
        "gap": write_video(folder / "gap.mp4", wide[:20] + [empty] * 20 + wide[40:], audio),
    }


@pytest.fixture(scope="module")
def model_flags(tmp_path_factory) -> list[str]:
    """The small sync model (32 px crops) and random anomaly models: the face logic is what is tested here."""
    return save_small_av_checkpoints(tmp_path_factory.mktemp("small_av"))


def detect_rows(video, out, model_flags, *flags):
    argv = ["--test_video_path", str(video), "--device", "cpu", "--no_progress", "--output_dir", str(out)]
    argv += ["--max-len", "10", *model_flags, *flags]
    assert run_cli(detect.main, detect.get_args_parser(), argv) == 0
    tables = {}
    for name in ("scores", "coverage"):
        with open(out / f"{name}.csv", newline="") as handle:
            tables[name] = list(csv.DictReader(handle))
    return tables


def test_whole_video_covers_every_shot_of_an_edit(edits, tmp_path, model_flags):
    tables = detect_rows(edits["edit"], tmp_path / "out", model_flags, "--whole_video", "--all_faces")
    (row,) = [r for r in tables["scores"] if r["status"] == "ok"]
    assert int(row["steps"]) == 60 - 4  # one clip over the three shots: every 5-frame step of the 60 frames
    assert [(r["track"], r["start_s"], r["end_s"], r["status"]) for r in tables["coverage"] if r["track"] == "0"] == [
        ("0", "0.00", "2.40", SCORED)
    ]


def test_a_stretch_without_a_face_is_marked_in_the_timeline_and_the_report(edits, tmp_path, model_flags):
    tables = detect_rows(edits["gap"], tmp_path / "out", model_flags, "--whole_video", "--face_crop", "always")
    (row,) = tables["scores"]
    assert row["status"] == "ok" and int(row["steps"]) == 20 - 4  # one shot's track: 20 frames
    statuses = [(r["start_s"], r["end_s"], r["status"], r["other_track"]) for r in tables["coverage"]]
    # The person's two shots are separated by a shot without a face: one is scored (the speaker chosen between
    # them), the middle is marked "no face", the other shot "another face" with its track.
    assert statuses[1] == ("0.80", "1.60", NO_FACE, "")
    assert {statuses[0][2], statuses[2][2]} == {SCORED, ANOTHER_FACE} and len(statuses) == 3
    assert [s[3] for s in statuses if s[2] == ANOTHER_FACE] == ["1" if row["face_crop"] == "0" else "0"]
    argv = [str(edits["gap"]), "--detectors", "avforensics", "--use_cpu", "--max_len", "10", "--face_crop", "always"]
    argv += [*model_flags, "--output_dir", str(tmp_path / "report")]
    assert run_cli(report.main, report.get_args_parser(), argv) == 0
    record = json.loads((tmp_path / "report" / "gap.json").read_text())["detectors"]["avforensics"]
    assert any(w.startswith("not scored: ") and "0.80-1.60 s (no face)" in w for w in record["warnings"])
    assert "not scored" in (tmp_path / "report" / "gap.html").read_text()
