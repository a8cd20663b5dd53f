"""Audio-visual forensics: score videos by how unlikely their audio-visual synchronisation evidence is.

Feng, Chen & Owens, "Self-Supervised Video Forensics by Audio-Visual Anomaly Detection" (CVPR 2023).
Same flags and scores as the authors' detect.py (cfeng16/audio-visual-forensics), much faster.
Higher score = more likely fake.

Examples (checkpoints under checkpoints/ by default):

    python detect.py --test_video_path data/test.mp4 --device cpu --output_dir outputs/avforensics
    python detect.py --test_video_path data/videos.txt --device cuda:0 --max-len 50 --lam 0 \
        --n_workers 4 --output_dir outputs/avforensics --save_distributions
    python detect.py --test_video_path clip.mp4 --sync_model_path /models/sync_model.pth \
        --dist_model_path dist_regressive_model.pth --avfeature_model_path avfeature_regressive_model.pth \
        --pca_path pca.pkl --output_dir outputs/avforensics
    # labelled videos ("PATH LABEL" lines, LABEL 0/1/real/fake, or 0_real/ and 1_fake/ folders): metrics and plots
    python detect.py --test_video_path data/labelled.txt --output_dir outputs/labelled --plot outputs/labelled/plots
    # calibrated probabilities and verdicts (calibrate.py on scores of real videos of your source)
    python detect.py --test_video_path data/videos.txt --calibration calibration/av_mysource.json

    python detect.py --test_video_path long_clip.mp4 --whole_video --window_stride 25 --output_dir outputs/avf_whole

Raw videos (an interview in 720p, the face somewhere in the frame): the face is tracked and cropped as the
authors' clips were (--face_crop auto, the default, leaves clips that already are face crops whole):

    python detect.py --test_video_path interview.mp4 --face_crop always --save_face_tracks --save_face_crops
    python detect.py --test_video_path panel.mp4 --all_faces --output_dir outputs/panel

Outputs in --output_dir: output.log, scores.csv (path, score, steps, status, face_crop, face_status),
testing_scores.npy, and with --save_distributions distributions/<index>_<stem>.npy (per-step 31-way sync
logits); with --save_face_tracks face_tracks/<index>_<stem>.csv, with --save_face_crops face_crops/*.mp4. When
every video has a label: a ``label`` column in scores.csv and summary.json (the metrics of test.py's summary);
with --calibration: ``calibrated, verdict`` columns. With --whole_video: scores.csv gains score_max, score_mean
(over sliding windows; score stays the first window's, the authors'), timelines/<index>_<stem>.csv (time_s, step,
anomaly, windows), timelines/<index>_<stem>_per_second.csv and segments.csv (path, track, start_s, end_s, peak,
mean).

Reruns: rows are written as each video is scored; a rerun into the same --output_dir with the same checkpoints and
settings skips the videos already in scores.csv (after Ctrl-C or a kill, it goes on where the run stopped), other
settings are refused, and --overwrite starts over:

    python detect.py --test_video_path data/videos.txt --output_dir outputs/avforensics      # again: resumes
    python detect.py --test_video_path data/videos.txt --output_dir outputs/avforensics --overwrite
"""

from __future__ import annotations

import argparse
import logging

from core.avforensics.options import (
    add_avforensics_arguments,
    avforensics_checkpoints,
    run_settings_from_args,
)
from core.avforensics.pipeline import AVForensicsDetector
from core.avforensics.result_files import unscored_reasons
from core.avforensics.runner import ExtraColumns, run_detection
from core.cli import add_device_arguments, device_from_args, run_cli
from core.errors import InputError
from core.forensics.batch_summary import result_columns, write_labelled_summary
from core.forensics.calibration import load_calibration
from core.media.sources import read_video_list
from core.runs.result_table import SettingsMismatch, file_fingerprint
from core.runs.writable import require_writable_folder

