"""Temporal localisation with AIGVDet on the synthetic world: real clips with a spliced "fake" shot.

Uses the tiny detectors of the README's quickstart (resnet18 on 64-pixel crops, DIS flow; this script trains
nothing). Test clips are made here, with seeds the world's own clips never use: ``--clips`` untouched real clips
and as many real clips in which a fake clip of 1.5-2.5 s (a new scene: the splice is a cut) replaces frames,
starting at least 1 s after the start and ending at least 1 s before the end. Each clip is scored frame by frame;
segments are the runs of the fused per-frame probability at or above ``--threshold`` (``demo.py --timeline``'s
rule), scored by their mean. Reported: segment AP and AR (``core.metrics.localisation``, AV-Deepfake1M's
definitions) and per-video AUC (``core.metrics.classification``) of the detector's video score and of the
highest per-second mean. Writes ``results.json`` and ``videos.csv`` in ``--output_dir`` and a timeline figure of
one spliced clip (``--plot``).

    python -m bench.eval_aigvdet_localisation
    python -m bench.eval_aigvdet_localisation --clips 40 --plot docs/aigvdet_timeline.png
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.aigvdet import AIGVDetPipeline, load_classifier
from core.aigvdet.pipeline import evidence_of
from core.aigvdet.synthetic.world import WorldSpec, fake_clip, real_clip, write_video
from core.aigvdet.timeline import fused_segments
from core.cli import run_cli
from core.errors import ToolkitError
from core.flow.classical import ClassicalFlow
from core.forensics.timeline import per_second
from core.forensics.timeline_plot import plot_timeline
from core.metrics.classification import auc
from core.metrics.localisation import localisation_summary

log = logging.getLogger("eval_aigvdet_localisation")

TRAIN_COMMANDS = """the quickstart's models are missing; make them with (README, "Quickstart"):
    python -m core.aigvdet.synthetic
    python train.py --exp_name synth_rgb dataset_root data/synthetic/rgb datasets synth datasets_test synth \\
        arch resnet18 pretrained False cropSize 64 batch_size 32 num_workers 2 nepoch 4
    python train.py --exp_name synth_flow dataset_root data/synthetic/flow datasets synth datasets_test synth \\
        arch resnet18 pretrained False cropSize 64 batch_size 32 num_workers 2 nepoch 4"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-mor", "--rgb_model", default="data/exp/synth_rgb/ckpt/model_epoch_best.pth")
    parser.add_argument("-mop", "--flow_model", default="data/exp/synth_flow/ckpt/model_epoch_best.pth")
    parser.add_argument("--clips", type=int, default=20, help="spliced clips, and as many untouched ones")
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length")
    parser.add_argument("--seed", type=int, default=1000, help="clips use seeds from here (the world uses 0..)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--segment_min_gap", type=float, default=0.0, help="as demo.py")
    parser.add_argument("--segment_min_len", type=float, default=0.0, help="as demo.py")
    parser.add_argument("--output_dir", default="outputs/aigvdet_localisation")
    parser.add_argument("--plot", default=None, help="write a timeline figure of the first spliced clip here")
    return parser


def make_clip(
    index: int, spliced: bool, spec: WorldSpec, seconds: float, seed: int
) -> tuple[list[np.ndarray], tuple[float, float] | None]:
    """A real clip of ``seconds``; when ``spliced``, a fake shot of 1.5-2.5 s replaces some of its frames."""
    rng = np.random.default_rng([seed, int(spliced), index])
    frames = real_clip(rng, dataclasses.replace(spec, frames=round(seconds * spec.fps)))
    if not spliced:
        return frames, None
    length = int(round(rng.uniform(1.5, 2.5) * spec.fps))
    first = int(rng.integers(round(spec.fps), len(frames) - length - round(spec.fps) + 1))
    frames[first : first + length] = fake_clip(rng, dataclasses.replace(spec, frames=length))
    return frames, (first / spec.fps, (first + length) / spec.fps)


def main(args: argparse.Namespace) -> int:
    if not (Path(args.rgb_model).exists() and Path(args.flow_model).exists()):
        raise ToolkitError(TRAIN_COMMANDS)
    spec = WorldSpec()  # the world's clip size and frame rate: 128x128 at 8 fps
    rgb_model, flow_model = load_classifier(args.rgb_model, "resnet18"), load_classifier(args.flow_model, "resnet18")
    pipeline = AIGVDetPipeline(rgb_model, flow_model, ClassicalFlow("dis"), crop_size=64, threshold=args.threshold)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth, predictions, rows, example = {}, {}, [], None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aigv_loc_") as tmp:
        jobs = [(i, spliced) for spliced in (True, False) for i in range(args.clips)]
        for i, spliced in tqdm(jobs, desc="clips", disable=None):
            name = f"{'spliced' if spliced else 'real'}_{i:03d}"
            frames, segment = make_clip(i, spliced, spec, args.seconds, args.seed)
            path = write_video(Path(tmp) / f"{name}.avi", frames, spec.fps)
            result = pipeline.score_video(path)
            found = fused_segments(result, args.threshold, args.segment_min_gap, args.segment_min_len)
            truth[name] = [segment] if segment else []
            predictions[name] = [(s.start_s, s.end_s, s.mean) for s in found]
            evidence = evidence_of(result, args.threshold)
            best_second = max(row["mean"] for row in per_second(evidence.series["fused"]))
            rows.append(
                {
                    "video": name,
                    "label": int(spliced),
                    "truth_start_s": segment[0] if segment else "",
                    "truth_end_s": segment[1] if segment else "",
                    "predict": result.predict,
                    "max_second_mean": best_second,
                    "segments": len(found),
                    "found": " ".join(f"{s.start_s:.3f}-{s.end_s:.3f}" for s in found),
                }
            )
            if spliced and example is None:
                example = (name, evidence, found, segment)
    labels = [row["label"] for row in rows]
    summary = localisation_summary(predictions, truth)
    results = {
        "clips": {
            "spliced": args.clips,
            "real": args.clips,
            "seconds": args.seconds,
            "fps": spec.fps,
            "size": [spec.height, spec.width],
        },
        "threshold": args.threshold,
        "segment_min_gap": args.segment_min_gap,
        "segment_min_len": args.segment_min_len,
        "localisation": summary,
        "video_auc_predict": auc(labels, [row["predict"] for row in rows]),
        "video_auc_max_second": auc(labels, [row["max_second_mean"] for row in rows]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    with (out / "videos.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{args.clips} spliced + {args.clips} real clips of {args.seconds:g} s, in {results['seconds']} s")
    print("segment " + "  ".join(f"{key} {summary[key]:.3f}" for key in ("AP@0.5", "AP@0.75", "AR@5", "AR@10")))
    print(
        f"video AUC: predict {results['video_auc_predict']:.3f}, "
        f"highest per-second mean {results['video_auc_max_second']:.3f}"
    )
    if args.plot and example:
        name, evidence, found, segment = example
        written = plot_timeline(
            args.plot,
            {k: evidence.series[k] for k in ("rgb", "flow", "fused")},
            args.threshold,
            found,
            [segment],
            emphasise="fused",
            title=f"AIGVDet on a synthetic clip with a spliced fake shot ({name})",
        )
        print(f"figure: {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
