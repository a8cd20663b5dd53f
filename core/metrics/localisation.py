"""Temporal localisation metrics of fake segments, as the AV-Deepfake1M benchmark defines them.

Definitions follow the benchmark's evaluation (Cai et al., "AV-Deepfake1M: A Large-Scale LLM-Driven
Audio-Visual Deepfake Dataset", ACM MM 2024; repository ControlNet/AV-Deepfake1M, ``avdeepfake1m.evaluation``
``ap_ar_1d`` and its ``examples/batfd/evaluate.py``; the same metrics as LAV-DF, Cai et al., DICTA 2022 /
CVIU 2023, repository ControlNet/LAV-DF). Written from those definitions, not from their code.

- Segments are ``(start_s, end_s)``; a prediction is ``(start_s, end_s, score)``; ground truth and predictions
  are mappings from a video id to its segments. Every ground-truth video is evaluated (real videos have no
  segments; their predictions are false positives in AP); a video without predictions has none.
- Temporal IoU = overlap / union (0 for disjoint segments and for zero-length unions).
- A prediction hits a segment when IoU > threshold (strictly, as the benchmark does).
- Predictions are ranked by score within a video (stable: equal scores keep their given order). The
  benchmark ranks by the order rows have in its prediction files, which its tools write by decreasing score.
- AP@t: within each video, each ground-truth segment in turn (in its given order) claims the best-ranked
  prediction that hits it and no earlier segment claimed; claimed predictions are true positives, all others
  false positives. All predictions of the data set are then ranked by score (stable: video order, then rank)
  and AP is the area under the precision-recall curve with precision made monotone (at each recall, the best
  precision at that recall or beyond), recall = true positives / all ground-truth segments of the data set.
  The benchmark's code leaves out the curve's first step, from recall 0 to the recall of the top-ranked
  prediction, so its value is ours minus 1/(number of segments) when the top-ranked prediction is a true
  positive (negligible on the real benchmark, large on tiny cases): ``omit_first_step=True`` reproduces it.
- AR@N: each video keeps its N best-ranked predictions; a segment is recalled at IoU threshold t when one of
  them hits it (no one-to-one matching); recall at t = recalled segments / all segments of the data set, and
  AR@N is its mean over the IoU thresholds (benchmark: 0.5, 0.55, ..., 0.95).
- The benchmark reports AP@{0.5, 0.75, 0.9, 0.95}, AR@{50, 30, 20, 10, 5} and, in its challenge, the score
  0.5 x mean(AP) + 0.5 x mean(AR).

A metric is None when the data set has no ground-truth segment at all (recall divides by zero).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputError

AP_IOU_THRESHOLDS = (0.5, 0.75, 0.9, 0.95)
AR_PROPOSAL_COUNTS = (50, 30, 20, 10, 5)
AR_IOU_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)

Segment = Sequence[float]  # (start_s, end_s)
Prediction = Sequence[float]  # (start_s, end_s, score)


@dataclass(frozen=True)
class _Video:
    scores: np.ndarray  # (M,) by decreasing score
    ious: np.ndarray  # (M, G): predictions in that order x ground-truth segments in their given order


def temporal_iou(a: Segment, b: Segment) -> float:
    """Overlap / union of two ``(start, end)`` segments; 0 when they are disjoint or both have zero length."""
    return float(_iou_matrix(np.array([a[:2]], dtype=np.float64), np.array([b[:2]], dtype=np.float64))[0, 0])


def _iou_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    start1, end1 = first[:, :1], first[:, 1:2]
    start2, end2 = second[:, 0], second[:, 1]
    overlap = np.clip(np.minimum(end1, end2) - np.maximum(start1, start2), 0.0, None)
    union = (end1 - start1) + (end2 - start2) - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


def _array(rows: Iterable[Sequence[float]] | None, columns: int, video: str, what: str) -> np.ndarray:
    values = np.asarray(list(rows if rows is not None else ()), dtype=np.float64).reshape(-1, columns)
    if not np.isfinite(values).all() or (values[:, 1] < values[:, 0]).any():
        raise InputError(
            f"{what} of video {video!r} must be finite (start, end{', score' if columns == 3 else ''}) "
            "rows with end >= start"
        )
    return values


def _prepare(
    predictions: Mapping[str, Iterable[Prediction]], ground_truth: Mapping[str, Iterable[Segment]]
) -> tuple[list[_Video], int]:
    unknown = [name for name in predictions if name not in ground_truth]
    if unknown:
        raise InputError(
            f"predictions for {len(unknown)} video(s) without ground truth, e.g. {unknown[:3]} "
            "(do the video ids match?)"
        )
    videos, segments = [], 0
    for name, truth in ground_truth.items():
        truth_arr = _array(truth, 2, name, "ground-truth segments")
        predicted = _array(predictions.get(name, ()), 3, name, "predictions")
        predicted = predicted[np.argsort(-predicted[:, 2], kind="stable")]
        videos.append(_Video(predicted[:, 2], _iou_matrix(predicted[:, :2], truth_arr)))
        segments += truth_arr.shape[0]
    return videos, segments


def _true_positives(ious: np.ndarray, iou: float) -> np.ndarray:
    """Which predictions (rows, best first) the segments (columns, in order) claim: the first free hit each."""
    hits = ious > iou
    claimed = np.zeros(ious.shape[0], dtype=bool)
    for column in range(ious.shape[1]):
        free_hits = np.flatnonzero(hits[:, column] & ~claimed)
        if free_hits.size:
            claimed[free_hits[0]] = True
    return claimed


def _average_precision(videos: list[_Video], segments: int, iou: float, omit_first_step: bool) -> float | None:
    if segments == 0:
        return None
    scores = np.concatenate([video.scores for video in videos] + [np.zeros(0)])
    positive = np.concatenate([_true_positives(video.ious, iou) for video in videos] + [np.zeros(0, dtype=bool)])
    positive = positive[np.argsort(-scores, kind="stable")]
    if not positive.any():
        return 0.0
    precision = np.cumsum(positive) / np.arange(1, positive.size + 1)
    best_beyond = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this rank or any later one
    steps = best_beyond[positive]
    if omit_first_step and positive[0]:
        steps = steps[1:]
    return float(np.sum(steps) / segments)


def _average_recall(videos: list[_Video], segments: int, n: int, ious: Sequence[float]) -> float | None:
    if n < 1:
        raise ValueError(f"need at least one prediction per video, got N={n}")
    if segments == 0:
        return None
    thresholds = np.asarray(ious, dtype=np.float64)
    recalled = np.zeros(thresholds.size)
    for video in videos:
        if video.ious.shape[0] and video.ious.shape[1]:
            best = video.ious[:n].max(axis=0)  # (G,) best IoU of each segment among the top N
            recalled += (best[None, :] > thresholds[:, None]).sum(axis=1)
    return float(np.mean(recalled / segments))


def average_precision_at_iou(
    predictions: Mapping[str, Iterable[Prediction]],
    ground_truth: Mapping[str, Iterable[Segment]],
    iou: float,
    omit_first_step: bool = False,
) -> float | None:
    """AP at one IoU threshold over a data set (see the module docstring); None without ground-truth segments."""
    videos, segments = _prepare(predictions, ground_truth)
    return _average_precision(videos, segments, iou, omit_first_step)


def average_recall_at_n(
    predictions: Mapping[str, Iterable[Prediction]],
    ground_truth: Mapping[str, Iterable[Segment]],
    n: int,
    ious: Sequence[float] = AR_IOU_THRESHOLDS,
) -> float | None:
    """AR with the N best predictions per video, averaged over ``ious``; None without ground-truth segments."""
    videos, segments = _prepare(predictions, ground_truth)
    return _average_recall(videos, segments, n, ious)


def localisation_summary(
    predictions: Mapping[str, Iterable[Prediction]],
    ground_truth: Mapping[str, Iterable[Segment]],
    ap_ious: Sequence[float] = AP_IOU_THRESHOLDS,
    ar_counts: Sequence[int] = AR_PROPOSAL_COUNTS,
    ar_ious: Sequence[float] = AR_IOU_THRESHOLDS,
    omit_first_step: bool = False,
) -> dict:
    """{"AP@0.5": ..., "AP@0.75": ..., "AR@50": ..., "AR@10": ..., "score": ..., "videos": ..., "segments": ...,
    "notes": [...]} with the benchmark's thresholds by default; ``score`` is the challenge's
    0.5 x mean(AP) + 0.5 x mean(AR). Values are None (with a note) when there is no ground-truth segment."""
    videos, segments = _prepare(predictions, ground_truth)
    summary: dict = {}
    for iou in ap_ious:
        summary[f"AP@{iou:g}"] = _average_precision(videos, segments, iou, omit_first_step)
    for n in ar_counts:
        summary[f"AR@{n}"] = _average_recall(videos, segments, n, ar_ious)
    aps = [summary[f"AP@{iou:g}"] for iou in ap_ious]
    ars = [summary[f"AR@{n}"] for n in ar_counts]
    summary["score"] = (
        0.5 * math.fsum(aps) / len(aps) + 0.5 * math.fsum(ars) / len(ars) if segments and aps and ars else None
    )
    summary.update({"videos": len(videos), "segments": segments, "notes": []})
    if not segments:
        summary["notes"].append("AP and AR are undefined: the ground truth has no fake segment (recall needs one)")
    return summary
