"""test.py's video and frame CSVs as resumable tables: rows written as each video finishes, none repeated.

The columns and formatting are the reference's (``name, pro, flag, optical_pro, original_pro`` and
``original_path, original_pro, optical_path, optical_pro, flag``; ``\\n`` line ends, empty cells for missing
values, floats as ``repr``). A video's frame rows are written first, then its video row, each batch with
one write and an fsync (:class:`core.runs.result_table.ResultTable`): a video counts as done when both
tables hold it. Reopened with the same settings, the tables give back the videos already done (their
probabilities, read from the frame rows, for the summary) and keep appending new ones; frame rows of a
video an interrupted run did not finish are dropped. Other settings are refused; ``overwrite`` starts over.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping

from core.aigvdet.evaluate import VideoEvaluation
from core.runs.result_table import ResultTable

VIDEO_COLUMNS = ["name", "pro", "flag", "optical_pro", "original_pro"]
FRAME_COLUMNS = ["original_path", "original_pro", "optical_path", "optical_pro", "flag"]
VideoKey = tuple[str, str]  # (name, flag) as text


def frame_rows(video: VideoEvaluation) -> list[list[Any]]:
    """Row i pairs frame i with flow i, as the reference's frame CSV does (the last frame has no flow)."""
    rows = []
    for i in range(max(len(video.rgb_paths), len(video.flow_paths))):
        has_frame, has_flow = i < len(video.rgb_paths), i < len(video.flow_paths)
        rows.append(
            [
                video.rgb_paths[i] if has_frame else None,
                video.rgb_probs[i] if has_frame else None,
                video.flow_paths[i] if has_flow else None,
                video.flow_probs[i] if has_flow else None,
                video.label,
            ]
        )
    return rows


def video_row(video: VideoEvaluation) -> list[Any]:
    return [video.name, video.predict, video.label, video.flow_prob, video.rgb_prob]


def _frame_video(row: Mapping[str, str]) -> VideoKey:
    """The video a frame row belongs to: the folder of its image (``<root>/<class>/<video>/<image>``)."""
    return Path(row["original_path"] or row["optical_path"]).parent.name, row["flag"]


def _cell(value: Any) -> Any:
    """What pandas writes: an empty cell for a missing value (None or NaN)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


class EvaluationTables:
    def __init__(
        self,
        video_csv: str | os.PathLike,
        frame_csv: str | os.PathLike,
        settings: Mapping[str, Any],
        overwrite: bool = False,
    ) -> None:
        self.videos = ResultTable(video_csv, VIDEO_COLUMNS, ["name", "flag"], settings, overwrite, "\n")
        self.frames = ResultTable(
            frame_csv, FRAME_COLUMNS, ["original_path", "optical_path"], settings, overwrite, "\n"
        )
        frames_of: dict[VideoKey, list[dict[str, str]]] = defaultdict(list)
        for row in self.frames.rows:
            frames_of[_frame_video(row)].append(row)
        video_keys = {(row["name"], row["flag"]) for row in self.videos.rows}
        done = video_keys & set(frames_of)
        self.frames.retain(lambda row: _frame_video(row) in done)
        self.videos.retain(lambda row: (row["name"], row["flag"]) in done)
        self._done = {key: frames_of[key] for key in done}

    def restored(self, video: VideoEvaluation) -> VideoEvaluation | None:
        """``video`` with the probabilities an earlier run wrote, or None when it is not done yet."""
        rows = self._done.get((video.name, str(video.label)))
        if rows is None:
            return None
        with_frame = [r for r in rows if r["original_path"]]
        with_flow = [r for r in rows if r["optical_path"]]
        return VideoEvaluation(
            video.name,
            video.label,
            [r["original_path"] for r in with_frame],
            [r["optical_path"] for r in with_flow],
            [float(r["original_pro"]) for r in with_frame],
            [float(r["optical_pro"]) for r in with_flow],
        )

    def add(self, video: VideoEvaluation) -> None:
        """The video's frame rows, then its row: on disk before this returns."""
        self.frames.append_rows([[_cell(v) for v in row] for row in frame_rows(video)])
        self.videos.append([_cell(v) for v in video_row(video)])

    def close(self) -> None:
        self.videos.close()
        self.frames.close()

    def __enter__(self) -> "EvaluationTables":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
