"""Whole-video audio-visual detection and temporal localisation on the synthetic audio-visual world.

Writes ``--count`` untouched clips and ``--count`` clips of 8-10 s where one 1.5-2.5 s span starting after 2 s
has its audio shifted by 6-10 frames or replaced by another clip's audio
(:func:`core.avforensics.synthetic.write_partial_fakes`), scores them with detect.py's driver and
``--whole_video``, and prints the video-level AUC of the authors' first-window score next to the whole-video
``score_max`` / ``score_mean``, and the localisation AP / AR of the segments (``core.metrics``). Models: the
README's small CPU recipe on longer clips (see the README, "Whole videos").

    python -m bench.eval_av_localisation --models runs/avanomaly_small --sync_model runs/avsync_small/sync_model.pth \
        --work_dir outputs/av_localisation --count 20 --plot docs/av_timeline.png

(Run it as a module from the repository root so ``core`` is importable.)
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from core.avforensics.pipeline import CheckpointPaths
from core.avforensics.runner import RunSettings, run_detection
from core.avforensics.synthetic import LabelledClip, write_partial_fakes
from core.avforensics.whole_video import WholeVideoSettings, relative_threshold, smooth
from core.cli import run_cli
from core.forensics.timeline import Segment
from core.metrics.classification import auc
from core.metrics.localisation import localisation_summary, temporal_iou

log = logging.getLogger("eval_av_localisation")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sync_model", required=True, help="sync_model.pth (with its .json sidecar)")
    parser.add_argument(
        "--models",
        required=True,
        help="folder with dist_regressive_model.pth, avfeature_regressive_model.pth and pca.npz",
    )
    parser.add_argument("--work_dir", default="outputs/av_localisation", help="clips, detect.py outputs, results.json")
    parser.add_argument("--count", type=int, default=20, help="manipulated clips (and as many untouched ones)")
    parser.add_argument("--size", type=int, default=32, help="frame side of the synthetic clips")
    parser.add_argument("--seed", type=int, default=1, help="clip seed (training used seed 0's clips)")
    parser.add_argument("--lam", type=float, default=0.0)
    parser.add_argument("--window_stride", type=int, default=25)
    parser.add_argument("--min_context", type=int, default=WholeVideoSettings.min_context)
    parser.add_argument("--segment_threshold", type=float, default=None)
    parser.add_argument("--plot", default="", help="PNG of one localised example's timeline (docs/av_timeline.png)")
    parser.add_argument("--threads", type=int, default=0)
    return parser


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def plot_timeline(
    timeline_csv: Path,
    clip: LabelledClip,
    segments: list[Segment],
    settings: WholeVideoSettings,
    score: float,
    score_max: float,
    path: Path,
) -> None:
    """The anomaly curve of one clip (raw and smoothed), its true manipulated span, the threshold and the segments."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _read_csv(timeline_csv)
    time_s = np.array([float(r["time_s"]) for r in rows])
    anomaly = np.array([float(r["anomaly"]) if r["anomaly"] else np.nan for r in rows])
    smoothed = smooth(anomaly, settings.smooth_steps)
    threshold = settings.threshold if settings.threshold is not None else relative_threshold(smoothed, settings.mad_k)
    figure, axis = plt.subplots(figsize=(8, 2.8), dpi=100)
    if clip.segment is not None:
        axis.axvspan(*clip.segment, color="tab:red", alpha=0.15, label=f"manipulated audio ({clip.kind})")
    axis.plot(time_s, anomaly, color="tab:blue", linewidth=0.6, alpha=0.45, label="anomaly per step (25 Hz)")
    axis.plot(time_s, smoothed, color="tab:blue", linewidth=1.6, label=f"smoothed ({settings.smooth_steps} steps)")
    axis.axhline(threshold, color="tab:gray", linestyle="--", linewidth=1, label="segment threshold")
    for index, segment in enumerate(segments):
        axis.plot(
            [segment.start_s, segment.end_s],
            [segment.peak * 1.08] * 2,
            color="tab:orange",
            linewidth=4,
            solid_capstyle="butt",
            label="found segment" if index == 0 else None,
        )
    axis.set_xlabel("time (s)")
    axis.set_ylabel("anomaly")
    axis.set_title(
        f"{clip.path.name}: first-window score {score:.2f}, whole-video score_max {score_max:.2f}", fontsize=9
    )
    axis.legend(fontsize=7, loc="upper left")
    axis.set_xlim(0, time_s[-1] + 0.1)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def main(args: argparse.Namespace) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    clips = write_partial_fakes(work / "clips", args.count, args.size, args.seed)
    models = Path(args.models)
    checkpoints = CheckpointPaths(
        args.sync_model,
        models / "dist_regressive_model.pth",
        models / "avfeature_regressive_model.pth",
        models / "pca.npz",
    )
    settings = RunSettings(
        work / "detect",
        args.lam,
        whole_video=WholeVideoSettings(args.window_stride, args.min_context, args.segment_threshold),
        overwrite=True,  # the clips are written anew each run: never resume on an earlier run's rows
    )
    run_detection([str(c.path) for c in clips], checkpoints, settings, device="cpu", progress=False)

    rows = _read_csv(settings.output_dir / "scores.csv")
    labels = np.array([c.label for c in clips])
    columns = {name: np.array([float(r[name]) for r in rows]) for name in ("score", "score_max", "score_mean")}
    if not all(np.isfinite(v).all() for v in columns.values()):
        raise SystemExit(f"some clips were not scored: see {settings.output_dir / 'scores.csv'}")
    found: dict[str, list[Segment]] = defaultdict(list)
    for row in _read_csv(settings.output_dir / "segments.csv"):
        found[row["path"]].append(
            Segment(float(row["start_s"]), float(row["end_s"]), float(row["peak"]), float(row["mean"]))
        )
    truth = {str(c.path): [c.segment] if c.segment else [] for c in clips}
    results: dict = {"clips": len(clips), "manipulated": int(labels.sum()), "auc": {}, "auc_by_kind": {}}
    for name, values in columns.items():
        results["auc"][name] = auc(labels, values)
        for kind in ("shift", "swap"):
            keep = np.array([c.kind in ("real", kind) for c in clips])
            results["auc_by_kind"][f"{name}/{kind}"] = auc(labels[keep], values[keep])
    for ranking in ("peak", "mean"):
        predictions = {p: [(s.start_s, s.end_s, getattr(s, ranking)) for s in found.get(p, [])] for p in truth}
        summary = localisation_summary(predictions, truth)
        results[f"localisation_by_{ranking}"] = {k: v for k, v in summary.items() if k.startswith(("AP", "AR"))}
    best_iou = [
        max((temporal_iou(c.segment, (s.start_s, s.end_s)) for s in found.get(str(c.path), [])), default=0.0)
        for c in clips
        if c.label
    ]
    results["fakes_with_a_segment_at_iou_0.5"] = float(np.mean(np.array(best_iou) > 0.5))
    results["median_best_iou"] = float(np.median(best_iou))
    results["segments_on_real_clips"] = sum(len(found.get(str(c.path), [])) for c in clips if not c.label)
    results["segments_on_fake_clips"] = sum(len(found.get(str(c.path), [])) for c in clips if c.label)
    results["settings"] = {
        "lam": args.lam,
        "window_stride": args.window_stride,
        "min_context": args.min_context,
        "segment_threshold": args.segment_threshold,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")

    print(f"{len(clips)} clips ({int(labels.sum())} manipulated over one span: shift or swap), lam {args.lam:g}")
    print("| video-level score | AUC | AUC shift | AUC swap |")
    print("| --- | --- | --- | --- |")
    for name in columns:
        print(
            f"| {name} | {_fmt(results['auc'][name])} | {_fmt(results['auc_by_kind'][name + '/shift'])} | "
            f"{_fmt(results['auc_by_kind'][name + '/swap'])} |"
        )
    for ranking in ("peak", "mean"):
        loc = results[f"localisation_by_{ranking}"]
        print(f"segments ranked by {ranking}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in loc.items()))
    print(
        f"fakes with a segment at IoU > 0.5: {results['fakes_with_a_segment_at_iou_0.5']:.2f}; median best IoU "
        f"{results['median_best_iou']:.2f}; segments on real clips {results['segments_on_real_clips']}, "
        f"on manipulated clips {results['segments_on_fake_clips']}"
    )

    if args.plot:
        # The first manipulated clip that was localised (IoU > 0.5), not the best one.
        fakes = [c for c in clips if c.label]
        example = next((c for c, iou in zip(fakes, best_iou) if iou > 0.5), fakes[0])
        index = clips.index(example)
        timeline = settings.output_dir / "timelines" / f"{index}_{example.path.stem}.csv"
        plot_timeline(
            timeline,
            example,
            found.get(str(example.path), []),
            settings.whole_video,
            columns["score"][index],
            columns["score_max"][index],
            Path(args.plot),
        )
        print(f"timeline plot of {example.path.name}: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
