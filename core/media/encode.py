"""Writing frames and sound into one video file: the encoder behind the face-crop videos, the synthetic worlds and
the test and benchmark clips, so they are all muxed the same way.

The file is written under a temporary name and renamed when complete (:func:`core.atomic.atomic_path`): a killed
run never leaves a half-written video under the real name."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

from core.atomic import atomic_path


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    *,
    size: tuple[int, int] | None = None,
    video_codec: str = "libx264",
    video_options: dict[str, str] | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    audio_codec: str = "aac",
    audio_chunk: int = 1024,
) -> Path:
    """Encode RGB ``frames`` (H, W, 3 uint8) at ``fps`` and, if given, ``audio`` into ``path``.

    ``size`` (width, height) lets ``frames`` stream (a generator is then never held whole); without it the frames
    are gathered and the first gives the size. ``audio`` is int16 mono samples (1-D, or (1, N)), written as packed
    16-bit, or float (channels, N) planes in -1..1 (one channel: mono, two: stereo); it is handed to the encoder
    ``audio_chunk`` samples at a time."""
    if size is None:
        frames = list(frames)
        height, width = frames[0].shape[:2]
    else:
        width, height = size
    with atomic_path(path) as partial, av.open(os.fspath(partial), "w") as container:
        video = container.add_stream(video_codec, rate=fps, options=video_options or {})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = None
        if audio is not None:
            planes = audio.reshape(1, -1) if audio.ndim == 1 else audio
            sound = container.add_stream(audio_codec, rate=sample_rate)
            sound.layout = "mono" if planes.shape[0] == 1 else "stereo"
        for image in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        container.mux(video.encode())
        if sound is not None:
            sample_format = "s16" if planes.dtype == np.int16 else "fltp"
            for start in range(0, planes.shape[1], audio_chunk):
                chunk = np.ascontiguousarray(planes[:, start : start + audio_chunk])
                frame = av.AudioFrame.from_ndarray(chunk, format=sample_format, layout=sound.layout.name)
                frame.sample_rate, frame.pts = sample_rate, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return Path(path)
