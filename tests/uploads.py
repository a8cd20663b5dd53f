"""A realistic upload set made from the shared talking-face fixture: the containers, codecs, audio layouts and
edits people upload (issue 20). Each maker writes one small file into a folder and returns its path;
``UPLOAD_KINDS`` names them with what the toolkit should give for each.

Regenerate a folder of them (and print what each is): ``python -m tests.uploads OUT_DIR``.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, NamedTuple

import av
import cv2
import numpy as np

from tests.face_factories import FIXTURE_VIDEO, textured_background

FPS = 25
SECONDS = 2.4  # 60 frames: 12 sync steps, enough for every detector, small enough for a fast matrix


class KindSkipped(Exception):
    """This machine cannot make the kind (an encoder or a helper module is missing); the message says which."""


@functools.lru_cache(maxsize=1)
def fixture() -> tuple[np.ndarray, np.ndarray, int]:
    """The fixture's RGB frames (T, 224, 224, 3), its mono audio as float32 in -1..1, and the audio's rate."""
    if not FIXTURE_VIDEO.is_file():
        raise KindSkipped(f"face fixture clip not found at {FIXTURE_VIDEO} (see ../shared/fixtures)")
    with av.open(str(FIXTURE_VIDEO)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(FIXTURE_VIDEO)) as container:
        rate = container.streams.audio[0].rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = [c.to_ndarray().reshape(-1) for f in container.decode(audio=0) for c in resampler.resample(f)]
        chunks += [c.to_ndarray().reshape(-1) for c in resampler.resample(None)]
    return frames, np.concatenate(chunks).astype(np.float32), rate


class Sound(NamedTuple):
    planes: np.ndarray  # (channels, N) in -1..1
    rate: int


def _audio(seconds: float, rate: int, channels: int, offset_s: float = 0.0) -> Sound:
    """The fixture's audio from ``offset_s`` for ``seconds`` (looped when longer), at ``rate``, ``channels``."""
    _, mono, source_rate = fixture()
    start = int(round(offset_s * source_rate))
    count = int(round(seconds * source_rate))
    signal = np.take(mono, np.arange(start, start + count), mode="wrap")
    if rate != source_rate:
        signal = np.interp(np.arange(int(round(seconds * rate))) / rate, np.arange(count) / source_rate, signal)
    return Sound(np.repeat(signal[None].astype(np.float32), channels, axis=0), rate)


def _frames(count: int, first: int = 0, size: int | None = None) -> list[np.ndarray]:
    """``count`` fixture frames from ``first`` (looped), resized to ``size`` squared when given."""
    faces, _, _ = fixture()
    picked = [faces[(first + i) % len(faces)] for i in range(count)]
    if size is not None:
        picked = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in picked]
    return picked


