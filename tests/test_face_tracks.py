"""Face detection, tracking and cropping: pure geometry on synthetic boxes, then MTCNN on the real fixture face."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.media.faces.crop import CROP_SIZE, PAD_VALUE, crop_boxes, crop_frame, crop_track, cut_padded, outside_fraction
from core.media.faces.detector import FaceDetector, downscale_factor, filter_detections
from core.media.faces.status import (
    FaceLeavesFrame,
    FaceTooSmall,
    NoFace,
    SeveralSpeakers,
    TrackCutShort,
    TrackTooShort,
    looks_like_face_crop,
    select_main_track,
    track_status,
)
from core.media.faces.tracks import (
    Chain,
    TrackConfig,
    build_tracks,
    interpolate_chain,
    iou_matrix,
    link_detections,
    smooth_boxes,
    track_faces,
)
from core.media.shots import frame_histogram, histogram_distance
from tests.face_factories import fixture_frames, paste_drifting, textured_background


def box(cx: float, cy: float, w: float, h: float | None = None, conf: float = 0.99) -> np.ndarray:
    h = w if h is None else h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, conf])


def detections_every(step: int, last: int, *faces) -> dict[int, np.ndarray]:
    """{frame: (N, 5)} with one row per face function f(frame) -> row, every ``step`` frames."""
    return {f: np.stack([face(f) for face in faces]) for f in range(0, last + 1, step)}


def spans(tracks) -> list[tuple[int, int, str, str]]:
    """(first frame, last frame, start reason, end reason) of chains or tracks."""
    return [(int(t.frames[0]), int(t.frames[-1]), t.start, t.end) for t in tracks]


def synthetic_track(
    first: int,
    last: int,
    cx: float,
    cy: float,
    side: float,
    start: str = "video",
    end: str = "video",
    width: int = 1280,
    height: int = 720,
    video_frames: int = 100,
):
    chain = Chain(list(range(first, last + 1, 5)) + ([last] if (last - first) % 5 else []), start=start, end=end)
    chain.boxes = [box(cx, cy, side)[:4] for _ in chain.frames]
    chain.scores = [0.99] * len(chain.frames)
    return build_tracks([chain], width, height, video_frames)[0]


# --- detection helpers -------------------------------------------------------------------------------------------


def test_downscale_factor_and_filter():
    assert downscale_factor(720, 1280) == pytest.approx(0.375)
    assert downscale_factor(224, 224) == 1.0
    rows = np.stack([box(50, 50, 40, conf=0.99), box(50, 50, 40, conf=0.5), box(50, 50, 10, conf=0.99)])
    kept = filter_detections(rows, min_confidence=0.9, min_size=24)
    assert kept.shape == (1, 5) and kept[0, 4] == pytest.approx(0.99)


# --- linking, interpolation, smoothing ---------------------------------------------------------------------------


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], dtype=float)
    b = np.array([[5, 0, 15, 10]], dtype=float)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150], [0.0]])


def test_two_faces_moving_apart_make_two_whole_tracks():
    left = lambda f: box(300 - 2 * f, 300, 120)  # noqa: E731
    right = lambda f: box(800 + 3 * f, 320, 150)  # noqa: E731
    chains = link_detections(detections_every(5, 60, right, left))
    assert len(chains) == 2
    for chain in chains:
        assert chain.frames == list(range(0, 61, 5)) and (chain.start, chain.end) == ("video", "video")
        centres = np.array([(b[0] + b[2]) / 2 for b in chain.boxes])
        assert np.ptp(np.diff(centres)) < 1e-6  # each chain kept one face, never swapped


def test_gap_longer_than_max_gap_splits_and_shorter_is_bridged():
    face = lambda f: box(400 + f, 300, 120)  # noqa: E731
    dets = detections_every(5, 80, face)
    for frame in range(15, 45, 5):  # missed for 35 frames (10 -> 45)
        dets[frame] = np.zeros((0, 5))
    chains = link_detections(dets, max_gap=25)
    assert [(c.frames[0], c.frames[-1], c.end) for c in chains] == [(0, 10, "lost"), (45, 80, "video")]
    assert len(link_detections(dets, max_gap=40)) == 1


def test_shot_cut_splits_even_at_the_same_place():
    face = lambda f: box(400, 300, 120)  # noqa: E731
    dets = detections_every(5, 40, face)
    dets[19] = dets[20] = np.stack([face(19)])  # the pipeline detects both sides of a cut
    chains = link_detections(dets, cuts=[20])
    assert spans(chains) == [(0, 19, "video", "cut"), (20, 40, "cut", "video")]


def test_box_jump_splits_the_track():
    face = lambda f: box(400 if f < 25 else 480, 300, 120)  # noqa: E731  (moves 2/3 of its size at once)
    chains = link_detections(detections_every(5, 50, face))
    assert spans(chains) == [(0, 20, "video", "jump"), (25, 50, "jump", "video")]


def test_fast_small_face_is_followed_by_its_centre():
    face = lambda f: box(300 + 3 * f, 200 - 2 * f, 50)  # noqa: E731  (IoU 0.26 between detections)
    chains = link_detections(detections_every(5, 30, face))
    assert len(chains) == 1


def test_interpolation_marks_filled_frames():
    chain = Chain([10, 15], [np.array([0, 0, 10, 10.0]), np.array([5, 10, 20, 30.0])], [0.9, 0.8])
    frames, boxes, scores, detected = interpolate_chain(chain)
    np.testing.assert_array_equal(frames, np.arange(10, 16))
    np.testing.assert_allclose(boxes[2], [2, 4, 14, 18])
    np.testing.assert_array_equal(detected, [True, False, False, False, False, True])
    assert np.isnan(scores[1:5]).all() and scores[0] == pytest.approx(0.9)


def test_smoothing_removes_an_outlier_keeps_motion_and_the_ends():
    t = np.arange(40.0)
    boxes = np.stack([box(100 + 2 * f, 200, 80)[:4] for f in t])
    boxes[20] += [60, 40, 90, 70]  # one wild detection
    smoothed = smooth_boxes(boxes, median_frames=13, mean_frames=5)
    centres = (smoothed[:, 0] + smoothed[:, 2]) / 2
    np.testing.assert_allclose(centres[3:-3], 100 + 2 * t[3:-3], atol=2.5)  # the outlier shifts the median by a step
    np.testing.assert_allclose(smoothed[:, 2] - smoothed[:, 0], 80, atol=1.0)  # no shrinking at the ends
    assert smooth_boxes(boxes[:2]).shape == (2, 4)


def test_short_tracks_are_kept_but_skipped_with_a_reason():
    tracks = build_tracks([Chain([0, 3], [box(50, 50, 40)[:4]] * 2, [0.9, 0.9])], 640, 360, 10)
    assert tracks[0].length == 4 and "too short: 4 frames, need 6" in tracks[0].skipped


# --- shot cuts -----------------------------------------------------------------------------------------------------


def test_histogram_cuts_between_shots_not_within():
    first = [np.roll(textured_background(320, 180, 1, tint=(60, 0, -60)), 4 * i, axis=1) for i in range(5)]
    second = [np.roll(textured_background(320, 180, 2, tint=(-60, 0, 60)), 4 * i, axis=0) for i in range(5)]
    histograms = [frame_histogram(f) for f in first + second]
    distances = [histogram_distance(a, b) for a, b in zip(histograms, histograms[1:])]
    cuts = [i + 1 for i, d in enumerate(distances) if d > TrackConfig().cut_threshold]  # as the tracker tells them
    assert cuts == [5]


# --- crop geometry -------------------------------------------------------------------------------------------------


def test_crop_box_is_pycrops_square():
    # Face box centre (150, 180), larger side 160 -> bs 80, cs 0.4: x 150 -+ 112, y 180 - 80 .. 180 + 144.
    crop = crop_boxes(np.array([100.0, 100, 200, 260]), box_scale=1.0, centre_shift=0.0)
    np.testing.assert_allclose(crop, [38, 100, 262, 324])
    calibrated = crop_boxes(np.array([100.0, 100, 200, 260]))
    assert calibrated[2] - calibrated[0] == pytest.approx(224 * 0.975)
    assert calibrated[1] == pytest.approx(180 + 0.045 * 80 - 0.975 * 80)


def test_cut_padded_fills_outside_with_110_and_resizes_to_224():
    frame = np.arange(100 * 120 * 3, dtype=np.uint32).reshape(100, 120, 3).astype(np.uint8)
    patch = cut_padded(frame, np.array([-10.0, 50, 70, 130]))
    assert patch.shape == (80, 80, 3)
    assert (patch[:, :10] == PAD_VALUE).all() and (patch[50:] == PAD_VALUE).all()
    np.testing.assert_array_equal(patch[:50, 10:], frame[50:100, 0:70])
    assert crop_frame(frame, np.array([-10.0, 50, 70, 130])).shape == (CROP_SIZE, CROP_SIZE, 3)
    np.testing.assert_allclose(outside_fraction(np.array([[-10.0, 50, 70, 130]]), 120, 100), [1 - 70 * 50 / 6400])


# --- statuses on synthetic tracks ----------------------------------------------------------------------------------


def test_statuses():
    with pytest.raises(NoFace):
        select_main_track([])
    with pytest.raises(FaceTooSmall, match="face too small: 60 px"):
        select_main_track([synthetic_track(0, 99, 640, 360, 60)])
    speakers = [synthetic_track(0, 99, 400, 360, 200), synthetic_track(10, 99, 900, 360, 180)]
    with pytest.raises(SeveralSpeakers):
        select_main_track(speakers)
    background = [speakers[0], synthetic_track(0, 99, 1100, 300, 60)]  # a small face behind the speaker
    assert select_main_track(background) is speakers[0]
    with pytest.raises(TrackCutShort, match="shot change"):
        select_main_track([synthetic_track(0, 29, 640, 360, 200, end="cut")], min_frames=50)
    with pytest.raises(FaceLeavesFrame):
        select_main_track([synthetic_track(40, 69, 1250, 360, 200, start="appeared", end="lost")], min_frames=50)
    with pytest.raises(TrackTooShort):
        select_main_track([synthetic_track(40, 69, 640, 360, 200, start="appeared", end="lost")], min_frames=50)
    with pytest.raises(FaceLeavesFrame, match="outside"):
        select_main_track([synthetic_track(0, 99, 1240, 360, 200)])
    with pytest.raises(TrackTooShort, match="longest face track lasts 4 frames"):
        select_main_track([synthetic_track(0, 3, 640, 360, 200, start="appeared", end="lost")])
    assert track_status([synthetic_track(0, 99, 640, 360, 60)])[1] == "face too small"
    assert track_status([synthetic_track(0, 99, 640, 360, 200)])[1:] == ("ok", "")


def test_face_crop_predicate_on_synthetic_tracks():
    # A 224x224 crop: face box of side 160 centred at (112, 80) gives the whole frame.
    crop_like = synthetic_track(0, 49, 112, 80, 160, width=224, height=224, video_frames=50)
    assert looks_like_face_crop([crop_like])
    assert not looks_like_face_crop([synthetic_track(0, 49, 640, 300, 250, video_frames=50)])  # a 720p frame
    assert not looks_like_face_crop([synthetic_track(0, 19, 112, 80, 160, width=224, height=224, video_frames=50)])
    assert not looks_like_face_crop([])


# --- the real detector on the fixture face -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    pytest.importorskip("facenet_pytorch", reason="facenet-pytorch is not installed (see requirements.txt)")
    return FaceDetector()


@pytest.mark.parametrize("width,height,scale", [(1280, 720, 2.0), (1920, 1080, 1.5), (1920, 1080, 3.0)])
def test_tracked_crop_recovers_the_pasted_fixture_frame(detector, width, height, scale):
    faces = fixture_frames(30)
    frames, truth = paste_drifting(faces, width, height, scale, drift=(3.0, -2.0))
    tracks = track_faces(frames, 25.0, detector)
    main = select_main_track(tracks, min_frames=30)
    np.testing.assert_array_equal(main.frames, np.arange(30))
    crops, side = main.crop_boxes(), truth[:, 2] - truth[:, 0]
    offsets = [(crops[:, k] + crops[:, k + 2] - truth[:, k] - truth[:, k + 2]) / 2 for k in (0, 1)]
    centre_error = np.hypot(*offsets) / side
    side_error = np.abs((crops[:, 2] - crops[:, 0]) / side - 1)
    assert np.mean(centre_error < 0.05) >= 0.95, centre_error.max()
    assert np.mean(side_error < 0.08) >= 0.95, side_error.max()
    cut = crop_track(frames, main)
    assert cut.shape == (30, 224, 224, 3) and cut.dtype == np.uint8
    assert np.abs(cut.astype(float) - faces.astype(float)).mean() < 25  # the crop shows the fixture frame again
    assert not looks_like_face_crop(tracks)


def test_fixture_clip_is_already_a_face_crop(detector):
    assert looks_like_face_crop(track_faces(fixture_frames(40), 25.0, detector, TrackConfig()))


def test_no_face_and_tiny_face_statuses(detector):
    empty = [np.roll(textured_background(640, 360, 3), 2 * i, axis=1) for i in range(12)]
    assert track_status(track_faces(empty, 25.0, detector))[1] == "no face"
    frames, _ = paste_drifting(fixture_frames(12), 640, 360, 0.35, drift=(1.0, 0.0))
    track, status, message = track_status(track_faces(frames, 25.0, detector))
    assert status == "face too small" and " px, need at least 80 px" in message


def test_shot_change_ends_the_track(detector):
    faces = fixture_frames(30)
    first, _ = paste_drifting(faces[:15], 1280, 720, 2.0, seed=1, tint=(60, 0, -60))
    second, _ = paste_drifting(faces[15:], 1280, 720, 1.5, seed=2, tint=(-60, 0, 60), origin=(100, 200))
    tracks = track_faces(first + second, 25.0, detector)
    assert spans(tracks) == [(0, 14, "video", "cut"), (15, 29, "cut", "video")]
    assert track_status(tracks, min_frames=20)[1] == "cut by a shot change"


def test_frame_size_change_is_an_input_error(detector):
    with pytest.raises(InputError, match="frame size changes"):
        track_faces([np.zeros((64, 64, 3), np.uint8), np.zeros((32, 64, 3), np.uint8)], 25.0, detector)
    with pytest.raises(InputError, match="no frames"):
        track_faces([], 25.0, detector, TrackConfig())
