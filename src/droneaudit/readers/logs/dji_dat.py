"""DJI aircraft flight-controller logs (``FLYnnn.DAT``; the ``*.DAT`` the apps keep beside their flight
records): recognised by content, with a plain account of what reads offline and what does not.

The aircraft's own log is the richest record of a flight, and the hardest: older aircraft write it in
the clear, newer ones (Mavic Air / Mavic 2 / Mini and later) encrypt it with keys DJI does not publish.
An audit has to say which case a file is, so this reader never stays silent about a DAT it cannot open.

Layouts (DatCon ``DatFile``/``DatFileV3``/``DatHeader``, plaso's DJI Mavic DAT parser, the DATs notes in
``drone-formats.md`` §3.2, D3VL's DJI-DAT-Decryptor for the ``LOGH`` container):

* Plain DAT: byte 0 = aircraft type code; ``BUILD`` at byte 16 followed by the firmware build date as
  text; ``DJI_LOG_V3`` at byte 242 marks the V3 layout (records from byte 256), otherwise V1 (from 128).
* Records: ``0x55, u8 length (whole record), 0x00, u8 header check, u16 type, u32 tick, payload,
  u16 CRC`` little endian; the CRC-16 (reflected 0x1021, seed 0x3692) covers all but its own two bytes;
  the payload is XOR'd with ``tick & 0xFF``.
* GPS (type 2096): ``u32 date YYYYMMDD, u32 time HHMMSS`` (UTC), ``i32 lon x 1e7, i32 lat x 1e7,
  i32 height (mm, MSL)``, velocities... (plaso; checked by drone-formats.md on plaso's FLY005.DAT).
* ``LOGH`` container (DJI Assistant exports; DatCon: "probably an encrypted .DAT"): ``u64`` data offset
  at 8, ``u64`` data length at 16, model code (16 bytes ASCII) at 24, device serial (16 bytes) at 40;
  the data after it is AES-encrypted.

Not read here: record payloads other than GPS (DatCon/CsvView decode IMU, battery, motors, RC, event
text), and anything encrypted. No real DAT is in the corpus: this reader is tested on synthetic files
built from the notes above.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.source import sha256_file

HEAD = 256  #: bytes of header the layouts are told apart by
GPS = 2096  #: record type of the GPS fix
_BUILD, _V3 = b"BUILD", b"DJI_LOG_V3"
_FLY_NAME = re.compile(r"FLY\d{3}\.DAT", re.IGNORECASE)
_CRC_SEED = 0x3692
_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))  #: each byte with its bits reversed
_SEED_REVERSED = _REVERSED[_CRC_SEED & 0xFF] << 8 | _REVERSED[_CRC_SEED >> 8]
#: Aircraft type code in byte 0 of a plain DAT (DatCon ``DatHeader``; 63 from a forensic DAT tool).
AIRCRAFT = {
    5: "Matrice 100", 6: "Phantom 3 / Inspire 1", 11: "Phantom 4", 14: "Matrice 600", 16: "Mavic Pro",
    17: "Inspire 2", 18: "Phantom 4 Pro", 20: "Spreading Wings S900", 21: "Spark", 23: "Matrice 600 Pro",
    24: "Mavic Air", 25: "Matrice 200", 27: "Phantom 4 Advanced", 63: "Mini 2",
}  # fmt: skip
_LAYOUTS = {
    "V1": "plain DAT, V1 layout (records from byte 128)",
    "V3": "plain DAT, V3 layout (records from byte 256)",
    "LOGH": "LOGH container (encrypted)",
    "unknown": "not recognised (no plain DAT header, no LOGH container)",
}
_NOT_DECODED = "record payloads other than GPS (IMU, battery, motors, RC, event text: DatCon reads them)"
_ENCRYPTED = "newer aircraft (Mavic Air / Mavic 2 / Mini and later) encrypt their DAT; DJI publishes no key"


def layout(head: bytes) -> str:
    """``V1`` / ``V3`` (plain), ``LOGH`` (encrypted container) or ``unknown``, from the first 256 bytes."""
    if head[:4] == b"LOGH":
        return "LOGH"
    if head[16:21] == _BUILD or head[242:252] == _V3:
        return "V3" if head[242:252] == _V3 else "V1"
    return "unknown"


def crc16(data: bytes) -> int:
    """The record CRC: reflected CRC-16/0x1021, seed 0x3692 - via ``crc_hqx`` on bit-reversed bytes."""
    return _reverse16(binascii.crc_hqx(data.translate(_REVERSED), _SEED_REVERSED))


def _reverse16(value: int) -> int:
    return _REVERSED[value & 0xFF] << 8 | _REVERSED[value >> 8]


@dataclass
class _Dat:
    """What one DAT showed."""

    layout: str
    extra: dict[str, str] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    model: str | None = None
    types: Counter[int] = field(default_factory=Counter)
    crc_failed: int = 0
    gps_records: int = 0
    fixes: list[TrackPoint] = field(default_factory=list)


class DjiDatReader:
    """DJI ``.DAT`` flight-controller logs, by content (a plain header or a ``LOGH`` container); a file
    named ``FLYnnn.DAT`` that is neither is still taken, at the lowest priority, so the report can say it
    could not be read rather than "unrecognised format"."""

    name = "dji-dat"

    def sniff(self, head: bytes, path: Path) -> float:
        with path.open("rb") as f:
            first = f.read(HEAD)
        if first[: len(head)] != head:  # gzip'd: this reader needs the raw bytes
            return -1.0
        if layout(first) != "unknown":
            return 0.7
        return 0.05 if _FLY_NAME.fullmatch(path.name) else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        digest = sha256_file(path)
        ctx.media.append(parse(path.read_bytes(), display, digest, ctx.problems))
        return "dji-dat", digest


def parse(data: bytes, display: str, digest: str, problems: ProblemLog) -> MediaRecords:
    """Everything the DAT reveals offline and a statement of what it withholds; never raises."""
    dat = _Dat(layout(data[:HEAD]))
    if dat.layout in ("V1", "V3"):
        _plain(data, dat, display, problems)
    elif dat.layout == "LOGH":
        _logh(data, dat, display)
        dat.extra["readable_offline"] = "the container header: model code, device serial, data length"
        dat.extra["not_readable"] = f"everything after the header (AES-encrypted); {_ENCRYPTED}"
    else:
        dat.extra["readable_offline"] = "nothing but the file's name and size"
        dat.extra["not_readable"] = f"the whole file; {_ENCRYPTED}"
    if dat.layout in ("LOGH", "unknown"):
        problems.add(display, "encrypted-dat", f"{_LAYOUTS[dat.layout]}: {dat.extra['not_readable']}")
    return _records(dat, display, digest)


def _plain(data: bytes, dat: _Dat, display: str, problems: ProblemLog) -> None:
    start = HEAD if dat.layout == "V3" else 128
    if len(data) < start:
        problems.add(display, "truncated-file-header", f"{len(data)} bytes, the header alone is {start}")
    code = data[0] if data else -1
    dat.model = AIRCRAFT.get(code)
    dat.extra["aircraft_type_code"] = str(code)
    for key, at in (("build", 16), ("log_header", 242)):
        if text := _text(data[at : at + 48]):
            dat.extra[key] = text
    for number, (kind, tick, payload) in enumerate(_walk(data, start, dat), 1):
        dat.types[kind] += 1
        if kind == GPS:
            dat.gps_records += 1
            fix = _fix(number, tick, payload, display)
            if fix and (not dat.fixes or _moved(dat.fixes[-1], fix)):
                dat.fixes.append(fix)
    if dat.crc_failed:
        detail = "records whose CRC does not match; skipped"
        problems.add(display, "bad-record", detail, count=dat.crc_failed)
    _plain_account(dat, display, problems)


def _walk(data: bytes, start: int, dat: _Dat) -> Iterator[tuple[int, int, bytes]]:
    """(type, tick, payload as stored) of each record whose CRC holds; resyncs on the next 0x55."""
    pos = expected = start
    end = len(data)
    while (pos := data.find(b"\x55", pos)) >= 0 and pos + 12 <= end:
        length = data[pos + 1]
        if length < 12 or pos + length > end or data[pos + 2] != 0:
            pos += 1
            continue
        stored = int.from_bytes(data[pos + length - 2 : pos + length], "little")
        if crc16(data[pos : pos + length - 2]) != stored:
            # a damaged record where one belongs, or one whose length lands on the next record
            dat.crc_failed += pos == expected or data[pos + length : pos + length + 1] in (b"\x55", b"")
            pos += 1
            continue
        kind, tick = struct.unpack_from("<HI", data, pos + 4)
        yield kind, tick, data[pos + 10 : pos + length - 2]
        pos = expected = pos + length


def _fix(number: int, tick: int, payload: bytes, display: str) -> TrackPoint | None:
    """A GPS(2096) fix, or None when its date, time or position is not plausible (no lock, or
    encrypted payloads: random bytes almost never form a calendar date)."""
    if len(payload) < 20:
        return None
    key = tick & 0xFF  # the payload is XOR'd with the tick's low byte
    date, hms, lon, lat, height = struct.unpack("<IIiii", bytes(b ^ key for b in payload[:20]))
    try:
        when = datetime.strptime(f"{date:08d}{hms:06d}", "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    placed = abs(lat) <= 900_000_000 and abs(lon) <= 1_800_000_000 and (lat or lon)
    if not placed or not 2010 <= when.year <= 2100:
        return None
    stamp, source = when.isoformat().replace("+00:00", "Z"), f"DAT record {number} GPS(2096)"
    args = (lat / 1e7, lon / 1e7, height / 1000, "msl", stamp, None, "utc", source, number)
    return TrackPoint(display, "aircraft", *args)


def _moved(last: TrackPoint, fix: TrackPoint) -> bool:
    return (last.lat, last.lon, last.time_utc) != (fix.lat, fix.lon, fix.time_utc)


def _plain_account(dat: _Dat, display: str, problems: ProblemLog) -> None:
    """Say what the plain DAT gave, and what it did not."""
    dat.extra["records"] = str(sum(dat.types.values()))
    dat.extra["records_failed_crc"] = str(dat.crc_failed)
    dat.extra["record_types"] = ", ".join(f"{kind}x{n}" for kind, n in dat.types.most_common(8))
    dat.extra["gps_records"] = str(dat.gps_records)
    dat.extra["gps_fixes"] = str(len(dat.fixes))
    readable = "header (aircraft type code, firmware build), record framing and counts"
    dat.extra["readable_offline"] = readable + (", GPS fixes (type 2096)" if dat.fixes else "")
    dat.extra["not_readable"] = _NOT_DECODED
    if dat.gps_records and not dat.fixes:
        why = "GPS records are present but none decodes to a plausible date and position"
        dat.extra["not_readable"] = f"{_NOT_DECODED}; {why}: payloads look encrypted ({_ENCRYPTED})"
        problems.add(display, "encrypted-dat", f"{why}; the payloads look encrypted")


def _logh(data: bytes, dat: _Dat, display: str) -> None:
    if len(data) < 56:
        return
    offset, length = struct.unpack_from("<QQ", data, 8)
    if offset <= len(data) and offset + length <= len(data):
        dat.extra["encrypted_bytes"] = str(length)
    if model := _text(data[24:40]):
        dat.extra["device_model_code"] = model
    if serial := _text(data[40:56]):
        dat.identities.append(Identity("device-serial", serial, display, "LOGH header serial"))


def _text(raw: bytes) -> str | None:
    """Printable ASCII up to the first NUL, or None when there is none (or it is not text)."""
    head = raw.split(b"\0", 1)[0]
    if not head or any(b < 0x20 or b > 0x7E for b in head):
        return None
    return head.decode("ascii").strip() or None


def _records(dat: _Dat, display: str, digest: str) -> MediaRecords:
    dat.extra["layout"] = _LAYOUTS[dat.layout]
    first = dat.fixes[0] if dat.fixes else None
    item = MediaItem(
        path=display,
        sha256=digest,
        format="dji-dat",
        make="DJI",
        model=dat.model,
        serials={i.kind: i.value for i in dat.identities},
        captured_at=first.time_utc if first else None,
        captured_at_utc=first.time_utc if first else None,
        lat=first.lat if first else None,
        lon=first.lon if first else None,
        extra=dat.extra,
    )
    return MediaRecords(item, dat.fixes, dat.identities)
