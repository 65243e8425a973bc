"""DJI ``djmd`` / ``dbgi`` timed metadata: protobuf messages, one per video frame.

Why our own decoder: DJI publishes no ``.proto`` files, so a generated protobuf class is not possible,
and the ``protobuf`` runtime cannot read a message without its schema. The wire format needs only a
varint reader and a length-delimited walk (https://protobuf.dev/programming-guides/encoding/), which is
written here with every length checked against the bytes that remain.

Field paths follow ExifTool 13's ``Image::ExifTool::DJI::Protobuf`` table (DJI.pm 1.19; facts only, no
code): a message names its schema in a string ending ``.proto`` (usually at 1-1-1), and fields are
addressed by their nested field numbers, e.g. ``dvtm_wm261`` 3-3-4-1 is the GPS sub-message with
1 = coordinate units (1 = degrees, else radians), 2 = latitude, 3 = longitude (doubles). Altitudes are
integers in millimetres (absolute, read as MSL like the SRT ``abs_alt``) or floats in millimetres
(relative to takeoff); ``GPSDateTime`` is a string. Models without a GPSDateTime field get no UTC time:
ExifTool then synthesises one from the QuickTime CreateDate plus the sample time, assuming CreateDate is
UTC - a guess this reader does not make (the sample time goes into ``TrackPoint.source`` instead).

``dbgi`` (debug) tracks are not mapped by ExifTool either; only their schema name and size are reported.
A schema ExifTool does not know (e.g. ``dvtm_wm169``, DJI O3) is reported, not guessed at.
"""

from __future__ import annotations

import functools
import math
import re
import struct
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

