"""Training samples for the sync model: 5-frame video windows with their audio windows, from real videos only.

Windows follow the detector's indexing (:mod:`core.avforensics.scoring`) exactly, so training sees what
detection will: video window k = frames k..k+4; the audio is zero-padded by 15 frames on both sides and
the audio of offset i (a delay of i - 15 frames) is padded-audio frames k+i..k+i+4. Offset 15 is the true
pairing. A sample holds

* phase 1 (contrastive): the aligned audio window only, (1, 3200); the other clips of the batch supply
  the negatives (see :mod:`core.avforensics.training.sync`);
* phase 2 (offset classification): all 31 shifted audio windows, (31, 3200), the true one at index 15.

In phase 2, windows whose 31 shifts would reach into the zero padding are avoided when the clip is long
enough (35+ frames). Each epoch draws ``windows_per_video`` random windows per video; the draw depends only on
(seed, epoch,
index), so it is the same with any number of loader workers and after a resume.

With face cropping (``face_crop`` auto or always, as detect.py's ``--face_crop``), each video's faces are
tracked once before training (:func:`plan_faces`) and its main face's crop is what the windows are cut from.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from torch.utils.data import Dataset

from core.avforensics.scoring import ALIGNED_OFFSET, MAX_OFFSET, NUM_OFFSETS, WINDOW_FRAMES
from core.errors import InputError
from core.media.av_clip import AVClip, load_av_clip
from core.media.faces.clip import FacePlan, load_face_clips, plan_face_crop
from core.media.faces.detector import FaceDetector
from core.media.sources import read_video_list
from core.runs.distributed import all_gather_objects
from core.runs.progress import progress_bar

log = logging.getLogger(__name__)

MAX_TRIES = 20


def list_videos(source: str | os.PathLike) -> list[str]:
    """The video paths of a video, list file or class folder, as detect.py reads them (labels are not needed)."""
    return [str(entry.path) for entry in read_video_list(source)]


def load_training_clip(path: str, frame_size: int, max_frames: int | None, plan: FacePlan | None = None) -> AVClip:
    """Decode like the detector (25 fps, square frames, 16 kHz int16-scale audio), at ``frame_size``; with a
    face ``plan``, the main face's crop (a video without a usable face raises why)."""
    if plan is None or plan.mode == "never":
        return load_av_clip(path, size=frame_size, max_frames=max_frames, min_frames=WINDOW_FRAMES)
    return load_face_clips(path, plan, size=frame_size, max_frames=max_frames, min_frames=WINDOW_FRAMES)[0].require()


def plan_faces(
    paths: list[str], face_crop: str, max_frames: int | None, info, progress: bool = True
) -> dict[str, FacePlan]:
    """Track the faces of every video once (each rank its share, then shared): {path: plan}; {} for ``never``."""
    if face_crop == "never":
        return {}
    detector = FaceDetector(device=info.device)
    mine: dict[str, FacePlan] = {}
    share = paths[info.rank :: info.world_size]
    for path in progress_bar(None, "face tracks", "video", True, progress and info.is_primary, iterable=share):
        try:
            mine[path] = plan_face_crop(path, face_crop, max_frames, detector)
        except InputError as exc:  # the dataset reports and replaces it when it is drawn
            log.warning("%s: faces not tracked (%s)", path, exc)
    plans: dict[str, FacePlan] = {}
    for shard in all_gather_objects(mine):
        plans.update(shard)
    return plans


def audio_windows(clip: AVClip, step: int, offsets: np.ndarray) -> np.ndarray:
    """(len(offsets), 5 * samples_per_frame) audio windows of video window ``step`` at offset indices ``offsets``."""
    per_frame = clip.audio.shape[0] // clip.num_frames
    padded = np.pad(clip.audio, (MAX_OFFSET * per_frame, MAX_OFFSET * per_frame))
    starts = (step + offsets) * per_frame
    return padded[starts[:, None] + np.arange(WINDOW_FRAMES * per_frame)[None, :]]


class SyncWindowDataset(Dataset):
    """``windows_per_video`` random (video window, audio windows) samples per listed video and epoch."""

    def __init__(
        self,
        paths: list[str],
        frame_size: int,
        phase: int,
        windows_per_video: int = 4,
        max_frames: int | None = 250,
        cache: bool = False,
        seed: int = 0,
        face_crop: str = "never",
        face_plans: dict[str, FacePlan] | None = None,
    ) -> None:
        if phase not in (1, 2):
            raise ValueError(f"phase must be 1 or 2, not {phase}")
        self.paths, self.frame_size, self.phase = list(paths), frame_size, phase
        self.windows_per_video, self.max_frames = windows_per_video, max_frames
        self.cache: dict[int, AVClip] | None = {} if cache else None
        self.unusable: set[int] = set()
        self.seed, self.epoch = seed, 0
        self.face_crop, self.face_plans = face_crop, face_plans or {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths) * self.windows_per_video

    def _clip(self, video: int) -> AVClip | None:
        if self.cache is not None and video in self.cache:
            return self.cache[video]
        path = self.paths[video]
        try:
            if self.face_crop != "never" and path not in self.face_plans:
                raise InputError("its faces could not be tracked")
            clip = load_training_clip(path, self.frame_size, self.max_frames, self.face_plans.get(path))
        except InputError as exc:
            log.warning("%s: not used for training (%s)", path, exc)
            self.unusable.add(video)
            return None
        if self.cache is not None:
            self.cache[video] = clip
        return clip

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        video = index // self.windows_per_video
        for _ in range(MAX_TRIES):
            clip = None if video in self.unusable else self._clip(video)
            if clip is not None:
                break
            video = int(rng.integers(len(self.paths)))  # an unusable video is replaced by a random other one
        else:
            raise InputError(f"{MAX_TRIES} tries found no usable video in the list (see the warnings above)")
        first, last = 0, clip.num_frames - WINDOW_FRAMES
        if self.phase == 2 and last - first >= 2 * MAX_OFFSET:
            # Keep all 31 shifted windows inside the real audio when the clip is long enough: windows of the
            # zero padding have log-mels of log(1e-20) = -46 that swamp the audio BatchNorm statistics and stall
            # training (detection still pads at the clip edges; eval-mode BatchNorm then uses running statistics).
            first, last = MAX_OFFSET, last - MAX_OFFSET
        step = int(rng.integers(first, last + 1))
        offsets = np.array([ALIGNED_OFFSET]) if self.phase == 1 else np.arange(NUM_OFFSETS)
        frames = clip.frames[step : step + WINDOW_FRAMES]
        return {
            "video": torch.from_numpy(np.ascontiguousarray(frames)),  # (5, H, W, 3) uint8: converted on the device
            "audio": torch.from_numpy(audio_windows(clip, step, offsets).astype(np.float32)),
            "video_index": torch.tensor(video),
        }
