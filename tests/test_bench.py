"""bench_demo end to end on a tiny video: both sides run, and on a CPU ours gives the reference style's bits."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # runs the benchmark script in a subprocess
def test_bench_demo_runs_both_sides_and_outputs_agree_exactly(tmp_path):
    results = tmp_path / "results.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_demo",
            "--size",
            "128x160",
            "--frames",
            "3",
            "--iters",
            "2",
            "--device",
            "cpu",
            "--csv",
            str(results),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=600,
    )
    (row,) = list(csv.DictReader(results.open()))
    assert row["frames"] == "3" and row["size"] == "160x128"
    assert float(row["ours_s"]) > 0 and float(row["reference_s"]) > 0
    assert float(row["max_prob_diff"]) == 0.0  # same batches and kernels as the reference on a CPU


def test_results_csv_widens_when_a_benchmark_gains_a_column(tmp_path):
    from bench.common import append_csv_row

    results = tmp_path / "results.csv"
    append_csv_row(results, {"ours_s": 1, "speedup": 2})
    append_csv_row(results, {"ours_s": 3, "channels_last": True, "speedup": 4})
    append_csv_row(results, {"speedup": 5, "ours_s": 6})
    assert list(csv.reader(results.open())) == [
        ["ours_s", "speedup", "channels_last"],
        ["1", "2", ""],
        ["3", "4", "True"],
        ["6", "5", ""],
    ]
