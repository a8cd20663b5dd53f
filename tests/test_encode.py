"""core.media.encode.write_video: what goes in comes back out of the decoder (frames, rate, sound)."""

import av
import numpy as np
import pytest

from core.media.audio import load_audio
from core.media.encode import write_video
from core.media.probe import probe_video


def _frames(count: int = 10, height: int = 48, width: int = 64) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width]
    return [np.stack([(xx * 2 + k * 9) % 256, yy * 3, (xx + yy) * 2], -1).astype(np.uint8) for k in range(count)]


def test_frames_and_pcm_sound_come_back(tmp_path):
    frames = _frames()
    tone = (8000 * np.sin(np.arange(10 * 640) / 5)).astype(np.int16)
    options = {"qp": "0"}
    path = write_video(tmp_path / "a.mkv", frames, video_options=options, audio=tone, audio_codec="pcm_s16le")
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 10
    # lossless in YUV 4:2:0: only the colour subsampling and the conversion round trip differ
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(decoded, frames)) < 3
    assert np.array_equal(load_audio(path), tone.astype(np.float32))  # PCM: the very samples


def test_frames_streamed_with_a_size_and_float_planes_as_stereo(tmp_path):
    planes = np.repeat(0.3 * np.sin(np.arange(48000 // 2) / 9)[None], 2, axis=0).astype(np.float32)
    frames = (frame for frame in _frames(12))  # never held as a list
    path = write_video(tmp_path / "b.mp4", frames, 24, size=(64, 48), audio=planes, sample_rate=48000)
    facts = probe_video(path)
    assert (facts.width, facts.height, facts.frames, round(facts.fps)) == (64, 48, 12, 24)
    assert (facts.audio_codec, facts.audio_sample_rate, facts.audio_channels) == ("aac", 48000, 2)


def test_without_audio_there_is_no_audio_stream(tmp_path):
    facts = probe_video(write_video(tmp_path / "c.mp4", _frames(3)))
    assert facts.frames == 3 and not facts.audio


def test_a_failed_write_leaves_the_earlier_file_and_no_partial_one(tmp_path):
    target = write_video(tmp_path / "d.mp4", _frames(3))
    before = target.read_bytes()

    def broken():
        yield from _frames(2)
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError, match="decoder died"):
        write_video(target, broken(), size=(64, 48))
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["d.mp4"]
