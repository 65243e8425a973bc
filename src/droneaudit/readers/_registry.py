"""The explicit list of built-in readers, and picking one by content (magic bytes), not by extension."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from droneaudit.readers._api import Reader
from droneaudit.readers.capture.reader import CaptureReader
from droneaudit.readers.har import HarReader
from droneaudit.readers.logs.airdata_csv import AirdataCsvReader
from droneaudit.readers.logs.ardupilot import DataflashReader
from droneaudit.readers.logs.dji_dat import DjiDatReader
from droneaudit.readers.logs.dji_record import DjiRecordReader
from droneaudit.readers.logs.tlog import TlogReader
from droneaudit.readers.logs.ulog import UlogReader
from droneaudit.readers.media.dng import DngReader
from droneaudit.readers.media.jpeg import JpegReader
from droneaudit.readers.media.mp4 import Mp4Reader
from droneaudit.readers.media.srt import SrtReader

#: Built-in readers, listed explicitly (no discovery by import side effects). Order breaks sniff ties.
READERS: tuple[Reader, ...] = (
    CaptureReader(),
    JpegReader(),
    DngReader(),
    Mp4Reader(),
    SrtReader(),
    DjiRecordReader(),
    DjiDatReader(),
    UlogReader(),
    DataflashReader(),
    TlogReader(),
    AirdataCsvReader(),
    HarReader(),
)

_LOOKS_LIKE: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "gzip data"),
    (b"II*\x00", "a TIFF/DNG image"),
    (b"MM\x00*", "a TIFF/DNG image"),
    (b"ULog", "a PX4 ULog flight log"),
    (b"\xa3\x95\x80", "an ArduPilot DataFlash log"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x7fELF", "an executable"),
)


def pick(head: bytes, path: Path, readers: Sequence[Reader] = ()) -> Reader | None:
    """The reader whose sniff scores highest (ties: earlier in the list); ``readers`` overrides the
    built-in list for one scan (e.g. with user keychains)."""
    scored = [(r.sniff(head, path), i, r) for i, r in enumerate(readers or READERS)]
    best = max(scored, key=lambda s: (s[0], -s[1]), default=None)
    return best[2] if best is not None and best[0] >= 0 else None


def describe(head: bytes, gzipped: bool) -> str:
    """A few words on what an unreadable file looked like, for a one-line error."""
    prefix = "gzip-compressed " if gzipped else ""
    if not head:
        return "an empty file" if not gzipped else "gzip data that does not decompress"
    for magic, what in _LOOKS_LIKE:
        if head.startswith(magic):
            return prefix + what
    if head[4:8] in (b"ftyp", b"moov", b"mdat"):
        return prefix + "an MP4/MOV video"
    text = head.decode("utf-8", "replace")
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return prefix + "text"
    return prefix + f"unknown binary data (starts {head[:8].hex(' ')})"
