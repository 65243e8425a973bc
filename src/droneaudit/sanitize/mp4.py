"""Clean an MP4 / MOV / LRF without re-encoding: drop the telemetry, keep every video and audio byte.

Why zero in place and pad, not cut: a telemetry sample removed from ``mdat`` would move every later
video and audio sample, and every ``stco``/``co64`` entry of the kept tracks would need rewriting. Here
the dropped tracks' samples are overwritten with zeros where they lie (``mdat`` keeps its size), and the
cleaned ``moov`` (``mp4_rewrite``), which is shorter, is followed by a ``free`` box that fills the space
it left. So no byte after ``moov`` moves, every chunk offset of the kept tracks stays valid, and the
output has exactly the input's size — whether ``moov`` comes before ``mdat`` ("faststart", as cameras
and ``-movflags +faststart`` write it) or after it. Top-level boxes other than ``ftyp``, ``moov`` and
``mdat`` (``uuid`` XMP, ``meta``, ``pnot`` previews) become zeroed ``free`` boxes of the same size.

Why streaming: videos are gigabytes. ``rewrite`` reads only box headers and ``moov`` into memory, and
copies ``mdat`` in ``CHUNK``-sized pieces, zeroing the ranges that fall into each piece. ``clean`` is the
in-memory adapter the sanitize driver calls today. Every check (damage, fragmented files, samples
outside ``mdat``) happens before the first byte is written.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from droneaudit.readers.media.mp4 import IMAGE_BRANDS
from droneaudit.readers.media.mp4_boxes import Box, Source, Walker
from droneaudit.sanitize.common import Damaged, Options, Outcome, Removed, Unsupported
from droneaudit.sanitize.mp4_rewrite import MoovRewriter

CHUNK = 1 << 20
#: A moov larger than this is not rebuilt in memory (an hour of 4K video has a few MB of tables).
MAX_MOOV = 256 << 20
#: Dropped samples read back (up to SECRET_SAMPLE_BYTES each) as values verification must not find.
SECRET_SAMPLES = 200
SECRET_SAMPLE_BYTES = 64 << 10
FREE_HEADER = 8


def clean(data: bytes, opts: Options) -> Outcome:
    """The driver's entry point: clean an MP4 held in memory (see ``rewrite`` for files on disk)."""
    out = io.BytesIO()
    fmt, removed = rewrite(io.BytesIO(data), len(data), out, opts)
    return Outcome(out.getvalue(), fmt, removed)


def _raise(code: str, detail: str, offset: int) -> None:
    raise Damaged(f"{code} at offset {offset}: {detail}")


def rewrite(f: BinaryIO, size: int, out: BinaryIO, opts: Options) -> tuple[str, Removed]:
    """Write the cleaned file to ``out``; return ("mp4" | "mov", what was removed). Raises ``Damaged``
    or ``Unsupported`` before writing anything when the file cannot be cleaned exactly."""
    src = Source(f, size)
    boxes = Walker(src, _raise).children(0, size, 0)
    fmt = _format(src, boxes)
    moov = _one_moov(boxes)
    removed = Removed()
    rewriter = MoovRewriter(src.read_at(moov.offset, moov.size), opts, removed)
    new_moov = rewriter.rebuild()
    spare = moov.size - len(new_moov)
    if spare < 0 or 0 < spare < FREE_HEADER:
        raise Damaged(f"cleaned moov would not fit its place ({spare} bytes spare)")
    zero = _merge(rewriter.zero)
    _check_inside(zero, [b for b in boxes if b.type == "mdat"])
    _remember_samples(src, rewriter.zero, removed)
    for box in boxes:
        if box.type == "moov":
            out.write(new_moov + (_free(spare) if spare else b""))
        elif box.type in ("ftyp", "mdat"):
            _copy(src, box.offset, box.end, zero, out)
        else:
            _blank(box, out, removed)
    _copy_tail(src, boxes[-1].end, out)
    return fmt, removed


