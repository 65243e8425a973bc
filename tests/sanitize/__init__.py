"""Sanitizer tests: real DJI thermal photos and SRT sidecars from the shared corpus, the demo media, and
synthetic files built segment by segment.

The checks that decide "clean" are independent of the cleaner: our inventory (``droneaudit.scan``),
ExifTool 13 run at test time (skipped with the reason when absent), a raw byte search for every value
that was removed, and a byte comparison of what must not change — written here with their own small
JPEG walker rather than the sanitizer's parser, so a parser bug cannot hide itself.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import droneaudit
from droneaudit.case import Case

POSITION_CODES = {
    "reveals-aircraft-position",
    "reveals-home-point",
    "reveals-operator-location",
    "reveals-target-location",
}
SERIAL_CODE = "reveals-serial-numbers"
TIME_CODE = "reveals-exact-time"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inventory(path: Path) -> Case:
    return droneaudit.scan([path])


def codes(case: Case) -> set[str]:
    return {f.code for f in case.findings}


def header_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """(marker, payload) for every segment before the first SOS, and the offset of that SOS."""
    out, pos = [], 2
    while data[pos + 1] != 0xDA:
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        out.append((data[pos + 1], data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return out, pos


def entropy_data(data: bytes) -> bytes:
    """From the first SOS to the main image's EOI (baseline: the first FFD9, as FF is always stuffed)."""
    _, sos = header_segments(data)
    eoi = data.find(b"\xff\xd9", sos)
    return data[sos : eoi + 2 if eoi >= 0 else len(data)]


def thermal_segments(data: bytes) -> list[tuple[int, bytes]]:
    """APP3–APP6 payloads and FLIR APP1 payloads, in file order."""
    return [
        (m, body)
        for m, body in header_segments(data)[0]
        if 0xE3 <= m <= 0xE6 or (m == 0xE1 and body.startswith(b"FLIR\x00"))
    ]


def exiftool_leaks(et: dict[str, Any]) -> dict[str, Any]:
    """ExifTool tags (``-G1`` keys) that still place or identify: any GPS tag, position or altitude in
    XMP, a non-empty serial, maker notes, a capture UUID."""
    leaks = {}
    for key, value in et.items():
        group, _, tag = key.partition(":")
        text = str(value).strip()
        gps = "GPS" in tag.upper() and group not in ("System", "Composite") and bool(text)
        identifying = tag.endswith(("SerialNumber", "Altitude", "UUID")) and bool(text.strip("0 "))
        other = tag in ("MakerNotes", "Latitude", "Longitude") or tag.startswith("LRFTarget")
        if group != "Composite" and (gps or identifying or other):
            leaks[key] = value
    return leaks
