"""Files of a whole-video run of ``detect.py`` (``--whole_video``), written next to ``scores.csv``:

* ``timelines/<index>_<stem>.csv``: ``time_s, step, anomaly, windows`` -- one row per time step (25 Hz): the
  curve sample's time (the step's middle frame), the step, its anomaly (empty for step 0, never predicted) and
  how many windows were averaged into it;
* ``timelines/<index>_<stem>_per_second.csv``: ``second, mean, max, steps`` -- the curve summarised per second;
* ``segments.csv``: ``path, track, start_s, end_s, peak, mean`` -- the localised segments of every video, in
  input order (``track``: ``none`` for the whole frame, or the face track's id);
* ``coverage.csv`` (face cropping only): ``path, track, start_s, end_s, status, other_track`` -- every stretch of
  each scored face track's video: ``scored``, or why not (``no face``, ``another face`` with the other track's id,
  or the face status of a track that cannot be scored), from :mod:`core.media.faces.coverage`.

Like the other outputs, each video's rows are written and flushed as soon as it is scored. A resumed run
(:mod:`core.avforensics.result_files`) keeps the segments of the videos already scored and drops those of a
video an interrupted run did not finish.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Collection, Sequence
from pathlib import Path

from core.atomic import atomic_open
from core.avforensics.whole_video import WholeVideoResult
from core.media.faces.coverage import SCORED, Stretch
from core.runs.result_table import ResultTable

SEGMENT_COLUMNS = ["path", "track", "start_s", "end_s", "peak", "mean"]
COVERAGE_COLUMNS = ["path", "track", "start_s", "end_s", "status", "other_track"]
NO_TRACK = "none"


def _number(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


class TimelineWriter:
    def __init__(
        self, output_dir: Path, done: Collection[str] = (), overwrite: bool = True, coverage: bool = False
    ) -> None:
        """``done``: paths scored by an earlier run whose segments are kept (others' are dropped); ``coverage``:
        write ``coverage.csv`` too (face cropping)."""
        self.timeline_dir = output_dir / "timelines"
        self.timeline_dir.mkdir(parents=True, exist_ok=True)
        # Companions of scores.csv: its settings record covers these tables.
        self._segments = ResultTable(output_dir / "segments.csv", SEGMENT_COLUMNS, ["path", "track"], None, overwrite)
        self._segments.retain(lambda row: row["path"] in done)
        self._coverage = None
        if coverage:
            self._coverage = ResultTable(
                output_dir / "coverage.csv", COVERAGE_COLUMNS, ["path", "track", "start_s"], None, overwrite
            )
            self._coverage.retain(lambda row: row["path"] in done)

    def add(
        self,
        index: int,
        path: str,
        result: WholeVideoResult,
        track: str = NO_TRACK,
        offset_s: float = 0.0,
        suffix: str = "",
        coverage: Sequence[Stretch] = (),
    ) -> Path:
        """Write one clip's timeline files, segment rows and coverage rows; returns the timeline CSV's path.

        ``offset_s``: where the clip starts in the video (a face track's first frame), added to every time so
        times are the video's; ``suffix`` tells apart the files of several face tracks of one video."""
        stem = f"{index}_{Path(path).stem}{suffix}"
        timeline = self.timeline_dir / f"{stem}.csv"
        with atomic_open(timeline, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time_s", "step", "anomaly", "windows"])
            for step, (time_s, value, windows) in enumerate(zip(result.time_s, result.anomaly, result.windows)):
                writer.writerow([f"{time_s + offset_s:.2f}", step, _number(value), int(windows)])
        with atomic_open(self.timeline_dir / f"{stem}_per_second.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["second", "mean", "max", "steps"])
            for row in result.per_second(offset_s):
                if row["count"] == 0:  # a second of only unpredicted steps (a clip of one step): no row
                    continue
                writer.writerow([int(row["second"]), repr(row["mean"]), repr(row["max"]), row["count"]])
        self._segments.append_rows(
            [
                path,
                track,
                f"{segment.start_s + offset_s:.2f}",
                f"{segment.end_s + offset_s:.2f}",
                repr(segment.peak),
                repr(segment.mean),
            ]
            for segment in result.segments
        )
        if self._coverage is not None:
            self._coverage.append_rows(
                [
                    path,
                    track,
                    f"{stretch.start_s:.2f}",
                    f"{stretch.end_s:.2f}",
                    stretch.status,
                    "" if stretch.status == SCORED or stretch.track is None else stretch.track,
                ]
                for stretch in coverage
            )
        return timeline

    def close(self) -> None:
        self._segments.close()
        if self._coverage is not None:
            self._coverage.close()
