"""Perturbations in memory: each kind changes what it should, leaves the rest bit-exact, and is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.media.audio import load_audio
from core.media.av_clip import load_av_clip
from core.media.in_memory import InMemoryVideo
from core.media.perturb import Perturbation, parse_perturbations, perturb_frame, perturb_video
from core.media.seek import index_frames, read_frames_at
from core.media.video import VideoReader
from tests.avforensics_factories import write_av_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_av_clip(tmp_path_factory.mktemp("perturb") / "clip.mp4", frames=20, size=(64, 48), seed=1)


def frames_of(source):
    with VideoReader(source, "pyav") as video:
        frames = list(video)
        return np.stack(frames), list(video.timestamps), video.info.fps


def test_parse_and_refuse():
    assert parse_perturbations("blur:2+jpeg:50") == [Perturbation("blur", 2), Perturbation("jpeg", 50)]
    for bad in ("blur", "blur:x", "sharpen:2", "jpeg:0", "resize:2"):
        with pytest.raises(ValueError):
            parse_perturbations(bad)


def test_video_perturbations_change_frames_only_and_keep_times(clip):
    frames, times, fps = frames_of(clip)
    audio = load_audio(clip)
    for spec, low, high in (("jpeg:30", 0.5, 40), ("resize:0.5", 0.5, 40), ("blur:2", 0.5, 60), ("noise:10", 6, 10)):
        copy = perturb_video(clip, parse_perturbations(spec))
        assert isinstance(copy, InMemoryVideo) and copy.name == str(clip) and copy.description == spec
        perturbed, perturbed_times, perturbed_fps = frames_of(copy)
        assert perturbed.shape == frames.shape and perturbed_times == pytest.approx(times) and perturbed_fps == fps
        assert low < np.abs(perturbed.astype(float) - frames).mean() < high, spec
        assert np.array_equal(load_audio(copy), audio)  # the audio packets are copied untouched


def test_lossless_storage_and_seeded_noise(clip):
    frames, _, _ = frames_of(clip)
    # blur with a tiny sigma is the identity on integers: what comes back is exactly what was stored.
    same, _, _ = frames_of(perturb_video(clip, [Perturbation("blur", 1e-3)]))
    assert np.array_equal(same, frames)
    one, two = (perturb_video(clip, [Perturbation("noise", 5)], seed=3) for _ in range(2))
    assert one.data == two.data
    assert perturb_video(clip, [Perturbation("noise", 5)], seed=4).data != one.data
    rng = np.random.default_rng(0)
    assert np.array_equal(perturb_frame(frames[0], Perturbation("jpeg", 100), rng).shape, frames[0].shape)


def test_an_in_memory_copy_is_read_by_seeking_and_never_from_its_original(clip):
    copy = perturb_video(clip, parse_perturbations("blur:3"))
    frames, times, _ = frames_of(copy)
    index = index_frames(copy)
    assert index.source is copy and index.path == str(clip) and index.time_s == pytest.approx(times)
    got = list(read_frames_at(index, [3, 17]))  # found by seeking in the copy's bytes
    assert [(n, t) for n, t, _ in got] == [(3, pytest.approx(times[3])), (17, pytest.approx(times[17]))]
    assert np.array_equal(got[0][2], frames[3]) and np.array_equal(got[1][2], frames[17])
    with pytest.raises(InputError, match="OpenCV cannot read an in-memory video"):
        list(read_frames_at(index, [3], "opencv"))


def test_h264_and_frame_rate(clip):
    frames, _, _ = frames_of(clip)
    coarse, _, _ = frames_of(perturb_video(clip, [Perturbation("h264", 38)]))
    fine, _, _ = frames_of(perturb_video(clip, [Perturbation("h264", 23)]))
    assert np.abs(coarse.astype(float) - frames).mean() > np.abs(fine.astype(float) - frames).mean()
    slow, times, fps = frames_of(perturb_video(clip, [Perturbation("fps", 15)]))
    assert fps == pytest.approx(15) and len(slow) == 12 and times[1] == pytest.approx(1 / 15, abs=1e-3)


def test_audio_perturbations_change_audio_only(clip):
    frames, _, _ = frames_of(clip)
    audio = load_audio(clip)
    delayed = perturb_video(clip, [Perturbation("audio_delay", 2)])
    assert np.array_equal(frames_of(delayed)[0], frames)  # the video packets are copied untouched
    shifted = load_audio(delayed)
    assert shifted.shape == audio.shape and np.abs(shifted[:1280]).max() == 0  # 2 frames of 640 samples
    assert np.abs(shifted[1280:] - audio[:-1280]).max() <= 1  # 16-bit round trip
    noisy = load_audio(perturb_video(clip, [Perturbation("audio_noise", 0)]))
    noise_power = np.mean((noisy - audio) ** 2)
    assert 0.5 < noise_power / np.mean(audio**2) < 2  # 0 dB: as loud as the signal
    aac = load_av_clip(perturb_video(clip, [Perturbation("aac", 32)]), size=16)
    assert aac.num_frames == 20 and np.abs(aac.audio[: len(audio)] - audio[: len(aac.audio)]).mean() > 0


def test_bad_inputs(tmp_path, clip):
    silent = write_av_clip(tmp_path / "silent.mp4", frames=4, audio_rate=None)
    with pytest.raises(InputError, match="no audio track"):
        perturb_video(silent, [Perturbation("aac", 32)])
    with pytest.raises(InputError, match="file not found"):
        perturb_video(tmp_path / "missing.mp4", [Perturbation("blur", 1)])
    copy = perturb_video(clip, [Perturbation("blur", 1)])
    with pytest.raises(InputError, match="OpenCV cannot read"):
        VideoReader(copy, "opencv")
