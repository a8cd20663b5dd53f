"""Phone-like rotated copies of videos: coded frames turned the other way plus a display matrix, so the copy
displays exactly like its source (what a phone writes for a portrait clip)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from core.media.orientation import normalise, upright, video_rotation


def _turn_yuv420(planes: np.ndarray, width: int, height: int, degrees: int) -> np.ndarray:
    """A packed (H*3/2, W) yuv420p frame turned ``degrees`` clockwise, plane by plane (chroma stays exact)."""
    y = planes[:height]
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    y, u, v = (upright(p, degrees) for p in (y, chroma[0], chroma[1]))
    return np.concatenate([y, u.reshape(-1, y.shape[1]), v.reshape(-1, y.shape[1])])


def _add_video(output: av.container.OutputContainer, stream: av.video.stream.VideoStream, yuv: bool, size):
    if yuv:  # H.264 4:2:0 as phones write it, lossless so the copy differs from its source by nothing
        out = output.add_stream("libx264", options={"qp": "0", "preset": "ultrafast"})
        out.pix_fmt = "yuv420p"
    else:
        out = output.add_stream("libx264rgb", options={"qp": "0", "preset": "ultrafast"})
        out.pix_fmt = "rgb24"
    out.width, out.height = size
    out.time_base = out.codec_context.time_base = stream.time_base
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        out.codec_context.framerate = rate
    return out


def _tag(out: av.video.stream.VideoStream, degrees: int) -> None:
    """The display matrix saying "turn ``degrees`` clockwise" (PyAV 14+), or the old ``rotate`` tag."""
    if hasattr(out, "set_display_rotation"):
        out.set_display_rotation(-degrees)  # PyAV counts counter-clockwise, as FFmpeg's matrix does
    else:
        out.metadata["rotate"] = str(degrees)


def write_rotated_copy(source: str | Path, dest: str | Path, degrees: int = 90) -> Path:
    """Write ``dest`` (.mp4 or .mov): ``source``'s displayed frames turned ``degrees`` counter-clockwise, tagged
    to be turned ``degrees`` clockwise again when displayed, with ``source``'s audio packets copied.

    The video is stored losslessly (4:2:0 planes turned as they are when the size is even, else RGB), so the
    copy's displayed frames equal the source's up to the decoder's colour conversion.
    """
    degrees = normalise(degrees)
    dest = Path(dest)
    source_turn = video_rotation(source)  # a source that is itself rotated is first turned as displayed
    with av.open(str(source)) as container, av.open(str(dest), mode="w") as output:
        stream = container.streams.video[0]
        width, height = stream.width, stream.height
        if source_turn in (90, 270):
            width, height = height, width
        yuv = stream.format.name == "yuv420p" and width % 2 == 0 and height % 2 == 0
        coded_size = (height, width) if degrees in (90, 270) else (width, height)
        video_out = _add_video(output, stream, yuv, coded_size)
        _tag(video_out, degrees)
        audio_in = container.streams.audio[0] if container.streams.audio else None
        audio_out = output.add_stream_from_template(audio_in) if audio_in is not None else None
        back = (source_turn - degrees) % 360  # coded source frame -> coded copy frame
        time_base = video_out.codec_context.time_base
        for frame in container.decode(stream):
            if yuv:
                image = _turn_yuv420(frame.to_ndarray(format="yuv420p"), stream.width, stream.height, back)
                turned = av.VideoFrame.from_ndarray(image, format="yuv420p")
            else:
                turned = av.VideoFrame.from_ndarray(upright(frame.to_ndarray(format="rgb24"), back), format="rgb24")
            turned.pts, turned.time_base = frame.pts, time_base
            for packet in video_out.encode(turned):
                output.mux(packet)
        for packet in video_out.encode(None):
            output.mux(packet)
        if audio_in is not None:
            container.seek(0)
            for packet in container.demux(audio_in):
                if packet.dts is None:
                    continue
                packet.stream = audio_out
                output.mux(packet)
    return dest


def make_rotated_source(path: str | Path, width: int = 48, height: int = 32, frames: int = 12, fps: int = 25) -> Path:
    """A small unrotated H.264 clip (yuv420p) with a moving, asymmetric pattern: its rotated copies show which
    way they were turned."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), mode="w") as output:
        out = output.add_stream("libx264", rate=fps, options={"qp": "0", "preset": "ultrafast"})
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        out.time_base = out.codec_context.time_base = Fraction(1, fps)
        for index in range(frames):
            image = np.roll(texture, index, axis=1)
            image[:6, :6] = 255  # a white corner marks the top left
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            for packet in out.encode(frame):
                output.mux(packet)
        for packet in out.encode(None):
            output.mux(packet)
    return Path(path)
