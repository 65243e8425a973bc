"""Airdata-style flight CSV exports: one aircraft fix per row, UTC times, home point when it is recorded.

Airdata's "Downloadable Flight Data CSV" (and older conversions with the same column names, such as
DROP's ``2016-09-15_13-51-19_Standard.csv``) is what a DJI log becomes after it was uploaded to a
third-party service, so the file is evidence twice: of the flight, and of that upload. Columns are
``name(unit)``; the reader goes by the names, never by position, because the two generations order
them differently.

Decisions, each tested:

* **Position** - ``latitude``/``longitude`` in decimal degrees; 0,0 rows are "no fix" (one counted
  ``gps-no-fix`` problem), not points.
* **Time** - ``datetime(utc)`` is UTC by its header, so it becomes ``time_utc`` with basis "utc".
  Airdata writes whole seconds; ``time(millisecond)`` (time since the app started recording) is kept
  out of the timestamp rather than added to it, because nothing says which millisecond the UTC second
  was stamped at.
* **Altitude** - ``altitude_above_seaLevel`` -> MSL; else ``altitude`` -> MSL (in the newer export it
  is column-for-column equal to ``altitude_above_seaLevel``, so the older export's same name is read
  the same way); else ``height_above_takeoff`` / ``ascent`` -> relative. Feet are converted to metres.
* **Home** - columns named ``home…lat…``/``home…lon…`` when present; otherwise the aircraft position on
  the row whose ``message`` says the home point was recorded or updated (DJI records the home point
  where the aircraft stands), marked as such in ``source``.
* **Operator** - ``APPGPS``/``RCGPS`` latitude/longitude columns (Flight Reader style), when present.
* **Serials** - any column whose name holds ``serial``, one ``Identity`` per distinct value.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.source import GZIP_MAGIC, read_bounded

MAX_BYTES = 512 << 20
FEET = 0.3048
_HEADER_CELL = re.compile(r"^\s*([^()]*?)\s*(?:\(([^)]*)\))?\s*$")
_UTC = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z?$")
_HOME_MESSAGE = re.compile(r"home\s*point\s+(?:recorded|updated)", re.IGNORECASE)
#: Altitude columns by preference, with the reference each one states.
_ALTITUDES = (
    ("altitude_above_sealevel", "msl"),
    ("altitude", "msl"),
    ("height_above_takeoff", "relative"),
    ("ascent", "relative"),
)
#: Extra position column prefixes (lower case, separators removed) -> TrackPoint kind.
_OTHER_POSITIONS = {"home": "home", "appgps": "operator", "rcgps": "operator"}
_SERIAL_KINDS = (("battery", "battery-serial"), ("camera", "camera-serial"), ("rc", "rc-serial"))


@dataclass(frozen=True)
class _Column:
    index: int
    name: str  #: lower-case name without the unit
    unit: str  #: lower-case unit inside the parentheses, "" when none
    label: str  #: the header cell as written


@dataclass
class _Layout:
    """Where the fields this reader needs sit in one file's header."""

    lat: int
    lon: int
    time: int | None
    alt: tuple[_Column, str] | None
    message: int | None
    others: list[tuple[str, str, int, int]] = field(default_factory=list)  #: (kind, label, lat, lon)
    serials: list[_Column] = field(default_factory=list)


@dataclass
class _State:
    tracks: list[TrackPoint] = field(default_factory=list)
    seen: set[tuple[str, float, float]] = field(default_factory=set)
    rows: int = 0
    no_fix: int = 0
    first_no_fix: int | None = None
    first_time: str | None = None
    first_written: str | None = None  #: the first datetime cell as written


class AirdataCsvReader:
    """Airdata CSV flight exports, recognised by their header (``latitude``, ``longitude`` and
    ``datetime(utc)`` or ``flycState`` columns), not by the ``.csv`` extension."""

    name = "airdata-csv"

    def sniff(self, head: bytes, path: Path) -> float:
        if any(b < 0x09 for b in head):  # NUL and other low controls never occur in CSV text: binary
            return -1.0
        names = {c.name for c in _columns(_first_line(path, head))}
        if {"latitude", "longitude"} <= names and names & {"datetime", "flycstate"}:
            return 0.7
        return -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        data, digest, gzipped = read_bounded(path, display, ctx.problems, MAX_BYTES)
        fmt = "airdata-csv.gz" if gzipped else "airdata-csv"
        ctx.media.append(parse(data, display, digest, fmt, ctx.problems))
        return fmt, digest


