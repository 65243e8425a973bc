"""Synthetic DJI-style media for the demo: photos with EXIF GPS + DJI XMP and an SRT sidecar.

Deterministic and small. The photo is a real, decodable 8x8 grey baseline JPEG (one DC and one AC Huffman
code, all coefficients zero) carrying the metadata a DJI camera writes: EXIF Make/Model/serial, the
local capture time with its offset, a GPS IFD, and an XMP packet in the ``drone-dji`` namespace with
the aircraft's absolute/relative altitude and serial. The SRT follows the Mavic 3 ``rel_alt/abs_alt``
family. Nothing here is a real flight; positions are made up near a fictional inspection site.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_ASCII, _SHORT, _LONG, _RATIONAL = 2, 3, 4, 5


@dataclass(frozen=True)
class DemoPhoto:
    name: str
    lat: float
    lon: float
    abs_alt: float
    rel_alt: float
    local_time: str  # "YYYY:MM:DD HH:MM:SS"
    offset: str  # "+01:00"


def _rational(value: float, denominator: int) -> bytes:
    return struct.pack(">II", round(value * denominator), denominator)


def _dms(value: float) -> bytes:
    value = abs(value)
    degrees = int(value)
    minutes_f = (value - degrees) * 60
    minutes = int(minutes_f)
    seconds = (minutes_f - minutes) * 60
    return _rational(degrees, 1) + _rational(minutes, 1) + _rational(seconds, 10000)


def _ifd(entries: list[tuple[int, int, int, bytes]], start: int, next_ifd: int = 0) -> bytes:
    """A big-endian IFD at file offset ``start``; values longer than 4 bytes follow the entry table."""
    table = struct.pack(">H", len(entries))
    data = b""
    data_at = start + 2 + 12 * len(entries) + 4
    for tag, typ, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack(">HHII", tag, typ, count, data_at + len(data))
            data += value + (b"\0" if len(value) % 2 else b"")
    return table + struct.pack(">I", next_ifd) + data


def _ascii(text: str) -> tuple[int, bytes]:
    raw = text.encode() + b"\0"
    return len(raw), raw


def _exif(photo: DemoPhoto, serial: str) -> bytes:
    """TIFF (big-endian) with IFD0 → Exif IFD and GPS IFD."""
    make, model = _ascii("DJI"), _ascii("FC3582")
    ifd0_at = 8
    ifd0_size = 2 + 12 * 4 + 4 + len(make[1]) + len(model[1]) + 2
    exif_at = ifd0_at + ifd0_size + (ifd0_size % 2)
    when, off, body = _ascii(photo.local_time), _ascii(photo.offset), _ascii(serial)
    exif_entries = [
        (0x9003, _ASCII, when[0], when[1]),
        (0x9011, _ASCII, off[0], off[1]),
        (0xA431, _ASCII, body[0], body[1]),
    ]
    exif_ifd = _ifd(exif_entries, exif_at)
    gps_at = exif_at + len(exif_ifd)
    gps_entries = [
        (0x0000, 1, 4, bytes([2, 3, 0, 0])),
        (0x0001, _ASCII, 2, b"N\0" if photo.lat >= 0 else b"S\0"),
        (0x0002, _RATIONAL, 3, _dms(photo.lat)),
        (0x0003, _ASCII, 2, b"E\0" if photo.lon >= 0 else b"W\0"),
        (0x0004, _RATIONAL, 3, _dms(photo.lon)),
        (0x0005, 1, 1, b"\0"),
        (0x0006, _RATIONAL, 1, _rational(photo.abs_alt, 1000)),
    ]
    ifd0_entries = [
        (0x010F, _ASCII, make[0], make[1]),
        (0x0110, _ASCII, model[0], model[1]),
        (0x8769, _LONG, 1, struct.pack(">I", exif_at)),
        (0x8825, _LONG, 1, struct.pack(">I", gps_at)),
    ]
    ifd0 = _ifd(ifd0_entries, ifd0_at).ljust(exif_at - ifd0_at, b"\0")
    return b"MM\0*" + struct.pack(">I", ifd0_at) + ifd0 + exif_ifd + _ifd(gps_entries, gps_at)


def _xmp(photo: DemoPhoto, serial: str) -> bytes:
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="DJI Meta Data" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
        f'drone-dji:GpsLatitude="{photo.lat:+.7f}" drone-dji:GpsLongitude="{photo.lon:+.7f}" '
        f'drone-dji:AbsoluteAltitude="{photo.abs_alt:+.3f}" '
        f'drone-dji:RelativeAltitude="{photo.rel_alt:+.3f}" '
        f'drone-dji:DroneSerialNumber="{serial}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    return packet.encode()


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def _image() -> bytes:
    """8x8 grey baseline JPEG body: DQT, SOF0, one-code DC and AC tables, SOS, one block of zeros."""
    dqt = _segment(0xDB, b"\x00" + bytes([1] * 64))
    sof = _segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + bytes([1, 0x11, 0]))
    dht_dc = _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
    dht_ac = _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = _segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    return dqt + sof + dht_dc + dht_ac + sos + b"\x3f"  # DC code "0", EOB "0", padded with ones


def photo_bytes(photo: DemoPhoto, serial: str) -> bytes:
    exif = _segment(0xE1, b"Exif\0\0" + _exif(photo, serial))
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + _xmp(photo, serial))
    return b"\xff\xd8" + exif + xmp + _image() + b"\xff\xd9"


def write_photo(path: Path, photo: DemoPhoto, serial: str) -> None:
    path.write_bytes(photo_bytes(photo, serial))


def write_srt(path: Path, start: DemoPhoto, frames: int) -> None:
    """A Mavic 3-style SRT: one cue per second, the aircraft climbing away from the home point."""
    cues = []
    for i in range(frames):
        lat, lon = start.lat + i * 0.00002, start.lon + i * 0.00003
        sec = 12 + i
        cues.append(
            f"{i + 1}\n00:00:{i:02d},000 --> 00:00:{i + 1:02d},000\n"
            f'<font size="28">FrameCnt: {i + 1}, DiffTime: 1000ms\n'
            f"2026-03-14 10:31:{sec:02d}.000\n"
            f"[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [color_md: default] [focal_len: 24.00] "
            f"[latitude: {lat:.6f}] [longitude: {lon:.6f}] "
            f"[rel_alt: {10 + i:.3f} abs_alt: {start.abs_alt + i:.3f}] "
            "[ct: 5500] </font>\n"
        )
    path.write_text("\n".join(cues), encoding="utf-8")


DEMO_SERIAL = "1581F5FHD22A0000DEMO"
DEMO_PHOTOS = (
    DemoPhoto(
        "DJI_20260314103112_0001_D.JPG", 47.3769001, 8.5416999, 478.2, 40.1, "2026:03:14 10:31:12", "+01:00"
    ),
    DemoPhoto(
        "DJI_20260314103140_0002_D.JPG", 47.3771502, 8.5421004, 498.7, 60.6, "2026:03:14 10:31:40", "+01:00"
    ),
    DemoPhoto(
        "DJI_20260314103205_0003_D.JPG", 47.3774008, 8.5425511, 498.9, 60.8, "2026:03:14 10:32:05", "+01:00"
    ),
)


def build_demo_media(folder: Path) -> list[Path]:
    """Write the demo SD card's DCIM folder; return the files written."""
    dcim = folder / "DCIM" / "100MEDIA"
    dcim.mkdir(parents=True, exist_ok=True)
    written = []
    for photo in DEMO_PHOTOS:
        write_photo(dcim / photo.name, photo, DEMO_SERIAL)
        written.append(dcim / photo.name)
    srt = dcim / "DJI_20260314103112_0004_D.SRT"
    write_srt(srt, DEMO_PHOTOS[0], 30)
    return [*written, srt]
