"""GoPro GPMF telemetry (the ``gpmd`` track of GoPro MP4s, and Karma drone streams inside it).

Why our own decoder: the format is small (key-length-value, see gopro/gpmf-parser's README) and only a
handful of keys matter for an audit; the PyPI wrappers either need the C library or decode every sensor
stream into arrays. Values are read with ``struct`` and bounded by each KLV's declared length.

What is decoded (facts and scale rules checked against ExifTool 13's GoPro.pm and the gpmf-parser docs):

* ``GPS5`` (lat, lon, alt, 2D and 3D speed) with the stream's ``SCAL``; ``GPSU`` (UTC, ``yymmddhhmmss.sss``)
  dates the first fix of each payload; ``GPSF`` is the fix type (0 = none, 2 = 2D, 3 = 3D); ``GPSA``
  ``MSLV`` says altitudes are above mean sea level, otherwise GoPro documents WGS-84 (ellipsoid).
* ``GPS9`` (Hero 13): as GPS5 plus days-since-2000 and seconds, so every fix carries its own UTC time.
* Karma: ``GPRI`` ("GPS RAW") and ``GLPI`` ("Position") are the aircraft's GPS; ``BPOS`` ("Controller")
  is the controller's position - the operator. GPRI/GLPI times are on the drone's system clock; ``SYST``
  pairs (system seconds, Unix seconds) calibrate it. Like ExifTool we interpolate linearly between
  calibration points and extrapolate from the end segments; with a single point we shift by its offset
  (ExifTool 13.59 gives every fix that point's time, and a zero date when it is a whole second).
  BPOS has no time field, so operator points carry none.
* Identity: ``DVNM`` (device names), ``CASN`` (camera serial), ``MINF`` (model), ``FMWR``/``FWVS``
  (firmware), ``MUID`` (media unique id).

Not decoded: the IMU, exposure, face and audio streams (no location or identity), nested array TYPE
definitions (``[...]``), and ``STMP`` microsecond stamps.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from droneaudit.readers.media.mp4_boxes import Note

#: struct code and byte size per GPMF type character ('?' is a structure described by TYPE).
FORMATS: dict[str, tuple[str, int]] = {
    "b": ("b", 1), "B": ("B", 1), "c": ("c", 1), "s": ("h", 2), "S": ("H", 2), "l": ("i", 4),
    "L": ("I", 4), "f": ("f", 4), "d": ("d", 8), "j": ("q", 8), "J": ("Q", 8), "q": ("i", 4),
    "Q": ("q", 8), "F": ("4s", 4), "G": ("16s", 16), "U": ("16s", 16),
}  # fmt: skip
MAX_DEPTH = 8
#: KLVs per payload (a real one has a few hundred).
MAX_KLV = 100_000
_GPS_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: Positions worth keeping, and who they locate.
POSITION_KEYS = {
    "GPS5": "aircraft",
    "GPS9": "aircraft",
    "GPRI": "aircraft",
    "GLPI": "aircraft",
    "BPOS": "operator",
}
#: Text keys that identify the device.
ID_KEYS = {"CASN": "camera-serial", "MINF": "model", "FMWR": "firmware", "FWVS": "accessory-firmware"}


@dataclass(frozen=True, slots=True)
class Klv:
    """One key-length-value entry: 4-character key, type, structure size, repeat count, data."""

    key: str
    type: str  #: type character, "\0" for a nested container
    size: int  #: structure size in bytes
    repeat: int
    data: bytes
    offset: int  #: of the KLV header, absolute in the file when the caller gave a base


@dataclass(slots=True)
class Fix:
    """One position from a GPMF stream (degrees, metres)."""

    key: str  #: GPS5, GPS9, GPRI, GLPI or BPOS
    kind: str  #: aircraft | operator
    lat: float
    lon: float
    alt: float | None
    payload: int  #: 1-based sample index of the payload in the track
    index: int  #: 1-based position within the payload's stream
    device: str = ""
    time_utc: str | None = None
    system_s: float | None = None  #: drone system clock (Karma), converted once SYST is known
    fix_type: int | None = None  #: GPSF
    alt_ref: str | None = None


@dataclass(slots=True)
class Telemetry:
    """Everything found in one track's payloads, in order."""

    fixes: list[Fix] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  #: ID_KEYS kind (and "capture-uuid") -> value
    clock: list[tuple[float, float]] = field(default_factory=list)  #: SYST (system s, Unix s)
    payloads: int = 0


@dataclass(slots=True)
class _Stream:
    """Per-STRM state: the modifiers that apply to the data keys after them."""

    device: str = ""
    scal: tuple[float, ...] = ()
    type_def: str = ""
    gpsu: str | None = None
    gpsf: int | None = None
    gpsa: str = ""


