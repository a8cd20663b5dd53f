"""Audio-visual clips of the faces in a raw video: track on the source frames, crop, pair with the audio.

Three modes (``FACE_CROPS``), chosen per video by :func:`plan_face_crop`:

* ``never``: the whole frame, resized, as the authors' loader does (:func:`core.media.av_clip.load_av_clip`);
* ``always``: faces are tracked on the source frames (25 fps) and the chosen track is cut out by the
  SyncNet pycrop convention (:mod:`core.media.faces.crop`), resized bicubic to the detector's frame size;
  a video without a usable face gets a status (:mod:`core.media.faces.status`) instead of a clip;
* ``auto``: like ``always``, except that a video that already is a face crop (one face whose crop box
  covers most of the frame throughout, :func:`looks_like_face_crop`) is passed through whole, exactly as
  ``never`` decodes it, and so is a video where no face is seen for even a quarter of a second (false
  detections on texture, or a face the detector misses): there it falls back to what ``never`` would do.

Only the first ``max_frames`` frames at 25 fps are decoded and tracked (the detector looks no further), in
two passes: one streams the frames through the tracker (one small copy kept at a time), the other cuts
the crops, so a 1080p video never sits in memory. A crop clip starts at its track's first frame
(``AVClip.first_frame``); its audio is the same span of the soundtrack.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import av
import numpy as np

from core.errors import InputError
from core.media.audio import SAMPLE_RATE, NoAudioTrack, decode_audio_stream, frames_to_samples
from core.media.av_clip import FRAME_SIZE, TARGET_FPS, AVClip, ClipTooShort, load_av_clip, retimed_frames
from core.media.faces.coverage import Stretch, face_coverage
from core.media.faces.crop import crop_frame
from core.media.faces.detector import FaceDetector
from core.media.faces.people import join_across_cuts
from core.media.faces.status import (
    MIN_FACE_PX,
    FaceTrackError,
    NoFace,
    check_track,
    looks_like_face_crop,
    main_track,
    select_main_track,
)
from core.media.faces.tracks import FaceTrack, TrackConfig, track_faces
from core.media.in_memory import VideoSource, check_source, open_container, source_name
from core.media.orientation import displayed_size, upright, video_rotation

log = logging.getLogger(__name__)

FACE_CROPS = ("auto", "always", "never")
WHOLE_FRAME = "whole frame"  # face status of a clip scored uncropped


@dataclass
class FacePlan:
    """What tracking decided for one video: crop its tracks, or score the whole frame (and why)."""

    mode: str
    crop: bool
    face_status: str = WHOLE_FRAME  # of the whole-frame clip: "whole frame" or, in auto, "no face"
    tracks: list[FaceTrack] = field(default_factory=list)
    source_fps: float = 0.0
    resampled: bool = False
    decoded_frames: int = -1  # source frames (at 25 fps) the tracking pass decoded; -1 unknown
    cuts: list[int] = field(default_factory=list)  # first frame of each new shot (tracking's shot cuts)


@dataclass(eq=False)
class FaceClip:
    """One clip to score, or why a face could not give one (``clip`` None, ``error`` set)."""

    clip: AVClip | None
    face_status: str  # "ok" (a cropped track), "whole frame", "no face", or a FaceTrackError status
    track_id: int | None = None  # index in FacePlan.tracks; None: the whole frame
    track: FaceTrack | None = None
    error: Exception | None = None  # an InputError for a face or input problem
    main: bool = True  # the video's main track (or its only clip): the one that gives the video's score
    # How well its mouth goes with the voice, when a detector chose the speaker among several faces
    # (a chooser given to load_face_clips): its measure for this track, and the main track's lead over the next.
    speaker_sync: float | None = None
    speaker_margin: float | None = None
    evidence: object | None = None  # what the chooser computed on the clip, for the detector to reuse
    # The tracked frames from this clip's point of view: scored, or why not (core.media.faces.coverage).
    coverage: list[Stretch] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        """Where the clip starts in the video, in seconds (0 for the whole frame)."""
        return 0.0 if self.clip is None else self.clip.first_frame / TARGET_FPS

    @property
    def face_crop(self) -> str:
        return "none" if self.track_id is None else str(self.track_id)

    def require(self) -> AVClip:
        """The clip, or the error saying why there is none."""
        if self.clip is None:
            raise self.error or InputError(self.face_status)
        return self.clip


def _check_path(path: VideoSource, audio_path: str | os.PathLike | None) -> None:
    """The checks (and messages) of load_av_clip, made before tracking so a bad file costs nothing."""
    check_source(path)
    if audio_path is None:
        with open_container(path) as container:
            if not container.streams.video:
                raise InputError("no video track")
            if not container.streams.audio:
                raise NoAudioTrack("no audio track")


def source_frames(
    path: VideoSource, fps: float = TARGET_FPS, max_frames: int | None = None, info: dict | None = None
) -> Iterator[np.ndarray]:
    """The first ``max_frames`` RGB uint8 frames at their own size, re-timed to ``fps`` as ``load_av_clip`` does,
    turned as displayed (:mod:`core.media.orientation`).

    ``info``, when given, receives ``source_fps``, ``resampled``, ``width`` and ``height`` (displayed), and once
    the frames are exhausted, ``decoded`` (how many were yielded).
    """
    rotation = video_rotation(path)
    with open_container(path) as container:
        stream, source_fps, resample, decoded = retimed_frames(container, fps)
        if info is not None:
            width, height = displayed_size(stream.width, stream.height, rotation)
            info.update(source_fps=source_fps, resampled=resample, width=width, height=height)
        last_frame, last_image = None, None
        count = 0
        for index, frame in enumerate(decoded):
            if max_frames is not None and index >= max_frames:
                break
            if frame is not last_frame:  # a frame repeated by the re-timing is converted once
                last_frame, last_image = frame, upright(frame.to_ndarray(format="rgb24"), rotation)
            count += 1
            yield last_image
        if info is not None:
            info["decoded"] = count


def plan_face_crop(
    path: VideoSource,
    mode: str = "auto",
    max_frames: int | None = None,
    detector: FaceDetector | None = None,
    config: TrackConfig | None = None,
    audio_path: str | os.PathLike | None = None,
) -> FacePlan:
    """Track the faces of the first ``max_frames`` frames (not for ``never``) and decide between crop and whole frame.

    Raises :class:`InputError` for a file that cannot be read (the messages of ``load_av_clip``).
    """
    if mode not in FACE_CROPS:
        raise ValueError(f"face crop mode must be one of {FACE_CROPS}, not {mode!r}")
    if mode == "never":
        return FacePlan(mode, crop=False)
    config = config or TrackConfig()
    info: dict = {}
    tracking: dict = {}
    try:
        _check_path(path, audio_path)
        frames = source_frames(path, TARGET_FPS, max_frames, info)
        tracks = join_across_cuts(track_faces(frames, TARGET_FPS, detector, config, tracking))
    except av.FFmpegError as exc:
        raise InputError(f"cannot decode: {exc}") from None
    plan = FacePlan(
        mode,
        True,
        "ok",
        tracks,
        info.get("source_fps", 0.0),
        info.get("resampled", False),
        info.get("decoded", -1),
        tracking.get("cuts", []),
    )
    if mode == "auto":
        if looks_like_face_crop(tracks):
            log.info("%s: already a face crop, scored whole", path)
            plan.crop, plan.face_status = False, WHOLE_FRAME
        elif main_track(tracks) is None:
            log.warning(
                "%s: no face track of %d frames or more: the whole frame is scored", path, config.min_track_frames
            )
            plan.crop, plan.face_status = False, NoFace.status
        else:
            log.info("%s: not a face crop (%d face tracks): the face is tracked and cropped", path, len(tracks))
    return plan


def cut_tracks(
    frames: Iterable[np.ndarray], tracks: Sequence[FaceTrack], lengths: Sequence[int], size: int = FRAME_SIZE
) -> list[np.ndarray]:
    """Crops of the first ``lengths[i]`` frames of each track, in one pass over the video's frames from frame 0."""
    starts = [int(track.frames[0]) for track in tracks]
    boxes = [track.crop_boxes() for track in tracks]
    out = [np.empty((length, size, size, 3), dtype=np.uint8) for length in lengths]
    end = max((start + length for start, length in zip(starts, lengths)), default=0)
    filled = [0] * len(tracks)
    decoded = 0
    for index, frame in enumerate(frames):
        if index >= end:
            break
        for k, (start, length) in enumerate(zip(starts, lengths)):
            if start <= index < start + length:
                out[k][index - start] = crop_frame(frame, boxes[k][index - start], size)
                filled[k] += 1
        decoded = index + 1
    if filled != list(lengths):
        raise InputError(f"the video ended before its face tracks did (decoded {decoded} frames)")
    return out


