"""score.py: one results table from raw videos, resumable, sharded, with perturbations and a robustness table."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

import score
from core.cli import run_cli
from core.errors import InputError
from core.forensics import Evidence, FaceTrackDetector, PreparedTrack, ScoreKind, VideoFacts, batch
from core.forensics.batch import BatchSettings, run_batch
from core.forensics.batch_table import merge_parts, video_rows
from core.media.perturb import Perturbation
from core.media.sources import VideoEntry, read_video_list
from tests.avforensics_factories import save_small_av_checkpoints, write_av_clip


@pytest.fixture(scope="module")
def av_args(tmp_path_factory):
    weights = save_small_av_checkpoints(tmp_path_factory.mktemp("score_av_weights"))
    return weights + ["--face_crop", "never", "--device", "cpu", "--no_progress", "--prefetch", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two real clips, two fakes of subset genA; a clip without audio, a broken file and a missing one (list)."""
    root = tmp_path_factory.mktemp("score_data")
    (root / "0_real").mkdir()
    (root / "1_fake" / "genA").mkdir(parents=True)
    for index in range(2):
        write_av_clip(root / "0_real" / f"real {index}.mp4", frames=8, size=(128, 128), seed=index)
        write_av_clip(root / "1_fake" / "genA" / f"fake{index}.mp4", frames=8, size=(128, 128), seed=10 + index)
    write_av_clip(root / "1_fake" / "silent.mp4", frames=8, size=(128, 128), audio_rate=None, seed=3)
    (root / "1_fake" / "broken.mp4").write_bytes(b"not a video")
    return root


def rows_of(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in csv.DictReader(handle)]


def run(argv) -> int:
    return run_cli(score.main, score.get_args_parser(), argv)


def test_av_table_statuses_resume_after_interrupt_and_settings(tmp_path, dataset, av_args, monkeypatch, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    base = ["--videos", str(dataset), "--detectors", "av"] + av_args
    assert run(base + ["--output_dir", str(full)]) == 0
    rows = rows_of(full / "results.csv")
    assert [(r["path"].split("/")[-1], r["label"], r["subset"], r["av_status"]) for r in rows] == [
        ("real 0.mp4", "0", "", "ok"),
        ("real 1.mp4", "0", "", "ok"),
        ("broken.mp4", "1", "", rows[2]["av_status"]),
        ("fake0.mp4", "1", "genA", "ok"),
        ("fake1.mp4", "1", "genA", "ok"),
        ("silent.mp4", "1", "", "no audio track"),
    ]
    assert rows[2]["av_status"].startswith("cannot decode") and rows[2]["av_score"] == "nan"
    assert "clean av: auc:" in capsys.readouterr().out and (full / "summary.json").is_file()
    parquet = pq.read_table(full / "results.parquet").to_pylist()
    assert [r["path"] for r in parquet] == [r["path"] for r in rows] and parquet[0]["av_score"] == float(
        rows[0]["av_score"]
    )

    # Interrupted after two videos (Ctrl-C), then rerun: the same table, and only the rest is scored again.
    calls, interrupt = [], [True]
    real_analyse = batch._analyse

    def interrupting(*args):
        calls.append(args[2])
        if len(calls) == 3 and interrupt and interrupt.pop():
            raise KeyboardInterrupt
        return real_analyse(*args)

    monkeypatch.setattr(batch, "_analyse", interrupting)
    assert run(base + ["--output_dir", str(cut)]) != 0
    assert len(rows_of(cut / "parts" / "results.rank0.csv")) == 2
    calls.clear()
    assert run(base + ["--output_dir", str(cut)]) == 0
    assert len(calls) == 4 and rows_of(cut / "results.csv") == rows
    calls.clear()
    assert run(base + ["--output_dir", str(cut), "--retry_failed"]) == 0
    assert len(calls) == 2 and rows_of(cut / "results.csv") == rows  # the two failures, tried again

    assert run(base + ["--output_dir", str(cut), "--lam", "1"]) == 1  # other settings: refused, nothing lost
    assert "other settings" in capsys.readouterr().err and rows_of(cut / "results.csv") == rows
    calls.clear()
    assert run(base + ["--output_dir", str(cut), "--lam", "1", "--overwrite"]) == 0 and len(calls) == 6


def test_shards_merge_into_the_single_process_table(tmp_path, dataset, av_args):
    args = score.get_args_parser().parse_args(["--output_dir", str(tmp_path)] + av_args)
    detectors, fingerprint = score.build_detectors(args, ["av"], torch.device("cpu"))
    entries = read_video_list(dataset, subsets=True)
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    conditions = ((), (Perturbation("audio_delay", 5),))
    run_batch(entries, detectors, BatchSettings(single, conditions, progress=False), fingerprint)
    for rank in (1, 0):  # ranks finish in any order
        settings = BatchSettings(sharded, conditions, rank=rank, world_size=2, progress=False)
        run_batch(entries, detectors, settings, fingerprint)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows]  # noqa: E731
    merged = strip(merge_parts(sharded))
    assert merged == strip(merge_parts(single)) and len(merged) == 12
    assert [r["perturbation"] for r in merged] == ["clean"] * 6 + ["audio_delay:5"] * 6


