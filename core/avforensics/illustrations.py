"""Pictures of what the audio-visual detector scored, for a report: a few frames of the scored clip.

With a face crop, each chosen frame is shown twice: the source frame with the face track drawn on it (yellow:
the crop box that was cut out and scored; blue: the tracked face box, smoothed) and the crop itself. Without
one (the whole frame was scored), the scored frames as the detector saw them (resized). Frames are evenly
spaced over the clip (its first, middle and last by default). Source frames are decoded again up to the last
chosen one (at 25 fps, as the clip was cut).
"""

from __future__ import annotations

import numpy as np

from core.forensics.evidence import Illustration
from core.media.av_clip import TARGET_FPS, AVClip
from core.media.faces.clip import FaceClip, source_frames
from core.media.faces.export import draw_boxes


def chosen_positions(frames: int, count: int = 3) -> list[int]:
    """``count`` evenly spaced positions in a clip of ``frames`` frames (first and last included), no repeats."""
    if frames <= 0:
        return []
    return sorted({int(round(v)) for v in np.linspace(0, frames - 1, min(count, frames))})


def clip_illustrations(face: FaceClip, clip: AVClip, count: int = 3) -> list[Illustration]:
    """Illustrations of ``count`` frames of the scored ``clip`` (see the module docstring)."""
    positions = chosen_positions(clip.num_frames, count)
    if face.track is None:
        return [
            Illustration(
                "scored frame",
                (clip.first_frame + k) / TARGET_FPS,
                clip.frames[k],
                f"{(clip.first_frame + k) / TARGET_FPS:.2f} s",
                f"the whole frame, resized to {clip.frames.shape[2]} px ({face.face_status})",
            )
            for k in positions
        ]
    track = face.track
    crop_boxes, face_boxes = track.crop_boxes(), track.smoothed
    first = int(track.frames[0])  # the clip starts at its track's first frame
    wanted = {first + k: k for k in positions}
    illustrations = []
    for index, frame in enumerate(source_frames(clip.path, TARGET_FPS, max(wanted) + 1)):
        if index not in wanted:
            continue
        k = wanted[index]
        time_s = index / TARGET_FPS
        group = f"{time_s:.2f} s"
        illustrations.append(
            Illustration(
                "source frame with the face track",
                time_s,
                draw_boxes(frame, [crop_boxes[k], face_boxes[k]]),
                group,
                f"face track {face.track_id}: yellow the crop scored, blue the face",
            )
        )
        illustrations.append(
            Illustration("face crop (scored)", time_s, clip.frames[k], group, f"{clip.frames.shape[2]} px crop")
        )
    return illustrations
