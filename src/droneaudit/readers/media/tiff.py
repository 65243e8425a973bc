"""A small, bounded TIFF/EXIF IFD walker, shared by JPEG APP1 (Exif), APP2 (MPF) and DNG/TIFF files.

Why our own: the inventory needs only a few dozen tags, but it needs the byte offset of everything it
reports (for problems and for the sanitizer) and hard limits on hostile input. General EXIF libraries
either decode pixels (Pillow), hide offsets, or follow any pointer they are given. This walker:

* reads both byte orders (``II`` / ``MM``) from any :class:`Source` (bytes of an APP1 segment, or a
  file read on demand for DNG, whose IFDs may sit anywhere in a large file);
* follows IFD0 → ExifIFD / GPS IFD, the IFD0 → IFD1 chain and (for DNG) SubIFDs, and nothing else;
* checks every offset against the source size, refuses an IFD it has already visited (loops), caps the
  number of IFDs and entries, and never loads a value larger than ``MAX_VALUE_BYTES`` (a huge count
  becomes an issue, not an allocation).

Damage never raises: it becomes a :class:`TiffIssue` and whatever was read before it is kept.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

#: Refuse to walk more IFDs than this in one TIFF structure (a real DJI file has at most ~6).
MAX_IFDS = 64
#: Refuse an IFD that claims more entries than this (real IFDs hold tens to a few hundred).
MAX_ENTRIES = 1000
#: Values larger than this are described (type, count, offset) but not loaded.
MAX_VALUE_BYTES = 4 << 20
#: SubIFDs (tag 330) followed at most, for DNG previews.
MAX_SUB_IFDS = 16

#: Bytes per value for each TIFF field type (1 BYTE … 13 IFD); unknown types are skipped per the spec.
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_INT_FORMATS = {3: "H", 4: "I", 8: "h", 9: "i", 13: "I"}

EXIF_IFD_POINTER = 0x8769
GPS_IFD_POINTER = 0x8825
SUB_IFDS = 0x014A

Value = str | bytes | tuple[int, ...] | tuple[float, ...]


class Source(Protocol):
    """Random access to the bytes of one TIFF structure; offset 0 is the TIFF header."""

    size: int

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the source)."""
        ...


