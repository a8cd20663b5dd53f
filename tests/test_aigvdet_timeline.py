"""AIGVDet on timelines: decoder timestamps (variable frame rate), seeking, sampled pairs, segments, demo.py flags."""

from __future__ import annotations

import csv
import json
from fractions import Fraction

import numpy as np
import pytest

import demo
from core.aigvdet import AIGVDetPipeline, load_classifier
from core.aigvdet.pipeline import evidence_of
from core.aigvdet.sampling import evenly_spaced_pairs, plan_frames
from core.aigvdet.scoring import fused_per_frame
from core.cli import run_cli
from core.errors import InputError
from core.flow.classical import ClassicalFlow
from core.media import seek
from core.media.seek import FrameIndex, index_frames, read_frames_at
from core.media.video import VideoReader
from tests import factories

VFR_TIMES = [0.0, 0.04, 0.1, 0.3, 0.34, 0.5, 0.52, 0.9, 1.0, 1.3, 1.34, 1.5]


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory):
    """12 distinct frames at irregular times, a keyframe every 3 frames."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    return factories.write_vfr_video(path, factories.moving_texture_frames(12, 130, 150, seed=5), VFR_TIMES)


@pytest.fixture(scope="module")
def pipeline(weights_dir):
    """Small and fast: resnet18 classifiers on 64-pixel crops, OpenCV DIS flow."""
    return AIGVDetPipeline(
        load_classifier(weights_dir / "original.pth", "resnet18"),
        load_classifier(weights_dir / "optical.pth", "resnet18"),
        ClassicalFlow("dis"),
        crop_size=64,
        batch_size=4,
    )


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_reader_times_are_the_decoders(vfr_video, small_video, backend):
    with VideoReader(vfr_video, backend) as video:
        frames = list(video)
    assert len(frames) == 12 and video.estimated_times == 0
    np.testing.assert_allclose(video.timestamps, VFR_TIMES, atol=1e-6)  # not index / fps
    with VideoReader(small_video, backend) as video:
        list(video)
        np.testing.assert_allclose(video.timestamps, np.arange(5) / 25.0, atol=1e-6)
        video._record_time(0.0)  # a time that does not advance (OpenCV without timestamps): one frame period on
        video._record_time(None)
        assert video.timestamps[-2:] == pytest.approx([0.20, 0.24]) and video.estimated_times == 2


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_seeking_returns_the_wanted_frames(vfr_video, backend, monkeypatch):
    index = index_frames(vfr_video)
    np.testing.assert_allclose(index.time_s, VFR_TIMES, atol=1e-6)
    assert index.keyframe.tolist() == [i % 3 == 0 for i in range(12)]
    with VideoReader(vfr_video, "pyav") as video:
        every = list(video)
    seeks = []
    real_seek = seek._seek
    monkeypatch.setattr(seek, "_seek", lambda *a: seeks.append(a[3]) or real_seek(*a))
    wanted = [1, 2, 7, 8, 10]
    got = list(read_frames_at(index, wanted, backend))
    assert [i for i, _, _ in got] == wanted
    np.testing.assert_allclose([t for _, t, _ in got], [VFR_TIMES[i] for i in wanted], atol=1e-6)
    for i, _, frame in got:
        np.testing.assert_array_equal(frame, every[i])
    if backend == "pyav":  # 1: from the start; 7: keyframe 6 lies ahead, seek there; 10: keyframe 9 is next anyway
        assert seeks == [0, 6]
    with pytest.raises(ValueError, match="increasing"):
        list(read_frames_at(index, [3, 2], backend))


def test_a_frame_at_the_wrong_time_is_refused(vfr_video):
    index = index_frames(vfr_video)
    shifted = FrameIndex(
        index.path,
        index.pts + 200,
        index.keyframe,
        index.time_base,
        index.start_pts + 200,
        index.fps,
        index.width,
        index.height,
    )  # same times, other pts: no decoded frame matches
    with pytest.raises(InputError, match="not in the decoded stream"):
        list(read_frames_at(shifted, [4], "pyav"))
    tenth = round(Fraction(1, 10) / index.time_base)
    late = FrameIndex(
        index.path,
        index.pts,
        index.keyframe,
        index.time_base,
        index.start_pts - tenth,
        index.fps,
        index.width,
        index.height,
    )  # every time 0.1 s late
    with pytest.raises(InputError, match="should be at"):
        list(read_frames_at(late, [4], "opencv"))


def test_pair_choice_and_plans():
    assert evenly_spaced_pairs(0, 11, 4) == [1, 3, 6, 8]  # 10 pairs in 4 parts: the middle pair of each
    assert evenly_spaced_pairs(5, 8, 1) == [6]
    assert evenly_spaced_pairs(0, 4, 3) == evenly_spaced_pairs(0, 4, 30) == [0, 1, 2]
    index = FrameIndex(
        "v.mp4", np.array([0, 40, 100, 300, 340, 500, 520, 900]), np.ones(8, bool), Fraction(1, 1000), 0, 25.0, 64, 64
    )
    plan = plan_frames(index, start_s=0.1, end_s=0.9)  # frames shown from 0.1 s up to (not at) 0.9 s
    assert plan.frames == [2, 3, 4, 5, 6] and not plan.sampled
    sampled = plan_frames(index, start_s=0.1, sample_pairs=2)  # frames 2..7: 5 pairs, middles of 2 parts
    assert sampled.pair_starts == [3, 5] and sampled.frames == [3, 4, 5, 6]
    assert sampled.describe() == {
        "start_s": 0.1,
        "end_s": None,
        "video_frames": 8,
        "analysed_frames": 4,
        "sample_pairs": 2,
    }
    assert not plan_frames(index, sample_pairs=7).sampled  # every pair: the plain analysis
    with pytest.raises(InputError, match="1 frame"):
        plan_frames(index, start_s=0.85)
    with pytest.raises(InputError, match="ends"):
        plan_frames(index, start_s=0.5, end_s=0.5)


def test_fused_per_frame():
    np.testing.assert_allclose(fused_per_frame([0.2, 0.4, 0.6], [1.0, 0.0]), [0.6, 0.2, 0.3])  # last takes pair 1
    np.testing.assert_allclose(fused_per_frame([0.2, 0.4], [1.0, 0.0]), [0.6, 0.2])  # sampled: own pair
    with pytest.raises(ValueError):
        fused_per_frame([0.1, 0.2, 0.3], [0.5])


def test_sampled_pairs_and_segments_match_the_full_analysis(pipeline, vfr_video):
    full = pipeline.score_video(vfr_video)
    np.testing.assert_allclose(full.time_s, VFR_TIMES, atol=1e-6)
    np.testing.assert_allclose(full.pair_time_s, VFR_TIMES[:-1], atol=1e-6)
    np.testing.assert_allclose(evidence_of(full, 0.5).series["flow"].time_s, VFR_TIMES[:-1], atol=1e-6)
    assert "analysis" not in full.report(0.5)
    evidence = pipeline.analyse_video(vfr_video, sample_pairs=3)  # 11 pairs: starts 1, 5, 9
    rgb, flow, fused = (evidence.series[name] for name in ("rgb", "flow", "fused"))
    for series in (rgb, flow, fused):
        np.testing.assert_allclose(series.time_s, [VFR_TIMES[i] for i in (1, 5, 9)], atol=1e-6)
    np.testing.assert_allclose(rgb.values, np.array(full.rgb_probs)[[1, 5, 9]], atol=1e-6)
    np.testing.assert_allclose(flow.values, np.array(full.flow_probs)[[1, 5, 9]], atol=1e-6)
    np.testing.assert_allclose(fused.values, 0.5 * rgb.values + 0.5 * flow.values)
    assert evidence.details["analysis"]["sample_pairs"] == 3
    part = pipeline.score_video(vfr_video, start_s=0.3, end_s=1.0)  # frames 3..7
    np.testing.assert_allclose(part.time_s, VFR_TIMES[3:8], atol=1e-6)
    np.testing.assert_allclose(part.rgb_probs, full.rgb_probs[3:8], atol=1e-6)
    np.testing.assert_allclose(part.flow_probs, full.flow_probs[3:7], atol=1e-6)
    assert part.report(0.5)["analysis"] == {
        "start_s": 0.3,
        "end_s": 1.0,
        "video_frames": 12,
        "analysed_frames": 5,
        "sample_pairs": None,
    }


def demo_argv(weights, video, *extra) -> list[str]:
    return factories.demo_argv(weights, video, *extra, raft_iters=None)


def test_demo_timeline_outputs(tmp_path, weights_dir, vfr_video):
    plain, timed = tmp_path / "plain.json", tmp_path / "timed.json"
    assert demo.main(demo.get_args_parser().parse_args(demo_argv(weights_dir, vfr_video, "--json", str(plain)))) == 0
    assert list(json.loads(plain.read_text())) == [
        "path",
        "frame_count",
        "fps",
        "width",
        "height",
        "original_probs",
        "optical_probs",
        "original_prob",
        "optical_prob",
        "predict",
        "threshold",
        "verdict",
    ]  # no new key without a new flag
    argv = demo_argv(
        weights_dir,
        vfr_video,
        "--json",
        str(timed),
        "--timeline",
        "--timeline_csv",
        str(tmp_path / "t.csv"),
        "-t",
        "0.0",
        "--segment_min_gap",
        "0",
    )
    assert demo.main(demo.get_args_parser().parse_args(argv)) == 0
    report, base = json.loads(timed.read_text()), json.loads(plain.read_text())
    same = [key for key in base if key not in ("threshold", "verdict")]
    assert {key: report[key] for key in same} == {key: base[key] for key in same}
    np.testing.assert_allclose(report["time_s"], VFR_TIMES, atol=1e-6)
    np.testing.assert_allclose(report["pair_time_s"], VFR_TIMES[:-1], atol=1e-6)
    assert [row["second"] for row in report["per_second"]] == [0.0, 1.0]
    assert [row["count"] for row in report["per_second"]] == [8, 4]
    # Threshold 0: one segment over the whole video, the last frame held for one frame period (1 / average fps).
    [segment] = report["segments"]
    assert segment["start_s"] == 0.0 and segment["end_s"] == pytest.approx(1.5 + 1 / report["fps"])
    with open(tmp_path / "t.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["time_s", "rgb", "flow", "fused"] and len(rows) == 12
    last = rows[-1]
    assert float(last["flow"]) == pytest.approx(base["optical_probs"][-1])  # the last frame takes the last pair
    assert float(last["fused"]) == pytest.approx(0.5 * float(last["rgb"]) + 0.5 * float(last["flow"]))


def test_demo_rejects_bad_window_flags(tmp_path, weights_dir, vfr_video, capsys):
    for extra, message in (
        (["--sample_pairs", "0"], "sampled frame pairs must be at least 1, got 0"),
        (["--start", "2", "--end", "1"], "--end (1.0) must be after --start"),
        (["--sample_pairs", "2", "--folder_original_path", str(tmp_path)], "need every frame"),
        (["--start", "1.45"], "1 frame(s) between 1.45 s"),
    ):
        assert run_cli(demo.main, demo.get_args_parser(), demo_argv(weights_dir, vfr_video, *extra)) == 1
        assert message in capsys.readouterr().err