def test_perturbed_aigvdet_and_robustness_table(tmp_path, dataset, weights_dir, capsys):
    for index in range(2):  # 3 frames: the least AIGVDet scores (2 pairs)
        write_av_clip(tmp_path / f"clip{index}.mp4", frames=3, size=(128, 128), seed=20 + index)
    listing = tmp_path / "list.txt"
    listing.write_text("clip0.mp4 0\nclip1.mp4 1 genA\n")
    aigv = ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth"), "--small"]
    aigv += ["--model", str(weights_dir / "raft-small.pth"), "--arch", "resnet18", "--iters", "1", "--crop_size", "64"]
    base = ["--videos", str(listing), "--detectors", "aigvdet", "--device", "cpu", "--no_progress"] + aigv
    assert run(base + ["--output_dir", str(tmp_path / "robust"), "--robustness", "blur"]) == 0
    rows = rows_of(tmp_path / "robust" / "results.csv")
    assert [r["perturbation"] for r in rows] == ["clean"] * 2 + ["blur:1"] * 2 + ["blur:2"] * 2 + ["blur:3"] * 2
    assert all(r["aigvdet_status"] == "ok" for r in rows) and rows[1]["subset"] == "genA"
    assert rows[0]["aigvdet_score"] != rows[2]["aigvdet_score"]  # blurred frames, another probability
    with open(tmp_path / "robust" / "robustness.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["perturbation"], r["level"]) for r in table] == [
        ("clean", ""),
        ("blur", "1"),
        ("blur", "2"),
        ("blur", "3"),
    ]
    assert all(r["auc"] in ("0.0", "1.0") for r in table)
    assert (tmp_path / "robust" / "robustness.png").stat().st_size > 5000
    out = capsys.readouterr().out
    assert "robustness plot:" in out and "blur:3 aigvdet: auc:" in out


class VideoLevel:
    """A detector without face tracks: its score is the video's name length."""

    name, score_kind = "whole", ScoreKind.PROBABILITY

    def analyse_video(self, path):
        return Evidence(self.name, len(Path(path).name) / 100, self.score_kind, VideoFacts(str(path), 8, 8, 25.0, 3))


class Tracked:
    """Two face tracks per video; track 1 of ``b.mp4`` has a face problem; ``c.mp4`` cannot be read at all; neither
    track of ``d.mp4`` is usable, so none is its main one."""

    name, score_kind = "faces", ScoreKind.ANOMALY

    def __init__(self):
        self.analysed = []

    def prepare_tracks(self, path):
        if Path(path).name == "c.mp4":
            raise InputError("cannot decode c.mp4")
        return [PreparedTrack(str(t), t == 1 and Path(path).name != "d.mp4", (str(path), t)) for t in (0, 1)]

    def analyse_prepared(self, prepared):
        path, track = prepared
        self.analysed.append(prepared)
        if Path(path).name == "b.mp4" and track == 1:
            raise InputError("face too small")
        if Path(path).name == "d.mp4":
            raise InputError("cut by a shot change")
        return Evidence(self.name, 10.0 * track + len(path), self.score_kind, VideoFacts(path, 8, 8, 25.0, 3))

    def analyse_video(self, path):
        return self.analyse_prepared(self.prepare_tracks(path)[1].prepared)


