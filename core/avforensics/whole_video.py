"""Whole-video scoring for the audio-visual detector: sliding windows, a 25 Hz anomaly curve, localised segments.

The authors score the first ``max_len`` (50) time steps of a video, 2 s. Here the sync evidence of every step
of the clip is extracted once (:class:`core.avforensics.features.SyncFeatureExtractor` with ``whole_video``),
then scored by the same autoregressive models in windows:

* **Windows**: ``max_len`` steps starting every ``stride`` steps (25 = 1 s), plus one ending at the clip's last
  step when the stride does not land there; a clip of at most ``max_len`` steps is one window. Each window is
  exactly what the authors score for a video that starts there (padded and masked to ``max_len``), so window 0
  is their score, bit for bit, and ``score_max`` / ``score_mean`` are the maximum and mean over windows.
* **Curve**: a window predicts its step t (t = 1..S-1) from its steps 0..t-1: that step has t steps of context.
  Each step's value is KL + lam * feature error (:func:`core.avforensics.scoring.step_terms`), averaged over
  the windows that give it at least ``min_context`` steps of context; a step no window gives that much (the
  start of the video, or strides longer than ``max_len - min_context``) takes its value from the window that
  gives it the most. Step 0 is never predicted: NaN.
  Why: the first steps of a window are predicted from almost nothing, so their KL partly measures the model's
  uncertainty about how a new sequence goes on, not the video. On the synthetic world (real clips, README
  recipe) only the very first step is measurably worse (mean KL 1.08 with 1 step of context, 0.98-1.01 with
  2-49) and localisation changed little between min_context 1, 10 and 25; the official models were trained on
  the first 50 steps of each video, where early positions may matter more, so the default keeps a margin of
  10 steps. With the defaults (max_len 50, stride 25, min_context 10) every step after the 10th averages
  one or two windows.
* **Time**: step k covers frames k..k+4; its curve sample is placed at the middle frame, ``(k + 2) / 25`` s,
  and lasts one frame, so a segment of steps a..b spans [(a + 2) / 25, (b + 3) / 25) s.
* **Segments** (:func:`core.forensics.timeline.segments_above`): the curve is first smoothed by a centred
  moving average of ``smooth_steps`` (13 steps, 0.52 s): per-step KL is spiky even on real clips (single
  steps reach several times the median), while a manipulated span raises it for as long as it lasts. Runs of
  the smoothed curve at or above a threshold, merged across gaps of at most ``min_gap_s`` (0.5 s), at least
  ``min_len_s`` (0.2 s) long, are the segments; their ``peak`` and ``mean`` are of the smoothed curve. The
  threshold is the given one (e.g. from a calibration on real videos), else relative to the video's own
  smoothed curve: median + ``mad_k`` (2.5) x 1.4826 x MAD (the MAD scaled to a standard deviation for
  Gaussian noise), so a video's typical level is never flagged whatever its source, and what stands well
  above it is. A real video can still get segments (its own largest excursions); their lower peaks rank them
  below manipulations. Smoothing and ``mad_k`` were chosen on synthetic clips of another seed than the
  README's evaluation (without smoothing, segment AP@0.5 was 0.3-0.6 there; 13 steps and 2.5 gave 0.95).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.avforensics.scoring import WINDOW_FRAMES, SequenceScores, score_window
from core.errors import SettingsError
from core.forensics.evidence import TimeSeries
from core.forensics.timeline import Segment, per_second, segments_above
from core.media.av_clip import TARGET_FPS

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class WholeVideoSettings:
    """How whole videos are windowed, turned into a curve and cut into segments (see the module docstring)."""

    stride: int = 25  # steps between window starts (25 = 1 s)
    min_context: int = 10  # steps of context a window must give a step to count in its average
    threshold: float | None = None  # absolute segment threshold; None: relative to the video's curve
    mad_k: float = 2.5
    smooth_steps: int = 13  # centred moving average of the curve before thresholding (13 steps = 0.52 s)
    min_gap_s: float = 0.5
    min_len_s: float = 0.2
    # At most this many windows, evenly spaced, the first always among them (a CPU time budget); None: every one.
    max_windows: int | None = None

    def fingerprint(self) -> dict:
        """The settings a resumed run must share; ``max_windows`` only when set (tables of runs without it resume)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if values["max_windows"] is None:
            del values["max_windows"]
        return values

    def __post_init__(self) -> None:
        if self.max_windows is not None and self.max_windows < 1:
            raise SettingsError(f"the number of windows must be at least 1, got {self.max_windows}")
        if self.stride < 1:
            raise SettingsError(f"the window stride must be at least 1 step, got {self.stride}")
        if self.min_context < 1:
            raise SettingsError(f"the minimum context must be at least 1 step, got {self.min_context}")


