"""A bounded ISO-BMFF / QuickTime box walker that reads headers, never media data.

Why our own: the reader needs only box headers, a few small leaf boxes (``mvhd``, ``hdlr``, the sample
tables) and the metadata samples those tables point at. Libraries that parse MP4 either decode the whole
tree into objects (and choke on the lies hostile files tell) or want to demux video. Here every read is
a seek plus a bounded ``read``: ``mdat`` is stepped over by its size, so a 4 GB video costs a few dozen
small reads (plus the SHA-256, which must cover every byte).

Damage becomes problems, never exceptions or hangs:

* a size below the header length abandons the level (``mp4-bad-box-size``); a box that runs past its
  parent is clamped to it - ``mp4-truncated`` when the file ends first (a cut recording),
  ``mp4-box-overrun`` when an intact parent ends first (the box lies, e.g. a 2^63-byte 64-bit size);
* every box advances the cursor by at least 8 bytes, children lie inside their parent, nesting stops at
  ``MAX_DEPTH`` and the whole walk at ``MAX_BOXES`` - so loops and bombs end quickly;
* size 0 means "to the end of the enclosing box" (the file, at the top level), as ISO 14496-12 says.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

#: Where damage goes: (code, detail, absolute offset).
Note = Callable[[str, str, int], None]

#: Real files nest about 8 deep (moov/trak/mdia/minf/stbl/stsd/entry/…); a hostile file may nest millions.
MAX_DEPTH = 16
#: Boxes visited per file. A camera MP4 has a few hundred; a fragmented hour-long one some thousands.
MAX_BOXES = 200_000
#: The types a file may start with (ISO ftyp, QuickTime movies, files whose ftyp was stripped).
TOP_LEVEL_TYPES = frozenset({"ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid", "styp"})


@dataclass(frozen=True, slots=True)
class Box:
    """One box header: where it starts, how long it is (after clamping) and where its payload begins."""

    type: str  #: four-character code, latin-1 decoded (QuickTime uses 0xA9 "©" prefixes)
    offset: int  #: absolute offset of the size field
    size: int  #: total length including the header, clamped to the parent
    header: int  #: 8, or 16 with a 64-bit size
    clamped: bool = False  #: the declared size ran past the parent (truncated file or a lying box)

    @property
    def start(self) -> int:
        """Absolute offset of the payload."""
        return self.offset + self.header

    @property
    def end(self) -> int:
        """Absolute offset just past the box."""
        return self.offset + self.size

    @property
    def payload_size(self) -> int:
        """Bytes after the header."""
        return self.size - self.header


class Source:
    """A read-only file plus its size; every read is positioned and bounded by the caller."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the file, none past it)."""
        if offset < 0 or n <= 0 or offset >= self.size:
            return b""
        self.f.seek(offset)
        data: bytes = self.f.read(min(n, self.size - offset))
        return data

    def payload(self, box: Box, limit: int) -> bytes:
        """The payload of a leaf box, at most ``limit`` bytes (callers pick limits per box type)."""
        return self.read_at(box.start, min(box.payload_size, limit))


class Walker:
    """Lists the children of a byte range, sharing one box budget across the whole file."""

    def __init__(self, src: Source, note: Note, max_boxes: int = MAX_BOXES) -> None:
        self.src = src
        self.note = note
        self.budget = max_boxes
        self.exhausted = False
        self.file_cut = False  #: a box ran past the end of the file: the file is truncated

    def children(self, start: int, end: int, depth: int) -> list[Box]:
        """The boxes laid end to end in [start, end); stops at the first header that cannot be right."""
        if depth > MAX_DEPTH:
            self.note("mp4-depth-limit", f"boxes nested more than {MAX_DEPTH} deep; not followed", start)
            return []
        boxes: list[Box] = []
        pos = start
        while pos < end and not self.exhausted:
            box = self._header(pos, end, depth)
            if box is None:
                break
            boxes.append(box)
            pos = box.end
        return boxes

    def _take_budget(self, pos: int) -> bool:
        """Count one box; False (with a single problem) once the file's budget is spent."""
        self.budget -= 1
        if self.budget >= 0:
            return True
        self.exhausted = True
        self.note("mp4-box-limit", f"more than {MAX_BOXES} boxes; the rest of the file was not walked", pos)
        return False

    def _header(self, pos: int, end: int, depth: int) -> Box | None:
        """Read one header at ``pos``; None ends the level (with a problem unless it is benign padding)."""
        raw = self.src.read_at(pos, min(16, end - pos))
        if len(raw) < 8:
            self._short_tail(raw, pos, end)
            return None
        if not self._take_budget(pos):
            return None
        size, kind = struct.unpack(">I4s", raw[:8])
        header = 8
        if size == 1:
            if len(raw) < 16:
                self.note("mp4-truncated", "file ends inside a 64-bit box size", pos)
                return None
            (size,) = struct.unpack(">Q", raw[8:16])
            header = 16
        elif size == 0:
            size = end - pos
        name = kind.decode("latin-1")
        if size < header:
            self.note("mp4-bad-box-size", f"box {name!r} claims {size} bytes, less than its header", pos)
            return None
        if pos + size > end:
            self._overrun(name, pos, size, end, depth)
            return Box(name, pos, end - pos, header, clamped=True)
        return Box(name, pos, size, header)

    def _short_tail(self, raw: bytes, pos: int, end: int) -> None:
        """QuickTime ends some lists with a 4-byte zero terminator; anything else is a cut header."""
        if raw.strip(b"\x00") or (end - pos >= 8 and pos + len(raw) >= self.src.size):
            self.note("mp4-truncated", f"{end - pos} bytes left where a box header was expected", pos)

    def _overrun(self, name: str, pos: int, size: int, end: int, depth: int) -> None:
        """Past the end of the file at the top level, or inside a box already cut by the end of the file:
        the file is truncated. Past the end of an intact parent: the box lies about its size."""
        if pos + size > self.src.size and end >= self.src.size and (depth == 0 or self.file_cut):
            self.file_cut = True
            detail = f"box {name!r} claims {size} bytes; the file ends {self.src.size - pos} bytes in"
            self.note("mp4-truncated", detail, pos)
        else:
            detail = f"box {name!r} claims {size} bytes, more than the {end - pos} its parent holds"
            self.note("mp4-box-overrun", detail, pos)


def meta_children_start(src: Source, box: Box) -> int:
    """Where the children of a ``meta`` box begin: ISO makes it a FullBox (4 bytes of version and flags
    first), QuickTime does not. Told apart by whether a plausible box type sits at +4 or at +8."""
    head = src.read_at(box.start, 12)
    if len(head) >= 8 and _printable(head[4:8]) and not _printable(head[8:12]):
        return box.start
    return box.start + 4


def _printable(code: bytes) -> bool:
    """Could these 4 bytes be a box type (ASCII, or QuickTime's 0xA9 prefix)?"""
    return len(code) == 4 and all(0x20 <= c < 0x7F or c == 0xA9 for c in code)


def full_box(payload: bytes) -> tuple[int, bytes]:
    """Split an ISO FullBox payload into (version, rest); an empty payload gives version -1."""
    if len(payload) < 4:
        return -1, b""
    return payload[0], payload[4:]


def four_cc(data: bytes, at: int) -> str:
    """The four-character code at ``at``, or "" when the data is too short."""
    return data[at : at + 4].decode("latin-1") if len(data) >= at + 4 else ""
