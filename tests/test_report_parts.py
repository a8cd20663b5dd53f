"""The report's parts: the fusion rule, video facts, illustrations, figures; default evidence unchanged."""

from __future__ import annotations

from fractions import Fraction
from io import BytesIO

import av
import numpy as np
import pytest
from PIL import Image

from core.aigvdet import AIGVDetPipeline, load_classifier
from core.avforensics.illustrations import chosen_positions, clip_illustrations
from core.flow.classical import ClassicalFlow
from core.forensics import Evidence, Illustration, ScoreKind, TimeSeries, VideoFacts
from core.forensics.calibration import fit_calibration
from core.forensics.report import localised_segments, plain
from core.forensics.report_figures import heatmap_png, softmax_rows, thumbnail_png
from core.forensics.report_html import text
from core.forensics.verdicts import detector_verdict, fuse
from core.media.av_clip import load_av_clip
from core.media.faces.clip import FaceClip
from core.media.probe import probe_video
from core.media.seek import index_frames, read_frames_at
from tests import factories
from tests.avforensics_factories import write_av_clip

FACTS = VideoFacts("v.mp4", 64, 48, 25.0, 50)


def evidence(name: str, score: float, kind: ScoreKind, threshold: float | None = None) -> Evidence:
    return Evidence(name, score, kind, FACTS, threshold=threshold)


def calibrations():
    rng = np.random.default_rng(1)
    reals, fakes = rng.uniform(0, 0.6, 100), rng.uniform(0.4, 1, 100)
    isotonic = fit_calibration(reals, fakes, detector="a", score_kind="probability")
    tail = fit_calibration(rng.normal(size=100), detector="b", score_kind="anomaly")
    platt = fit_calibration(reals * 5, fakes * 5, detector="b", score_kind="anomaly", method="platt")
    return isotonic, tail, platt


def test_fusion_rule():
    isotonic, tail, platt = calibrations()
    a = evidence("a", 0.55, ScoreKind.PROBABILITY, 0.5)
    b = evidence("b", 10.0, ScoreKind.ANOMALY)
    assert fuse({}) == {"fused": False, "reason": "no fusion: no detector ran"}
    assert fuse({"a": detector_verdict(a, isotonic)})["reason"] == "no fusion: only a ran"
    uncalibrated = fuse({"a": detector_verdict(a), "b": detector_verdict(b, tail)})
    assert uncalibrated["reason"].startswith("no fusion: uncalibrated scores of different kinds (anomaly, probability)")
    both = fuse({"a": detector_verdict(a, isotonic), "b": detector_verdict(b, platt)})
    expected = (float(isotonic.probability(0.55)) + float(platt.probability(10.0))) / 2
    assert both["probability"] == pytest.approx(expected) and both["false_positive_bound"] == pytest.approx(0.02)
    flagged = [name for name, c, score in (("a", isotonic, 0.55), ("b", platt, 10.0)) if c.verdict(score) == "fake"]
    assert both["flagged_by"] == flagged and both["verdict"] == ("fake" if flagged else "real")
    low_a = detector_verdict(evidence("a", 0.0, ScoreKind.PROBABILITY, 0.5), isotonic)
    quiet = fuse({"a": low_a, "b": detector_verdict(evidence("b", -9.0, ScoreKind.ANOMALY), tail)})
    assert quiet["verdict"] == "real" and quiet["flagged_by"] == [] and quiet["probability"] is None
    loud = fuse({"a": low_a, "b": detector_verdict(evidence("b", 9.0, ScoreKind.ANOMALY), tail)})
    assert loud["verdict"] == "fake" and loud["flagged_by"] == ["b"]  # one detector is enough
    with pytest.raises(ValueError, match="cannot calibrate"):
        detector_verdict(a, tail)


def test_probe_facts_constant_and_variable_frame_rate(tmp_path):
    facts = probe_video(write_av_clip(tmp_path / "clip.mp4", frames=10, size=(64, 48)))
    assert (facts.width, facts.height, facts.frames, facts.fps) == (64, 48, 10, 25.0)
    assert facts.video_codec == "h264" and facts.audio and facts.audio_codec == "aac" and facts.audio_channels == 1
    assert not facts.variable_frame_rate
    assert not probe_video(write_av_clip(tmp_path / "silent.mp4", frames=4, audio_rate=None)).audio
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for k, pts in enumerate([0, 40, 80, 200, 240, 400]):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), k * 40, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, stream.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    facts = probe_video(path)
    assert facts.variable_frame_rate and facts.frame_interval_s == pytest.approx((0.04, 0.16))


