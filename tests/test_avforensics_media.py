"""PyAV decoding for the audio-visual detector: frames, 16 kHz audio, truncation, frame-rate resampling, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from core.media.audio import NoAudioTrack, load_audio
from core.media.av_clip import ClipTooShort, load_av_clip
from tests.avforensics_factories import require_fixtures, write_av_clip


def test_clip_is_resized_bicubic_and_truncated_to_the_shorter_stream(tmp_path):
    path = write_av_clip(
        tmp_path / "clip.mp4", frames=9, size=(64, 48), audio_rate=44100, channels=2, audio_seconds=0.3
    )
    clip = load_av_clip(path)
    # 0.3 s of audio = 7.5 frames: both streams are cut to 7 frames of 640 samples.
    assert clip.frames.shape == (7, 224, 224, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (7 * 640,) and clip.audio.dtype == np.float32
    assert 1000 < np.abs(clip.audio).max() <= 32768  # int16 scale, as the authors read their WAV files
    assert not clip.resampled and clip.source_fps == pytest.approx(25)

    import av

    with av.open(str(path)) as container:
        first = next(container.decode(video=0)).to_image()
    np.testing.assert_array_equal(clip.frames[0], np.asarray(first.resize((224, 224), Image.BICUBIC)))


def test_max_frames_stops_decoding_early(tmp_path):
    path = write_av_clip(tmp_path / "clip.mp4", frames=12)
    clip = load_av_clip(path, max_frames=6)
    assert clip.num_frames == 6 and clip.audio.shape == (6 * 640,)
    full = load_av_clip(path)
    np.testing.assert_array_equal(full.audio[: 6 * 640], clip.audio)


def test_other_frame_rates_are_resampled_to_25(tmp_path, caplog):
    path = write_av_clip(tmp_path / "fifty.mp4", frames=20, fps=50)  # 0.4 s
    with caplog.at_level("INFO"):
        clip = load_av_clip(path)
    assert clip.resampled and clip.source_fps == pytest.approx(50)
    assert clip.num_frames == 10
    assert "resampled to 25 fps" in caplog.text
    import av

    with av.open(str(path)) as container:
        originals = [np.asarray(f.to_image().resize((224, 224), Image.BICUBIC)) for f in container.decode(video=0)]
    np.testing.assert_array_equal(clip.frames[3], originals[6])  # frame n at 25 fps is frame 2n at 50 fps


def test_unusable_inputs_raise_input_errors_with_a_reason(tmp_path):
    with pytest.raises(NoAudioTrack, match="no audio track"):
        load_av_clip(write_av_clip(tmp_path / "silent.mp4", frames=8, audio_rate=None))
    with pytest.raises(ClipTooShort, match="too short: 4 frames"):
        load_av_clip(write_av_clip(tmp_path / "short.mp4", frames=4), min_frames=6)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InputError, match="cannot decode"):
        load_av_clip(text)
    with pytest.raises(InputError, match="file not found"):
        load_av_clip(tmp_path / "missing.mp4")


def test_fixture_audio_matches_the_authors_wav_extraction():
    fixtures = require_fixtures()
    import wave

    with wave.open(str(fixtures / "test.wav"), "rb") as wav:  # made by ffmpeg as the authors' loader does
        rate = wav.getframerate()
        expected = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32)
    decoded = load_audio(fixtures / "test.mp4")
    assert rate == 16000 and decoded.shape == expected.shape
    # Same samples up to the last-bit rounding of one sample in 86016.
    assert np.abs(decoded - expected).max() <= 1 and np.count_nonzero(decoded - expected) <= 4
    clip = load_av_clip(fixtures / "test.mp4")
    assert clip.frames.shape == (134, 224, 224, 3) and clip.audio.shape == (134 * 640,)


def test_audio_can_come_from_an_extracted_wav(tmp_path):
    import wave

    path = write_av_clip(tmp_path / "clip.mp4", frames=8)
    samples = (np.arange(8 * 640) % 200 - 100).astype("<i2")
    with wave.open(str(tmp_path / "clip.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.tobytes())
    clip = load_av_clip(path, audio_path=tmp_path / "clip.wav")
    np.testing.assert_array_equal(clip.audio, samples[: clip.num_frames * 640].astype(np.float32))
    assert not np.array_equal(load_av_clip(path).audio, clip.audio)
