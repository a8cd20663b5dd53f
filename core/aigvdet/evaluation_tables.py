"""test.py's video and frame CSVs as resumable tables: rows written as each video finishes, none repeated.

The columns and formatting are the reference's (``name, pro, flag, optical_pro, original_pro`` and
``original_path, original_pro, optical_path, optical_pro, flag``; ``\\n`` line ends, empty cells for missing
values, floats as ``repr``). A video's frame rows are written first, then its video row, each batch with
one write and an fsync (:class:`core.runs.result_table.ResultTable`): a video counts as done when both
tables hold it (a video is known by its frame folder, root included: several datasets can be appended to the same
CSVs, as the reference does). Reopened with the same settings, the tables give back the videos already done (their
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
VideoKey = tuple[str, str]  # (the video's frame folder, resolved; flag) as text


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


def _folder(image_path: str) -> str:
    return str(Path(image_path).parent.resolve())


def _frame_video(row: Mapping[str, str]) -> VideoKey:
    """The video a frame row belongs to: the folder of its image (``<root>/<class>/<video>/<image>``), with its
    root, so videos of the same name in two datasets appended to the same CSVs stay apart."""
    return _folder(row["original_path"] or row["optical_path"]), row["flag"]


def _video_key(video: VideoEvaluation) -> VideoKey | None:
    paths = video.rgb_paths or video.flow_paths
    return (_folder(paths[0]), str(video.label)) if paths else None


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
        # A video is done when its video row follows its frame rows (a kill in between leaves frames only).
        done = {key for key in frames_of if (Path(key[0]).name, key[1]) in video_keys}
        done_names = {(Path(key[0]).name, key[1]) for key in done}
        self.frames.retain(lambda row: _frame_video(row) in done)
        self.videos.retain(lambda row: (row["name"], row["flag"]) in done_names)
        self._done = {key: frames_of[key] for key in done}

    def restored(self, video: VideoEvaluation) -> VideoEvaluation | None:
        """``video`` with the probabilities an earlier run wrote, or None when it is not done yet."""
        key = _video_key(video)
        rows = None if key is None else self._done.get(key)
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