@dataclass
class WholeVideoResult:
    window_starts: np.ndarray  # (W,) first step of each window
    window_scores: np.ndarray  # (W,) each window's score, combined with lam as the video score is
    time_s: np.ndarray  # (steps,) curve sample times, (k + 2) / 25
    anomaly: np.ndarray  # (steps,) per-step anomaly; NaN for step 0
    windows: np.ndarray  # (steps,) windows averaged into each step (0 for step 0)
    threshold: float
    threshold_rule: str  # "given", or how it was derived from the curve
    segments: list[Segment] = field(default_factory=list)
    total_windows: int = 0  # windows of the whole clip; more than len(window_starts) when they were sampled

    @property
    def sampled(self) -> bool:
        return self.total_windows > len(self.window_starts)

    @property
    def score_max(self) -> float:
        return float(np.max(self.window_scores))

    @property
    def score_mean(self) -> float:
        return float(np.mean(self.window_scores))

    def per_second(self, offset_s: float = 0.0) -> list[dict]:
        """The curve per second (``core.forensics.timeline.per_second``: ``second``, ``count`` of steps with a
        value, ``mean``, ``min``, ``max``); ``offset_s`` shifts the clip's times to the video's (a face track's start).
        """
        return per_second(TimeSeries(self.time_s + offset_s, self.anomaly, "anomaly"))


def window_starts(steps: int, length: int, stride: int) -> np.ndarray:
    """First step of each window of ``length`` steps over ``steps`` steps (see the module docstring)."""
    if steps <= length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, steps - length + 1, stride, dtype=np.int64)
    if starts[-1] + length < steps:
        starts = np.r_[starts, steps - length]
    return starts


def sample_windows(starts: np.ndarray, count: int) -> np.ndarray:
    """``count`` evenly spaced starts of ``starts`` (all when there are no more), the first always among them:
    its window is the authors' score."""
    if count >= len(starts):
        return starts
    return starts[np.unique(np.round(np.linspace(0, len(starts) - 1, count)).astype(np.int64))]


def window_ranges(starts: np.ndarray, length: int, steps: int) -> list[tuple[int, int]]:
    """The step ranges windows starting at ``starts`` cover: the first window's own range first (extracted alone,
    as without sampling, so its score stays bit-identical), then the others' merged, from its end on."""
    first = (0, min(length, steps))
    rest: list[tuple[int, int]] = []
    for start in starts:
        begin, end = max(int(start), first[1]), min(int(start) + length, steps)
        if begin >= end:
            continue
        if rest and begin <= rest[-1][1]:
            rest[-1] = (rest[-1][0], max(rest[-1][1], end))
        else:
            rest.append((begin, end))
    return [first, *rest]