def iter_klv(data: bytes, base: int, note: Note) -> Iterator[Klv]:
    """The KLVs at one level of ``data``; a header that cannot be right ends the level with a problem."""
    pos = 0
    for _ in range(MAX_KLV):
        if pos + 8 > len(data):
            if data[pos:].strip(b"\x00"):
                note(
                    "gpmf-truncated",
                    f"{len(data) - pos} bytes left where a GPMF header was expected",
                    base + pos,
                )
            return
        key, kind, size, repeat = struct.unpack_from(">4scBH", data, pos)
        length = size * repeat
        type_char = kind.decode("latin-1")
        if not all(0x20 <= c < 0x7F for c in key) or (type_char not in FORMATS and type_char not in "\0?"):
            note("gpmf-bad-klv", f"not a GPMF key/type: {key!r} {kind!r}", base + pos)
            return
        if pos + 8 + length > len(data):
            note(
                "gpmf-truncated", f"{key.decode()} claims {length} bytes; the payload ends first", base + pos
            )
            return
        yield Klv(key.decode("ascii"), type_char, size, repeat, data[pos + 8 : pos + 8 + length], base + pos)
        pos += 8 + ((length + 3) & ~3)
    note("gpmf-klv-limit", f"more than {MAX_KLV} GPMF entries in one payload", base + pos)


def parse_payload(data: bytes, payload: int, tele: Telemetry, note: Note, base: int = 0) -> None:
    """Add what one GPMF payload (one ``gpmd`` sample, or a ``.raw`` file) holds to ``tele``."""
    tele.payloads += 1
    _walk(data, base, 0, _Stream(), payload, tele, note)


def _walk(data: bytes, base: int, depth: int, st: _Stream, payload: int, tele: Telemetry, note: Note) -> None:
    """One nesting level; each container (DEVC, STRM) starts fresh modifiers but keeps the device name."""
    if depth > MAX_DEPTH:
        note("gpmf-depth-limit", f"GPMF nested deeper than {MAX_DEPTH}", base)
        return
    for klv in iter_klv(data, base, note):
        if klv.type == "\0":
            _walk(klv.data, klv.offset + 8, depth + 1, _Stream(device=st.device), payload, tele, note)
        else:
            _value(klv, st, payload, tele, note)


def _value(klv: Klv, st: _Stream, payload: int, tele: Telemetry, note: Note) -> None:
    """Stream modifiers update ``st``; position and identity keys go to ``tele``."""
    key = klv.key
    if key == "DVNM":
        st.device = text(klv.data)
        if st.device and st.device not in tele.devices:
            tele.devices.append(st.device)
    elif key == "SCAL":
        st.scal = tuple(float(v) for row in values(klv, "") for v in row if isinstance(v, int | float))
    elif key == "TYPE":
        st.type_def = text(klv.data)
    elif key in ("GPSU", "GPSA"):
        setattr(st, key.lower(), text(klv.data))
    elif key == "GPSF":
        st.gpsf = _first_int(klv)
    elif key in ID_KEYS or key == "MUID":
        _identity(klv, tele)
    elif key == "SYST":
        tele.clock.extend((row[0], row[1]) for row in _scaled(klv, st, note) if len(row) >= 2)
    elif key in POSITION_KEYS:
        _positions(klv, st, payload, tele, note)


def _identity(klv: Klv, tele: Telemetry) -> None:
    """First non-empty value per kind; MUID is binary and kept as hex (ExifTool prints it so too)."""
    if klv.key == "MUID":
        value = klv.data.hex() if klv.type != "c" else text(klv.data)
        kind = "capture-uuid"
    else:
        value, kind = text(klv.data), ID_KEYS[klv.key]
    if value.strip("0") and kind not in tele.ids:
        tele.ids[kind] = value


def text(data: bytes) -> str:
    """A GPMF string: latin-1, cut at the first NUL, trimmed."""
    return data.split(b"\x00", 1)[0].decode("latin-1").strip()


def _first_int(klv: Klv) -> int | None:
    """The first integer of a simple-typed KLV (GPSF), or None."""
    rows = values(klv, "")
    first = rows[0][0] if rows and rows[0] else None
    return first if isinstance(first, int) else None


