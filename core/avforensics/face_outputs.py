"""detect.py's optional face outputs: where each scored crop lay (``face_tracks/``) and the crops (``face_crops/``).

* ``face_tracks/<index>_<stem>.csv``: one row per scored frame of every scored face track of the video,
  ``frame, time_s, track, x0, y0, x1, y1, detected`` (crop box in source pixels; ``detected`` 0 where the
  box was interpolated between detections);
* ``face_crops/<index>_<stem>_face<track>.mp4``: the 224x224 crop with its audio, as the detector scored it.

Whole-frame results (``--face_crop never``, or a video that already is a face crop) write nothing here.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import av

from core.media.faces.clip import FaceClip
from core.media.faces.export import TRACK_COLUMNS, track_rows, write_clip_video

log = logging.getLogger(__name__)


class FaceOutputs:
    """Writes the face files of each scored face clip as it comes."""

    def __init__(self, output_dir: Path, save_tracks: bool, save_crops: bool) -> None:
        self.track_dir = output_dir / "face_tracks" if save_tracks else None
        self.crop_dir = output_dir / "face_crops" if save_crops else None
        for folder in (self.track_dir, self.crop_dir):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        self._started: set[Path] = set()  # track CSVs written this run (appended to for further tracks)

    def add(self, index: int, path: str, face: FaceClip) -> None:
        if face.clip is None or face.track is None:
            return
        stem = f"{index}_{Path(path).stem}"
        if self.track_dir is not None:
            target = self.track_dir / f"{stem}.csv"
            new = target not in self._started
            self._started.add(target)
            with open(target, "w" if new else "a", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                if new:
                    writer.writerow(TRACK_COLUMNS)
                writer.writerows(track_rows(face.track, face.track_id, face.clip.num_frames))
        if self.crop_dir is not None:
            try:
                write_clip_video(self.crop_dir / f"{stem}_face{face.track_id}.mp4", face.clip)
            except (OSError, ValueError, av.FFmpegError) as exc:  # a look-at file must not stop the scoring
                log.warning("%s: face crop video not written (%s)", path, exc)