log = logging.getLogger("detect")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--test_video_path",
        required=True,
        help="a video, or a text file listing videos one per line (relative to the list file; # comments)",
    )
    parser.add_argument("--output_dir", default="./save", help="folder for output.log, scores.csv, testing_scores.npy")
    parser.add_argument("--n_workers", type=int, default=0, help="background threads decoding the next videos")
    parser.add_argument(
        "--bs",
        type=int,
        default=1,
        help="accepted for compatibility; videos are scored one at a time (the authors' code needs 1 too)",
    )
    parser.add_argument(
        "--save_distributions",
        action="store_true",
        help="also save each video's per-step 31-way sync logits under output_dir/distributions/",
    )
    parser.add_argument(
        "--audio_from_wav",
        action="store_true",
        help="use <video>.wav next to a video when it exists, as the authors' loader does "
        "(default: always decode the video's own audio track)",
    )
    parser.add_argument(
        "--save_face_tracks",
        action="store_true",
        help="write the crop box of every scored frame to output_dir/face_tracks/<index>_<stem>.csv",
    )
    parser.add_argument(
        "--save_face_crops",
        action="store_true",
        help="write each scored face crop as a video to output_dir/face_crops/",
    )
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bars")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in --output_dir (default: keep its results and score only the videos not in it yet, "
        "when the checkpoints and settings are the same)",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="calibration JSON of audio-visual scores (calibrate.py): adds calibrated, verdict columns",
    )
    parser.add_argument(
        "--plot",
        default=None,
        metavar="DIR",
        help="with labelled videos, write the ROC curve and score histograms here",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="with labelled videos, add 95%% bootstrap intervals (N resamples) to summary.json",
    )
    add_device_arguments(parser)
    add_avforensics_arguments(parser)
    return parser


def main(args: argparse.Namespace) -> int:
    device = device_from_args(args)
    if args.bs != 1:
        log.info("--bs %d ignored: videos are scored one at a time, time steps are batched by --window_batch", args.bs)
    require_writable_folder(args.output_dir, "results (--output_dir) to")
    if args.plot:
        require_writable_folder(args.plot, "figures (--plot) to")
    entries = read_video_list(args.test_video_path)
    inputs = [str(entry.path) for entry in entries]
    labels = [entry.label for entry in entries]
    labelled = all(label is not None for label in labels)
    calibration = load_calibration(args.calibration, AVForensicsDetector.name) if args.calibration else None
    if args.plot and not labelled:
        log.warning("--plot ignored: the figures need a label for every video")
    columns = result_columns(labels if labelled else None, calibration, inputs)
    checkpoints = avforensics_checkpoints(args)
    settings = run_settings_from_args(
        args,
        fingerprint_extra={"calibration": file_fingerprint(args.calibration) if args.calibration else None},
    )
    if args.face_crop == "never" and (args.all_faces or args.save_face_tracks or args.save_face_crops):
        log.warning("--all_faces, --save_face_tracks and --save_face_crops do nothing with --face_crop never")
    try:
        scores = run_detection(
            inputs,
            checkpoints,
            settings,
            max_len=args.max_len,
            device=device,
            window_batch=args.window_batch,
            progress=not args.no_progress,
            extra_columns=ExtraColumns(*columns) if columns else None,
            face_crop=args.face_crop,
        )
    except SettingsMismatch as exc:
        raise SettingsMismatch(f"{exc}; use --overwrite to start over, or another --output_dir") from None
    scored = int((scores == scores).sum())
    log.info("%d of %d videos scored; results in %s", scored, len(inputs), settings.output_dir)
    if scored == 0:
        raise InputError(f"no video could be scored; see {settings.output_dir / 'scores.csv'} for the reasons")
    if labelled:
        summary = write_labelled_summary(
            settings.output_dir / "summary.json",
            inputs,
            labels,
            scores,
            calibration,
            args.bootstrap,
            args.plot,
            "anomaly score (higher: more likely fake)",
            unscored_reasons(settings.output_dir),
        )
        for key in ("auc", "ap", "eer", "acc", "tnr", "tpr"):
            print(f"{key}:{summary[key] if summary[key] is not None else 'undefined'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
