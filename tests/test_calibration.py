"""core.forensics.calibration, the result-table reader and calibrate.py: fit, save, load, apply, refuse."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

import calibrate
from core.cli import run_cli
from core.errors import InputError
from core.forensics.calibration import (
    check_calibration,
    fit_calibration,
    holdout_split,
    load_calibration,
    save_calibration,
)
from core.forensics.score_tables import read_score_table, read_score_tables


def scores_of(seed: int, reals: int, fakes: int, shift: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=reals), rng.normal(size=fakes) + shift


@pytest.mark.parametrize("method", ["isotonic", "platt", "real_tail"])
def test_fit_save_load_apply_round_trip(tmp_path, method):
    real, fake = scores_of(0, 200, 60)
    fitted = fit_calibration(
        real,
        None if method == "real_tail" else fake,
        detector="avforensics",
        score_kind="anomaly",
        method=method,
        source="unit test",
    )
    loaded = load_calibration(save_calibration(fitted, tmp_path / "c.json"), detector="avforensics")
    assert loaded == fitted
    probe = np.linspace(-5, 8, 101)
    np.testing.assert_array_equal(loaded.probability(probe), fitted.probability(probe))
    record = loaded.apply(float(np.max(real)) + 1.0)
    assert record["calibrated_verdict"] == "fake" and 0.0 <= record["calibrated"] <= 1.0
    assert record["calibrated_threshold"] == fitted.threshold and record["calibration_method"] == method
    missing = loaded.apply(float("nan"))
    assert missing["calibrated"] is None and missing["calibrated_verdict"] is None
    assert (fitted.eer is None) == (method == "real_tail")


@pytest.mark.parametrize("method", ["isotonic", "platt", "real_tail"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calibrated_probabilities_are_monotone_in_the_raw_score(method, seed):
    real, fake = scores_of(seed, 150, 40, shift=1.0)  # overlapping classes: isotonic has real steps to pool
    fitted = fit_calibration(
        real, None if method == "real_tail" else fake, detector="d", score_kind="anomaly", method=method
    )
    raw = np.sort(np.r_[np.random.default_rng(seed).normal(size=2000) * 4, real, fake, -1e12, 1e12])
    calibrated = fitted.probability(raw)
    assert (np.diff(calibrated) >= 0).all()
    assert calibrated.min() >= 0.0 and calibrated.max() <= 1.0


def test_isotonic_map_equals_scikit_learn_without_pickle():
    real, fake = scores_of(4, 100, 50, shift=1.0)
    fitted = fit_calibration(real, fake, detector="d", score_kind="anomaly")
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        np.r_[real, fake], np.r_[np.zeros(100), np.ones(50)]
    )
    probe = np.linspace(-6, 8, 301)
    np.testing.assert_allclose(fitted.probability(probe), model.predict(probe), atol=1e-12)
    assert isinstance(fitted.map["x"], list) and isinstance(fitted.map["y"], list)


def test_real_only_tail_probability_and_threshold_by_hand():
    real = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    fitted = fit_calibration(real, detector="d", score_kind="anomaly", target_fpr=0.2)
    assert fitted.method == "real_tail" and fitted.fake_count == 0 and fitted.eer is None
    # 2 of 10 reals may be flagged: the threshold is just above the third highest (8), flagging 9 and 10.
    assert fitted.threshold == np.nextafter(8.0, np.inf) and fitted.fpr_at_threshold == 0.2
    # "More unusual than X of the real videos": the share that scored strictly lower.
    np.testing.assert_array_equal(fitted.probability([0.5, 1.0, 5.5, 10.0, 11.0]), [0.0, 0.0, 0.5, 0.9, 1.0])
    assert fitted.verdict(8.0) == "real" and fitted.verdict(8.5) == "fake"
    few = fit_calibration(real, detector="d", score_kind="anomaly", target_fpr=0.01)
    assert few.threshold == np.nextafter(10.0, np.inf) and few.fpr_at_threshold == 0.0
    assert any("fewer than 1/0.01" in note for note in few.notes)


def test_fpr_at_the_calibrated_threshold_holds_on_held_out_reals():
    # 1,000 real scores from one source, fitted on 700 at 1% FPR, checked on the 300 held out.
    real, fake = scores_of(5, 1000, 200)
    labels = np.r_[np.zeros(1000, dtype=int), np.ones(200, dtype=int)]
    scores = np.r_[real, fake]
    fit, held = holdout_split(labels, 0.3, seed=0)
    fitted = fit_calibration(
        scores[fit][labels[fit] == 0], scores[fit][labels[fit] == 1], detector="d", score_kind="anomaly"
    )
    check = check_calibration(fitted, scores[held][labels[held] == 0], scores[held][labels[held] == 1])
    assert check["real"] == 300 and check["fake"] == 60
    assert check["fpr"] <= 0.03 and check["tpr"] > 0.5


def test_holdout_split_is_stratified_and_seeded():
    labels = np.r_[np.zeros(10, dtype=int), np.ones(4, dtype=int)]
    fit, held = holdout_split(labels, 0.25, seed=3)
    assert sorted(np.r_[fit, held]) == list(range(14))
    assert (labels[held] == 0).sum() == 2 and (labels[held] == 1).sum() == 1
    again = holdout_split(labels, 0.25, seed=3)
    np.testing.assert_array_equal(again[1], held)
    with pytest.raises(InputError, match="between 0 and 1"):
        holdout_split(labels, 1.0)


def test_check_calibration_counts_by_hand():
    fitted = fit_calibration([0.0, 1.0, 2.0, 3.0], detector="d", score_kind="anomaly", target_fpr=0.25)
    # 1 of 4 reals may be flagged: threshold just above 2.0. Held-out reals above it: 2.5, 3.5, 4.0.
    check = check_calibration(fitted, [0.5, 2.5, 3.5, 4.0], [5.0, 1.0])
    assert (check["false_positives"], check["fpr"], check["true_positives"], check["tpr"]) == (3, 0.75, 1, 0.5)


def test_unusable_fits_are_refused():
    with pytest.raises(InputError, match="needs scores of real videos"):
        fit_calibration([], [1.0], detector="d", score_kind="anomaly")
    with pytest.raises(InputError, match="needs scores of fake videos"):
        fit_calibration([1.0, 2.0], detector="d", score_kind="anomaly", method="platt")
    with pytest.raises(InputError, match="finite"):
        fit_calibration([1.0, float("nan")], detector="d", score_kind="anomaly")
    with pytest.raises(InputError, match="between 0 and 1"):
        fit_calibration([1.0], detector="d", score_kind="anomaly", target_fpr=0.0)
    with pytest.raises(InputError, match="score lower"):
        fit_calibration([3.0, 4.0, 5.0], [0.0, 1.0], detector="d", score_kind="anomaly", method="platt")


def test_a_file_made_for_another_detector_is_refused(tmp_path):
    fitted = fit_calibration([1.0, 2.0], detector="aigvdet", score_kind="probability")
    path = save_calibration(fitted, tmp_path / "c.json")
    with pytest.raises(InputError, match="made for the aigvdet detector, not for avforensics"):
        load_calibration(path, detector="avforensics")


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (lambda d: "not json {", "cannot be read as JSON"),
        (lambda d: {**d, "format": "other"}, "not a calibration file"),
        (lambda d: {**d, "version": 99}, "version 99 is not supported"),
        (lambda d: {**d, "method": "magic"}, "unknown method"),
        (lambda d: {**d, "threshold": "high"}, "'threshold' must be a finite number"),
        (lambda d: {**d, "map": {"x": [0.0, 1.0], "y": [1.0, 0.0]}}, "non-decreasing"),
        (lambda d: {**d, "map": {"x": [0.0, 1.0], "y": [0.0]}}, "equal lengths"),
        (lambda d: {k: v for k, v in d.items() if k != "real_count"}, "real_count"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path, edit, pattern):
    fitted = fit_calibration([0.0, 1.0, 2.0], [3.0, 4.0], detector="d", score_kind="anomaly")
    data = edit(fitted.to_dict())
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(InputError, match=pattern) as caught:
        load_calibration(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(InputError, match="not found"):
        load_calibration(tmp_path / "missing.json")


def write_test_csv(path, real, fake):
    rows = [{"name": f"r{i}", "pro": s, "flag": 0, "optical_pro": s, "original_pro": s} for i, s in enumerate(real)]
    rows += [{"name": f"f{i}", "pro": s, "flag": 1, "optical_pro": s, "original_pro": s} for i, s in enumerate(fake)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_scores_csv(path, scores, labels=None):
    rows = [{"path": f"v{i}.mp4", "score": repr(float(s)), "steps": 3, "status": "ok"} for i, s in enumerate(scores)]
    rows.append({"path": "missing.mp4", "score": "nan", "steps": 0, "status": "file not found"})
    if labels is not None:
        for row, label in zip(rows, list(labels) + [1]):
            row["label"] = label
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_result_tables_of_both_scripts_are_read(tmp_path):
    aig = read_score_table(write_test_csv(tmp_path / "t.csv", [0.1, 0.2], [0.9]))
    assert aig.producer == "test.py" and aig.names == ["r0", "r1", "f0"] and aig.labels.tolist() == [0, 0, 1]
    av = read_score_table(write_scores_csv(tmp_path / "scores.csv", [1.5, 2.5]))
    assert av.producer == "detect.py" and av.labels is None and av.scores.tolist() == [1.5, 2.5]
    assert av.dropped == [("missing.mp4", "file not found")]
    labelled = read_score_table(write_scores_csv(tmp_path / "l.csv", [1.5, 2.5], [0, 1]))
    assert labelled.labels.tolist() == [0, 1]
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a result table"):
        read_score_table(tmp_path / "other.csv")
    with pytest.raises(InputError, match="different scripts"):
        read_score_tables([tmp_path / "t.csv", tmp_path / "scores.csv"])


def test_calibrate_script_on_test_py_csv_with_holdout(tmp_path, capsys):
    real, fake = scores_of(6, 400, 100)
    table = write_test_csv(tmp_path / "videos.csv", 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake)))
    out = tmp_path / "cal.json"
    assert (
        run_cli(calibrate.main, calibrate.get_args_parser(), [str(table), "--output", str(out), "--holdout", "0.25"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "threshold at 1.00% FPR" in printed and "held out: 100 real, 25 fake videos" in printed
    fitted = load_calibration(out, detector="aigvdet")
    assert (fitted.score_kind, fitted.method, fitted.real_count, fitted.fake_count) == (
        "probability",
        "isotonic",
        300,
        75,
    )
    assert fitted.extra["holdout"]["fpr"] <= 0.03 and fitted.extra["holdout"]["fraction"] == 0.25


def test_calibrate_script_on_real_only_scores_csv(tmp_path, capsys):
    table = write_scores_csv(tmp_path / "scores.csv", np.arange(50.0))
    out = tmp_path / "cal.json"
    args = calibrate.get_args_parser()
    assert run_cli(calibrate.main, args, [str(table), "--output", str(out)]) == 1
    assert "has no label column: pass --real_only" in capsys.readouterr().err
    assert run_cli(calibrate.main, args, [str(table), "--output", str(out), "--real_only", "--target_fpr", "0.1"]) == 0
    fitted = load_calibration(out, detector="avforensics")
    assert fitted.method == "real_tail" and fitted.real_count == 50 and fitted.threshold == np.nextafter(44.0, np.inf)
