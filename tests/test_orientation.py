"""Phone rotation (display matrix): every decoder path gives the frames as players display them."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from core.media.av_clip import load_av_clip
from core.media.faces.clip import source_frames
from core.media.orientation import displayed_size, normalise, upright, video_rotation
from core.media.perturb import parse_perturbations, perturb_video
from core.media.probe import probe_video
from core.media.seek import index_frames, read_frames_at
from core.media.video import VideoReader
from tests.face_factories import FIXTURE_VIDEO
from tests.orientation_factories import make_rotated_source, write_rotated_copy
from tests.shared_fixtures import require

# Copies are lossless and their 4:2:0 planes turned exactly, so the displayed pixels match their source's up to
# the decoder's colour conversion; a frame left sideways or turned the wrong way differs by far more.
CODEC_NOISE = 3


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[int, Path]:
    """An unrotated 48x32 clip with audio-free frames (key 0) and copies tagged 90/180/270 that display like it."""
    folder = tmp_path_factory.mktemp("rotated")
    source = make_rotated_source(folder / "source.mp4")
    return {0: source} | {d: write_rotated_copy(source, folder / f"rot{d}.mp4", d) for d in (90, 180, 270)}


def _read(path, backend: str) -> np.ndarray:
    with VideoReader(path, backend) as video:
        return np.stack(list(video))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and int(np.abs(a.astype(np.int16) - b).max()) <= CODEC_NOISE


def test_upright_turns_clockwise_for_the_rotate_tag_convention():
    frame = np.zeros((2, 3), dtype=np.uint8)
    frame[0, 0] = 1  # top left
    assert upright(frame, 0) is frame
    # "rotate=90" (display matrix -90): turned clockwise, the top left corner goes to the top right.
    assert upright(frame, 90).shape == (3, 2) and upright(frame, 90)[0, 1] == 1
    assert upright(frame, 180)[1, 2] == 1
    assert upright(frame, 270)[2, 0] == 1
    assert upright(frame, -90)[2, 0] == 1
    assert displayed_size(1280, 720, 90) == (720, 1280) and displayed_size(1280, 720, 180) == (1280, 720)
    assert [normalise(d) for d in (0, -90, 90, 180, -180, 270, 360, 89.9)] == [0, 270, 90, 180, 180, 270, 0, 90]


def test_phone_display_matrix_is_read_with_the_sign_players_use(tmp_path):
    """The matrix an iPhone writes for a portrait clip (tkhd a=0 b=1 c=-1 d=0, ffprobe: rotation -90): our
    reading says 90 clockwise, and upright() turns it as OpenCV's FFmpeg auto-rotation (players) does."""
    path = tmp_path / "phone.mp4"
    image = np.zeros((32, 48, 3), dtype=np.uint8)
    image[:6, :6] = 255
    with av.open(str(path), mode="w") as output:
        out = output.add_stream("libx264rgb", rate=25, options={"qp": "0"})
        out.width, out.height, out.pix_fmt = 48, 32, "rgb24"
        out.set_display_matrix([0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30])
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in out.encode(frame):
                output.mux(packet)
        for packet in out.encode(None):
            output.mux(packet)
    assert video_rotation(path) == 90
    shown = _read(path, "pyav")[0]
    assert shown.shape == (48, 32, 3) and shown[:6, -6:].min() == 255  # the marker went to the top right
    cap = cv2.VideoCapture(str(path))
    if cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) > 0:  # an independent reading of the same matrix
        assert cap.get(cv2.CAP_PROP_ORIENTATION_META) == 90
        assert _close(cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB), shown)
    cap.release()


def test_rotation_is_read_and_probed(videos):
    for degrees, path in videos.items():
        assert video_rotation(path) == degrees
        facts = probe_video(path)
        assert facts.rotation == degrees and (facts.width, facts.height) == (48, 32)
        index = index_frames(path)
        assert index.rotation == degrees and (index.width, index.height) == (48, 32)


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_video_reader_gives_displayed_frames(videos, backend):
    upright_frames = _read(videos[0], backend)
    for degrees in (90, 180, 270):
        with VideoReader(videos[degrees], backend) as video:
            frames = np.stack(list(video))
            assert (video.info.width, video.info.height, video.info.rotation) == (48, 32, degrees)
        assert _close(frames, upright_frames), degrees
    assert _close(_read(videos[90], "opencv"), _read(videos[90], "pyav"))  # both decoders agree