Path = tuple[int, ...]
Value = int | bytes
#: Nested messages followed; DJI's go 5 deep.
MAX_DEPTH = 12
#: Fields read per message (a real djmd sample has a few hundred).
MAX_FIELDS = 20_000
SERIAL: Path = (1, 1, 5)
MODEL: Path = (1, 1, 10)
PROTOCOL: Path = (1, 1, 1)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one schema keeps the fields that locate or identify (paths from ExifTool's DJI table)."""

    name: str  #: product name, from ExifTool's notes
    handheld: bool = False  #: Osmo cameras: their GPS is the person carrying them
    gps: Path | None = None
    abs_alt: Path | None = None  #: int64 mm, absolute (MSL)
    rel_alt: Path | None = None  #: float mm, above takeoff
    gps_alt: Path | None = None  #: unsigned mm, datum unstated (Osmo Action)
    utc: Path | None = None  #: GPSDateTime string
    degrees: bool = False  #: coordinates in degrees unless the GPS message says otherwise
    model: Path | None = MODEL
    serial2: Path | None = None
    attitude: Path | None = None  #: DroneInfo roll, pitch, yaw (int64 tenths of a degree)
    gimbal: Path | None = None  #: GimbalInfo pitch, roll, yaw (int64 tenths of a degree)


def _action(name: str, abs_alt: bool = False) -> Layout:
    """The Osmo Action/360 layout: everything under 3-4-2."""
    alt: Path = (3, 4, 2, 2)
    return Layout(
        name, handheld=True, gps=(3, 4, 2, 1), utc=(3, 4, 2, 6, 1),
        abs_alt=alt if abs_alt else None, gps_alt=None if abs_alt else alt,
    )  # fmt: skip


def _drone(name: str, *, utc: bool = False, model: bool = True, degrees: bool = False) -> Layout:
    """The layout most drones share (Mavic 3 family, Mini 4 Pro, Air 3, Matrice): position under 3-3."""
    return Layout(
        name, gps=(3, 3, 4, 1), abs_alt=(3, 3, 4, 2), rel_alt=(3, 3, 5, 1),
        utc=(3, 3, 4, 6, 1) if utc else None, degrees=degrees, model=MODEL if model else None,
        attitude=(3, 3, 3), gimbal=(3, 4, 3),
    )  # fmt: skip


LAYOUTS: dict[str, Layout] = {
    "dvtm_ac203": _action("Osmo Action 4"),
    "dvtm_ac204": _action("Osmo Action 5"),
    "dvtm_ac206": _action("Osmo Action 6"),
    "dvtm_oq101": _action("Osmo 360", abs_alt=True),
    "dvtm_PP-101": Layout("Osmo Pocket 3", handheld=True),
    "dvtm_AVATA2": Layout("Avata 2", gps=(3, 4, 4, 1), abs_alt=(3, 4, 4, 2), rel_alt=(3, 4, 5, 1),
                          serial2=(2, 2, 3, 1), attitude=(3, 4, 3)),
    "dvtm_dji_neo": Layout("Neo", gps=(3, 4, 4, 1), abs_alt=(3, 4, 4, 2), serial2=(2, 2, 3, 1),
                           attitude=(3, 4, 3)),
    "dvtm_wm265e": _drone("Mavic 3"),
    "dvtm_pm320": _drone("Matrice 30"),
    "dvtm_Mini4_Pro": _drone("Mini 4 Pro"),
    "dvtm_Air3": _drone("Air 3", model=False),
    "dvtm_Air3s": _drone("Air 3S", model=False),
    "dvtm_wa345e": _drone("Matrice 4E", utc=True),
    "dvtm_wm261": _drone("Mavic 3 Pro", utc=True),
    "dvtm_Mavic4": Layout("Mavic 4 Pro", gps=(3, 3, 4, 1), abs_alt=(3, 3, 4, 2), rel_alt=(3, 3, 5, 1),
                          degrees=True, attitude=(3, 3, 3)),
    "dvtm_Mini5Pro": Layout("Mini 5 Pro", gps=(3, 3, 4, 1), abs_alt=(3, 3, 4, 2), degrees=True),
}  # fmt: skip


@dataclass(slots=True)
class Frame:
    """What one djmd sample says, converted (degrees, metres, ISO 8601 UTC)."""

    sample: int
    time_s: float | None = None  #: sample start in the track, seconds
    lat: float | None = None
    lon: float | None = None
    abs_alt: float | None = None
    rel_alt: float | None = None
    gps_alt: float | None = None
    time_utc: str | None = None
    attitude: tuple[float, float, float] | None = None  #: roll, pitch, yaw
    gimbal: tuple[float, float, float] | None = None  #: pitch, roll, yaw


@dataclass(slots=True)
class Decoded:
    """One track's worth of djmd samples."""

    protocol: str | None = None  #: e.g. "dvtm_wm261" (".proto" removed)
    layout: Layout | None = None
    serial: str | None = None
    serial2: str | None = None
    model: str | None = None
    frames: list[Frame] = field(default_factory=list)
    bad_samples: list[int] = field(default_factory=list)  #: samples that are not valid protobuf


def varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, next position); None when the bytes end first or it runs past 10 bytes."""
    if pos < len(data) and data[pos] < 0x80:  # most keys and small numbers: one byte
        return data[pos], pos + 1
    value = shift = 0
    for i in range(pos, min(pos + 10, len(data))):
        value |= (data[i] & 0x7F) << shift
        if data[i] < 0x80:
            return value, i + 1
        shift += 7
    return None


def message(data: bytes) -> list[tuple[int, int, Value]] | None:
    """(field number, wire type, value) in order; None unless the whole buffer is well-formed.
    Varints come back as int, fixed64/32 and length-delimited fields as bytes; group markers (wire
    types 3 and 4, deprecated) carry no value, as in ExifTool."""
    out: list[tuple[int, int, Value]] = []
    pos, end = 0, len(data)
    while pos < end and len(out) < MAX_FIELDS:
        key = varint(data, pos)
        if key is None or key[0] < 8:
            return None
        tag, pos = key
        wire = tag & 7
        if wire == 0 or wire == 2:
            got = varint(data, pos)
            if got is None or (wire == 2 and got[1] + got[0] > end):
                return None
            value: Value = got[0] if wire == 0 else data[got[1] : got[1] + got[0]]
            pos = got[1] if wire == 0 else got[1] + got[0]
        elif wire == 1 or wire == 5:
            value, pos = data[pos : pos + (8 if wire == 1 else 4)], pos + (8 if wire == 1 else 4)
            if pos > end:
                return None
        elif wire in (3, 4):
            value = b""
        else:
            return None
        out.append((tag >> 3, wire, value))
    return out if pos == end else None


def flatten(data: bytes, wanted: AbstractSet[Path]) -> tuple[dict[Path, Value], str | None, bool]:
    """First value at each wanted path, the schema name if one is seen, and whether the sample parsed.
    Only messages on the way to a wanted path are opened."""
    wanted = frozenset(wanted)
    prefixes = _prefixes(wanted)
    found: dict[Path, Value] = {}
    protocol: list[str] = []
    ok = _flatten(data, (), wanted, prefixes, found, protocol)
    return found, (protocol[0] if protocol else None), ok


@functools.lru_cache(maxsize=64)
def _prefixes(wanted: frozenset[Path]) -> frozenset[Path]:
    """Paths of the messages that lead to a wanted field (cached: one set per layout)."""
    return frozenset(p[:i] for p in wanted for i in range(1, len(p)))


def _flatten(
    data: bytes,
    at: Path,
    wanted: AbstractSet[Path],
    prefixes: AbstractSet[Path],
    found: dict[Path, Value],
    proto: list[str],
) -> bool:
    """Walk one message at path ``at``; False when it is not a well-formed message."""
    fields = message(data) if len(at) <= MAX_DEPTH else None
    if fields is None:
        return False
    for number, wire, value in fields:
        path = (*at, number)
        if isinstance(value, bytes) and wire == 2 and value.endswith(b".proto") and not proto:
            proto.append(value[:-6].decode("latin-1"))
        if path in wanted:
            found.setdefault(path, value)
        elif path in prefixes and isinstance(value, bytes) and wire == 2:
            _flatten(value, path, wanted, prefixes, found, proto)
    return True


@functools.lru_cache(maxsize=64)
def wanted_paths(layout: Layout | None) -> frozenset[Path]:
    """The schema name always; the serial and the layout's fields only for a schema ExifTool maps."""
    paths: set[Path] = {PROTOCOL}
    if layout is not None:
        paths.add(SERIAL)
        optional = (layout.gps, layout.abs_alt, layout.rel_alt, layout.gps_alt, layout.utc, layout.model,
                    layout.serial2, layout.attitude, layout.gimbal)  # fmt: skip
        paths.update(p for p in optional if p is not None)
    return frozenset(paths)


