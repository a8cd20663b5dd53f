"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import csv
from pathlib import Path


def append_csv_row(path: str | Path, row: dict) -> None:
    """Append ``row`` to a CSV file, writing the header first when the file is new (timm-style results)."""
    target = Path(path)
    new = not target.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