def values(klv: Klv, type_def: str) -> list[tuple[int | float | bytes, ...]]:
    """One tuple per sample. Simple types repeat the type character to fill the structure size;
    '?' uses the TYPE string of its stream. Unknown or inconsistent layouts give no rows."""
    layout = type_def if klv.type == "?" else klv.type * max(1, klv.size // FORMATS[klv.type][1])
    if klv.type == "c" or not layout or any(ch not in FORMATS for ch in layout):
        return []
    fmt = ">" + "".join(FORMATS[ch][0] for ch in layout)
    width = struct.calcsize(fmt)
    if width != klv.size or klv.size == 0:
        return []
    rows = [struct.unpack_from(fmt, klv.data, i * width) for i in range(klv.repeat)]
    return [_fixed_point(row, layout) for row in rows]


def _fixed_point(row: tuple[int | float | bytes, ...], layout: str) -> tuple[int | float | bytes, ...]:
    """q and Q are Q15.16 and Q31.32 fixed point."""
    if "q" not in layout and "Q" not in layout:
        return row
    shift = {"q": 1 << 16, "Q": 1 << 32}
    return tuple(
        v / shift[ch] if ch in shift and isinstance(v, int) else v for v, ch in zip(row, layout, strict=True)
    )


def _scaled(klv: Klv, st: _Stream, note: Note) -> list[tuple[float, ...]]:
    """Numeric rows divided by SCAL (element i by SCAL[i % len], as ExifTool's ScaleValues does)."""
    rows = values(klv, st.type_def)
    if not rows and klv.repeat:
        note(
            "gpmf-bad-structure",
            f"{klv.key}: layout {st.type_def or klv.type!r} does not fit {klv.size} bytes",
            klv.offset,
        )
        return []
    scal = [s if s else 1.0 for s in st.scal] or [1.0]
    return [
        tuple(float(v) / scal[i % len(scal)] for i, v in enumerate(row) if isinstance(v, int | float))
        for row in rows
    ]


def _positions(klv: Klv, st: _Stream, payload: int, tele: Telemetry, note: Note) -> None:
    """Every scaled row of a position stream becomes a Fix, numbered within its payload."""
    rows = _scaled(klv, st, note)
    for i, row in enumerate(rows, start=1):
        fix = _fix(klv.key, row, st, payload, i)
        if fix is not None:
            tele.fixes.append(fix)


def _fix(key: str, row: tuple[float, ...], st: _Stream, payload: int, index: int) -> Fix | None:
    """Field order per stream: GPS5/GPS9/BPOS start (lat, lon, alt); GPRI/GLPI start with a time."""
    timed = key in ("GPRI", "GLPI")
    lat_at = 1 if timed else 0
    if len(row) < lat_at + 3:
        return None
    lat, lon, alt = row[lat_at : lat_at + 3]
    fix = Fix(key, POSITION_KEYS[key], lat, lon, alt, payload, index, st.device, fix_type=st.gpsf)
    if timed:
        fix.system_s = row[0]
    elif key == "GPS9" and len(row) >= 7:
        fix.time_utc = iso_utc(_GPS_EPOCH + timedelta(days=row[5], seconds=row[6]))
    elif key == "GPS5" and index == 1 and st.gpsu:
        fix.time_utc = gpsu_time(st.gpsu)
    if key in ("GPS5", "GPS9"):
        fix.alt_ref = "msl" if st.gpsa == "MSLV" else "ellipsoid"
    return fix


def gpsu_time(value: str) -> str | None:
    """``yymmddhhmmss.sss`` (UTC) to ISO 8601 with Z; None when it does not parse."""
    try:
        stamp = datetime.strptime(value[:12], "%y%m%d%H%M%S").replace(tzinfo=UTC)
        frac = float("0" + value[12:]) if value[12:].startswith(".") else 0.0
    except ValueError:
        return None
    return iso_utc(stamp + timedelta(seconds=frac))


def iso_utc(moment: datetime) -> str:
    """Millisecond ISO 8601 in UTC, e.g. ``2017-04-17T19:27:57.526Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finish(tele: Telemetry) -> None:
    """Date the system-clock fixes (GPRI/GLPI) once every SYST calibration point of the track is known."""
    clock = sorted(tele.clock)
    if not clock:
        return
    for fix in tele.fixes:
        if fix.system_s is not None:
            unix = system_to_unix(clock, fix.system_s)
            fix.time_utc = iso_utc(datetime.fromtimestamp(unix, UTC))


def system_to_unix(clock: list[tuple[float, float]], system_s: float) -> float:
    """Piecewise-linear map through sorted (system, Unix) points, extrapolating from the end segments."""
    if len(clock) == 1:
        return clock[0][1] + (system_s - clock[0][0])
    keys = [p[0] for p in clock]
    i = min(max(bisect.bisect_right(keys, system_s) - 1, 0), len(clock) - 2)
    (s0, u0), (s1, u1) = clock[i], clock[i + 1]
    if s1 == s0:
        return u0
    return u0 + (u1 - u0) * (system_s - s0) / (s1 - s0)