def schema(data: bytes) -> str | None:
    """The schema name of a sample (``dbginfo_…`` for dbgi debug tracks), without mapping any field."""
    return flatten(data, {PROTOCOL})[1]


def decode_sample(data: bytes, sample: int, time_s: float | None, state: Decoded) -> None:
    """Add one djmd sample to ``state``; a schema named in an earlier sample carries over, as in ExifTool."""
    found, protocol, ok = flatten(data, wanted_paths(state.layout))
    if protocol is not None and protocol != state.protocol:
        state.protocol, state.layout = protocol, LAYOUTS.get(protocol)
        found, _proto, ok = flatten(data, wanted_paths(state.layout))
    if not ok:
        state.bad_samples.append(sample)
        return
    if state.layout is not None:
        _identity(found, state, state.layout)
        frame = frame_from(found, state.layout, sample, time_s)
        if frame.lat is not None or frame.time_utc is not None:
            state.frames.append(frame)


def _identity(found: dict[Path, Value], state: Decoded, layout: Layout) -> None:
    """Serial, model and second serial: the first sample that has them wins."""
    state.serial = state.serial or _string(found.get(SERIAL))
    if layout.model:
        state.model = state.model or _string(found.get(layout.model))
    if layout.serial2:
        state.serial2 = state.serial2 or _string(found.get(layout.serial2))