def test_face_track_rows_resume_retry_and_shard_by_video(tmp_path):
    entries = [VideoEntry(Path(f"{stem}.mp4"), label) for stem, label in (("a", 0), ("b", 1), ("c", 1), ("d", 0))]
    detectors = {"whole": VideoLevel(), "faces": Tracked()}
    assert isinstance(detectors["faces"], FaceTrackDetector) and not isinstance(detectors["whole"], FaceTrackDetector)
    settings = BatchSettings(tmp_path / "one", face_tracks=True, progress=False, prefetch=0)
    run_batch(entries, detectors, settings, {"v": 1})
    rows = merge_parts(tmp_path / "one")
    assert [(r["index"], r["path"], r["face_track"], r["main_face"], r["faces_status"]) for r in rows] == [
        ("0", "a.mp4", "0", "0", "ok"),
        ("0", "a.mp4", "1", "1", "ok"),
        ("1", "b.mp4", "0", "0", "ok"),
        ("1", "b.mp4", "1", "1", "face too small"),
        ("2", "c.mp4", "", "1", "cannot decode c.mp4"),
        ("3", "d.mp4", "0", "1", "cut by a shot change"),  # no usable track: the first stands for the video
        ("3", "d.mp4", "1", "0", "cut by a shot change"),
    ]
    assert rows[0]["whole_score"] == rows[1]["whole_score"] == repr(0.05)  # the video-level score on each track
    assert [float(r["faces_score"]) for r in rows[:3]] == [5.0, 15.0, 5.0]
    assert [r["path"] for r in video_rows(rows)] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]  # one per video: the main face

    # A rerun scores nothing; --retry_failed scores b.mp4 (one failed track) and c.mp4 again, whole.
    detectors["faces"].analysed.clear()
    run_batch(entries, detectors, settings, {"v": 1})
    assert detectors["faces"].analysed == []
    run_batch(entries, detectors, replace(settings, retry_failed=True), {"v": 1})
    assert detectors["faces"].analysed == [("b.mp4", 0), ("b.mp4", 1), ("d.mp4", 0), ("d.mp4", 1)]
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows]  # noqa: E731
    assert strip(merge_parts(tmp_path / "one")) == strip(rows)

    # Two shards: a video's rows stay together, in the single-process order.
    for rank in (1, 0):
        shard = BatchSettings(tmp_path / "two", face_tracks=True, progress=False, prefetch=0, rank=rank, world_size=2)
        run_batch(entries, detectors, shard, {"v": 1})
    assert strip(merge_parts(tmp_path / "two")) == strip(rows)


def test_aigvdet_sample_pairs_reads_a_few_pairs_of_each_video_perturbed_or_not(tmp_path, weights_dir):
    write_av_clip(tmp_path / "long.mp4", frames=30, size=(128, 128), seed=30)
    aigv = ["-mor", str(weights_dir / "original.pth"), "-mop", str(weights_dir / "optical.pth"), "--small"]
    aigv += ["--model", str(weights_dir / "raft-small.pth"), "--arch", "resnet18", "--iters", "1", "--crop_size", "64"]
    base = ["--videos", str(tmp_path / "long.mp4"), "--detectors", "aigvdet", "--device", "cpu", "--no_progress"]
    assert run(base + aigv + ["--output_dir", str(tmp_path / "all")]) == 0
    assert run(base + aigv + ["--output_dir", str(tmp_path / "few"), "--sample_pairs", "3"]) == 0
    assert (
        run(base + aigv + ["--output_dir", str(tmp_path / "jpeg"), "--sample_pairs", "3", "--perturb", "jpeg:50"]) == 0
    )
    (every,), (few,), (jpeg,) = (rows_of(tmp_path / name / "results.csv") for name in ("all", "few", "jpeg"))
    assert (every["aigvdet_status"], every["aigvdet_frames"]) == ("ok", "30")
    # 3 pairs found by seeking (the RGB branch sees each pair's first frame), in an in-memory copy too
    assert (few["aigvdet_status"], few["aigvdet_frames"]) == ("ok", "3")
    assert (jpeg["aigvdet_status"], jpeg["aigvdet_frames"]) == ("ok", "3")
    assert few["aigvdet_score"] != every["aigvdet_score"] and jpeg["aigvdet_score"] != few["aigvdet_score"]
    assert run(base + aigv + ["--output_dir", str(tmp_path / "few"), "--sample_pairs", "0"]) == 1


