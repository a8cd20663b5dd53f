"""Perturbations for robustness tests, applied in memory: a perturbed copy is an :class:`InMemoryVideo`.

The kinds and levels follow the literature the two papers test against (DeeperForensics-style distortions
in the audio-visual paper; re-encoding in GenVideo/DeMamba):

=============  ==================  ====================================================================
kind           levels              what
=============  ==================  ====================================================================
``h264``       23, 28, 33, 38      re-encode the video with x264 at that CRF (yuv420p, preset medium)
``jpeg``       75, 50, 30          each frame JPEG-compressed at that quality (OpenCV, 4:2:0)
``resize``     0.75, 0.5, 0.25     each frame downscaled by that factor (area) and back (bilinear)
``blur``       1, 2, 3             Gaussian blur of that sigma in pixels
``noise``      5, 10, 20           additive Gaussian noise of that sigma on the 0-255 scale
``fps``        15                  re-timed to that frame rate (each output frame the latest input frame)
``audio_noise`` 20, 10, 0          white noise at that SNR in dB (against the track's mean power)
``aac``        32                  the audio re-encoded as AAC at that many kb/s
``audio_delay`` 2, 5               the audio delayed by that many 25 fps frames (40 ms each), same length
=============  ==================  ====================================================================

A spec is ``kind:level``, several joined by ``+`` to chain them (``blur:2+jpeg:50``). A video the chain leaves
alone is copied packet for packet; a perturbed video is stored losslessly (x264 RGB at qp 0), except ``h264``
which is the lossy encode itself. The audio is decoded and stored as 16-bit PCM at its own rate and layout
(AAC for ``aac``): untouched, it decodes to the same samples as the original (copying AAC packets into
another container would lose the MP4 edit list that trims the encoder's priming samples).
Noise is seeded by ``(seed, the video's name, the perturbation)``, so a run is reproducible and a video's
noise does not depend on which other videos are in the batch.
A phone's rotated video (:mod:`core.media.orientation`) displays the same perturbed: copied packets keep the
stream's display matrix; re-encoded frames are turned upright first and stored without one.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av
import cv2
import numpy as np

from core.errors import InputError
from core.media.av_clip import frames_at_rate
from core.media.in_memory import InMemoryVideo, VideoSource, check_source, open_container, source_name
from core.media.orientation import displayed_size, upright, video_rotation

LEVELS: dict[str, tuple[float, ...]] = {
    "h264": (23, 28, 33, 38),
    "jpeg": (75, 50, 30),
    "resize": (0.75, 0.5, 0.25),
    "blur": (1, 2, 3),
    "noise": (5, 10, 20),
    "fps": (15,),
    "audio_noise": (20, 10, 0),
    "aac": (32,),
    "audio_delay": (2, 5),
}
AUDIO_KINDS = frozenset({"audio_noise", "aac", "audio_delay"})
DELAY_FRAME_S = 1 / 25  # audio delays are counted in the audio-visual detector's 25 fps frames
AAC_FRAME = 1024


@dataclass(frozen=True)
class Perturbation:
    kind: str
    level: float

    def __post_init__(self) -> None:
        if self.kind not in LEVELS:
            raise ValueError(f"unknown perturbation {self.kind!r}; known: {', '.join(LEVELS)}")
        low, high = {"jpeg": (1, 100), "resize": (0.01, 1), "fps": (1, 240), "aac": (8, 512)}.get(self.kind, (0, 1e6))
        if not low <= self.level <= high or (self.kind in ("blur", "noise") and self.level <= 0):
            raise ValueError(f"{self.kind} level {self.level:g} is out of range")

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.level:g}"

    @property
    def on_audio(self) -> bool:
        return self.kind in AUDIO_KINDS


def parse_perturbations(spec: str) -> list[Perturbation]:
    """``"blur:2+jpeg:50"`` -> the chain, in order; ValueError names what is wrong."""
    chain = []
    for part in spec.split("+"):
        kind, sep, level = part.strip().partition(":")
        if not sep:
            raise ValueError(f"perturbation {part!r} needs a level, as in {kind}:{LEVELS.get(kind, (1,))[0]:g}")
        try:
            value = float(level)
        except ValueError:
            raise ValueError(f"perturbation level {level!r} of {kind!r} is not a number") from None
        chain.append(Perturbation(kind.strip(), value))
    return chain


def chain_spec(chain: list[Perturbation]) -> str:
    return "+".join(p.spec for p in chain) or "clean"


def _rng(seed: int, name: str, perturbation: Perturbation) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(perturbation.spec.encode())])


def perturb_frame(frame: np.ndarray, perturbation: Perturbation, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 frame through one frame-level perturbation (pure but for the noise drawn from ``rng``)."""
    kind, level = perturbation.kind, perturbation.level
    if kind == "jpeg":
        ok, encoded = cv2.imencode(
            ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(level)]
        )
        return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if kind == "resize":
        height, width = frame.shape[:2]
        small = (max(1, round(width * level)), max(1, round(height * level)))
        return cv2.resize(cv2.resize(frame, small, interpolation=cv2.INTER_AREA), (width, height), cv2.INTER_LINEAR)
    if kind == "blur":
        return cv2.GaussianBlur(frame, (0, 0), sigmaX=level, sigmaY=level)
    if kind == "noise":
        noisy = frame.astype(np.float32) + rng.normal(0.0, level, frame.shape).astype(np.float32)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    raise ValueError(f"{perturbation.spec} is not a frame-level perturbation")