def frame_from(found: dict[Path, Value], layout: Layout, sample: int, time_s: float | None) -> Frame:
    """Convert one sample's raw fields: degrees, metres, ISO 8601 UTC, angles in degrees."""
    frame = Frame(sample, time_s)
    if layout.gps and isinstance(gps := found.get(layout.gps), bytes):
        frame.lat, frame.lon = _coordinates(gps, layout.degrees)
    frame.abs_alt = _scaled(_int64(found.get(layout.abs_alt)) if layout.abs_alt else None)
    frame.rel_alt = _scaled(_float32(found.get(layout.rel_alt)) if layout.rel_alt else None)
    frame.gps_alt = _scaled(_uint(found.get(layout.gps_alt)) if layout.gps_alt else None)
    if layout.utc:
        frame.time_utc = gps_datetime(_string(found.get(layout.utc)))
    frame.attitude = _angles(found.get(layout.attitude)) if layout.attitude else None
    frame.gimbal = _angles(found.get(layout.gimbal)) if layout.gimbal else None
    return frame


def _coordinates(gps: bytes, degrees: bool) -> tuple[float | None, float | None]:
    """GPS sub-message: field 1 = units (1 degrees, else radians; absent = the layout's default)."""
    fields = {n: v for n, _w, v in reversed(message(gps) or [])}
    units = fields.get(1)
    in_degrees = units == 1 if isinstance(units, int) else degrees
    lat, lon = _double(fields.get(2)), _double(fields.get(3))
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None, None
    return (lat, lon) if in_degrees else (math.degrees(lat), math.degrees(lon))


def _angles(value: Value | None) -> tuple[float, float, float] | None:
    """Three int64 fields in tenths of a degree."""
    if not isinstance(value, bytes):
        return None
    fields = {n: v for n, _w, v in reversed(message(value) or [])}
    # proto3 leaves zero fields out, so a missing angle is 0 (ExifTool's notes say the same)
    first, second, third = ((_int64(fields.get(n)) or 0) / 10 for n in (1, 2, 3))
    return first, second, third


def _string(value: Value | None) -> str | None:
    """A length-delimited field as text (None when absent, empty or not bytes)."""
    if not isinstance(value, bytes):
        return None
    text = value.decode("utf-8", "replace").strip("\x00 ")
    return text or None


def _uint(value: Value | None) -> int | None:
    """A varint as an unsigned number."""
    return value if isinstance(value, int) else None


def _int64(value: Value | None) -> int | None:
    """Two's complement int64 from a varint (DJI writes negative values as 10-byte varints)."""
    if not isinstance(value, int):
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def _float32(value: Value | None) -> float | None:
    """A fixed32 field as a little-endian float."""
    return float(struct.unpack("<f", value)[0]) if isinstance(value, bytes) and len(value) == 4 else None


def _double(value: Value | None) -> float | None:
    """A fixed64 field as a little-endian double."""
    return float(struct.unpack("<d", value)[0]) if isinstance(value, bytes) and len(value) == 8 else None


def _scaled(value: float | None) -> float | None:
    """Millimetres to metres."""
    return value / 1000 if value is not None and math.isfinite(value) else None


_DATETIME = re.compile(r"(\d{4})[-:](\d{2})[-:](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?")


def gps_datetime(text: str | None) -> str | None:
    """``2024-05-01 12:34:56[.789]`` (GPS time, UTC) to ISO 8601 with Z; None when it does not parse."""
    m = _DATETIME.match(text or "")
    if m is None:
        return None
    year, month, day, hour, minute, sec, frac = m.groups()
    millis = (frac or ".")[:4].ljust(4, "0")
    return f"{year}-{month}-{day}T{hour}:{minute}:{sec}{millis}Z"
