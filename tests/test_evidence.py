"""Both detectors behind the one interface of ``core.forensics``: the same evidence shape, timestamps in seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.aigvdet import AIGVDetPipeline, load_classifier
from core.errors import InputError
from core.flow import FlowExtractor, load_raft
from core.forensics import Detector, Evidence, ScoreKind, TimeSeries, VideoFacts
from tests.avforensics_factories import (
    random_av_detector,
    write_av_clip,
)


def test_time_series_and_verdict_rules():
    with pytest.raises(ValueError, match="2 timestamps for 3 values"):
        TimeSeries(np.zeros(2), np.zeros(3), "mismatch")
    facts = VideoFacts("v.mp4", 64, 48, 25.0, 50)
    assert facts.duration_s == 2.0 and math.isnan(VideoFacts("v", 1, 1, 0.0, 3).duration_s)
    fake = Evidence("d", 0.5, ScoreKind.PROBABILITY, facts, threshold=0.5)
    assert fake.verdict == "fake" and Evidence("d", 0.49, ScoreKind.PROBABILITY, facts, threshold=0.5).verdict == "real"
    assert Evidence("d", 3.0, ScoreKind.ANOMALY, facts).verdict is None  # unbounded: no threshold until calibrated


def test_aigvdet_evidence(weights_dir, small_video):
    raft = load_raft(weights_dir / "raft-things.pth")
    pipeline = AIGVDetPipeline(
        load_classifier(weights_dir / "original.pth", "resnet18"),
        load_classifier(weights_dir / "optical.pth", "resnet18"),
        FlowExtractor(raft, iters=2),
        threshold=0.25,
    )
    assert isinstance(pipeline, Detector)
    evidence = pipeline.analyse_video(small_video)
    result = pipeline.score_video(small_video)
    assert evidence.detector == "aigvdet" and evidence.score_kind is ScoreKind.PROBABILITY
    assert evidence.score == result.predict and evidence.threshold == 0.25
    assert evidence.verdict == ("fake" if result.predict >= 0.25 else "real")
    rgb, flow = evidence.series["rgb"], evidence.series["flow"]
    assert list(rgb.values) == result.rgb_probs and list(flow.values) == result.flow_probs
    np.testing.assert_allclose(rgb.time_s, np.arange(5) / 25.0)  # the factory writes 25 fps
    np.testing.assert_allclose(flow.time_s, np.arange(4) / 25.0)  # a pair is timed by its first frame
    assert (evidence.facts.width, evidence.facts.height, evidence.facts.frames) == (150, 130, 5)


def test_avforensics_evidence(tmp_path):
    detector = random_av_detector(
        frame_size=32,
        progress=False,
        lam=1.0,
    )
    assert isinstance(detector, Detector)
    clip_path = write_av_clip(tmp_path / "clip.mp4", frames=12, size=(64, 48))
    evidence = detector.analyse_video(clip_path)
    analysis = detector.analyse(detector.load_clip(clip_path))
    assert evidence.score_kind is ScoreKind.ANOMALY and evidence.threshold is None
    assert evidence.score == pytest.approx(analysis.scores.combined(1.0))
    logits = evidence.series["sync_logits"]
    assert logits.values.shape == (8, 31)  # 12 frames: steps 0..7
    np.testing.assert_allclose(logits.time_s, np.arange(8) / 25.0)
    assert (evidence.facts.width, evidence.facts.height) == (64, 48)
    with pytest.raises(InputError, match="no audio"):
        detector.analyse_video(write_av_clip(tmp_path / "silent.mp4", frames=12, audio_rate=None))