def _check_encoder(name: str) -> None:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 -- PyAV raises several types for an unknown codec
        raise KindSkipped(f"the installed PyAV/FFmpeg has no {name} encoder") from None


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    sound: Sound | None,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    pix_fmt: str = "yuv420p",
    video_start_s: float = 0.0,
    video_options: dict | None = None,
) -> Path:
    """Encode RGB ``frames`` at 25 fps (the first shown at ``video_start_s``) and ``sound`` (from time 0) into
    ``path``; the container follows the suffix."""
    _check_encoder(video_codec)
    if sound is not None:
        _check_encoder(audio_codec)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=FPS, options=video_options or {})
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = video.codec_context.time_base = Fraction(1, FPS)
        audio = None
        if sound is not None:
            audio = container.add_stream(audio_codec, rate=sound.rate)
            audio.layout = "mono" if sound.planes.shape[0] == 1 else "stereo"
            audio.time_base = Fraction(1, sound.rate)
        offset = int(round(video_start_s * FPS))
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = offset + index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            step = audio.codec_context.frame_size or 1024
            planes = sound.planes.astype(np.float32)
            for start in range(0, planes.shape[1], step):
                chunk = np.ascontiguousarray(planes[:, start : start + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=audio.layout.name)
                frame.sample_rate, frame.pts, frame.time_base = sound.rate, start, Fraction(1, sound.rate)
                container.mux(audio.encode(frame))
            container.mux(audio.encode())
    return Path(path)


def _count(seconds: float = SECONDS) -> int:
    return int(round(seconds * FPS))


# -- containers and codecs --------------------------------------------------------------------------------------


def webm_vp9_opus(folder: Path) -> Path:
    """WebM with VP9 video and Opus audio (48 kHz stereo: Opus has no 16 kHz mode in WebM players)."""
    options = {"deadline": "realtime", "cpu-used": "8", "b": "300k"}
    return write_clip(
        folder / "vp9_opus.webm",
        _frames(_count()),
        _audio(SECONDS, 48000, 2),
        "libvpx-vp9",
        "libopus",
        video_options=options,
    )


def mkv_h264_aac(folder: Path) -> Path:
    """Matroska H.264 + AAC: no per-stream frame count in the header (only a DURATION tag, or nothing)."""
    return write_clip(folder / "h264_aac.mkv", _frames(_count()), _audio(SECONDS, 16000, 1))


def mov_h264_aac(folder: Path) -> Path:
    """QuickTime .mov, as iPhones and Macs write it (H.264 + AAC 44.1 kHz stereo)."""
    return write_clip(folder / "h264_aac.mov", _frames(_count()), _audio(SECONDS, 44100, 2))


def mp4_hevc_10bit(folder: Path) -> Path:
    """MP4 with 10-bit HEVC (yuv420p10le), as recent phones record HDR-less 10-bit video."""
    options = {"preset": "ultrafast", "x265-params": "log-level=error"}
    return write_clip(
        folder / "hevc10.mp4",
        _frames(_count()),
        _audio(SECONDS, 48000, 2),
        "libx265",
        pix_fmt="yuv420p10le",
        video_options=options,
    )


def mp4_av1(folder: Path) -> Path:
    """MP4 with AV1 video (SVT-AV1, else libaom) and AAC."""
    encoders = (("libsvtav1", {"preset": "10", "svtav1-params": "log-level=0"}), ("libaom-av1", {"cpu-used": "8"}))
    for codec, options in encoders:
        try:
            _check_encoder(codec)
        except KindSkipped:
            continue
        return write_clip(
            folder / "av1.mp4", _frames(_count()), _audio(SECONDS, 16000, 1), video_codec=codec, video_options=options
        )
    raise KindSkipped("the installed PyAV/FFmpeg has no AV1 encoder (libsvtav1, libaom-av1)")


def stereo_48k(folder: Path) -> Path:
    """H.264 + AAC with stereo 48 kHz audio (what cameras and phones record)."""
    return write_clip(folder / "stereo48k.mp4", _frames(_count()), _audio(SECONDS, 48000, 2))


def audio_shorter(folder: Path) -> Path:
    """Audio ends after 1.2 s of a 2.4 s video: only the span with sound can be scored."""
    return write_clip(folder / "audio_short.mp4", _frames(_count()), _audio(SECONDS / 2, 16000, 1))


def audio_longer(folder: Path) -> Path:
    """Audio goes on 1.6 s past the video's end."""
    return write_clip(folder / "audio_long.mp4", _frames(_count()), _audio(SECONDS + 1.6, 16000, 1))


VIDEO_LATE_S = 0.52  # 13 frames


def video_late(folder: Path) -> Path:
    """The video stream starts 0.52 s after the audio (an edit's leading audio); the frames shown from 0.52 s are
    the fixture's from 0.52 s, so a reader that aligns streams by their start times keeps lips and speech in step."""
    first = int(round(VIDEO_LATE_S * FPS))
    return write_clip(
        folder / "video_late.mp4",
        _frames(_count(), first=first),
        _audio(SECONDS + VIDEO_LATE_S, 16000, 1),
        video_start_s=VIDEO_LATE_S,
    )


# -- edits --------------------------------------------------------------------------------------------------------


def cut_edit(folder: Path) -> Path:
    """Three shots, wide / close-up / wide (0.8 s each), of one continuous take: the 224x224 face pasted at 200 px
    into a 640x360 background, then upscaled to fill the frame's height. The audio runs on across the cuts."""
    width, height = 640, 360
    background = textured_background(width, height, seed=11)
    frames = []
    for index, face in enumerate(_frames(_count())):
        shot = index // 20
        if shot == 1:  # close-up: the face fills the frame's height
            frame = textured_background(width, height, seed=12)
            side, x, y = height, (width - height) // 2, 0
        else:
            frame, side, x, y = background.copy(), 200, 200 + 2 * (index % 20), 80
        frame[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        frames.append(frame)
    return write_clip(folder / "cut_edit.mp4", frames, _audio(SECONDS, 16000, 1))


def two_faces(folder: Path) -> Path:
    """Two copies of the face side by side: the left one speaks the audio, the right one is the same face 1.2 s
    later (its mouth moves out of step with the sound)."""
    width, height, side = 480, 240, 192
    background = textured_background(width, height, seed=13)
    frames = []
    for speaking, other in zip(_frames(_count()), _frames(_count(), first=30)):
        frame = background.copy()
        frame[24 : 24 + side, 24 : 24 + side] = cv2.resize(speaking, (side, side), interpolation=cv2.INTER_AREA)
        frame[24 : 24 + side, 264 : 264 + side] = cv2.resize(other, (side, side), interpolation=cv2.INTER_AREA)
        frames.append(frame)
    return write_clip(folder / "two_faces.mp4", frames, _audio(SECONDS, 16000, 1))


def rotated_phone(folder: Path) -> Path:
    """A portrait phone recording: coded frames turned, with a display matrix saying "turn 90 degrees"."""
    try:
        from tests.orientation_factories import write_rotated_copy
    except ImportError as exc:
        raise KindSkipped(f"tests/orientation_factories.py is not available ({exc})") from None
    # Portrait: the face in the upper part of a 360x640 scene (not a face crop: it must be found and cropped).
    scene = textured_background(360, 640, seed=14)
    portrait = []
    for face in _frames(_count()):
        frame = scene.copy()
        frame[120:320, 80:280] = cv2.resize(face, (200, 200), interpolation=cv2.INTER_CUBIC)
        portrait.append(frame)
    source = write_clip(folder / "rotated_source.mp4", portrait, _audio(SECONDS, 48000, 2))
    try:
        return write_rotated_copy(source, folder / "rotated_phone.mp4", degrees=90)
    finally:
        source.unlink()


def long_60s(folder: Path) -> Path:
    """A 60 s clip (the fixture looped), 64x64 so that the whole matrix stays fast."""
    return write_clip(folder / "long60.mp4", _frames(_count(60.0), size=64), _audio(60.0, 16000, 1))


# -- the registry -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadKind:
    make: Callable[[Path], Path]
    expect: str  # "score": every script scores it; "score or reason": a score, or one line saying what is not possible
    note: str  # what the kind is, for the docs table


UPLOAD_KINDS: dict[str, UploadKind] = {
    "webm_vp9_opus": UploadKind(webm_vp9_opus, "score", "WebM, VP9 + Opus 48 kHz stereo"),
    "mkv_h264_aac": UploadKind(mkv_h264_aac, "score", "Matroska, H.264 + AAC, no per-stream frame count"),
    "mov_h264_aac": UploadKind(mov_h264_aac, "score", "QuickTime .mov, H.264 + AAC 44.1 kHz stereo"),
    "mp4_hevc_10bit": UploadKind(mp4_hevc_10bit, "score", "MP4, 10-bit HEVC (yuv420p10le) + AAC"),
    "mp4_av1": UploadKind(mp4_av1, "score", "MP4, AV1 + AAC"),
    "stereo_48k": UploadKind(stereo_48k, "score", "MP4, H.264 + AAC stereo 48 kHz"),
    "audio_shorter": UploadKind(audio_shorter, "score", "audio 1.2 s of a 2.4 s video"),
    "audio_longer": UploadKind(audio_longer, "score", "audio 1.6 s longer than the video"),
    "video_late": UploadKind(video_late, "score", "video stream starts 0.52 s after the audio"),
    "cut_edit": UploadKind(cut_edit, "score", "3 shots: wide / close-up / wide, 640x360"),
    "two_faces": UploadKind(two_faces, "score or reason", "two faces side by side, one in sync with the audio"),
    "rotated_phone": UploadKind(
        rotated_phone, "score", "portrait phone clip (360x640 shown), display matrix 90 degrees"
    ),
    "long_60s": UploadKind(long_60s, "score", "60 s, 64x64, the fixture looped"),
}


def make_all(folder: Path, names: list[str] | None = None) -> dict[str, Path | str]:
    """Write the kinds into ``folder``: name -> path, or the reason it was skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path | str] = {}
    for name in names or list(UPLOAD_KINDS):
        try:
            made[name] = UPLOAD_KINDS[name].make(folder)
        except KindSkipped as exc:
            made[name] = str(exc)
    return made


if __name__ == "__main__":
    for kind, result in make_all(Path(sys.argv[1] if len(sys.argv) > 1 else "uploads")).items():
        print(f"{kind}: {result}")
