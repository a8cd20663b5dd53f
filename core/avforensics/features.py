"""Per-video sync logits and audio-visual features: the sync model run the fast way.

Same numbers as the authors' ``detect.py`` loop, far less work. Their loop runs, for every time step, the
video encoder 62 times on the same 5-frame window (31 offsets x 2 models) and the audio encoder on 62
windows of which only one is new. Here, per video:

1. the per-frame ResNet stages run once per frame (overlapping windows share them);
2. the 3D stages run once per 5-frame window, in batches of ``window_batch`` windows;
3. the audio encoder runs once per distinct audio window (``steps + 30`` of them);
4. video and audio tokens are computed once and paired for the 31 offsets (sync logits) and offset 0
   (audio-visual feature), so both scores share every encoder output.

Detection (:mod:`core.avforensics.pipeline`) and training (the sync model's validation, the anomaly models'
training sequences) both use this class, so training sees exactly the numbers detection computes.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import torch

from core.avforensics.mel import LogMel
from core.avforensics.scoring import (
    ALIGNED_OFFSET,
    MAX_OFFSET,
    NUM_OFFSETS,
    WINDOW_FRAMES,
    audio_window_index,
    num_steps,
)
from core.avforensics.sync_transformer import SyncModel
from core.media.av_clip import FRAME_SIZE, AVClip, load_av_clip
from core.media.faces.clip import FaceClip, FacePlan, SpeakerChooser, load_face_clips, plan_face_crop
from core.media.faces.detector import FaceDetector
from core.media.in_memory import VideoSource, source_name
from core.runs.progress import progress_bar


class SyncFeatureExtractor:
    """The sync model's per-step evidence for the first ``max_len`` time steps of a clip (every step with
    ``whole_video``: the encoders' outputs are shared by all steps, so the cost grows linearly with the length).

    Args:
        sync_model: the audio-visual synchronisation model (kept in the mode it is in: eval for detection).
        frame_size: side of the square frames the model was trained on (224 for the official one).
        max_len: time steps per video.
        window_batch: 5-frame windows per encoder batch.
        whole_video: decode the whole clip and extract every step (for sliding-window scoring).
        face_crop: ``never`` (the whole frame, the authors' input), ``always`` (the tracked face's crop) or
            ``auto`` (a face crop passes through whole, a raw video is cropped): see :mod:`core.media.faces.clip`.
        face_plans: a dict to cache each video's tracking in (e.g. across validation epochs); None: no cache.
    """

    def __init__(
        self,
        sync_model: SyncModel,
        frame_size: int = FRAME_SIZE,
        max_len: int = 50,
        device: torch.device | str = "cpu",
        window_batch: int = 8,
        progress: bool = False,
        whole_video: bool = False,
        face_crop: str = "never",
        face_plans: dict[tuple[str, str], FacePlan] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.sync_model = sync_model.to(self.device)
        self.frame_size = frame_size
        self.log_mel = LogMel().to(self.device)
        self.max_len = max_len
        self.window_batch = max(1, window_batch)
        self.progress = progress
        self.whole_video = whole_video  # every step of the clip instead of the first max_len
        self.face_crop = face_crop
        self.face_plans = face_plans
        self._face_detector: FaceDetector | None = None

    @property
    def frames_needed(self) -> int | None:
        """Frames of video and audio beyond this never change the result, so decoding can stop there
        (None: the whole clip, for whole-video scoring).

        The last step's video window ends at frame max_len + 4, but its +15 offset reaches 15 frames of
        audio further; audio past the clip's length (video and audio truncated to the shorter) is zero,
        so that length matters up to there too.
        """
        return None if self.whole_video else self.max_len + WINDOW_FRAMES - 1 + MAX_OFFSET

    def steps_of(self, frames: int) -> int:
        """Time steps extracted from a clip of ``frames`` frames."""
        return num_steps(frames, frames if self.whole_video else self.max_len)

    def load_clip(self, path: VideoSource, audio_path: str | os.PathLike | None = None) -> AVClip:
        """Decode what the steps need: 25 fps frames at ``frame_size``, 16 kHz audio, at least one step and a next.

        With face cropping on, the main face track's crop; a video without a usable face raises the
        :class:`core.media.faces.status.FaceTrackError` that says why."""
        if self.face_crop == "never":
            return load_av_clip(
                path,
                size=self.frame_size,
                max_frames=self.frames_needed,
                min_frames=WINDOW_FRAMES + 1,
                audio_path=audio_path,
            )
        return self.load_clips(path, audio_path)[0].require()

    def load_clips(
        self,
        path: VideoSource,
        audio_path: str | os.PathLike | None = None,
        all_faces: bool = False,
        choose_speaker: SpeakerChooser | None = None,
    ) -> list[FaceClip]:
        """The clips ``face_crop`` gives for a video: the whole frame or the main face's crop, or one per face
        track with ``all_faces``; face problems are items without a clip (their ``error`` says why).
        ``choose_speaker``: how the main face is chosen among several (default: the largest)."""
        key = (source_name(path), getattr(path, "description", ""))  # a perturbed copy is not its original
        plan = None if self.face_plans is None else self.face_plans.get(key)
        if plan is None or plan.mode != self.face_crop:
            if self._face_detector is None and self.face_crop != "never":
                self._face_detector = FaceDetector(device=self.device)
            plan = plan_face_crop(path, self.face_crop, self.frames_needed, self._face_detector, audio_path=audio_path)
            if self.face_plans is not None:
                self.face_plans[key] = plan
        return load_face_clips(
            path,
            plan,
            all_faces,
            self.frame_size,
            self.frames_needed,
            WINDOW_FRAMES + 1,
            audio_path,
            choose_speaker=choose_speaker,
        )

    def _batches(self, total: int, size: int, what: str, unit: str = "step") -> Iterator[int]:
        """Batch starts over ``total`` items, with a bar counting the items (a rate in frames or steps per s)."""
        with progress_bar(total, what, unit, enabled=self.progress and total > size) as bar:
            for start in range(0, total, size):
                yield start
                bar.update(min(size, total - start))

    @torch.no_grad()
    def video_tokens(self, frames: np.ndarray, steps: int) -> torch.Tensor:
        """(T, H, W, 3) uint8 frames -> (steps, 5, 512) video tokens of windows 0..steps-1.

        Per-frame features are computed in batches of ``window_batch`` frames as the windows reach them and
        dropped once no later window needs them, so memory stays bounded on whole videos; the batches are the
        same whatever the clip's length beyond them.
        """
        encoder, fusion = self.sync_model.vis_enc, self.sync_model.transformer
        count = steps + WINDOW_FRAMES - 1
        held, held_start, held_end = None, 0, 0  # per-frame features of frames held_start..held_end-1
        tokens = []
        for start in self._batches(steps, self.window_batch, "video windows", "frame"):
            stop = min(start + self.window_batch, steps)
            new = []
            while held_end < stop + WINDOW_FRAMES - 1:
                end = min(held_end + self.window_batch, count)
                # Raw 0..255 values as float, the authors' input convention.
                pixels = torch.from_numpy(np.ascontiguousarray(frames[held_end:end])).to(self.device)
                new.append(encoder.frame_features(pixels.permute(0, 3, 1, 2).float()))
                held_end = end
            kept = [] if held is None else [held[start - held_start :]]
            held, held_start = torch.cat(kept + new), start
            windows = torch.stack([held[k : k + WINDOW_FRAMES] for k in range(stop - start)]).transpose(1, 2)
            tokens.append(fusion.video_tokens(encoder.window_features(windows)))
        return torch.cat(tokens)

    @torch.no_grad()
    def audio_tokens(self, audio: np.ndarray, steps: int, samples_per_frame: int, first_step: int = 0) -> torch.Tensor:
        """Int16-scale samples -> (steps + 30, 4, 512) tokens of every distinct audio window, zero-padded by 15 frames.

        ``first_step``: the windows of steps first_step..first_step+steps-1 (0: from the clip's start).
        """
        padding = MAX_OFFSET * samples_per_frame
        padded = torch.nn.functional.pad(torch.from_numpy(np.ascontiguousarray(audio)).float(), (padding, padding))
        window = WINDOW_FRAMES * samples_per_frame
        count = steps + NUM_OFFSETS - 1
        starts = (first_step + torch.arange(count)) * samples_per_frame
        windows = padded[starts[:, None] + torch.arange(window)[None, :]].to(self.device)
        batch = 4 * self.window_batch  # audio windows are small
        tokens = [
            self.sync_model.transformer.audio_tokens(self.sync_model.aud_enc(self.log_mel(windows[s : s + batch])))
            for s in self._batches(count, batch, "audio windows")
        ]
        return torch.cat(tokens)

    @torch.no_grad()
    def sync_logits(self, video_tokens: torch.Tensor, audio_tokens: torch.Tensor) -> torch.Tensor:
        """(steps, 31) logits: video window k against the audio window of each offset."""
        fusion = self.sync_model.transformer
        steps = video_tokens.shape[0]
        index = audio_window_index(steps).to(self.device)
        rows = []
        batch = max(1, 64 // NUM_OFFSETS) * 4  # steps per fusion batch (x31 pairs each)
        for start in self._batches(steps, batch, "fusion"):
            stop = min(start + batch, steps)
            video = video_tokens[start:stop, None].expand(-1, NUM_OFFSETS, -1, -1).flatten(0, 1)
            audio = audio_tokens[index[start:stop].flatten()]
            rows.append(fusion.sync_logit(video, audio).reshape(stop - start, NUM_OFFSETS))
        return torch.cat(rows)

    @torch.no_grad()
    def extract(self, clip: AVClip, ranges: list[tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-step sync logits (steps, 31) as float64 and offset-0 audio-visual features (steps, D) as float32.

        The authors store logits in a float64 array; we keep that so both paths see identical inputs.
        ``ranges``: only these [first, stop) step ranges (whole-video windows sampled to fit a time budget; the
        first must be the first window's); the other steps' rows are NaN.
        """
        steps = self.steps_of(clip.num_frames)
        samples_per_frame = clip.audio.shape[0] // clip.num_frames
        # A whole video's first max_len steps are extracted exactly as without whole_video (same batches, so the
        # same float rounding: the authors' score stays bit-identical); its other steps follow as a second part,
        # which recomputes only 4 frames and 30 audio windows.
        parts = ranges or [(0, min(steps, self.max_len))] + ([(self.max_len, steps)] if steps > self.max_len else [])
        logits, features = [], []
        for first, stop in parts:
            video = self.video_tokens(clip.frames[first:], stop - first)
            audio = self.audio_tokens(clip.audio, stop - first, samples_per_frame, first_step=first)
            logits.append(self.sync_logits(video, audio))
            aligned_audio = audio[torch.arange(stop - first, device=self.device) + ALIGNED_OFFSET]
            features.append(self.sync_model.transformer.av_feature(video, aligned_audio))
        logits_all = torch.cat(logits).float().cpu().numpy().astype(np.float64)
        features_all = torch.cat(features).float().cpu().numpy()
        if ranges is None:
            return logits_all, features_all
        rows = np.concatenate([np.arange(first, stop) for first, stop in parts])
        full_logits = np.full((steps, logits_all.shape[1]), np.nan)
        full_features = np.full((steps, features_all.shape[1]), np.nan, dtype=np.float32)
        full_logits[rows], full_features[rows] = logits_all, features_all
        return full_logits, full_features

    def extract_in_eval_mode(self, clip: AVClip) -> tuple[np.ndarray, np.ndarray]:
        """``extract`` with BatchNorm's running statistics (eval mode), then back to the model's previous mode:
        how a model being trained is validated."""
        was_training = self.sync_model.training
        self.sync_model.eval()
        try:
            return self.extract(clip)
        finally:
            self.sync_model.train(was_training)