def perturb_audio(samples: np.ndarray, rate: int, perturbation: Perturbation, rng: np.random.Generator) -> np.ndarray:
    """(channels, n) float samples in [-1, 1] through ``audio_noise`` or ``audio_delay`` (same shape)."""
    if perturbation.kind == "audio_noise":
        power = float(np.mean(samples.astype(np.float64) ** 2))
        sigma = np.sqrt(power / 10 ** (perturbation.level / 10))
        return (samples + rng.normal(0.0, sigma, samples.shape)).astype(np.float32)
    if perturbation.kind == "audio_delay":
        shift = min(round(perturbation.level * DELAY_FRAME_S * rate), samples.shape[1])
        delayed = np.zeros_like(samples)
        delayed[:, shift:] = samples[:, : samples.shape[1] - shift]
        return delayed
    raise ValueError(f"{perturbation.spec} is not a sample-level audio perturbation")


def _copy_packets(container, streams: dict, output: av.container.OutputContainer) -> None:
    """Copy the packets of the input streams in ``streams`` (input -> output stream), in one pass."""
    if not streams:
        return
    targets = {stream.index: out for stream, out in streams.items()}
    for packet in container.demux(*streams):
        if packet.dts is None:  # the demuxer's flush packet
            continue
        packet.stream = targets[packet.stream.index]
        output.mux(packet)


