"""The fixture face pasted into larger scenes: does the tracked crop find it again, and what does detect.py score?

    python -m bench.bench_face_crop_scores --checkpoints_dir ../shared/fixtures/avforensics --device cpu \
        --png docs/face_crop.png

The shared fixture clip (a 224x224 face crop made by the authors' convention, with its audio) is pasted,
scaled 1.5x to 3x, into 1280x720 and 1920x1080 textured scenes, drifting by (3, -2) px per frame. For each
video it prints how well the tracked crop box of the first 69 frames (what the detector scores) recovers
where the fixture frame lies (share of frames with the centre within 5% of its side and the side within 8%),
then scores each video as detect.py does with ``--face_crop always`` and ``never`` (and the fixture with
``auto``, which must give its ``never`` logits exactly): the offset-distribution score (lam 0, detect.py's
default), the score with lam 1, the mean absolute difference of the 50x31 sync logits from the fixture's
own, and that of the 224x224 input frames (0..255) from the fixture's own frames. No official sync model is
published: a random one (tests/avforensics_factories, seeded, saved in the official layout) is used with the
authors' regressive checkpoints and pca.pkl, so the scores show how close a cropped input comes to the
original clip, not detection quality. ``--png`` draws the crop box on a frame of the 1080p 2x video.
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from PIL import Image

from core.avforensics.pipeline import AVForensicsDetector, CheckpointPaths
from core.cli import run_cli
from core.errors import InputError
from core.media.audio import load_audio
from core.media.encode import write_video
from core.media.faces.clip import plan_face_crop
from core.media.faces.crop import crop_frame
from core.media.faces.detector import FaceDetector
from core.media.faces.export import draw_boxes
from tests.avforensics_factories import random_sync_model
from tests.face_factories import FIXTURE_VIDEO, textured_background

SCENES = [(1280, 720, 1.5), (1280, 720, 2.0), (1920, 1080, 1.5), (1920, 1080, 2.0), (1920, 1080, 3.0)]
DRIFT = (3.0, -2.0)
SCORED_FRAMES = 69  # detect.py's frames_needed at --max-len 50


def fixture_frames() -> list[np.ndarray]:
    if not FIXTURE_VIDEO.is_file():
        raise InputError(f"the fixture clip {FIXTURE_VIDEO} is absent (see ../shared/fixtures)")
    with av.open(str(FIXTURE_VIDEO)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def pasted_boxes(count: int, width: int, height: int, scale: float) -> np.ndarray:
    """(count, 4) boxes [x0, y0, x1, y1] of the pasted fixture frame: drifting by DRIFT, centred so it stays inside."""
    side = int(round(224 * scale))
    x0 = (width - side - DRIFT[0] * (count - 1)) / 2
    y0 = (height - side - DRIFT[1] * (count - 1)) / 2
    corners = [[int(round(x0 + DRIFT[0] * i)), int(round(y0 + DRIFT[1] * i))] for i in range(count)]
    return np.array([[x, y, x + side, y + side] for x, y in corners], dtype=np.float64)


def write_pasted_video(
    path: Path, faces: list[np.ndarray], audio: np.ndarray, boxes: np.ndarray, width: int, height: int, seed: int
) -> None:
    """The scene video (H.264 + AAC): each fixture frame pasted at its box over a textured background."""
    background = textured_background(width, height, seed=seed)

    def pasted(face: np.ndarray, box: np.ndarray) -> np.ndarray:
        frame = background.copy()
        side = box[2] - box[0]
        frame[box[1] : box[3], box[0] : box[2]] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        return frame

    samples = np.clip(audio, -32768, 32767).astype(np.int16)
    frames = (pasted(face, box) for face, box in zip(faces, boxes.astype(int)))
    write_video(path, frames, size=(width, height), video_options={"crf": "18"}, audio=samples)


def box_errors(crop: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre distance and |side ratio - 1|, both relative to the true side, per frame."""
    side = truth[:, 2] - truth[:, 0]
    offsets = [(crop[:, k] + crop[:, k + 2] - truth[:, k] - truth[:, k + 2]) / 2 for k in (0, 1)]
    return np.hypot(*offsets) / side, np.abs((crop[:, 2] - crop[:, 0]) / side - 1)


