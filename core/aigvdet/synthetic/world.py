"""Tiny labelled "real" and "fake" videos, and their frames and flow images in AIGVDet's layout.

Real clips: a camera moving smoothly (pan, slight rotation and zoom) over a textured scene, with sensor
noise. Fake clips: the same kind of scene as a toy generator would make it: rendered at a lower
resolution and upscaled (no sensor noise) with a faint checkerboard, plus temporal artefacts: brightness flicker,
local warps that
wobble from frame to frame, and blending with an earlier frame (ghosting). Both the RGB branch (upscaling,
ghosts, warps are visible in single frames) and the flow branch (flicker and warps break the smooth flow)
have something to learn. None of this resembles what real video generators get wrong.

Frames and flow images are made from the written videos (MJPG .avi) by ``core.aigvdet.data.prepare``, the same
code that prepares real datasets, with OpenCV's DIS optical flow (no RAFT weights needed): so
``demo.py --flow_method dis`` sees a video exactly as training saw it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.aigvdet.data.prepare import PrepareOptions, prepare_video
from core.flow.classical import ClassicalFlow
from core.media.sources import CLASS_FOLDERS, VideoEntry
from core.runs.progress import progress_bar

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class WorldSpec:
    """How much to generate: videos per class per split, and the clips' shape."""

    # Many short clips rather than few long ones: with few scenes a ResNet memorises them instead of
    # learning the artefacts (24 videos of 8 frames: val AUC ~0.6; 96 of 4: ~0.97, same image count).
    train: int = 96
    val: int = 16
    test: int = 4
    frames: int = 4
    height: int = 128  # RAFT (demo.py) needs both sides of at least 121 pixels
    width: int = 128
    fps: float = 8.0
    seed: int = 0
    name: str = "synth"


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A scene: multi-scale smooth colour noise with a few hard-edged shapes (so flow has edges to track)."""
    canvas = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((4, 0.5), (12, 0.3), (40, 0.2)):
        small = rng.random((cells, cells, 3)).astype(np.float32)
        canvas += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(canvas * 255, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(4, 10)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        size = int(rng.integers(max(height, width) // 24, max(height, width) // 8) + 2)
        if rng.random() < 0.5:
            cv2.circle(canvas, centre, size, colour, -1, lineType=cv2.LINE_AA)
        else:
            cv2.rectangle(canvas, centre, (centre[0] + size, centre[1] + size), colour, -1)
    return canvas


def camera_frames(
    rng: np.random.Generator, count: int, height: int, width: int, scale: float = 1.0
) -> list[np.ndarray]:
    """Frames of a smooth camera path (constant velocity, slow rotation and zoom) over a random scene,
    rendered at ``scale`` times the output size."""
    out_h, out_w = max(8, round(height * scale)), max(8, round(width * scale))
    margin = 3.0
    scene = texture(rng, int(out_h * margin), int(out_w * margin))
    speed = rng.uniform(0.6, 2.0) * scale
    angle = rng.uniform(0, 2 * np.pi)
    velocity = speed * np.array([np.cos(angle), np.sin(angle)])
    spin, zoom = rng.uniform(-0.4, 0.4), rng.uniform(-0.004, 0.004)
    centre = np.array(scene.shape[1::-1], np.float64) / 2
    frames = []
    for t in range(count):
        # Map output pixels to scene pixels: rotate/zoom about the scene centre, then translate.
        matrix = cv2.getRotationMatrix2D(tuple(centre), spin * t, 1.0 + zoom * t)
        matrix[:, 2] += velocity * t - (centre - np.array([out_w, out_h]) / 2)
        frames.append(
            cv2.warpAffine(
                scene,
                matrix,
                (out_w, out_h),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            )
        )
    return frames


def real_clip(rng: np.random.Generator, spec: WorldSpec) -> list[np.ndarray]:
    frames = camera_frames(rng, spec.frames, spec.height, spec.width)
    noise = rng.uniform(2.0, 5.0)
    return [np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8) for f in frames]


def local_warp(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Displace a random blob of the frame (a "morphing" region)."""
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width
    radius = rng.uniform(0.15, 0.35) * min(height, width)
    bump = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * radius**2)).astype(np.float32)
    dy, dx = rng.normal(0, strength, 2)
    map_x, map_y = (xs + dx * bump).astype(np.float32), (ys + dy * bump).astype(np.float32)
    return cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def fake_clip(rng: np.random.Generator, spec: WorldSpec) -> list[np.ndarray]:
    scale = rng.uniform(0.4, 0.6)  # generated small, then upscaled
    small = camera_frames(rng, spec.frames, spec.height, spec.width, scale)
    frames = [cv2.resize(f, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR) for f in small]
    flicker, warp, ghost = rng.uniform(0.06, 0.18), rng.uniform(2.0, 5.0), rng.uniform(0.25, 0.45)
    # A faint checkerboard fixed to the image grid: the trace transposed-convolution upsampling leaves.
    ys, xs = np.mgrid[0 : spec.height, 0 : spec.width]
    checker = (((ys + xs) % 2) * 2.0 - 1.0)[..., None] * rng.uniform(8.0, 14.0)
    out, previous = [], frames[0]
    for frame in frames:
        frame = local_warp(frame, rng, warp)
        frame = np.clip(frame + checker, 0, 255).astype(np.uint8)
        if rng.random() < 0.7:  # blend with the previous output frame: ghosting
            frame = cv2.addWeighted(frame, 1 - ghost, previous, ghost, 0)
        gain = 1.0 + rng.normal(0, flicker)
        frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        out.append(frame)
        previous = frame
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """RGB frames as MJPG .avi (OpenCV writes and reads it everywhere, no codec licences)."""
    height, width = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_clip(
    root: Path, split: str, spec: WorldSpec, label: str, video: str, frames: list[np.ndarray], flow: ClassicalFlow
) -> None:
    """The video, then its frames and flow images by ``core.aigvdet.data.prepare``: decoded back from the file as a
    real video would be, and written exactly as the reference demo writes frames and flows."""
    video_path = write_video(root / "videos" / split / spec.name / label / f"{video}.avi", frames, spec.fps)
    prepare_video(
        VideoEntry(video_path, CLASS_FOLDERS.index(label)),
        root / "rgb" / split / spec.name,
        root / "flow" / split / spec.name,
        flow,
        PrepareOptions(),
    )


def generate(root: str | Path, spec: WorldSpec = WorldSpec(), show_progress: bool = True) -> Path:
    """Write the world under ``root`` (see the package docstring for the layout); returns ``root``."""
    root = Path(root)
    counts = {"train": spec.train, "val": spec.val, "test": spec.test}
    jobs = [(split, label, i) for split in SPLITS for label in CLASS_FOLDERS for i in range(counts[split])]
    flow = ClassicalFlow("dis")
    for split, label, i in progress_bar(None, "synthetic videos", "video", True, show_progress, iterable=jobs):
        # One generator per video: any clip can be regenerated alone, whatever the counts.
        seed = [spec.seed, SPLITS.index(split), CLASS_FOLDERS.index(label), i]
        rng = np.random.default_rng(seed)
        frames = real_clip(rng, spec) if label == "0_real" else fake_clip(rng, spec)
        write_clip(root, split, spec, label, f"video_{i:05d}", frames, flow)
    log.info(
        "synthetic world written to %s (%d videos of %d frames, %dx%d)",
        root,
        len(jobs),
        spec.frames,
        spec.width,
        spec.height,
    )
    return root
