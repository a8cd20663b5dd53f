"""An append-only, resumable CSV results table: one row per finished item, on disk the moment it finishes.

::

    table = ResultTable("out/scores.csv", ["path", "score", "status"], key_columns=["path"], settings=fingerprint)
    for path in paths:
        if table.done_before((path,)):
            continue                                    # scored by an earlier run with the same settings
        table.append({"path": path, "score": score(path), "status": "ok"})   # written, flushed and fsync'ed
    table.close()

* Each row is formatted whole and written with one ``write`` and an ``os.fsync``: after a kill the file holds
  every finished row, at most followed by a half-written last line, which the next open detects (the file
  does not end with a line break) and drops.
* ``settings`` is a fingerprint of everything that changes the results (checkpoints' and other files' SHA-256
  (:func:`file_fingerprint`), options). It is saved beside the table as
  ``<table>.settings.json`` (atomically, before the table is created). Reopening with the same settings
  resumes: ``done_before(key)`` says which items are already there. Other settings (or a table without a
  settings record, e.g. written by another version) are refused with :class:`SettingsMismatch`, one line
  naming what differs, unless the table holds no row yet (nothing to lose); ``overwrite=True`` starts over.
* ``settings=None`` makes a companion table (e.g. one more file per item of a primary table): no record of its
  own is written or checked; the primary table's settings cover it.
* Keys need not be unique: an input listed twice gets two rows, as a run without a table would write.
  ``done_before`` only knows rows of earlier runs, so a fresh table's file is exactly what plain appends give.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from core import atomic
from core.checkpoints import file_sha256
from core.errors import ToolkitError

log = logging.getLogger(__name__)

SETTINGS_SUFFIX = ".settings.json"
_FORMAT_VERSION = 1
_SHOWN_DIFFERENCES = 4


class SettingsMismatch(ToolkitError):
    """An existing table was written with other settings (or with none recorded); the caller may start over."""


def settings_path(table: str | os.PathLike) -> Path:
    table = Path(table)
    return table.with_name(table.name + SETTINGS_SUFFIX)


def file_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """What identifies a file (a checkpoint, a calibration) in a settings fingerprint: its SHA-256 and size, so a
    moved or re-downloaded copy still matches. The hash is computed once per path, size and modification time."""
    return {"sha256": file_sha256(path), "size": Path(path).stat().st_size}


def _earlier_file_fingerprint_matches(old: Any, new: Any) -> bool:
    """Whether ``old``, a file fingerprint of an earlier version (resolved path, size, modification time), names
    the file ``new`` (today's SHA-256 and size) describes: the file is still there, unchanged, with that hash.
    Tables written before every file was fingerprinted by its hash so still resume."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return False
    if set(old) != {"path", "size", "mtime_ns"} or set(new) != {"sha256", "size"}:
        return False
    try:
        stat = Path(old["path"]).stat()
        return (
            (stat.st_size, stat.st_mtime_ns) == (old["size"], old["mtime_ns"])
            and old["size"] == new["size"]
            and file_sha256(old["path"]) == new["sha256"]
        )
    except (OSError, TypeError):
        return False


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists...), so a loaded fingerprint compares equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def settings_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key: old -> new`` for each setting that differs (nested keys joined by dots); empty: the same settings.

    Settings records are compared with this only (tables, other ranks' parts, merges), so a file recorded the
    way an earlier version did (path and modification time) still matches the same file recorded by its hash.
    """
    out = []
    for key in sorted(set(old) | set(new), key=str):
        before, after = old.get(key, "(none)"), new.get(key, "(none)")
        if _earlier_file_fingerprint_matches(before, after) or _earlier_file_fingerprint_matches(after, before):
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            out += settings_differences(before, after, f"{prefix}{key}.")
        elif before != after:
            out.append(f"{prefix}{key}: {before} -> {after}")
    return out


class ResultTable:
    """See the module docstring. ``rows`` holds every row (strings) read at open or appended since."""

    def __init__(
        self,
        path: str | os.PathLike,
        columns: Sequence[str],
        key_columns: Sequence[str],
        settings: Mapping[str, Any] | None,
        overwrite: bool = False,
        lineterminator: str = "\r\n",
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        missing = [name for name in key_columns if name not in self.columns]
        if missing:
            raise ValueError(f"key columns {missing} are not columns of the table")
        self._key_index = [self.columns.index(name) for name in key_columns]
        self.settings = None if settings is None else _plain(dict(settings))
        self.lineterminator = lineterminator
        self.encoding = encoding
        self.rows: list[dict[str, str]] = []
        self.resumed = False
        if overwrite or not self._resume():
            self._start()
        self._previous = {self.key(row) for row in self.rows}
        self._handle = open(self.path, "a", encoding=encoding, newline="")

    # ----------------------------------------------------------------- opening
    def _record(self) -> dict[str, Any]:
        return {"format": _FORMAT_VERSION, "columns": self.columns, "settings": self.settings}

    def _start(self) -> None:
        """A new table: the settings record first (a table never exists without one), then the header."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.settings is not None:
            atomic.write_json(settings_path(self.path), self._record(), indent=1)
        with open(self.path, "w", encoding=self.encoding, newline="") as handle:
            handle.write(self._format([self.columns]))
            handle.flush()
            os.fsync(handle.fileno())
        self.rows = []

    def _resume(self) -> bool:
        """Load the rows of an existing table with the same settings; False when there is none to resume."""
        record_path = settings_path(self.path)
        if not self.path.exists():
            return False
        if self.settings is None:  # a companion table: its primary table's settings were checked
            self.rows = self._read_rows()
            self.resumed = True
            return True
        if not self._holds_rows():  # nothing to lose (e.g. a run that failed before its first item): start over
            return False
        if not record_path.is_file():
            raise SettingsMismatch(
                f"{self.path} exists but has no settings record ({record_path.name}): it may hold results of "
                "other checkpoints or options"
            )
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsMismatch(f"cannot read {record_path} ({exc})") from None
        old = {"columns": record.get("columns"), **(record.get("settings") or {})}
        new = {"columns": self.columns, **self.settings}
        different = settings_differences(old, new)
        if different:
            shown = "; ".join(different[:_SHOWN_DIFFERENCES]) + (" ..." if len(different) > _SHOWN_DIFFERENCES else "")
            raise SettingsMismatch(f"{self.path} holds results made with other settings ({shown})")
        self.rows = self._read_rows()
        self.resumed = True
        log.info("%s: resuming, %d row(s) already there", self.path, len(self.rows))
        return True

    def _holds_rows(self) -> bool:
        data = self.path.read_bytes()
        return data[: data.rfind(b"\n") + 1].count(b"\n") > 1  # complete lines beyond the header

    def _read_rows(self) -> list[dict[str, str]]:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # a kill can leave the last line half-written
        if len(complete) != len(data):
            log.warning(
                "%s: dropped a half-written last line (%d bytes) left by an interrupted run",
                self.path,
                len(data) - len(complete),
            )
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        records = list(csv.reader(io.StringIO(complete.decode(self.encoding), newline="")))
        if not records:  # even the header was cut: write it again
            self._start()
            return []
        if records[0] != self.columns:
            raise SettingsMismatch(f"{self.path} has other columns ({', '.join(records[0])})")
        good = [r for r in records[1:] if len(r) == len(self.columns)]
        if len(good) != len(records) - 1:
            log.warning("%s: %d malformed row(s) dropped", self.path, len(records) - 1 - len(good))
            self._rewrite(good)
        return [dict(zip(self.columns, values)) for values in good]

    # ----------------------------------------------------------------- rows
    def _format(self, records: Iterable[Sequence[Any]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=self.lineterminator).writerows(records)
        return buffer.getvalue()

    def _values(self, row: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
        if isinstance(row, Mapping):
            unknown = set(row) - set(self.columns)
            if unknown:
                raise ValueError(f"unknown columns {sorted(unknown)} for {self.path}")
            return [row.get(name) for name in self.columns]
        values = list(row)
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for the {len(self.columns)} columns of {self.path}")
        return values

    def key(self, row: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(row[self.columns[i]] for i in self._key_index)

    def done_before(self, key: Sequence[Any]) -> bool:
        """Whether an earlier run (same settings) already wrote a row with this key (values compared as text)."""
        return tuple("" if v is None else str(v) for v in key) in self._previous

    def append(self, row: Mapping[str, Any] | Sequence[Any]) -> None:
        self.append_rows([row])

    def append_rows(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> None:
        """Write rows with one write, then flush and fsync: on disk before this returns."""
        records = [self._values(row) for row in rows]
        if not records:
            return
        self._handle.write(self._format(records))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        for values in records:
            self.rows.append(dict(zip(self.columns, ("" if v is None else str(v) for v in values))))

    def retain(self, keep: Callable[[dict[str, str]], bool]) -> int:
        """Drop the rows ``keep`` rejects (e.g. an item whose other outputs a kill cut short); returns how many."""
        kept = [row for row in self.rows if keep(row)]
        dropped = len(self.rows) - len(kept)
        if dropped:
            self._handle.close()
            self._rewrite([[row[name] for name in self.columns] for row in kept])
            self.rows = kept
            self._previous = {self.key(row) for row in kept}
            self._handle = open(self.path, "a", encoding=self.encoding, newline="")
        return dropped

    def _rewrite(self, records: list[list[str]]) -> None:
        with atomic.atomic_open(self.path, "w", encoding=self.encoding, newline="") as handle:
            handle.write(self._format([self.columns, *records]))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "ResultTable":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