def draw_picture(video: Path, truth: np.ndarray, track, frame_index: int, target: Path) -> None:
    """A frame with the detected face box (smoothed), the crop box made from it and the pasted fixture frame,
    a legend, and the 224x224 crop inset."""
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == frame_index:
                image = frame.to_ndarray(format="rgb24")
                break
    k = frame_index - int(track.frames[0])
    crop_box = track.crop_boxes()[k]
    legend = [
        ("face box (MTCNN, smoothed)", (60, 230, 60)),
        ("crop box (pycrop convention)", (255, 220, 0)),
        ("pasted fixture frame (truth)", (0, 170, 255)),
    ]
    drawn = draw_boxes(image, [track.smoothed[k], crop_box, truth[frame_index]], colours=[c for _, c in legend])
    crop = crop_frame(image, crop_box)
    small = cv2.resize(drawn, (800, 450), interpolation=cv2.INTER_AREA)
    small[:92, :330] = (small[:92, :330] * 0.25).astype(np.uint8)  # a dark strip under the legend
    for row, (text, colour) in enumerate(legend):
        cv2.putText(small, text, (8, 24 + 28 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
    small[450 - 184 : 450 - 4, 800 - 184 : 800 - 4] = 255
    small[450 - 182 : 450 - 6, 800 - 182 : 800 - 6] = cv2.resize(crop, (176, 176), interpolation=cv2.INTER_AREA)
    cv2.putText(
        small,
        "the 224x224 crop",
        (800 - 180, 450 - 192),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        (255, 255, 255),
        2,
        cv2.LINE_AA,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(small).quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def score(detector: AVForensicsDetector, path: str, mode: str) -> dict:
    """detect.py's default path for one video in one face-crop mode (the main face): both scores and the logits."""
    detector.features.face_crop = mode
    face = detector.load_clips(path)[0]
    analysis = detector.analyse(face.require())
    return {
        "kl": analysis.scores.distribution_kl,
        "mse": analysis.scores.feature_mse,
        "logits": analysis.logits,
        "face": face.face_status,
        "frames": face.clip.frames,
    }


def main(args: argparse.Namespace) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    faces = fixture_frames()
    audio = load_audio(FIXTURE_VIDEO)
    folder = Path(args.work_dir or tempfile.mkdtemp(prefix="face_crop_scores_"))
    folder.mkdir(parents=True, exist_ok=True)
    checkpoints = Path(args.checkpoints_dir)
    sync_path = folder / "random_sync_model.pth"
    torch.save(random_sync_model(seed=args.seed, feature_map_size=14).state_dict(), sync_path)
    paths = CheckpointPaths(
        sync_path,
        checkpoints / "dist_regressive_model.pth",
        checkpoints / "avfeature_regressive_model.pth",
        checkpoints / "pca.pkl",
    )
    detector = AVForensicsDetector.from_checkpoints(paths, max_len=args.max_len, device=args.device, progress=False)
    face_detector = FaceDetector(device=args.device)
    own = score(detector, str(FIXTURE_VIDEO), "never")
    auto = score(detector, str(FIXTURE_VIDEO), "auto")
    print(
        f"fixture, auto vs never: logits identical {np.array_equal(auto['logits'], own['logits'])}, "
        f"scores identical {(auto['kl'], auto['mse']) == (own['kl'], own['mse'])}; its logits: mean absolute "
        f"deviation from their mean {np.abs(own['logits'] - own['logits'].mean()).mean():.4g}"
    )
    videos = [("fixture 224x224 (itself)", str(FIXTURE_VIDEO), None)]
    for width, height, scale in SCENES:
        path = folder / f"pasted_{width}x{height}_{scale:g}x.mp4"
        boxes = pasted_boxes(len(faces), width, height, scale)
        if not path.is_file():
            write_pasted_video(path, faces, audio, boxes, width, height, seed=int(scale * 10) + width)
        videos.append((f"{width}x{height}, {scale:g}x", str(path), boxes[:SCORED_FRAMES]))
    rows = []
    for name, path, truth in videos:
        row = {"video": name}
        if truth is not None:
            plan = plan_face_crop(path, "always", SCORED_FRAMES, face_detector)
            track = max(plan.tracks, key=lambda candidate: candidate.length * candidate.area)
            crop = track.crop_boxes()[:SCORED_FRAMES]
            centre, side = box_errors(crop, truth[int(track.frames[0]) : int(track.frames[0]) + len(crop)])
            row.update(
                tracks=len(plan.tracks),
                frames=len(crop),
                centre_ok=float(np.mean(centre < 0.05)),
                side_ok=float(np.mean(side < 0.08)),
                centre_err_max=float(centre.max()),
                side_err_max=float(side.max()),
            )
            if args.png and (width, scale) == (1920, 2.0):
                draw_picture(Path(path), truth, track, 40, Path(args.png))
        for mode in ("always", "never"):
            result = own if (truth is None and mode == "never") else score(detector, path, mode)
            row[f"kl_{mode}"], row[f"score1_{mode}"] = result["kl"], result["kl"] + result["mse"]
            row[f"logit_diff_{mode}"] = float(np.abs(result["logits"] - own["logits"]).mean())
            count = min(len(result["frames"]), len(own["frames"]))
            row[f"pixel_diff_{mode}"] = float(
                np.abs(result["frames"][:count].astype(np.float32) - own["frames"][:count]).mean()
            )
        rows.append(row)
        print(row, flush=True)
    columns = [
        "video",
        "tracks",
        "frames",
        "centre_ok",
        "side_ok",
        "centre_err_max",
        "side_err_max",
        "kl_always",
        "kl_never",
        "score1_always",
        "score1_never",
        "logit_diff_always",
        "logit_diff_never",
        "pixel_diff_always",
        "pixel_diff_never",
    ]
    print("| " + " | ".join(columns) + " |")
    for row in rows:
        print(
            "| "
            + " | ".join(f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns)
            + " |"
        )
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return 0


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoints_dir",
        default="../shared/fixtures/avforensics",
        help="folder with dist_regressive_model.pth, avfeature_regressive_model.pth and pca.pkl",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--max-len", "--max_len", dest="max_len", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sync model")
    parser.add_argument("--work_dir", default=None, help="keep the videos and detect.py outputs here")
    parser.add_argument("--png", default=None, help="write the crop-box picture here (e.g. docs/face_crop.png)")
    parser.add_argument("--csv", default=None, help="write the table as CSV")
    return parser


if __name__ == "__main__":
    logging.getLogger("core.media.faces.tracks").setLevel(logging.WARNING)
    raise SystemExit(run_cli(main, get_args_parser()))
