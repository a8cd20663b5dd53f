"""Decode a talking-face clip for the audio-visual detector: RGB frames at 25 fps, 224x224, and 16 kHz audio.

Matches the authors' loader: frames decoded by PyAV to RGB (``frame.to_image()``), resized with PIL
bicubic to 224x224 when they are another size (torchvision's resize on a PIL image is exactly that);
audio as in :mod:`core.media.audio`; then both truncated to the same number of frames (640 samples each).
The authors assume 25 fps input and never resample; clips at another rate are resampled here to 25 fps by
timestamp (each output frame shows the latest input frame at its time, like ffmpeg's fps filter) and a
log line says so. ``max_frames`` stops decoding early: the detector never looks past ``max_len + 4`` frames.
Frames are turned as displayed (a phone's portrait clip stays portrait, :mod:`core.media.orientation`) before
they are resized.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from typing import Iterator

import av
import numpy as np
from PIL import Image

from core.errors import InputError
from core.media.audio import SAMPLE_RATE, decode_audio_stream, frames_to_samples
from core.media.in_memory import VideoSource, check_source, open_container, source_name
from core.media.integrity import until_damaged
from core.media.orientation import displayed_size, stream_rotation, upright

log = logging.getLogger(__name__)

TARGET_FPS = 25.0
FRAME_SIZE = 224


class ClipTooShort(InputError):
    """Fewer frames (after truncating audio and video to the same length) than the detector needs."""


@dataclass
class AVClip:
    path: str
    frames: np.ndarray  # (T, size, size, 3) uint8 RGB
    audio: np.ndarray  # (T * samples_per_frame,) float32, int16 scale
    source_fps: float
    resampled: bool
    source_width: int = 0  # the decoded video's size before resizing (0: unknown)
    source_height: int = 0
    first_frame: int = 0  # index (at 25 fps) of the source frame the clip starts at: > 0 for a face track's crop
    decoded_frames: int = -1  # video frames decoded (at 25 fps, from the start) before audio cut them; -1 unknown

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


def clip_prefix(clip: AVClip, frames: int) -> AVClip:
    """The first ``frames`` frames of ``clip`` and their audio (the clip itself when it is not longer)."""
    if clip.num_frames <= frames:
        return clip
    per_frame = clip.audio.shape[0] // clip.num_frames
    return replace(clip, frames=clip.frames[:frames], audio=clip.audio[: frames * per_frame])


def _to_rgb(frame: av.VideoFrame, size: int, rotation: int = 0) -> np.ndarray:
    image = frame.to_image()
    if rotation:
        image = Image.fromarray(upright(np.asarray(image), rotation))
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return np.asarray(image)


def frames_at_rate(
    stream: av.video.stream.VideoStream, frames: Iterator[av.VideoFrame], fps: float
) -> Iterator[av.VideoFrame]:
    """Re-time decoded frames to ``fps``: output frame n is the latest input frame whose time rounds to <= n."""
    source_fps = float(stream.average_rate or stream.guessed_rate or fps)
    first_time = None
    current = None
    next_slot = 0
    last_time = 0.0
    for index, frame in enumerate(frames):
        time = float(frame.time) if frame.time is not None else index / source_fps
        first_time = time if first_time is None else first_time
        last_time = time - first_time
        slot = math.floor(last_time * fps + 0.5)
        while current is not None and next_slot < slot:
            yield current
            next_slot += 1
        current = frame
    if current is not None:
        # The clip lasts until the last frame's end; a slot that rounds up past it is not emitted.
        end_slot = math.floor((last_time + 1.0 / source_fps) * fps + 0.5)
        for _ in range(next_slot, end_slot):
            yield current


def retimed_frames(
    container: av.container.InputContainer, fps: float = TARGET_FPS
) -> tuple[av.video.stream.VideoStream, float, bool, Iterator[av.VideoFrame]]:
    """The first video stream's frames re-timed to ``fps`` (:func:`frames_at_rate`; as they are when the rate
    already is ``fps``), stopping at the first damaged packet: (stream, source fps, whether re-timed, frames)."""
    if not container.streams.video:
        raise InputError("no video track")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    source_fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    resample = source_fps > 0 and abs(source_fps - fps) > 1e-3
    decoded: Iterator[av.VideoFrame] = until_damaged(container.decode(stream), container.name)
    return stream, source_fps, resample, frames_at_rate(stream, decoded, fps) if resample else decoded


def load_video_frames(
    container: av.container.InputContainer,
    size: int = FRAME_SIZE,
    fps: float = TARGET_FPS,
    max_frames: int | None = None,
) -> tuple[np.ndarray, float, bool, tuple[int, int]]:
    """Decode the first video stream -> ((T, size, size, 3) uint8, source fps, whether it was resampled,
    (source width, source height))."""
    stream, source_fps, resample, decoded = retimed_frames(container, fps)
    images: list[np.ndarray] = []
    last_frame, last_image = None, None
    rotation = None  # the first frame's display matrix holds for the whole clip
    for frame in decoded:
        if max_frames is not None and len(images) >= max_frames:
            break
        if rotation is None:
            rotation = stream_rotation(stream, frame)
        if frame is not last_frame:  # a frame repeated by the re-timing is converted once
            last_frame, last_image = frame, _to_rgb(frame, size, rotation)
        images.append(last_image)
    frames = np.stack(images) if images else np.zeros((0, size, size, 3), dtype=np.uint8)
    return frames, source_fps, resample, displayed_size(stream.width, stream.height, rotation or 0)


def load_av_clip(
    path: VideoSource,
    size: int = FRAME_SIZE,
    fps: float = TARGET_FPS,
    sample_rate: int = SAMPLE_RATE,
    max_frames: int | None = None,
    min_frames: int = 1,
    audio_path: str | os.PathLike | None = None,
) -> AVClip:
    """Decode video and audio of ``path``, truncated to the same length (see module docstring).

    ``audio_path`` takes the audio from another file instead (e.g. a WAV already extracted next to the video).

    Raises :class:`InputError` (missing, undecodable, no video), :class:`core.media.audio.NoAudioTrack`
    or :class:`ClipTooShort`; the message is meant for a results table.
    """
    check_source(path)
    samples_per_frame = frames_to_samples(1, fps, sample_rate)
    try:
        with open_container(path) as container:
            frames, source_fps, resampled, source_size = load_video_frames(container, size, fps, max_frames)
        with open_container(audio_path if audio_path is not None else path) as container:
            max_samples = None if max_frames is None else max_frames * samples_per_frame
            audio = decode_audio_stream(container, sample_rate, max_samples)
    except av.FFmpegError as exc:
        raise InputError(f"cannot decode: {exc}") from None
    if resampled:
        log.info("%s: %.3f fps resampled to %g fps (the detector assumes %g fps)", path, source_fps, fps, fps)
    usable = min(frames.shape[0], audio.shape[0] // samples_per_frame)
    if usable < min_frames:
        raise ClipTooShort(
            f"too short: {usable} frames with audio (video {frames.shape[0]}, "
            f"audio {audio.shape[0] / sample_rate:.2f} s), "
            f"need {min_frames}"
        )
    return AVClip(
        source_name(path),
        frames[:usable],
        audio[: usable * samples_per_frame],
        source_fps,
        resampled,
        *source_size,
        decoded_frames=frames.shape[0],
    )