def _first_line(path: Path, head: bytes) -> str:
    """The header line; the registry's 64-byte head rarely holds all of it."""
    data = head
    if not head.startswith(GZIP_MAGIC):
        try:
            with path.open("rb") as f:
                data = f.read(8192)
        except OSError:
            pass
    return re.split(r"[\r\n]", data.decode("utf-8", "replace").lstrip("\ufeff"), maxsplit=1)[0]


def _columns(line: str) -> list[_Column]:
    try:
        cells = next(csv.reader([line]), [])
    except csv.Error:  # binary junk: not a header
        return []
    out = []
    for i, cell in enumerate(cells):
        m = _HEADER_CELL.match(cell)
        if m:
            out.append(_Column(i, m.group(1).lower(), (m.group(2) or "").lower(), cell.strip()))
    return out


def parse(data: bytes, display: str, digest: str, fmt: str, problems: ProblemLog) -> MediaRecords:
    """The records for one export's bytes; damage goes to ``problems``, never an exception."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    rows = _rows(text, display, problems)
    layout = _layout(_columns(re.split(r"[\r\n]", text, maxsplit=1)[0])) if rows else None
    if layout is None:
        problems.add(display, "empty-file" if not text.strip() else "bad-header", _why(text), offset=0)
        return MediaRecords(MediaItem(display, digest, fmt))
    state = _State()
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=1):
        if row:
            _row(row, number, number == len(rows) - 1, width, layout, state, display, problems)
    if state.no_fix:
        problems.add(
            display, "gps-no-fix", "row without a GPS fix (0,0)", frame=state.first_no_fix, count=state.no_fix
        )
    identities = _identities(rows[1:], layout, display)
    return MediaRecords(_item(state, layout, identities, display, digest, fmt), state.tracks, identities)


def _rows(text: str, display: str, problems: ProblemLog) -> list[list[str]]:
    """All rows up to the first one the csv module cannot split (then a problem, and stop)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error as exc:
        problems.add(
            display, "bad-row", f"CSV row {len(rows)} is unreadable ({exc}); stopped", frame=len(rows)
        )
    return rows


def _why(text: str) -> str:
    return "the file holds no text" if not text.strip() else "no latitude/longitude columns in the header"


def _layout(columns: list[_Column]) -> _Layout | None:
    by_name = {c.name: c for c in columns}
    if "latitude" not in by_name or "longitude" not in by_name:
        return None
    alt = next(((by_name[n], ref) for n, ref in _ALTITUDES if n in by_name), None)
    time = by_name.get("datetime")
    message = by_name.get("message")
    return _Layout(
        lat=by_name["latitude"].index,
        lon=by_name["longitude"].index,
        time=time.index if time and time.unit == "utc" else None,
        alt=alt,
        message=message.index if message else None,
        others=_other_positions(columns),
        serials=[c for c in columns if "serial" in c.name],
    )


def _other_positions(columns: list[_Column]) -> list[tuple[str, str, int, int]]:
    """Home / app / RC position column pairs, e.g. ``HOME.latitude`` or ``home_lat``."""
    found: dict[str, dict[str, _Column]] = {}
    for col in columns:
        key = re.sub(r"[^a-z]", "", col.name)
        for prefix in _OTHER_POSITIONS:
            if key.startswith(prefix) and key[len(prefix) :] in ("lat", "latitude", "lon", "longitude"):
                found.setdefault(prefix, {})[key[len(prefix) : len(prefix) + 3]] = col
    return [
        (
            _OTHER_POSITIONS[p],
            f"{cols['lat'].label}/{cols['lon'].label}",
            cols["lat"].index,
            cols["lon"].index,
        )
        for p, cols in found.items()
        if {"lat", "lon"} <= cols.keys()
    ]


def _row(
    row: list[str],
    number: int,
    last: bool,
    width: int,
    layout: _Layout,
    state: _State,
    display: str,
    problems: ProblemLog,
) -> None:
    state.rows += 1
    if len(row) != width:
        code = "truncated-record" if last and len(row) < width else "bad-row"
        problems.add(display, code, f"row {number} has {len(row)} fields, the header {width}", frame=number)
        return
    pos = _pair(row, layout.lat, layout.lon)
    if pos is None:
        problems.add(display, "bad-row", f"row {number}: latitude/longitude are not numbers", frame=number)
        return
    time = _utc(row[layout.time]) if layout.time is not None else None
    if time and state.first_time is None:
        state.first_time, state.first_written = time, row[layout.time or 0].strip()
    if pos == (0.0, 0.0) or abs(pos[0]) > 90 or abs(pos[1]) > 180:
        state.no_fix += 1
        state.first_no_fix = state.first_no_fix or number
    else:
        alt = _altitude(row, layout)
        state.tracks.append(_point(display, "aircraft", pos, alt, time, f"CSV row {number}", number))
        _message_home(row, number, pos, alt, time, layout, state, display)
    _other_points(row, number, time, layout, state, display)