def _format(src: Source, boxes: list[Box]) -> str:
    """ "mov" for brand ``qt`` or no ``ftyp`` (as the reader says); refuse fragments and still images."""
    if not boxes:
        raise Damaged("no boxes")
    if any(b.type in ("moof", "mvex") for b in boxes):
        raise Unsupported("fragmented MP4 (moof): telemetry in movie fragments is not cleaned yet")
    ftyp = next((b for b in boxes if b.type == "ftyp"), None)
    brand = src.payload(ftyp, 4).decode("latin-1").strip() if ftyp is not None else ""
    if brand in IMAGE_BRANDS:
        raise Unsupported(f"ISO-BMFF still image (brand {brand!r}), not a video")
    return "mov" if brand in ("", "qt") else "mp4"


def _one_moov(boxes: list[Box]) -> Box:
    moovs = [b for b in boxes if b.type == "moov"]
    if len(moovs) != 1:
        raise Damaged(f"{len(moovs)} moov boxes (exactly one is needed to locate the telemetry)")
    if moovs[0].size > MAX_MOOV:
        raise Unsupported(f"moov larger than {MAX_MOOV >> 20} MiB")
    return moovs[0]


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(offset, size) pairs → sorted, non-overlapping (start, end) ranges."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((o, o + n) for o, n in ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _check_inside(zero: list[tuple[int, int]], mdats: list[Box]) -> None:
    """Every dropped sample must lie inside an ``mdat`` payload: zeroing anything else (a header, the
    moov we rewrite) would break the file, and leaving it would leave the data."""
    for start, end in zero:
        if not any(m.start <= start and end <= m.end for m in mdats):
            raise Damaged(f"a telemetry sample at offset {start} lies outside the media data")


def _remember_samples(src: Source, ranges: list[tuple[int, int]], removed: Removed) -> None:
    """The first dropped samples become values verification must not find anywhere in the output."""
    for offset, size in ranges[:SECRET_SAMPLES]:
        removed.remember(src.read_at(offset, min(size, SECRET_SAMPLE_BYTES)))


def _free(size: int) -> bytes:
    """A zero-filled ``free`` box of exactly ``size`` bytes (``size`` >= 8)."""
    if size <= 0xFFFFFFFF:
        return struct.pack(">I", size) + b"free" + bytes(size - 8)
    return struct.pack(">I", 1) + b"free" + struct.pack(">Q", size) + bytes(size - 16)


def _blank(box: Box, out: BinaryIO, removed: Removed) -> None:
    """A top-level box we do not keep becomes a ``free`` box of the same size, written in chunks."""
    if box.type not in ("free", "skip", "wide"):
        removed.add(f"top-level {box.type}")
    header = box.header if box.size > 0xFFFFFFFF else 8
    if header == 8:
        out.write(struct.pack(">I4s", box.size, b"free"))
    else:
        out.write(struct.pack(">I4sQ", 1, b"free", box.size))
    left = box.size - header
    while left > 0:
        n = min(left, CHUNK)
        out.write(bytes(n))
        left -= n


def _copy(src: Source, start: int, end: int, zero: list[tuple[int, int]], out: BinaryIO) -> None:
    """Copy [start, end) in chunks, writing zeros over the parts inside ``zero`` ranges."""
    pos = start
    while pos < end:
        chunk = bytearray(src.read_at(pos, min(CHUNK, end - pos)))
        if not chunk:
            raise Damaged(f"file ended at offset {pos} while copying")
        for z_start, z_end in _overlapping(zero, pos, pos + len(chunk)):
            chunk[z_start - pos : z_end - pos] = bytes(z_end - z_start)
        out.write(chunk)
        pos += len(chunk)


def _overlapping(zero: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of the sorted ``zero`` ranges inside [start, end), found by bisection."""
    lo, hi = 0, len(zero)
    while lo < hi:  # first range ending after start
        mid = (lo + hi) // 2
        if zero[mid][1] <= start:
            lo = mid + 1
        else:
            hi = mid
    found = []
    for z_start, z_end in zero[lo:]:
        if z_start >= end:
            break
        found.append((max(z_start, start), min(z_end, end)))
    return found


def _copy_tail(src: Source, last_end: int, out: BinaryIO) -> None:
    """Bytes after the last box (QuickTime's 4-byte zero terminator; the walker refuses anything else)."""
    if last_end < src.size:
        out.write(bytes(src.size - last_end))
