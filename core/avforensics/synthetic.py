"""Tiny synthetic talking-"face" clips for training smoke tests: a disc whose radius follows the loudness of a tone.

Each clip draws a random loudness envelope, one value per 25 fps frame (held, then lightly smoothed so the
audio has no clicks), and renders

* video: a coloured disc on a noisy background, its radius proportional to that frame's loudness;
* audio: a sine tone (random pitch per clip) whose amplitude follows the same envelope, 16 kHz mono.

Because the envelope is random, a 5-frame window of radii matches the 5-frame window of loudness at the
true offset only, which is exactly the evidence the synchronisation model must learn. Fakes for the
detector's tests are made from the same signals: audio delayed/advanced by some frames ("shift") or taken
from another clip ("swap"); :func:`write_partial_fakes` manipulates one span of a longer clip only, for temporal
localisation.

Audio is stored as 16-bit PCM (no codec delay: AAC's priming samples would shift the decoded audio by a
fraction of a frame and blur the "true" offset), video as lossless H.264 ``yuv420p`` (so the same seed decodes
to the same pixels); the container is Matroska by default because MP4 does not carry PCM audio; ``.mov`` works too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.media.encode import write_video

SAMPLE_RATE = 16000
FPS = 25
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640


@dataclass
class SyntheticClip:
    frames: np.ndarray  # (T, size, size, 3) uint8
    audio: np.ndarray  # (T * 640,) int16
    envelope: np.ndarray  # (T,) loudness in [0, 1] per frame


def random_envelope(rng: np.random.Generator, frames: int, hold: int = 2) -> np.ndarray:
    """Per-frame loudness: random levels, each held ``hold`` frames, some silent gaps, values in [0.1, 1]."""
    levels = rng.uniform(0.1, 1.0, size=(frames + hold - 1) // hold)
    levels[rng.random(levels.size) < 0.2] = 0.1  # pauses, as in speech
    return np.repeat(levels, hold)[:frames]


def render_clip(seed: int, frames: int = 40, size: int = 32) -> SyntheticClip:
    """Frames and audio of one in-sync clip (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    envelope = random_envelope(rng, frames, hold=1)
    # Video: fixed centre and colour per clip, radius from the envelope, fresh background noise every frame.
    centre = rng.uniform(0.35, 0.65, size=2) * size
    colour = rng.integers(120, 256, size=3)
    yy, xx = np.mgrid[0:size, 0:size]
    distance = np.hypot(yy - centre[0], xx - centre[1])
    video = np.empty((frames, size, size, 3), dtype=np.uint8)
    for index in range(frames):
        image = rng.integers(20, 50, size=(size, size, 3))
        radius = (0.05 + 0.4 * envelope[index]) * size
        image[distance <= radius] = colour
        video[index] = image
    # Audio: tone times the envelope, interpolated sample-wise over 2 ms ramps so levels change without clicks.
    samples = frames * SAMPLES_PER_FRAME
    gain = np.repeat(envelope, SAMPLES_PER_FRAME)
    ramp = 32
    gain = np.convolve(np.pad(gain, (ramp // 2, ramp - ramp // 2 - 1), mode="edge"), np.ones(ramp) / ramp, mode="valid")
    t = np.arange(samples) / SAMPLE_RATE
    pitch = rng.uniform(180.0, 900.0)
    wave = 12000.0 * gain * np.sin(2 * np.pi * pitch * t + rng.uniform(0, 2 * np.pi)) + 150.0 * rng.standard_normal(
        samples
    )
    return SyntheticClip(video, np.clip(wave, -32768, 32767).astype(np.int16), envelope)


def write_av(path: str | os.PathLike, frames: np.ndarray, audio: np.ndarray, fps: int = FPS) -> Path:
    """Write (T, H, W, 3) uint8 frames as H.264 and int16 mono audio as PCM into one file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Lossless (qp 0): at crf 12, x264's choices on these 32 px frames varied from run to run (about a third of
    # the clips of a seed decoded to other pixels), so the sync training saw other data each time and its test was
    # flaky. Lossless output decodes to the same pixels whatever the encoder chooses.
    return write_video(
        path,
        frames,
        fps,
        video_options={"qp": "0"},
        audio=audio,
        sample_rate=SAMPLE_RATE,
        audio_codec="pcm_s16le",
        audio_chunk=1600,
    )


def write_list(path: str | os.PathLike, videos: list[Path]) -> Path:
    """A video list as the trainers and detect.py read it: one path per line, relative to the list's folder."""
    path = Path(path)
    path.write_text("".join(f"{os.path.relpath(v, path.parent)}\n" for v in videos), encoding="utf-8")
    return path


def write_dataset(
    folder: str | os.PathLike,
    count: int,
    frames: int = 40,
    size: int = 32,
    seed: int = 0,
    kind: str = "real",
    shift_frames: int = 6,
    suffix: str = ".mkv",
) -> list[Path]:
    """``count`` clips in ``folder``; ``kind``: ``real`` (in sync), ``shift`` (audio leading or lagging by
    ``shift_frames``,
    alternately) or ``swap`` (audio of the next clip of the same seed range). Returns the paths."""
    folder = Path(folder)
    # Clips are rendered ``shift_frames`` longer than written, so a shifted fake takes its audio from another part
    # of the same recording (no silent gap that would give the fake away without any synchronisation evidence).
    clips = [render_clip(seed + index, frames + shift_frames, size) for index in range(count)]
    per_frame = SAMPLES_PER_FRAME
    paths = []
    for index, clip in enumerate(clips):
        if kind == "real":
            audio = clip.audio[: frames * per_frame]
        elif kind == "shift":
            start = shift_frames if index % 2 == 0 else 0  # audio leads by shift_frames, or video leads
            video_start = 0 if index % 2 == 0 else shift_frames
            clip = SyntheticClip(clip.frames[video_start:], clip.audio, clip.envelope)
            audio = clip.audio[start * per_frame : (start + frames) * per_frame]
        elif kind == "swap":
            other = clips[(index + 1) % count] if count > 1 else render_clip(seed + 10_000, frames, size)
            audio = other.audio[: frames * per_frame]
        else:
            raise ValueError(f"unknown synthetic clip kind {kind!r}")
        paths.append(write_av(folder / f"{kind}_{seed + index:05d}{suffix}", clip.frames[:frames], audio))
    return paths


def write_synthetic_splits(folder: Path, count: int = 24, frames: int = 40, size: int = 32) -> dict[str, Path]:
    """train/val lists of real clips and a test list of real, shifted-audio and swapped-audio clips (disjoint seeds)."""
    folder.mkdir(parents=True, exist_ok=True)
    quarter = max(2, count // 4)
    lists = {
        "train": write_list(folder / "train.txt", write_dataset(folder / "train", count, frames, size, seed=0)),
        "val": write_list(folder / "val.txt", write_dataset(folder / "val", quarter, frames, size, seed=10_000)),
    }
    test = []
    for kind in ("real", "shift", "swap"):
        test += write_dataset(folder / "test", quarter, frames, size, seed=20_000, kind=kind)
    lists["test"] = write_list(folder / "test.txt", test)
    return lists


@dataclass(frozen=True)
class LabelledClip:
    """A written clip, its label (1: manipulated) and its manipulated span in seconds (None for a real clip)."""

    path: Path
    label: int
    kind: str  # real, shift or swap
    segment: tuple[float, float] | None


def write_partial_fakes(
    folder: str | os.PathLike,
    count: int,
    size: int = 32,
    seed: int = 0,
    seconds: tuple[float, float] = (8.0, 10.0),
    segment_seconds: tuple[float, float] = (1.5, 2.5),
    after_s: float = 2.0,
    shifts: tuple[int, int] = (6, 10),
) -> list[LabelledClip]:
    """``count`` untouched clips and ``count`` partly manipulated ones, for temporal localisation.

    Every clip lasts ``seconds`` (uniform, whole frames). In a manipulated clip one span of ``segment_seconds``
    starting at or after ``after_s`` has, alternately, its audio shifted by a random ``shifts`` number of frames
    (either direction; taken from the same recording, as in ``write_dataset``) or replaced by the same span of
    another clip's audio; the rest stays in sync. Deterministic in ``seed``.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    per_frame, margin = SAMPLES_PER_FRAME, shifts[1]
    clips = []
    for index in range(2 * count):
        frames = int(rng.integers(round(seconds[0] * FPS), round(seconds[1] * FPS) + 1))
        clip = render_clip(seed * 100_003 + index, frames + 2 * margin, size)  # margins: audio to shift into
        video = clip.frames[margin : margin + frames]
        audio = clip.audio[margin * per_frame : (margin + frames) * per_frame].copy()
        if index < count:
            clips.append(LabelledClip(write_av(folder / f"real_{index:03d}.mkv", video, audio), 0, "real", None))
            continue
        length = int(rng.integers(round(segment_seconds[0] * FPS), round(segment_seconds[1] * FPS) + 1))
        start = int(rng.integers(round(after_s * FPS), frames - length + 1))
        kind = "shift" if index % 2 == 0 else "swap"
        if kind == "shift":
            delay = int(rng.integers(shifts[0], shifts[1] + 1)) * int(rng.choice([-1, 1]))
            source = clip.audio[(margin + start + delay) * per_frame : (margin + start + delay + length) * per_frame]
        else:
            other = render_clip(seed * 100_003 + 50_000 + index, frames, size)
            source = other.audio[start * per_frame : (start + length) * per_frame]
        audio[start * per_frame : (start + length) * per_frame] = source
        path = write_av(folder / f"{kind}_{index - count:03d}.mkv", video, audio)
        clips.append(LabelledClip(path, 1, kind, (start / FPS, (start + length) / FPS)))
    return clips