def test_opencv_without_auto_rotation_is_turned_here(videos, monkeypatch):
    """OpenCV builds that hand over the coded frames (no CAP_PROP_ORIENTATION_AUTO) give the same picture."""
    real = cv2.VideoCapture

    def coded_only(*args):
        cap = real(*args)
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        return cap

    expected = _read(videos[0], "opencv")
    monkeypatch.setattr(cv2, "VideoCapture", coded_only)
    with VideoReader(videos[90], "opencv") as video:
        assert (video.info.width, video.info.height) == (48, 32)
        assert _close(np.stack(list(video)), expected)
    assert _close(
        np.stack([f for _, _, f in read_frames_at(index_frames(videos[270]), [1, 5], "opencv")]), expected[[1, 5]]
    )


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_read_frames_at_matches_streaming(videos, backend):
    for degrees in (0, 90, 270):
        streamed = _read(videos[degrees], backend)
        got = list(read_frames_at(index_frames(videos[degrees]), [0, 4, 11], backend))
        assert [number for number, _, _ in got] == [0, 4, 11]
        assert np.array_equal(np.stack([frame for _, _, frame in got]), streamed[[0, 4, 11]])


def test_source_frames_and_perturbed_copies_display_upright(videos):
    expected = np.stack(list(source_frames(videos[0])))
    for degrees in (90, 180):
        info: dict = {}
        assert _close(np.stack(list(source_frames(videos[degrees], info=info))), expected)
        assert (info["width"], info["height"]) == (48, 32)
        # Re-encoded (turned upright, no matrix) and copied (matrix kept) perturbed copies display the same.
        blurred = perturb_video(videos[degrees], parse_perturbations("blur:1"))
        assert _close(_read(blurred, "pyav"), _read(perturb_video(videos[0], parse_perturbations("blur:1")), "pyav"))
        assert _close(_read(perturb_video(videos[degrees], parse_perturbations("fps:25")), "pyav"), expected)
        assert _close(_read(perturb_video(videos[degrees], []), "pyav"), expected)  # packets copied


def _fixture_or_skip() -> Path:
    return require(FIXTURE_VIDEO, what="face fixture clip")


@pytest.fixture(scope="module")
def rotated_face(tmp_path_factory) -> Path:
    return write_rotated_copy(_fixture_or_skip(), tmp_path_factory.mktemp("face") / "portrait.mp4", 90)


def test_rotated_talking_face_clip_decodes_and_tracks_like_the_original(rotated_face):
    original, rotated = load_av_clip(FIXTURE_VIDEO, max_frames=30), load_av_clip(rotated_face, max_frames=30)
    assert _close(rotated.frames, original.frames) and np.array_equal(rotated.audio, original.audio)
    assert (rotated.source_width, rotated.source_height) == (original.source_width, original.source_height)
    from core.media.faces.clip import plan_face_crop

    plans = [plan_face_crop(path, mode="always", max_frames=25) for path in (FIXTURE_VIDEO, rotated_face)]
    assert all(plan.crop and plan.tracks for plan in plans)
    # The same face in the same place: sideways frames would put it elsewhere (or find none).
    assert np.abs(plans[0].tracks[0].boxes - plans[1].tracks[0].boxes).max() < 3


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_aigvdet_probabilities_match_on_a_rotated_copy(rotated_face, tmp_path, weights_dir, backend):
    """Random resnet18 classifiers and DIS flow on the first 5 frames (the seeking path, as --start/--end)."""
    import demo

    reports = []
    for video in (FIXTURE_VIDEO, rotated_face):
        out = tmp_path / f"{video.stem}.json"
        argv = ["--use_cpu", "--path", str(video), "--backend", backend, "--end", "0.2", "--flow_method", "dis"]
        argv += ["--crop_size", "64", "--arch", "resnet18", "-mop", str(weights_dir / "optical.pth")]
        argv += ["-mor", str(weights_dir / "original.pth"), "--json", str(out)]
        assert demo.main(demo.get_args_parser().parse_args(argv)) == 0
        reports.append(json.loads(out.read_text()))
    for key in ("original_probs", "optical_probs"):
        assert len(reports[0][key]) == len(reports[1][key]) > 0
        # Measured equal here (lossless copy); sideways frames move them by more than 0.02.
        assert np.allclose(reports[0][key], reports[1][key], atol=0.01), key