def _track_clips(
    path: VideoSource,
    plan: FacePlan,
    items: list[FaceClip],
    size: int,
    max_frames: int | None,
    min_frames: int,
    audio_path: str | os.PathLike | None,
    sample_rate: int,
) -> None:
    """Fill in the clips of ``items`` (their tracks passed the checks): crops, and the audio of the same span."""
    if not items:
        return
    lengths = [item.track.length if max_frames is None else min(item.track.length, max_frames) for item in items]
    per_frame = frames_to_samples(1, TARGET_FPS, sample_rate)
    end = max(int(item.track.frames[0]) + length for item, length in zip(items, lengths))
    try:
        crops = cut_tracks(source_frames(path, TARGET_FPS, end), [item.track for item in items], lengths, size)
        with open_container(audio_path if audio_path is not None else path) as container:
            audio = decode_audio_stream(container, sample_rate, end * per_frame)
    except av.FFmpegError as exc:
        raise InputError(f"cannot decode: {exc}") from None
    for item, frames in zip(items, crops):
        first = int(item.track.frames[0])
        span = audio[first * per_frame : (first + len(frames)) * per_frame]
        usable = min(len(frames), span.shape[0] // per_frame)
        if usable < min_frames:
            item.error = ClipTooShort(
                f"too short: {usable} frames with audio (face track {item.track_id} from "
                f"frame {first}, {len(frames)} frames), need {min_frames}"
            )
            continue
        item.clip = AVClip(
            source_name(path),
            frames[:usable],
            span[: usable * per_frame],
            plan.source_fps,
            plan.resampled,
            item.track.frame_width,
            item.track.frame_height,
            first,
            plan.decoded_frames,
        )
        log.info(
            "%s: face track %d cropped: frames %d-%d, face %.0f px",
            path,
            item.track_id,
            first,
            first + usable - 1,
            item.track.size,
        )


SpeakerChooser = Callable[[Sequence[FaceClip]], FaceClip]


def load_face_clips(
    path: str | os.PathLike,
    plan: FacePlan,
    all_faces: bool = False,
    size: int = FRAME_SIZE,
    max_frames: int | None = None,
    min_frames: int = 1,
    audio_path: str | os.PathLike | None = None,
    min_face_px: float = MIN_FACE_PX,
    sample_rate: int = SAMPLE_RATE,
    choose_speaker: SpeakerChooser | None = None,
) -> list[FaceClip]:
    """The clips ``plan`` asks for: the whole frame; the main track's crop; or, with ``all_faces``, one per track.

    The main track is the speaker's. Without ``choose_speaker`` it is the largest face
    (:func:`core.media.faces.status.select_main_track`, which gives up when two comparable faces share the
    screen); with it, every usable track is cropped and ``choose_speaker`` (a detector that can tell whose mouth
    goes with the voice) picks among their clips. Face problems become items without a clip (``error`` says why;
    the run goes on); a file that cannot be read raises :class:`InputError` as ``load_av_clip`` does.
    """
    if not plan.crop:
        clip = load_av_clip(path, size, max_frames=max_frames, min_frames=min_frames, audio_path=audio_path)
        return [FaceClip(clip, plan.face_status)]
    tracks = plan.tracks
    if not tracks:
        return [FaceClip(None, NoFace.status, error=NoFace("no face found"))]
    if not all_faces and choose_speaker is None:
        try:
            chosen = select_main_track(tracks, min_face_px, min_frames)
        except FaceTrackError as exc:
            return [FaceClip(None, exc.status, error=exc)]
        items = [FaceClip(None, "ok", tracks.index(chosen), chosen)]
    else:
        main = main_track(tracks)
        items = []
        for track_id, track in enumerate(tracks):
            item = FaceClip(None, "ok", track_id, track, main=track is main)
            try:
                check_track(track, min_face_px, min_frames, name=f"face track {track_id}")
            except FaceTrackError as exc:
                item.face_status, item.error = exc.status, exc
            items.append(item)
        if not all_faces and all(item.error is not None for item in items):
            # No track is usable: the reason is the one the largest face gives.
            try:
                select_main_track(tracks, min_face_px, min_frames)
            except FaceTrackError as exc:
                return [FaceClip(None, exc.status, error=exc)]
    _track_clips(
        path,
        plan,
        [item for item in items if item.error is None],
        size,
        max_frames,
        min_frames,
        audio_path,
        sample_rate,
    )
    scored = [item for item in items if item.clip is not None]
    if choose_speaker is not None and scored:
        speaker = choose_speaker(scored) if len(scored) > 1 else scored[0]
        for item in items:
            item.main = item is speaker
    for item in items:
        span = None if item.clip is None else (item.clip.first_frame, item.clip.first_frame + item.clip.num_frames)
        frames = plan.decoded_frames if plan.decoded_frames >= 0 else max(track.video_frames for track in tracks)
        item.coverage = face_coverage(tracks, frames, item.track_id, span, min_face_px, min_frames)
    if all_faces:
        return items
    main_items = [item for item in items if item.main and item.clip is not None]
    if main_items:
        return main_items[:1]
    # The main track gave no clip (e.g. too short once the audio ends): say why.
    failed = next((item for item in items if item.main), items[0])
    return [failed]
