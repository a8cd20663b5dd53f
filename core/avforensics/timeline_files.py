"""Files of a whole-video run of ``detect.py`` (``--whole_video``), written next to ``scores.csv``:

* ``timelines/<index>_<stem>.csv``: ``time_s, step, anomaly, windows`` -- one row per time step (25 Hz): the
  curve sample's time (the step's middle frame), the step, its anomaly (empty for step 0, never predicted) and
  how many windows were averaged into it;
* ``timelines/<index>_<stem>_per_second.csv``: ``second, mean, max, steps`` -- the curve summarised per second;
* ``segments.csv``: ``path, track, start_s, end_s, peak, mean`` -- the localised segments of every video, in
  input order (``track``: ``none`` for the whole frame, or the face track's id).

Like the other outputs, each video's rows are written and flushed as soon as it is scored.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from core.avforensics.whole_video import WholeVideoResult

SEGMENT_COLUMNS = ["path", "track", "start_s", "end_s", "peak", "mean"]
NO_TRACK = "none"


def _number(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


class TimelineWriter:
    def __init__(self, output_dir: Path) -> None:
        self.timeline_dir = output_dir / "timelines"
        self.timeline_dir.mkdir(parents=True, exist_ok=True)
        self._segments_file = open(output_dir / "segments.csv", "w", encoding="utf-8", newline="")
        self._segments = csv.writer(self._segments_file)
        self._segments.writerow(SEGMENT_COLUMNS)
        self._segments_file.flush()

    def add(
        self,
        index: int,
        path: str,
        result: WholeVideoResult,
        track: str = NO_TRACK,
        offset_s: float = 0.0,
        suffix: str = "",
    ) -> Path:
        """Write one clip's timeline files and segment rows; returns the timeline CSV's path.

        ``offset_s``: where the clip starts in the video (a face track's first frame), added to every time so
        times are the video's; ``suffix`` tells apart the files of several face tracks of one video."""
        stem = f"{index}_{Path(path).stem}{suffix}"
        timeline = self.timeline_dir / f"{stem}.csv"
        with open(timeline, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time_s", "step", "anomaly", "windows"])
            for step, (time_s, value, windows) in enumerate(zip(result.time_s, result.anomaly, result.windows)):
                writer.writerow([f"{time_s + offset_s:.2f}", step, _number(value), int(windows)])
        with open(self.timeline_dir / f"{stem}_per_second.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["second", "mean", "max", "steps"])
            for row in result.per_second(offset_s):
                writer.writerow([row.second, repr(row.mean), repr(row.max), row.steps])
        for segment in result.segments:
            self._segments.writerow(
                [
                    path,
                    track,
                    f"{segment.start_s + offset_s:.2f}",
                    f"{segment.end_s + offset_s:.2f}",
                    repr(segment.peak),
                    repr(segment.mean),
                ]
            )
        self._segments_file.flush()
        return timeline

    def close(self) -> None:
        self._segments_file.close()