def step_times(steps: int) -> np.ndarray:
    """Curve sample time of each step: its 5-frame window's middle frame, in seconds."""
    return (np.arange(steps, dtype=np.float64) + (WINDOW_FRAMES - 1) // 2) / TARGET_FPS


def anomaly_curve(
    starts: np.ndarray, terms: list[np.ndarray], steps: int, min_context: int
) -> tuple[np.ndarray, np.ndarray]:
    """(steps,) anomaly and (steps,) window counts from each window's per-step values.

    ``terms[w][t - 1]`` is window w's value for its step t, i.e. the video's step ``starts[w] + t``, predicted with
    t steps of context.
    """
    total = np.zeros(steps, dtype=np.float64)
    count = np.zeros(steps, dtype=np.int64)
    best_context = np.zeros(steps, dtype=np.int64)
    best_value = np.full(steps, np.nan)
    for start, values in zip(starts, terms):
        context = np.arange(1, len(values) + 1)
        index = int(start) + context
        enough = context >= min_context
        np.add.at(total, index[enough], values[enough])
        np.add.at(count, index[enough], 1)
        better = context > best_context[index]
        best_context[index[better]] = context[better]
        best_value[index[better]] = values[better]
    curve = np.divide(total, count, out=best_value.copy(), where=count > 0)
    windows = np.where(count > 0, count, (best_context > 0).astype(np.int64))
    return curve, windows


def smooth(values: np.ndarray, steps: int) -> np.ndarray:
    """Centred moving average over ``steps`` samples, ignoring NaN (shorter at the ends); NaN stays NaN."""
    if steps <= 1:
        return values.copy()
    finite = np.isfinite(values)
    kernel = np.ones(steps)
    # The centred part of the full convolution: numpy's mode="same" is as long as the kernel when the curve is
    # shorter (a clip of fewer steps than the kernel); for longer curves both are the same.
    centre = slice((steps - 1) // 2, (steps - 1) // 2 + len(values))
    total = np.convolve(np.where(finite, values, 0.0), kernel, mode="full")[centre]
    count = np.convolve(finite.astype(np.float64), kernel, mode="full")[centre]
    return np.where(finite, total / np.maximum(count, 1.0), np.nan)


def relative_threshold(values: np.ndarray, mad_k: float) -> float:
    """median + mad_k x 1.4826 x MAD of the finite values (NaN when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan")
    median = float(np.median(finite))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(finite - median)))
    # A curve flat over half its samples has no spread: only what rises above that level stands out.
    return median + mad_k * spread if spread > 0 else float(np.nextafter(median, np.inf))


@torch.no_grad()
def score_whole_video(
    logits: np.ndarray,
    pca_features: np.ndarray,
    distribution_model: torch.nn.Module,
    feature_model: torch.nn.Module,
    max_len: int,
    lam: float,
    settings: WholeVideoSettings,
    device: torch.device | str = "cpu",
) -> tuple[SequenceScores, WholeVideoResult]:
    """The first window's scores (the authors' video score) and the whole-video result of every step's evidence."""
    steps = logits.shape[0]
    every = window_starts(steps, max_len, settings.stride)
    starts = every if settings.max_windows is None else sample_windows(every, settings.max_windows)
    first: SequenceScores | None = None
    scores, terms = [], []
    for start in starts:
        window = slice(int(start), int(start) + max_len)
        window_scores, window_terms = score_window(
            logits[window], pca_features[window], distribution_model, feature_model, max_len, device
        )
        first = window_scores if first is None else first
        scores.append(window_scores.combined(lam))
        terms.append(window_terms.combined(lam))
    anomaly, windows = anomaly_curve(starts, terms, steps, settings.min_context)
    smoothed = smooth(anomaly, settings.smooth_steps)
    if settings.threshold is not None:
        threshold, rule = float(settings.threshold), "given"
    else:
        threshold, rule = relative_threshold(smoothed, settings.mad_k), f"median + {settings.mad_k:g} x 1.4826 x MAD"
    time_s = step_times(steps)
    segments = segments_above(time_s, smoothed, threshold, settings.min_gap_s, settings.min_len_s)
    result = WholeVideoResult(
        starts, np.asarray(scores, dtype=np.float64), time_s, anomaly, windows, threshold, rule, segments, len(every)
    )
    return first, result