def _pair(row: list[str], lat_index: int, lon_index: int) -> tuple[float, float] | None:
    try:
        return float(row[lat_index]), float(row[lon_index])
    except (ValueError, IndexError):
        return None


def _utc(text: str) -> str | None:
    m = _UTC.match(text.strip())
    return f"{m.group(1)}T{m.group(2)}Z" if m else None


def _altitude(row: list[str], layout: _Layout) -> tuple[float, str] | None:
    if layout.alt is None:
        return None
    col, ref = layout.alt
    try:
        value = float(row[col.index])
    except ValueError:
        return None
    return (value * FEET if col.unit in ("feet", "ft") else value), ref


def _message_home(
    row: list[str],
    number: int,
    pos: tuple[float, float],
    alt: tuple[float, str] | None,
    time: str | None,
    layout: _Layout,
    state: _State,
    display: str,
) -> None:
    """No home columns: the row saying "Home Point Recorded" gives the home point (aircraft is on it)."""
    if layout.message is None or any(kind == "home" for kind, *_ in layout.others):
        return
    message = row[layout.message]
    if _HOME_MESSAGE.search(message):
        source = f"CSV row {number}: aircraft position at message {message.strip()[:60]!r}"
        state.tracks.append(_point(display, "home", pos, alt, time, source, number))


def _other_points(
    row: list[str], number: int, time: str | None, layout: _Layout, state: _State, display: str
) -> None:
    """Home/operator columns repeat on every row: one point per distinct position."""
    for kind, label, lat_index, lon_index in layout.others:
        pos = _pair(row, lat_index, lon_index)
        if pos is None or pos == (0.0, 0.0) or (kind, *pos) in state.seen:
            continue
        state.seen.add((kind, *pos))
        state.tracks.append(_point(display, kind, pos, None, time, f"CSV row {number} {label}", number))


def _point(
    display: str,
    kind: str,
    pos: tuple[float, float],
    alt: tuple[float, str] | None,
    time: str | None,
    source: str,
    index: int,
) -> TrackPoint:
    return TrackPoint(
        file=display,
        kind=kind,
        lat=pos[0],
        lon=pos[1],
        alt_m=alt[0] if alt else None,
        alt_ref=alt[1] if alt else None,
        time_utc=time,
        time_basis="utc" if time else None,
        source=source,
        index=index,
    )


def _identities(rows: list[list[str]], layout: _Layout, display: str) -> list[Identity]:
    out: list[Identity] = []
    for col in layout.serials:
        values = dict.fromkeys(r[col.index].strip() for r in rows if len(r) > col.index)
        kind = next((k for word, k in _SERIAL_KINDS if col.name.startswith(word)), "aircraft-serial")
        out.extend(Identity(kind, v, display, f"CSV column {col.label}") for v in values if v)
    return out


def _item(
    state: _State, layout: _Layout, identities: list[Identity], display: str, digest: str, fmt: str
) -> MediaItem:
    aircraft = [t for t in state.tracks if t.kind == "aircraft"]
    first = aircraft[0] if aircraft else None
    extra = {
        "rows": str(state.rows),
        "aircraft_fixes": str(len(aircraft)),
        "home_points": str(sum(1 for t in state.tracks if t.kind == "home")),
        "operator_points": str(sum(1 for t in state.tracks if t.kind == "operator")),
        "alt_column": f"{layout.alt[0].label} ({layout.alt[1]})" if layout.alt else "none",
        "time": "UTC (datetime(utc) column)" if layout.time is not None else "no UTC column",
        "provenance": "Airdata-style export: the flight log went through a third-party service",
    }
    return MediaItem(
        path=display,
        sha256=digest,
        format=fmt,
        serials={i.kind: i.value for i in identities},
        captured_at=state.first_written,
        captured_at_utc=state.first_time,
        lat=first.lat if first else None,
        lon=first.lon if first else None,
        alt_m=first.alt_m if first else None,
        extra=extra,
    )