class Cut:
    """``cut.mp4`` decodes half its frames (scored, truncated); ``crash.mp4`` breaks the model; ``gone.mp4`` is
    missing (an input problem, a skip). Every call is recorded."""

    name, score_kind = "cut", ScoreKind.ANOMALY

    def __init__(self):
        self.analysed = []

    def analyse_video(self, path):
        name = Path(path).name
        self.analysed.append(name)
        if name == "crash.mp4":
            raise ValueError("bad\nshape")
        if name == "gone.mp4":
            raise InputError("file not found")
        evidence = Evidence(self.name, float(len(name)), self.score_kind, VideoFacts(str(path), 8, 8, 25.0, 8))
        if name == "cut.mp4":
            evidence.warnings.append("truncated: decoded 4 of 8 frames")
        return evidence


def test_a_truncated_row_is_scored_through_retry_merge_summary_plot_and_calibrate(tmp_path, monkeypatch, capsys):
    import calibrate
    from core.forensics.robustness import condition_summaries
    from core.forensics.score_tables import read_score_table
    from core.metrics import plots
    from core.runs.status import Status

    names = [("a.mp4", 0), ("cut.mp4", 1), ("crash.mp4", 1), ("gone.mp4", 0), ("bb.mp4", 0), ("long.mp4", 1)]
    entries = [VideoEntry(Path(name), label) for name, label in names]
    detector = Cut()
    for rank in (0, 1):  # two shards: the other part's rows decide what is done too
        settings = BatchSettings(tmp_path, progress=False, prefetch=0, rank=rank, world_size=2)
        run_batch(entries, {"cut": detector}, settings, {"v": 1})
    statuses = {r["path"]: r["cut_status"] for r in merge_parts(tmp_path)}
    # The status texts are those of before (tables unchanged); the type reads them back.
    assert statuses["cut.mp4"] == "truncated: decoded 4 of 8 frames"
    assert statuses["crash.mp4"] == "failed: ValueError: bad shape" and statuses["gone.mp4"] == "file not found"
    assert [Status.parse(statuses[n]).kind for n, _ in names[:4]] == ["ok", "truncated", "failed", "skipped"]
    assert all(str(Status.parse(text)) == text for text in statuses.values())

    # Retry, in one process over both parts: the failure and the skip are scored again, the truncated file is not.
    detector.analysed.clear()
    run_batch(
        entries, {"cut": detector}, BatchSettings(tmp_path, progress=False, prefetch=0, retry_failed=True), {"v": 1}
    )
    assert sorted(detector.analysed) == ["crash.mp4", "gone.mp4"]
    rows = merge_parts(tmp_path)  # the merge keeps the truncated row (it has a score) once
    assert [r["path"] for r in rows] == [n for n, _ in names] and rows[1]["cut_status"].startswith("truncated")

    # Summary: the truncated file is among the scored videos; the two others are listed with why.
    summary = condition_summaries(rows, list(rows[0]))["clean"]["cut"]
    assert summary["p"] + summary["n"] == 4
    assert summary["skipped"] == [
        {"video": "crash.mp4", "label": 1, "reason": "failed: ValueError: bad shape"},
        {"video": "gone.mp4", "label": 0, "reason": "file not found"},
    ]

    # Plot (score.py --merge_only --plot): the ROC covers the AUC's videos, the truncated one included.
    plotted = []
    monkeypatch.setattr(plots, "plot_scores", lambda labels, scores, *a, **k: plotted.append((labels, scores)))
    assert run(["--merge_only", "--output_dir", str(tmp_path), "--plot"]) == 0
    assert plotted == [([0, 1, 0, 1], [5.0, 7.0, 6.0, 8.0])]
    out = capsys.readouterr().out
    assert "2 row(s) with a failed detector" in out and "1 row(s) scored from a truncated file" in out

    # Calibrate: a detect.py table with the same statuses; the truncated row is a calibration input.
    table = tmp_path / "scores.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "score", "steps", "status", "face_crop", "face_status", "label"])
        for row in rows:
            writer.writerow([row["path"], row["cut_score"], 3, row["cut_status"], "none", "whole frame", row["label"]])
    read = read_score_table(table)
    assert read.names == ["a.mp4", "cut.mp4", "bb.mp4", "long.mp4"] and len(read.dropped) == 2
    assert run_cli(calibrate.main, calibrate.get_args_parser(), [str(table), "--output", str(tmp_path / "c.json")]) == 0
    assert "fitted on 2 real and 2 fake videos" in capsys.readouterr().out
