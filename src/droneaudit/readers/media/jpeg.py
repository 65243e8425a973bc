"""JPEG and DJI radiometric R-JPEG inventory: what a photo reveals, from its headers only.

Why headers only: everything that identifies or locates (EXIF, GPS IFD, XMP, MPF index) sits in the
segments before SOS; the scan data is pixels. The walk reads each segment's 4-byte header, loads only
APP1 (Exif, XMP) and APP2 (MPF) bodies — at most 64 KiB each by construction — and skips the thermal
APP3–APP7 blocks with a seek after noting their sizes, so a 1.4 MB R-JPEG costs a few reads (plus the
SHA-256, which must cover every byte).

The format is "rjpeg" when the file carries radiometric data: DJI's APP3 ``ThermalData`` (H20T, M3T,
XT S, …) or FLIR-era ``FLIR`` APP1 FFF records (XT2, XTR). The sanitizer must keep those byte-identical,
so the inventory notes their segment counts and sizes, the IFD1 thumbnail and the MPF preview.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.media import photo_meta, tiff, xmp
from droneaudit.readers.source import sha256_file

SOI = b"\xff\xd8"
#: Stop after this many segments before SOS (real files have tens; a hostile one could have millions).
MAX_SEGMENTS = 4096
#: Fill bytes (0xFF padding before a marker) tolerated in a row.
MAX_FILL = 1024
APP1, APP2, APP3, APP15, SOS, EOI = 0xE1, 0xE2, 0xE3, 0xEF, 0xDA, 0xD9
STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}  # TEM, SOI, RST0–7: no length field
EXIF_SIG = b"Exif\x00\x00"
MPF_SIG = b"MPF\x00"
FLIR_SIG = b"FLIR\x00"
#: APP3 segments that are not thermal data (Kodak "Meta", stray Exif copies).
NOT_THERMAL_APP3 = (b"Meta", b"META", b"Exif")
MPF_ENTRIES = 0xB002

#: Where damage goes: (code, detail, absolute offset).
Note = Callable[[str, str, int], None]


def noter(display: str, problems: ProblemLog) -> Note:
    def note(code: str, detail: str, offset: int) -> None:
        problems.add(display, code, detail, offset=offset)

    return note


@dataclass(slots=True)
class Segments:
    """What the walk up to SOS found; offsets are absolute in the file."""

    size: int
    exif: tuple[int, bytes] | None = None  #: (offset of the TIFF header, TIFF bytes)
    xmp: tuple[int, bytes] | None = None  #: (offset of the packet, packet bytes)
    mpf: tuple[int, bytes] | None = None  #: (offset of the MPF TIFF header, bytes)
    app_sizes: dict[int, list[int]] = field(default_factory=dict)  #: APPn number → payload sizes
    app_labels: dict[int, str] = field(default_factory=dict)  #: APPn number → leading ASCII id
    flir: int = 0
    extended_xmp: int = 0
    thermal: bool = False
    reached_sos: bool = False


class _Walk:
    """One pass over the marker segments of an open file, noting damage into the problem log."""

    def __init__(self, f: BinaryIO, segs: Segments, note: Note) -> None:
        self.f = f
        self.segs = segs
        self.note = note

    def run(self) -> None:
        if self.f.read(2) != SOI:
            self.note("jpeg-no-soi", "file does not start with a JPEG SOI marker", 0)
            return
        pos = 2
        for _ in range(MAX_SEGMENTS):
            marker, pos = self._marker(pos)
            if marker is None:
                return
            if marker in STANDALONE:
                pos += 2
                continue
            if marker == EOI:
                self.note("jpeg-no-image", "EOI before any image data (no SOS marker)", pos)
                return
            end = self._segment(marker, pos)
            if end is None:
                return
            pos = end
        self.note("jpeg-segment-limit", f"more than {MAX_SEGMENTS} segments before the image data", pos)

    def _marker(self, pos: int) -> tuple[int | None, int]:
        """The next marker code and the offset of its 0xFF, skipping fill bytes."""
        pair = self.f.read(2)
        for _ in range(MAX_FILL):
            if len(pair) < 2:
                self.note("jpeg-truncated", "file ends before the image data (no SOS marker)", pos)
                return None, pos
            if pair[0] != 0xFF:
                self.note("jpeg-bad-marker", f"expected a marker, found byte 0x{pair[0]:02x}", pos)
                return None, pos
            if pair[1] != 0xFF:
                return pair[1], pos
            pair, pos = pair[1:] + self.f.read(1), pos + 1
        self.note("jpeg-bad-marker", f"more than {MAX_FILL} fill bytes in a row", pos)
        return None, pos

    def _segment(self, marker: int, pos: int) -> int | None:
        """Handle one length-prefixed segment; return the offset after it, or None to stop."""
        raw = self.f.read(2)
        if len(raw) < 2:
            self.note("jpeg-truncated", f"file ends inside the header of marker 0x{marker:02x}", pos)
            return None
        (length,) = struct.unpack(">H", raw)
        if length < 2:
            self.note("jpeg-bad-length", f"marker 0x{marker:02x} has length {length}", pos)
            return None
        end = pos + 2 + length
        if marker == SOS:
            self.segs.reached_sos = True
            return None
        if end > self.segs.size:
            self.note("jpeg-truncated", f"segment 0x{marker:02x} needs {length} bytes; file ends first", pos)
        self._body(marker, pos + 4, length - 2)
        return end if end <= self.segs.size else None

    def _body(self, marker: int, at: int, n: int) -> None:
        if marker in (APP1, APP2):
            body = self.f.read(n)
            (self._app1 if marker == APP1 else self._app2)(at, body)
            return
        if APP3 <= marker <= APP15:
            self._app_n(marker - 0xE0, self.f.read(min(n, 16)), n)
        self.f.seek(at + n)

    def _app1(self, at: int, body: bytes) -> None:
        segs = self.segs
        if body.startswith(EXIF_SIG) and segs.exif is None:
            segs.exif = (at + len(EXIF_SIG), body[len(EXIF_SIG) :])
        elif body.startswith(xmp.JPEG_SIGNATURE) and segs.xmp is None:
            segs.xmp = (at + len(xmp.JPEG_SIGNATURE), body[len(xmp.JPEG_SIGNATURE) :])
        elif body.startswith(xmp.JPEG_EXTENDED_SIGNATURE):
            segs.extended_xmp += 1
        elif body.startswith(FLIR_SIG):
            segs.flir += 1
            segs.thermal = segs.thermal or b"FFF\x00" in body[:16]

    def _app2(self, at: int, body: bytes) -> None:
        if body.startswith(MPF_SIG) and self.segs.mpf is None:
            self.segs.mpf = (at + len(MPF_SIG), body[len(MPF_SIG) :])

    def _app_n(self, n: int, prefix: bytes, size: int) -> None:
        sizes = self.segs.app_sizes.setdefault(n, [])
        if not sizes:
            label, nul, _ = prefix.partition(b"\x00")
            if nul and len(label) >= 3 and all(0x20 < c < 0x7F for c in label):
                self.segs.app_labels[n] = label.decode("ascii")
            if n == 3 and not prefix.startswith(NOT_THERMAL_APP3):
                self.segs.thermal = True
        sizes.append(size)


def segment_extra(segs: Segments) -> dict[str, str]:
    """APP3–APP15 counts and sizes (thermal blocks, DJI-DBG …) and FLIR/extended-XMP counts."""
    extra: dict[str, str] = {}
    for n, sizes in sorted(segs.app_sizes.items()):
        extra[f"app{n}_segments"] = str(len(sizes))
        extra[f"app{n}_bytes"] = str(sum(sizes))
        if n in segs.app_labels:
            extra[f"app{n}_id"] = segs.app_labels[n]
    if segs.flir:
        extra["flir_segments"] = str(segs.flir)
    if segs.extended_xmp:
        extra["xmp_extended_segments"] = str(segs.extended_xmp)
    return extra


def thumbnail_extra(exif: tiff.Tiff, segs: Segments, note: Note) -> dict[str, str]:
    """The IFD1 JPEG thumbnail (a second copy of the scene inside APP1)."""
    ifd1 = exif.ifds.get("IFD1")
    start = ifd1.first_int(0x0201) if ifd1 else None
    length = ifd1.first_int(0x0202) if ifd1 else None
    if start is None or length is None or segs.exif is None:
        return {}
    if start + length > len(segs.exif[1]):
        note("thumbnail-out-of-bounds", "IFD1 thumbnail runs past the Exif segment", exif.base + start)
    return {"thumbnail_offset": str(exif.base + start), "thumbnail_bytes": str(length)}


def mpf_extra(segs: Segments, note: Note) -> dict[str, str]:
    """The MPF index (APP2): how many images, and where the first secondary one (DJI's VGA preview) is."""
    if segs.mpf is None:
        return {}
    base, data = segs.mpf
    index = tiff.walk(tiff.BytesSource(data), base)
    for issue in index.issues:
        note(issue.code, "MPF index: " + issue.detail, issue.offset)
    entries = index.ifd("IFD0").value(MPF_ENTRIES)
    if not isinstance(entries, bytes):
        return {}
    endian = "<" if index.byte_order == "II" else ">"
    extra = {"mpf_images": str(len(entries) // 16)}
    for i in range(1, len(entries) // 16):
        _flags, size, start = struct.unpack(endian + "III", entries[i * 16 : i * 16 + 12])
        if base + start + size > segs.size:
            note("mpf-out-of-bounds", f"MPF image {i + 1} runs past the end of the file", base + start)
        if "mpf_preview_offset" not in extra:
            extra.update(mpf_preview_offset=str(base + start), mpf_preview_bytes=str(size))
    return extra


def _sha256(f: BinaryIO) -> str:
    """SHA-256 of the whole file through the handle the walk already opened (one open per photo)."""
    f.seek(0)
    h = hashlib.sha256()
    while chunk := f.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()


def _tail_is_eoi(f: BinaryIO, size: int) -> bool:
    if size < 4:
        return False
    f.seek(size - 2)
    return f.read(2) == b"\xff\xd9"


class JpegReader:
    """Inventory reader for JPEG / R-JPEG photos (EXIF, GPS, XMP, thermal segments, previews)."""

    name = "jpeg"

    def sniff(self, head: bytes, path: Path) -> float:
        return 1.0 if head.startswith(b"\xff\xd8\xff") else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        """Append one MediaRecords to ``ctx.media``; return ("jpeg" | "rjpeg", sha256)."""
        note = noter(display, ctx.problems)
        segs = Segments(size=0)
        try:
            with path.open("rb") as f:
                segs.size = os.fstat(f.fileno()).st_size
                _Walk(f, segs, note).run()
                if segs.reached_sos and not _tail_is_eoi(f, segs.size):
                    note("jpeg-no-eoi", "file does not end with EOI (cut short, or data appended)", segs.size)
                sha = _sha256(f)
        except OSError as exc:
            ctx.problems.add(display, "read-error", f"could not read the file ({exc.strerror or exc})")
            sha = sha256_file(path)
        fmt = "rjpeg" if segs.thermal else "jpeg"
        ctx.media.append(photo_meta.build(photo_input(display, sha, fmt, segs, note)))
        return fmt, sha


def photo_input(display: str, sha: str, fmt: str, segs: Segments, note: Note) -> photo_meta.PhotoInput:
    """Walk the Exif TIFF and MPF index and parse the XMP packet found by the segment walk."""
    extra = {**mpf_extra(segs, note), **segment_extra(segs)}
    exif = None
    if segs.exif is not None:
        exif = tiff.walk(tiff.BytesSource(segs.exif[1]), segs.exif[0])
        for issue in exif.issues:
            note(issue.code, issue.detail, issue.offset)
        extra["exif_byte_order"] = exif.byte_order
        extra.update(thumbnail_extra(exif, segs, note))
    props: xmp.XmpMap = {}
    if segs.xmp is not None:
        props = parse_xmp(segs.xmp[1], segs.xmp[0], note)
    return photo_meta.PhotoInput(display, sha, fmt, exif, props, extra)


def parse_xmp(packet: bytes, at: int, note: Note) -> xmp.XmpMap:
    """Parse one packet found at absolute offset ``at``; damage is noted, partial properties kept."""
    parsed = xmp.parse(packet)
    if parsed.issue is not None:
        code, detail, offset = parsed.issue
        note(code, detail, at + offset)
    return parsed.props
