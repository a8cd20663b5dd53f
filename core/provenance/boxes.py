"""A bounded walk over an ISO-BMFF (MP4, MOV) file's boxes: headers only, a few small boxes read.

PyAV does not show the file type's compatible brands, the movie header's times or the edit lists, so this walk
reads them. It reads box headers and seeks past their bodies; only small boxes it needs are read, each up to
:data:`MAX_READ` bytes, and it stops after :data:`MAX_BOXES` boxes or :data:`MAX_DEPTH` levels: a huge or
malformed file costs a bounded amount of time and memory. Problems met are recorded, never raised.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the uuid box that holds a C2PA manifest store
MAX_BOXES = 20_000
MAX_DEPTH = 10
MAX_READ = 64 * 1024  # bytes of one small box read into memory
MAX_EDITS = 100  # edit-list entries kept per track
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"edts", b"udta", b"meta", b"ilst", b"dinf", b"stbl"}
READ = {b"ftyp", b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"elst"}
MAC_EPOCH = dt.datetime(1904, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class BoxFacts:
    is_bmff: bool = False
    major_brand: str | None = None
    compatible_brands: list[str] = field(default_factory=list)
    top_level: list[str] = field(default_factory=list)  # types in file order
    creation_time: str | None = None  # movie header, ISO 8601 UTC (None: zero, i.e. not set)
    modification_time: str | None = None
    tracks: list[dict[str, Any]] = field(default_factory=list)  # handler, handler name, edit list
    tags: dict[str, str] = field(default_factory=dict)  # iTunes-style text tags, e.g. ©too (encoding tool)
    c2pa_boxes: list[tuple[int, int]] = field(default_factory=list)  # (offset, size) of C2PA uuid boxes
    problems: list[str] = field(default_factory=list)


def _text(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _time(seconds: int) -> str | None:
    if seconds == 0:
        return None
    try:
        return (MAC_EPOCH + dt.timedelta(seconds=seconds)).isoformat(timespec="seconds")
    except OverflowError:
        return None


class _Walk:
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.handle, self.size, self.count = handle, size, 0
        self.facts = BoxFacts()

    def header(self, offset: int, end: int) -> tuple[bytes, int, int] | None:
        """(type, body offset, box end) of the box at ``offset``, or None where no valid box is."""
        self.handle.seek(offset)
        head = self.handle.read(8)
        if len(head) < 8:
            return None
        size, kind = struct.unpack(">I4s", head)
        body = offset + 8
        if size == 1:
            large = self.handle.read(8)
            if len(large) < 8:
                return None
            size, body = struct.unpack(">Q", large)[0], offset + 16
        elif size == 0:
            size = end - offset
        if size < body - offset or offset + size > end:
            self.facts.problems.append(f"box '{_text(kind)}' at byte {offset} claims {size} bytes beyond its parent")
            if kind == b"uuid" and self.read(body, end)[:16] == C2PA_UUID:
                self.facts.c2pa_boxes.append((offset, size))  # a manifest box cut short or lying about its size
            return None
        return kind, body, offset + size

    def read(self, offset: int, end: int) -> bytes:
        self.handle.seek(offset)
        return self.handle.read(min(end - offset, MAX_READ))

    def walk(self, offset: int, end: int, path: tuple[bytes, ...]) -> None:
        if len(path) > MAX_DEPTH:
            return
        while offset + 8 <= end:
            self.count += 1
            if self.count > MAX_BOXES:
                self.facts.problems.append(f"more than {MAX_BOXES} boxes: the rest was not read")
                return
            found = self.header(offset, end)
            if found is None:
                return
            kind, body, box_end = found
            if not path:
                self.facts.top_level.append(_text(kind))
                if kind == b"uuid" and self.read(body, box_end)[:16] == C2PA_UUID:
                    self.facts.c2pa_boxes.append((offset, box_end - offset))
            self.box(kind, body, box_end, path)
            offset = box_end

    def box(self, kind: bytes, body: int, end: int, path: tuple[bytes, ...]) -> None:
        if kind in READ:
            self.leaf(kind, self.read(body, end), path)
        elif kind == b"meta":
            # ISO meta is a full box (4 bytes of version and flags first); QuickTime's is not.
            start = body if self.read(body, end)[4:8] == b"hdlr" else body + 4
            self.walk(start, end, path + (kind,))
        elif kind in CONTAINERS:
            if kind == b"trak":
                self.facts.tracks.append({"handler": None, "handler_name": None, "edit_list": []})
            self.walk(body, end, path + (kind,))
        elif path[-1:] == (b"ilst",):
            data = self.read(body, end)
            # an item holds a 'data' box: size, 'data', type (4), locale (4), then the value
            if data[4:8] == b"data" and len(data) >= 16:
                self.facts.tags[kind.decode("latin-1")] = _text(data[16:])

    def leaf(self, kind: bytes, data: bytes, path: tuple[bytes, ...]) -> None:
        facts = self.facts
        track = facts.tracks[-1] if b"trak" in path and facts.tracks else None
        try:
            if kind == b"ftyp" and not path:
                facts.major_brand = _text(data[:4]) or data[:4].decode("latin-1")
                facts.compatible_brands = [data[i : i + 4].decode("latin-1") for i in range(8, len(data) - 3, 4)]
            elif kind == b"mvhd":
                wide = data[0] == 1
                created, modified = struct.unpack(">QQ" if wide else ">II", data[4 : 20 if wide else 12])
                facts.creation_time, facts.modification_time = _time(created), _time(modified)
            elif kind == b"hdlr" and track is not None and path[-1:] == (b"mdia",):
                track["handler"] = _text(data[8:12]) or None
                track["handler_name"] = _text(data[24:].lstrip(bytes(range(1, 32)))) or None
            elif kind == b"elst" and track is not None:
                wide, count = data[0] == 1, struct.unpack(">I", data[4:8])[0]
                step, layout = (20, ">QqhH") if wide else (12, ">IihH")
                for i in range(min(count, MAX_EDITS)):
                    entry = data[8 + i * step : 8 + (i + 1) * step]
                    if len(entry) < step:
                        break
                    duration, media_time, rate, _ = struct.unpack(layout, entry)
                    track["edit_list"].append({"segment_duration": duration, "media_time": media_time, "rate": rate})
                if count > MAX_EDITS:
                    track["edit_list_entries"] = count
        except (struct.error, IndexError):
            facts.problems.append(f"box '{_text(kind)}' too short to read")


def walk_boxes(handle: BinaryIO) -> BoxFacts:
    """The facts of the ISO-BMFF file open in ``handle`` (see the module docstring); ``is_bmff`` False when the
    file does not start with a box of an ISO-BMFF file."""
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    head = handle.read(12)
    if len(head) < 12 or head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"uuid"):
        return BoxFacts()
    walk = _Walk(handle, size)
    walk.facts.is_bmff = True
    walk.walk(0, size, ())
    return walk.facts
