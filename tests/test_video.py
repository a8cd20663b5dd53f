"""Streaming video decoding."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.media.video import VideoReader, chunked, sample_frames
from tests import factories


def read_video(path, backend: str = "auto", max_frames: int | None = None) -> list[np.ndarray]:
    """All frames (or the first ``max_frames``) of a short video."""
    frames = []
    with VideoReader(path, backend) as video:
        for frame in video:
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
    return frames


@pytest.fixture(scope="module")
def colour_video(tmp_path_factory):
    frames = [np.zeros((64, 80, 3), np.uint8) for _ in range(4)]
    for frame, channel in zip(frames, [0, 1, 2, 0]):
        frame[..., channel] = 255
    return factories.write_video(tmp_path_factory.mktemp("v") / "colours.avi", frames, fps=12.0)


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_frames_are_rgb_with_metadata(colour_video, backend):
    with VideoReader(colour_video, backend) as video:
        assert video.info.backend == backend
        assert (video.info.width, video.info.height) == (80, 64)
        assert video.info.fps == pytest.approx(12.0)
        frames = list(video)
    assert len(frames) == 4
    assert all(f.shape == (64, 80, 3) and f.dtype == np.uint8 for f in frames)
    dominant = [int(np.argmax(f.reshape(-1, 3).mean(0))) for f in frames]
    assert dominant == [0, 1, 2, 0]  # red, green, blue, red: channels are RGB, not BGR


def test_backends_agree_closely(colour_video):
    opencv, pyav = read_video(colour_video, "opencv"), read_video(colour_video, "pyav")
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(opencv, pyav)) < 3


def test_read_video_can_stop_early(colour_video):
    assert len(read_video(colour_video, max_frames=2)) == 2


def test_missing_and_non_video_inputs(tmp_path):
    with pytest.raises(InputError, match="video not found"):
        VideoReader(tmp_path / "nope.mp4")
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="cannot read video"):
        VideoReader(tmp_path / "notes.mp4")
    with pytest.raises(InputError, match="not a file"):
        VideoReader(tmp_path)


def test_sampling_and_chunking_of_frame_streams():
    assert list(sample_frames(range(10), stride=3)) == [0, 3, 6, 9]
    assert list(sample_frames(range(10), stride=2, max_frames=3)) == [0, 2, 4]
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError):
        list(chunked(range(3), 0))
