"""DNG / TIFF inventory reader: the same EXIF, GPS IFD and XMP facts as a JPEG, from a TIFF container.

Why a separate reader: a DJI DNG is TIFF/EP, so its EXIF is the file's own IFD structure (not an APP1
segment) and its XMP is the value of tag 700 in IFD0. The IFDs of a DNG may sit anywhere in a file of
tens of megabytes, so the walk reads on demand (``tiff.FileSource``) and never loads image data. SubIFDs
are walked too, to count the JPEG previews a sanitizer must rewrite or drop.
"""

from __future__ import annotations

import os
from pathlib import Path

from droneaudit.readers._api import ScanContext
from droneaudit.readers.media import photo_meta, tiff
from droneaudit.readers.media.jpeg import Note, noter, parse_xmp
from droneaudit.readers.media.xmp import XmpMap
from droneaudit.readers.source import sha256_file

TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
XMP_TAG = 700
DNG_VERSION = 0xC612
NEW_SUBFILE_TYPE = 0x00FE
COMPRESSION = 0x0103


def xmp_of(walked: tiff.Tiff, note: Note) -> XmpMap:
    """The packet in IFD0 tag 700 (BYTE/UNDEFINED, sometimes ASCII), parsed."""
    entry = walked.ifd("IFD0").entries.get(XMP_TAG)
    if entry is None:
        return {}
    value = entry.value
    if value is None:
        detail = f"XMP (tag 700, {entry.count} bytes) is too large or out of bounds"
        note("xmp-unreadable", detail, walked.base + entry.offset)
        return {}
    packet = value.encode("utf-8") if isinstance(value, str) else value
    if not isinstance(packet, bytes):
        note("xmp-bad-type", "XMP tag 700 does not hold bytes", walked.base + entry.offset)
        return {}
    return parse_xmp(packet, walked.base + entry.offset, note)


def preview_extra(walked: tiff.Tiff) -> dict[str, str]:
    """DNG version, SubIFD count and reduced-resolution (preview) images, JPEG-compressed or not."""
    ifd0 = walked.ifd("IFD0")
    extra: dict[str, str] = {"exif_byte_order": walked.byte_order}
    version = ifd0.value(DNG_VERSION)
    if isinstance(version, bytes):
        extra["dng_version"] = ".".join(str(b) for b in version)
    images = [ifd0, *walked.sub_ifds, *([walked.ifds["IFD1"]] if "IFD1" in walked.ifds else [])]
    previews = [ifd for ifd in images if (ifd.first_int(NEW_SUBFILE_TYPE) or 0) & 1]
    extra["sub_ifds"] = str(len(walked.sub_ifds))
    extra["previews"] = str(len(previews))
    extra["jpeg_previews"] = str(sum(1 for ifd in previews if ifd.first_int(COMPRESSION) in (6, 7)))
    return extra


class DngReader:
    """Inventory reader for DNG (and other classic TIFF) files: EXIF, GPS IFD, XMP tag 700, previews."""

    name = "dng"

    def sniff(self, head: bytes, path: Path) -> float:
        return 1.0 if head[:4] in TIFF_MAGIC else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        """Append one MediaRecords to ``ctx.media``; return ("dng" | "tiff", sha256)."""
        note = noter(display, ctx.problems)
        walked: tiff.Tiff | None = None
        props: XmpMap = {}
        extra: dict[str, str] = {}
        try:
            with path.open("rb") as f:
                walked = tiff.walk(tiff.FileSource(f, os.fstat(f.fileno()).st_size), 0, sub_ifds=True)
        except OSError as exc:
            ctx.problems.add(display, "read-error", f"could not read the file ({exc.strerror or exc})")
        if walked is not None:
            for issue in walked.issues:
                note(issue.code, issue.detail, issue.offset)
            props = xmp_of(walked, note)
            extra = preview_extra(walked)
        fmt = "dng" if walked is not None and DNG_VERSION in walked.ifd("IFD0").entries else "tiff"
        sha = sha256_file(path)
        ctx.media.append(photo_meta.build(photo_meta.PhotoInput(display, sha, fmt, walked, props, extra)))
        return fmt, sha