def _video_frames(
    source: VideoSource, chain: list[Perturbation], seed: int, rotation: int = 0
) -> Iterator[tuple[np.ndarray, int]]:
    """Perturbed RGB frames, turned upright by ``rotation``, with their pts (in the output stream's time base,
    see ``_video_time_base``)."""
    name = source_name(source)
    with open_container(source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded: Iterator[av.VideoFrame] = container.decode(stream)
        retimed = False
        for perturbation in chain:
            if perturbation.kind == "fps":
                decoded, retimed = frames_at_rate(stream, decoded, perturbation.level), True
        rngs = {p.spec: _rng(seed, name, p) for p in chain}
        for index, frame in enumerate(decoded):
            image = upright(frame.to_ndarray(format="rgb24"), rotation)
            for perturbation in chain:
                if perturbation.kind in ("jpeg", "resize", "blur", "noise"):
                    image = perturb_frame(image, perturbation, rngs[perturbation.spec])
            yield image, index if retimed else frame.pts


def _video_time_base(stream: av.video.stream.VideoStream, chain: list[Perturbation]) -> Fraction:
    rates = [p.level for p in chain if p.kind == "fps"]
    return Fraction(1) / Fraction(rates[-1]).limit_denominator(1001) if rates else stream.time_base


def _video_stream(
    stream: av.video.stream.VideoStream,
    chain: list[Perturbation],
    output: av.container.OutputContainer,
    rotation: int = 0,
) -> av.video.stream.VideoStream:
    crf = next((p.level for p in chain if p.kind == "h264"), None)
    if crf is not None:
        out = output.add_stream("libx264", options={"crf": f"{crf:g}", "preset": "medium"})
        out.pix_fmt = "yuv420p" if stream.width % 2 == 0 and stream.height % 2 == 0 else "yuv444p"
    else:  # lossless, so only the chain's own perturbations change the pixels
        out = output.add_stream("libx264rgb", options={"qp": "0", "preset": "ultrafast"})
        out.pix_fmt = "rgb24"
    out.width, out.height = displayed_size(stream.width, stream.height, rotation)  # frames come upright
    out.time_base = out.codec_context.time_base = _video_time_base(stream, chain)
    rates = [p.level for p in chain if p.kind == "fps"]
    rate = Fraction(rates[-1]).limit_denominator(1001) if rates else stream.average_rate or stream.guessed_rate
    if rate:
        out.codec_context.framerate = rate
    return out


def _encode_video(
    source: VideoSource,
    chain: list[Perturbation],
    seed: int,
    out: av.video.stream.VideoStream,
    output,
    rotation: int = 0,
) -> None:
    time_base = out.codec_context.time_base  # the muxer may change the stream's (e.g. Matroska: 1 ms)
    for image, pts in _video_frames(source, chain, seed, rotation):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        _mux(output, out.encode(frame), time_base)
    _mux(output, out.encode(None), time_base)


def _mux(output: av.container.OutputContainer, packets: list[av.Packet], time_base: Fraction) -> None:
    for packet in packets:
        packet.time_base = time_base  # the encoder's: the muxer rescales to the stream's from it
        output.mux(packet)


def _layout(stream: av.audio.stream.AudioStream) -> str:
    """A channel layout the encoders accept (a file may declare only a channel count, e.g. "1 channels")."""
    return {1: "mono", 2: "stereo"}.get(len(stream.layout.channels), stream.layout.name)


def _audio_samples(source: VideoSource, chain: list[Perturbation], seed: int) -> np.ndarray:
    """The first audio track as (channels, n) float32, through the chain's sample-level perturbations."""
    name = source_name(source)
    with open_container(source) as container:
        stream = container.streams.audio[0]
        rate, layout = stream.rate, _layout(stream)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = [f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((len(stream.layout.channels), 0), np.float32)
    for perturbation in chain:
        if perturbation.kind in ("audio_noise", "audio_delay"):
            samples = perturb_audio(samples, rate, perturbation, _rng(seed, name, perturbation))
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def _audio_stream(
    stream: av.audio.stream.AudioStream, chain: list[Perturbation], output: av.container.OutputContainer
) -> av.audio.stream.AudioStream:
    bitrate = next((p.level for p in chain if p.kind == "aac"), None)
    if bitrate is None:  # 16-bit PCM: what the decoders make of it anyway
        return output.add_stream("pcm_s16le", rate=stream.rate, layout=_layout(stream))
    out = output.add_stream("aac", rate=stream.rate, layout=_layout(stream))
    out.bit_rate = int(bitrate * 1000)
    return out


def _encode_audio(samples: np.ndarray, out: av.audio.stream.AudioStream, output) -> None:
    layout, rate = out.layout.name, out.rate
    to_codec = av.AudioResampler(format=out.format.name, layout=layout, rate=rate, frame_size=out.frame_size or None)
    for start in range(0, samples.shape[1], AAC_FRAME):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start : start + AAC_FRAME]), "fltp", layout)
        frame.sample_rate, frame.pts = rate, start
        for converted in to_codec.resample(frame):
            output.mux(out.encode(converted))
    for converted in to_codec.resample(None):
        output.mux(out.encode(converted))
    output.mux(out.encode(None))


def perturb_video(source: VideoSource, chain: list[Perturbation], seed: int = 0) -> InMemoryVideo:
    """The video with ``chain`` applied, as an in-memory QuickTime file (see the module docstring).

    Raises InputError for a file that cannot be read or perturbed (e.g. an audio perturbation without audio).
    """
    check_source(source)
    video_chain = [p for p in chain if not p.on_audio]
    audio_chain = [p for p in chain if p.on_audio]
    buffer = io.BytesIO()
    try:
        with open_container(source) as container:
            if not container.streams.video:
                raise InputError("no video track")
            has_audio = bool(container.streams.audio)
            if audio_chain and not has_audio:
                raise InputError(f"no audio track for {chain_spec(audio_chain)}")
            samples = _audio_samples(source, audio_chain, seed) if has_audio else None
            with av.open(buffer, mode="w", format="mov") as output:
                output.flags |= av.container.Flags.bitexact.value  # no random segment id: same input, same bytes
                # Every stream is declared before the first packet: the muxer writes its header then.
                video_in = container.streams.video[0]
                rotation = video_rotation(source) if video_chain else 0  # copied packets keep their matrix
                video_out = (
                    _video_stream(video_in, video_chain, output, rotation)
                    if video_chain
                    else output.add_stream_from_template(video_in)
                )
                # Audio is always decoded and stored again: copied AAC packets would lose the MP4 edit list
                # that trims the encoder's priming samples (1024), shifting the sound by 64 ms at 16 kHz.
                audio_out = _audio_stream(container.streams.audio[0], audio_chain, output) if has_audio else None
                _copy_packets(container, {} if video_chain else {video_in: video_out}, output)
                if video_chain:
                    _encode_video(source, video_chain, seed, video_out, output, rotation)
                if samples is not None and audio_out is not None:
                    _encode_audio(samples, audio_out, output)
    except av.FFmpegError as exc:
        raise InputError(f"cannot perturb ({chain_spec(chain)}): {exc}") from None
    return InMemoryVideo(source_name(source), buffer.getvalue(), chain_spec(chain))