class BytesSource:
    """A TIFF structure held in memory (the payload of a JPEG APP1/APP2 segment)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read_at(self, offset: int, n: int) -> bytes:
        return self._data[offset : offset + n]


class FileSource:
    """A TIFF file read on demand: the first 64 KiB are cached, the rest is read with seek + read, so a
    large DNG costs a few small reads, never the whole file."""

    HEAD = 1 << 16

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self.size = size
        f.seek(0)
        self._head = f.read(self.HEAD)

    def read_at(self, offset: int, n: int) -> bytes:
        if offset + n <= len(self._head):
            return self._head[offset : offset + n]
        self._f.seek(offset)
        data: bytes = self._f.read(n)
        return data


@dataclass(frozen=True, slots=True)
class Entry:
    """One IFD entry. ``offset`` is where the value lives, relative to the TIFF header."""

    tag: int
    type: int
    count: int
    offset: int
    value: Value | None  #: None when the value was too large to load or lies outside the source


@dataclass(slots=True)
class Ifd:
    """One image file directory, by tag."""

    name: str
    offset: int
    entries: dict[int, Entry] = field(default_factory=dict)

    def value(self, tag: int) -> Value | None:
        entry = self.entries.get(tag)
        return entry.value if entry is not None else None

    def text(self, tag: int) -> str | None:
        """An ASCII value, or UTF-8 bytes stored as BYTE/UNDEFINED (as some writers do)."""
        value = self.value(tag)
        if isinstance(value, bytes):
            value = _ascii(value)
        return value if isinstance(value, str) else None

    def numbers(self, tag: int) -> tuple[float, ...] | None:
        value = self.value(tag)
        if isinstance(value, tuple):
            return tuple(float(v) for v in value)
        return None

    def first_int(self, tag: int) -> int | None:
        value = self.value(tag)
        if isinstance(value, tuple) and value and isinstance(value[0], int):
            return value[0]
        if isinstance(value, bytes) and value:
            return value[0]
        return None


@dataclass(frozen=True, slots=True)
class TiffIssue:
    """Damage found while walking; ``offset`` is absolute (``Tiff.base`` already added)."""

    code: str
    detail: str
    offset: int


@dataclass(slots=True)
class Tiff:
    """What was read: named IFDs ("IFD0", "ExifIFD", "GPS", "IFD1"), SubIFDs, and the issues met."""

    byte_order: str  #: "II" (little-endian) or "MM" (big-endian)
    base: int  #: absolute offset of the TIFF header in the file (add to Entry.offset)
    ifds: dict[str, Ifd] = field(default_factory=dict)
    sub_ifds: list[Ifd] = field(default_factory=list)
    chained_ifds: int = 0  #: IFDs chained after IFD1 (counted, not kept)
    issues: list[TiffIssue] = field(default_factory=list)

    def ifd(self, name: str) -> Ifd:
        """The named IFD, or an empty one when the file has none (lookups then give None)."""
        return self.ifds.get(name) or Ifd(name, -1)


def _ascii(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def _decode(raw: bytes, typ: int, count: int, endian: str) -> Value:
    """Turn the raw bytes of one entry into a Python value (rationals → floats, 0 denominator → NaN)."""
    if typ == 2:
        return _ascii(raw)
    if typ in (1, 6, 7):
        return raw
    if typ in _INT_FORMATS:
        return struct.unpack(f"{endian}{count}{_INT_FORMATS[typ]}", raw)
    if typ in (5, 10):
        pairs = struct.unpack(f"{endian}{2 * count}{'I' if typ == 5 else 'i'}", raw)
        return tuple(n / d if d else math.nan for n, d in zip(pairs[::2], pairs[1::2], strict=True))
    return struct.unpack(f"{endian}{count}{'f' if typ == 11 else 'd'}", raw)


class _Walker:
    """Reads IFDs from one source, remembering every IFD offset it visited so loops stop at once."""

    def __init__(self, src: Source, tiff: Tiff) -> None:
        self.src = src
        self.tiff = tiff
        self.endian = "<" if tiff.byte_order == "II" else ">"
        self.seen: set[int] = set()

    def issue(self, code: str, detail: str, offset: int) -> None:
        self.tiff.issues.append(TiffIssue(code, detail, self.tiff.base + offset))

    def ifd(self, offset: int, name: str) -> tuple[Ifd | None, int]:
        """Read the IFD at ``offset``; return it and the offset of the next IFD (0 = none)."""
        if offset in self.seen:
            self.issue("ifd-loop", f"{name} points back to an IFD already read; not followed", offset)
            return None, 0
        if len(self.seen) >= MAX_IFDS:
            self.issue("ifd-limit", f"more than {MAX_IFDS} IFDs; {name} not read", offset)
            return None, 0
        if offset < 8 or offset + 2 > self.src.size:
            self.issue("ifd-bad-offset", f"{name} offset {offset} is outside the TIFF data", offset)
            return None, 0
        self.seen.add(offset)
        (count,) = struct.unpack(self.endian + "H", self.src.read_at(offset, 2))
        if count > MAX_ENTRIES:
            self.issue("ifd-entry-count", f"{name} claims {count} entries; not read", offset)
            return None, 0
        return self._entries(offset, count, name)

    def _entries(self, offset: int, count: int, name: str) -> tuple[Ifd, int]:
        data = self.src.read_at(offset + 2, count * 12 + 4)
        ifd = Ifd(name, offset)
        whole = min(count, len(data) // 12)
        if whole < count:
            self.issue("ifd-truncated", f"{name} is cut off after {whole} of {count} entries", offset)
        for i in range(whole):
            entry = self._entry(data[i * 12 : i * 12 + 12], offset + 2 + i * 12)
            if entry is not None:
                ifd.entries.setdefault(entry.tag, entry)
        tail = data[count * 12 : count * 12 + 4]
        nxt = struct.unpack(self.endian + "I", tail)[0] if len(tail) == 4 else 0
        return ifd, nxt

    def _entry(self, raw: bytes, at: int) -> Entry | None:
        tag, typ, count = struct.unpack(self.endian + "HHI", raw[:8])
        size = TYPE_SIZES.get(typ)
        if size is None:
            return None
        total = size * count
        if total <= 4:
            return Entry(tag, typ, count, at + 8, _decode(raw[8 : 8 + total], typ, count, self.endian))
        (where,) = struct.unpack(self.endian + "I", raw[8:12])
        if where + total > self.src.size:
            self.issue("tiff-value-out-of-bounds", f"tag 0x{tag:04x} value ({total} bytes) overruns", at)
            return Entry(tag, typ, count, where, None)
        if total > MAX_VALUE_BYTES:
            self.issue("tiff-value-too-large", f"tag 0x{tag:04x} value ({total} bytes) is over the limit", at)
            return Entry(tag, typ, count, where, None)
        return Entry(tag, typ, count, where, _decode(self.src.read_at(where, total), typ, count, self.endian))

    def pointer(self, parent: Ifd | None, tag: int, name: str) -> Ifd | None:
        """Follow a LONG/IFD pointer tag (ExifIFD, GPS) from ``parent``."""
        if parent is None or tag not in parent.entries:
            return None
        target = parent.first_int(tag)
        if target is None:
            self.issue("ifd-bad-offset", f"{name} pointer is not a number", parent.entries[tag].offset)
            return None
        return self.ifd(target, name)[0]


def read_header(src: Source) -> tuple[str, int] | None:
    """Byte order and first IFD offset, or None when this is not a classic TIFF header."""
    head = src.read_at(0, 8)
    if len(head) < 8 or head[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = head[:2].decode("ascii")
    (first,) = struct.unpack(("<" if order == "II" else ">") + "I", head[4:8])
    return order, first


def walk(src: Source, base: int = 0, *, sub_ifds: bool = False) -> Tiff:
    """Walk one TIFF structure. ``base`` is its absolute offset in the file (for issue offsets)."""
    header = read_header(src)
    if header is None:
        tiff = Tiff("", base)
        tiff.issues.append(TiffIssue("tiff-bad-header", "no TIFF header (II*\\0 or MM\\0*)", base))
        return tiff
    tiff = Tiff(header[0], base)
    w = _Walker(src, tiff)
    ifd0, nxt = w.ifd(header[1], "IFD0")
    for ifd in (ifd0, w.pointer(ifd0, EXIF_IFD_POINTER, "ExifIFD"), w.pointer(ifd0, GPS_IFD_POINTER, "GPS")):
        if ifd is not None:
            tiff.ifds[ifd.name] = ifd
    if nxt:
        _chain(w, nxt)
    if sub_ifds and ifd0 is not None:
        _sub_ifds(w, ifd0)
    return tiff


def _chain(w: _Walker, offset: int) -> None:
    """IFD1 (the thumbnail), then count whatever is chained after it."""
    ifd1, nxt = w.ifd(offset, "IFD1")
    if ifd1 is not None:
        w.tiff.ifds["IFD1"] = ifd1
    while nxt:
        extra, nxt = w.ifd(nxt, f"IFD{w.tiff.chained_ifds + 2}")
        if extra is None:
            break
        w.tiff.chained_ifds += 1


def _sub_ifds(w: _Walker, ifd0: Ifd) -> None:
    value = ifd0.value(SUB_IFDS)
    if not isinstance(value, tuple):
        return
    for i, offset in enumerate(value[:MAX_SUB_IFDS]):
        sub, _ = w.ifd(int(offset), f"SubIFD{i}")
        if sub is not None:
            w.tiff.sub_ifds.append(sub)
