"""DJI app flight records (``DJIFlightRecord_*.txt``): the details block, and the frames where they are
readable offline.

Written here rather than through pydjirecord because that library reads a u16 record length in every
version (v7/v8 logs then give no records), labels APP_GPS latitude/longitude the wrong way round, and
its only road to v13+ frames is DJI's keychain server, which this tool never calls (a keychain the user
got elsewhere decrypts them offline: ``dji_keychain``, which also holds the XOR layer).

Layout (from lvauvillier/dji-log-parser, checked on the corpus logs):

* Prefix: ``u64 detail_offset, u16 detail_length, u8 version``; records start at 100 (v6+).
* Details (flight summary, 380+ bytes, little endian): addresses, start time (UTC ms), takeoff lon/lat
  (degrees), moment-picture lon/lat (radians), takeoff altitude (x 10), product type, aircraft name,
  aircraft/camera/RC/battery serials, app platform and version. Where it sits: v6-v11 at
  ``detail_offset``; v12 at 100; v13+ inside an auxiliary block at 100 that is only XOR-scrambled
  (type 0), followed by a version block (version, department) - readable offline in every version.
* Records: ``u8 type, length (u8 <= v12, u16 v13+), payload, 0xFF``. From v7 the payload is XOR'd
  with an 8-byte key: CRC-64/Jones(seed = first byte + type, data = first byte x 0x123456789ABCDEF0).
  From v13 most payloads are also AES-256-CBC with per-log keys that only DJI's server releases, so
  v13+ frames are counted, and decoded only with a keychain the user supplies.
* Decoded (v6-v12, v13+ once decrypted): OSD (1) = aircraft lon/lat (radians) and height above takeoff
  (i16 / 10); HOME (2) = home lon/lat (radians); APP_GPS (14) = the phone, i.e. the operator, as **lat,
  lon** degrees (the DROP sample puts 41.29 N first; dji-log-parser names the first field longitude);
  CUSTOM (5) = UTC timestamp (ms) for the OSD it follows. Verified against DROP's CSV decode (v7).
* Embedded camera JPEGs follow the records (v <= 12) and are counted.

Altitudes of HOME and of the takeoff point are written against a datum the file does not state (the
v7 sample says -56 m at a 48 m MSL site), so they go to ``extra``, not onto the points.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.logs.dji_keychain import Keychain, decrypt_records, descramble, load_keychain
from droneaudit.readers.logs.dji_keychain import xor_key as xor_key
from droneaudit.readers.source import sha256_file

PREFIX_SIZE = 100
DETAILS_SIZE = 380  #: bytes of the details block this reader uses (the block is 400 or 436 long)
_JPEG = re.compile(b"\xff\xd8\xff[\xdb\xe0\xe1]")
_ADDRESS = ("sub_street", "street", "city", "area")
_PLATFORMS = {1: "iOS", 2: "Android", 6: "DJI Fly", 10: "Windows", 11: "Mac", 12: "Linux"}
_DEPARTMENTS = {1: "SDK", 2: "DJI GO", 3: "DJI Fly", 4: "Agras", 5: "Terra", 6: "Goggles", 7: "DJI Pilot"}
#: Product type codes (dji-log-parser ``ProductType``).
PRODUCTS = {
    1: "Inspire 1", 2: "Phantom 3 Standard", 3: "Phantom 3 Advanced", 4: "Phantom 3 Pro", 5: "Osmo",
    6: "Matrice 100", 7: "Phantom 4", 11: "Matrice 600", 12: "Phantom 3 4K", 13: "Mavic Pro",
    17: "Inspire 2", 24: "Phantom 4 Pro", 26: "Spark", 27: "Matrice 600 Pro", 28: "Phantom 4 Advanced",
    29: "Phantom 3 SE", 31: "Matrice 200", 33: "Matrice 210", 34: "Matrice 210 RTK", 38: "Mavic Air",
    42: "Mavic 2", 44: "Phantom 4 Pro V2", 46: "Phantom 4 RTK", 57: "Phantom 4 Multispectral",
    58: "Mavic 2 Enterprise", 59: "Mavic Mini", 60: "Matrice 200 V2", 61: "Matrice 210 V2",
    62: "Matrice 210 RTK V2", 67: "Mavic Air 2", 70: "Matrice 300 RTK", 73: "FPV", 75: "Air 2S",
    76: "Mini 2", 77: "Mavic 3", 96: "Mini SE", 103: "Mini 3 Pro", 111: "Mavic 3 Pro", 113: "Mini 2 SE",
    116: "Matrice 30", 118: "Mavic 3 Enterprise", 121: "Avata", 126: "Mini 4 Pro", 152: "Avata 2",
    170: "Matrice 350 RTK",
}  # fmt: skip


@dataclass
class Details:
    """The flight summary every record carries, in its own words (degrees, UTC, metres)."""

    start_ms: int
    lat: float
    lon: float
    takeoff_alt: float
    product: int
    platform: int
    app_version: str
    texts: dict[str, str] = field(default_factory=dict)  #: address strings, name and serials
    moments: list[tuple[float, float]] = field(default_factory=list)  #: (lat, lon) of moment pictures


@dataclass
class _Log:
    version: int
    detail_offset: int  #: v13+: where the records start (0 in some logs: then after the version block)
    details: Details | None = None
    department: int | None = None
    category: int | None = None  #: v13+ version block: 3 / 4 pick the keychain's feature-point map
    frames_note: str = "encrypted; keys only from DJI's server — not fetched"  #: v13+ only
    tracks: list[TrackPoint] = field(default_factory=list)
    records: int = 0
    jpegs: int = 0


class DjiRecordReader:
    """DJI GO / DJI Fly / Pilot flight records, recognised by the prefix (version 6-14, zero padding
    and offsets that fit the file), whatever the file is called."""

    name = "dji-flight-record"

    def __init__(self, keychains: Iterable[Keychain | str | os.PathLike[str]] = ()) -> None:
        """``keychains``: DJI keychain answers (or their files) for v13+ frames; loaded now, never fetched."""
        self.keychains = tuple(k if isinstance(k, Keychain) else load_keychain(k) for k in keychains)

    def sniff(self, head: bytes, path: Path) -> float:
        if len(head) < 64 or any(head[20:64]):
            return -1.0
        with path.open("rb") as f:  # a gzip'd record has a decompressed head; this reader needs raw bytes
            if f.read(64) != head[:64]:
                return -1.0
        offset, length, version = struct.unpack_from("<QHB", head)
        size = path.stat().st_size
        if not 6 <= version <= 14 or length > 4096:
            return -1.0
        if version < 12:
            return 0.8 if offset + length <= size and offset >= PREFIX_SIZE else -1.0
        return 0.8 if PREFIX_SIZE < offset <= size else 0.5 if offset == 0 else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        digest = sha256_file(path)
        data = path.read_bytes()
        ctx.media.append(parse(data, display, digest, ctx.problems, self.keychains))
        return "dji-flight-record", digest


def parse(
    data: bytes, display: str, digest: str, problems: ProblemLog, keychains: Iterable[Keychain] = ()
) -> MediaRecords:
    """Everything the record reveals offline; damage goes to ``problems``, never an exception."""
    if len(data) < PREFIX_SIZE:
        problems.add(
            display, "truncated-file-header", f"{len(data)} bytes, the prefix alone is 100", offset=0
        )
        return MediaRecords(MediaItem(display, digest, "dji-flight-record"))
    offset, _, version = struct.unpack_from("<QHB", data)
    log = _Log(version, offset)
    block = _details_block(data, log, display, problems)
    if block is not None:
        log.details = parse_details(block)
        _check_details(log.details, display, problems)
    if 6 <= version <= 12:
        _frames(data, log, display, problems)
    elif version >= 13:
        walked = list(_walk(data, log.detail_offset or len(data), len(data), version, display, problems))
        log.records = len(walked)
        if keychains := tuple(keychains):
            args = (walked, version, log.category, keychains, display, problems)
            plain, log.frames_note = decrypt_records(*args)
            log.tracks += decode_frames(plain, display)
    return _records(log, display, digest)


def _details_block(data: bytes, log: _Log, display: str, problems: ProblemLog) -> bytes | None:
    if log.version < 6:
        problems.add(display, "unsupported-version", f"details layout of v{log.version} is not read")
        return None
    if log.version >= 13:
        return _auxiliary(data, log, display, problems)
    start = log.detail_offset if log.version < 12 else PREFIX_SIZE
    block = data[start : start + DETAILS_SIZE]
    if len(block) < DETAILS_SIZE:
        problems.add(display, "truncated-details", "the file ends before the details block", offset=start)
        return None
    return block


def _auxiliary(data: bytes, log: _Log, display: str, problems: ProblemLog) -> bytes | None:
    """v13+ info block: [0][u16 size][XOR'd: u8, u16 n, details(n), u16 m, signature(m)], then the
    version block [1][u16 size][u16 version, u8 department]."""
    size = struct.unpack_from("<H", data, PREFIX_SIZE + 1)[0] if len(data) >= PREFIX_SIZE + 3 else len(data)
    after = PREFIX_SIZE + 3 + size
    if after > len(data) or data[PREFIX_SIZE] != 0:
        problems.add(display, "truncated-details", "no readable auxiliary info block", offset=PREFIX_SIZE)
        return None
    plain = descramble(data[PREFIX_SIZE + 3 : after], 0)
    (info_length,) = struct.unpack_from("<H", plain, 1) if len(plain) >= 3 else (0,)
    if after + 6 <= len(data) and data[after] == 1:
        log.department = data[after + 5]
        log.category = struct.unpack_from("<H", data, after + 3)[0]
        if log.detail_offset == 0:  # dji-log-parser's "recover detail offset"
            log.detail_offset = after + 3 + struct.unpack_from("<H", data, after + 1)[0]
    block = plain[3 : 3 + info_length]
    if len(block) < DETAILS_SIZE:
        problems.add(
            display, "truncated-details", "the auxiliary info block is too short", offset=PREFIX_SIZE
        )
        return None
    return block


def _text(block: bytes, start: int, size: int) -> str:
    return block[start : start + size].split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def parse_details(block: bytes) -> Details:
    """The v6+ details layout (dji-log-parser ``layout/details.rs``), offsets in bytes."""
    (start_ms,) = struct.unpack_from("<q", block, 91)
    lon, lat = struct.unpack_from("<dd", block, 99)
    moment_lon = struct.unpack_from("<4d", block, 179)
    moment_lat = struct.unpack_from("<4d", block, 211)
    texts = {name: _text(block, 20 * i, 20) for i, name in enumerate(_ADDRESS)}
    texts["aircraft-name"] = _text(block, 280, 32)
    for i, kind in enumerate(("aircraft-serial", "camera-serial", "rc-serial", "battery-serial")):
        texts[kind] = _text(block, 312 + 16 * i, 16)
    return Details(
        start_ms=start_ms,
        lat=lat,
        lon=lon,
        takeoff_alt=struct.unpack_from("<f", block, 267)[0] / 10,
        product=block[271],
        platform=block[376],
        app_version=".".join(str(b) for b in block[377:380]),
        texts=texts,
        moments=[
            (math.degrees(la), math.degrees(lo))
            for la, lo in zip(moment_lat, moment_lon, strict=True)
            if la or lo
        ],
    )


def _check_details(details: Details, display: str, problems: ProblemLog) -> None:
    plausible = 1_262_304_000_000 <= details.start_ms <= 4_102_444_800_000  # 2010 .. 2100
    if not plausible or abs(details.lat) > 90 or abs(details.lon) > 180:
        problems.add(display, "implausible-details", "start time or takeoff point out of range")


def _walk(
    data: bytes, start: int, end: int, version: int, display: str, problems: ProblemLog
) -> Iterator[tuple[int, int, bytes]]:
    """(offset, type, raw payload) of each record; stops at the embedded JPEGs or the end."""
    wide = version >= 13
    pos, end = start, min(end, len(data))
    while pos < end and data[pos : pos + 2] != b"\xff\xd8":
        kind = data[pos]
        body = pos + (3 if wide else 2)
        length = (struct.unpack_from("<H", data, pos + 1)[0] if wide else data[pos + 1]) if body <= end else 0
        if body + length >= end:
            problems.add(display, "truncated-record", f"record type {kind} runs past the end", offset=pos)
            return
        if data[body + length] != 0xFF:
            problems.add(display, "bad-record", "record without its 0xFF end byte; skipped ahead", offset=pos)
            pos = data.find(b"\xff", pos + 1, end) + 1 or end
            continue
        yield pos, kind, data[body : body + length]
        pos = body + length + 1


@dataclass
class _Frame:
    """Records from one OSD record to the next: the CUSTOM record among them gives their UTC time."""

    number: int
    lat: float
    lon: float
    height: float
    time: str | None = None
    others: list[tuple[str, float, float, int, str]] = field(default_factory=list)  #: HOME / APP_GPS


def _frames(data: bytes, log: _Log, display: str, problems: ProblemLog) -> None:
    end = min(log.detail_offset, len(data)) if log.version < 12 else len(data)
    start = PREFIX_SIZE if log.version < 12 else PREFIX_SIZE + 436
    walked = list(_walk(data, start, end, log.version, display, problems))
    log.records = len(walked)
    scrambled = log.version >= 7
    plain = [
        (n, kind, descramble(raw, kind) if scrambled else raw) for n, (_, kind, raw) in enumerate(walked, 1)
    ]
    log.tracks += decode_frames(plain, display)
    log.jpegs = len(_JPEG.findall(data, start, end))


def decode_frames(records: Iterable[tuple[int, int, bytes]], display: str) -> list[TrackPoint]:
    """Points from ``(record number, type, plain payload)``: one decoder for v6-v12 and decrypted v13+."""
    frames = [_Frame(0, 0.0, 0.0, 0.0)]  # holds what comes before the first OSD record
    for number, kind, payload in records:
        if kind in (1, 2, 14) and len(payload) >= 16:
            first, second = struct.unpack_from("<dd", payload)
            if kind == 14:  # APP_GPS: degrees, latitude first
                frames[-1].others.append(("operator", first, second, number, "APP_GPS"))
            elif kind == 2:  # HOME: radians, longitude first
                frames[-1].others.append(("home", math.degrees(second), math.degrees(first), number, "HOME"))
            elif len(payload) >= 18:  # OSD: radians, longitude first; height above takeoff in dm
                height = struct.unpack_from("<h", payload, 16)[0] / 10
                frames.append(_Frame(number, math.degrees(second), math.degrees(first), height))
        elif kind == 5 and len(payload) >= 18:
            frames[-1].time = _iso(struct.unpack_from("<q", payload, 10)[0])
    return _frame_points(frames, display)


def _frame_points(frames: list[_Frame], display: str) -> list[TrackPoint]:
    """One aircraft point per OSD fix; HOME and APP_GPS (repeated every ~10 frames) once per change."""
    out: list[TrackPoint] = []
    last: dict[str, tuple[float, float]] = {}
    for frame in frames:
        basis = "utc" if frame.time else None
        if frame.number and (frame.lat, frame.lon) != (0.0, 0.0):
            source = f"DJI record {frame.number} OSD"
            args = (frame.lat, frame.lon, frame.height, "relative", frame.time, None, basis)
            out.append(TrackPoint(display, "aircraft", *args, source, frame.number))
        for kind, lat, lon, number, name in frame.others:
            if last.get(kind) != (lat, lon) and (lat, lon) != (0.0, 0.0):
                last[kind] = (lat, lon)
                source = f"DJI record {number} {name}"
                out.append(
                    TrackPoint(display, kind, lat, lon, None, None, frame.time, None, basis, source, number)
                )
    return out


def _iso(ms: int) -> str | None:
    try:
        return (
            datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    except (OverflowError, OSError, ValueError):
        return None


def _identities(details: Details, display: str) -> list[Identity]:
    out = [
        Identity(kind, value, display, f"details {kind}")
        for kind, value in details.texts.items()
        if kind not in _ADDRESS and value
    ]
    out += [
        Identity("address", value, display, f"details {name}")
        for name in _ADDRESS
        if (value := details.texts[name]) and value != "Map Loading"  # the app's placeholder
    ]
    app = f"{_PLATFORMS.get(details.platform, f'platform {details.platform}')} {details.app_version}"
    out.append(Identity("app-version", app, display, "details app platform/version"))
    return out


def _detail_points(details: Details, display: str) -> list[TrackPoint]:
    start = _iso(details.start_ms)
    points = [
        TrackPoint(
            display, "home", details.lat, details.lon, None, None, start, None, "utc", "details takeoff point"
        )
    ]
    points += [
        TrackPoint(display, "aircraft", lat, lon, None, None, None, None, None, f"details moment picture {i}")
        for i, (lat, lon) in enumerate(details.moments, 1)
    ]
    return points


def _records(log: _Log, display: str, digest: str) -> MediaRecords:
    details = log.details
    identities = _identities(details, display) if details else []
    tracks = (_detail_points(details, display) if details else []) + log.tracks
    extra = {"version": str(log.version), "records": str(log.records), "embedded_jpegs": str(log.jpegs)}
    if log.version >= 13:
        extra["frames"] = log.frames_note
    elif log.version >= 6:
        extra["frames"] = "decoded offline (OSD, HOME, APP_GPS)"
    if log.department is not None:
        extra["department"] = _DEPARTMENTS.get(log.department, str(log.department))
    if details:
        extra["takeoff_altitude_m"] = f"{details.takeoff_alt:.1f} (datum not stated)"
    start = _iso(details.start_ms) if details else None
    item = MediaItem(
        path=display,
        sha256=digest,
        format="dji-flight-record",
        make="DJI",
        model=PRODUCTS.get(details.product, f"product type {details.product}") if details else None,
        serials={i.kind: i.value for i in identities if i.kind.endswith("-serial")},
        captured_at=start,
        captured_at_utc=start,
        lat=details.lat if details else None,
        lon=details.lon if details else None,
        extra=extra,
    )
    return MediaRecords(item, tracks, identities)