def test_aigvdet_illustrations_are_the_extreme_frames(weights_dir, tmp_path):
    video = factories.write_video(tmp_path / "clip.avi", factories.moving_texture_frames(6, 64, 80, seed=2))
    models = [load_classifier(weights_dir / name, "resnet18") for name in ("original.pth", "optical.pth")]
    plain_pipeline = AIGVDetPipeline(*models, ClassicalFlow("dis"), crop_size=64)
    assert plain_pipeline.analyse_video(video).illustrations == []  # off by default: outputs as before
    pipeline = AIGVDetPipeline(*models, ClassicalFlow("dis"), crop_size=64, illustrate=True)
    found = pipeline.analyse_video(video)
    fused = found.series["fused"].values
    pictures = found.illustrations
    assert [(p.group, p.label) for p in pictures] == [
        ("most suspicious frame", "frame"),
        ("most suspicious frame", "optical flow"),
        ("least suspicious frame", "frame"),
        ("least suspicious frame", "optical flow"),
    ]
    index = index_frames(video)
    decoded = {i: image for i, _, image in read_frames_at(index, range(6))}
    for picture, frame in zip(pictures[::2], (int(np.argmax(fused)), int(np.argmin(fused)))):
        assert picture.time_s == found.series["fused"].time_s[frame]
        np.testing.assert_array_equal(picture.image, decoded[frame])
    assert all(p.image.shape == (64, 80, 3) for p in pictures)


def test_av_illustrations_of_a_whole_frame_clip(tmp_path):
    assert chosen_positions(10, 3) == [0, 4, 9] and chosen_positions(2, 3) == [0, 1] and chosen_positions(0) == []
    clip = load_av_clip(write_av_clip(tmp_path / "clip.mp4", frames=9), 32)
    pictures = clip_illustrations(FaceClip(clip, "whole frame"), clip)
    assert [p.time_s for p in pictures] == [0.0, 0.16, 0.32]
    np.testing.assert_array_equal(pictures[1].image, clip.frames[4])
    with pytest.raises(ValueError, match="uint8 RGB"):
        Illustration("x", 0.0, np.zeros((4, 4), np.uint8))


def test_segments_figures_and_text():
    series = TimeSeries(np.arange(6) / 2, np.array([0.1, 0.7, 0.8, 0.2, 0.9, 0.1]), "fused")
    found = Evidence("a", 0.5, ScoreKind.PROBABILITY, FACTS, {"fused": series}, threshold=0.5)
    segments, rule = localised_segments(found)
    assert [(s["start_s"], s["end_s"]) for s in segments] == [(0.5, 1.5), (2.0, 2.5)]
    assert rule == "runs of 'fused' at or above the threshold 0.5"
    own = Evidence("b", 1.0, ScoreKind.ANOMALY, FACTS, details={"segments": [{"start_s": 1.0, "end_s": 2.0}]})
    assert localised_segments(own) == ([{"start_s": 1.0, "end_s": 2.0}], "the detector's own segments")
    assert plain({"a": np.float32(1.5), "b": [np.nan, np.arange(2)]}) == {"a": 1.5, "b": [None, [0, 1]]}
    logits = np.random.default_rng(0).normal(size=(7, 31))
    np.testing.assert_allclose(softmax_rows(logits).sum(axis=1), 1.0)
    assert heatmap_png("sync_logits", TimeSeries(np.arange(7) / 25, logits, "offset logits"))[:4] == b"\x89PNG"
    small = np.zeros((32, 32, 3), np.uint8)
    assert Image.open(BytesIO(thumbnail_png(small))).size == (160, 160)  # tiny frames enlarged
    assert Image.open(BytesIO(thumbnail_png(np.zeros((720, 1280, 3), np.uint8)))).size == (320, 180)
    assert text("see https://example.org/a <b>") == "see example.org/a &lt;b&gt;"


def test_flow_picture_with_raft_is_unpadded(weights_dir):
    from core.aigvdet.illustrations import flow_picture
    from core.flow import FlowExtractor, load_raft

    frames = factories.moving_texture_frames(2, 124, 130, seed=4)  # sides not multiples of 8: RAFT pads them
    models = [load_classifier(weights_dir / name, "resnet18") for name in ("original.pth", "optical.pth")]
    raft = FlowExtractor(load_raft(weights_dir / "raft-small.pth", small=True), iters=2)
    picture = flow_picture(AIGVDetPipeline(*models, raft), *frames)
    assert picture.shape == (124, 130, 3) and picture.dtype == np.uint8 and picture.std() > 0
