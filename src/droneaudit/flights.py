"""Flights: the timed aircraft positions of one device, cut wherever the record goes quiet.

A device is the aircraft serial that a file's identities name (so a flight log, its SRT sidecar and a
Remote ID capture of the same aircraft merge into one timeline), else the file itself. Only ``aircraft``
points with a UTC time count: home/operator/target points say where someone stood or aimed, not that
the aircraft flew, and a point without a known UTC time cannot be placed on the timeline without
guessing. Photo files are usually passed in ``exclude_files``: a photo is evidence taken *during* a
flight, not a flight of its own (media are tied to flights afterwards by ``media_flights``).

Cutting on gaps (default 120 s) rather than on motor or altitude fields works for every format we read;
takeoff and landing are the first and last point of each piece. A piece with fewer than two points is
dropped: one fix is a position, not a flight.

Clock offsets (``--clock-offset SRC=±SECONDS``) are seconds *added* to a source's stated times to get
true UTC: a log whose clock ran 5 s fast gets ``-5``. Keys are a file's path or its name.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from droneaudit.model import Flight, Identity, MediaItem, TrackPoint

F64 = npt.NDArray[np.float64]
GAP_S = 120.0
#: A photo belongs to a flight when taken within this many seconds of it …
MEDIA_TIME_SLACK_S = 60.0
#: … or, without a usable time, when it lies this close to one of the flight's points.
MEDIA_DISTANCE_M = 200.0
_EARTH_M = 6_371_008.8


def parse_utc(text: str | None) -> float | None:
    """ISO 8601 with ``Z`` or an offset → seconds since the epoch; None for no or naive times."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def format_utc(seconds: float) -> str:
    """Seconds since the epoch → ISO 8601 UTC with microseconds and ``Z`` (the case's format)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clock_offset(offsets: Mapping[str, float] | None, file: str) -> float:
    """The offset for one source, looked up by its path, then by its file name; 0 when none is given."""
    if not offsets:
        return 0.0
    if file in offsets:
        return offsets[file]
    return offsets.get(file.replace("\\", "/").rsplit("/", 1)[-1], 0.0)


def devices(identities: Iterable[Identity]) -> dict[str, str]:
    """File → aircraft serial, from the identities each file revealed (first one wins, sorted)."""
    out: dict[str, str] = {}
    for ident in sorted(identities, key=lambda i: (i.file, i.value)):
        if ident.kind == "aircraft-serial" and ident.value:
            out.setdefault(ident.file, ident.value)
    return out


def flights(
    tracks: Sequence[TrackPoint],
    identities: Iterable[Identity] = (),
    gap_s: float = GAP_S,
    clock_offsets: Mapping[str, float] | None = None,
    exclude_files: Collection[str] = (),
) -> list[Flight]:
    """Split each device's timed aircraft points into flights on gaps longer than ``gap_s``."""
    serial = devices(identities)
    timelines: dict[str, list[tuple[float, TrackPoint]]] = defaultdict(list)
    for p in tracks:
        if p.kind != "aircraft" or p.file in exclude_files:
            continue
        t = parse_utc(p.time_utc)
        if t is not None:
            timelines[serial.get(p.file, p.file)].append((t + clock_offset(clock_offsets, p.file), p))
    out: list[Flight] = []
    for device in sorted(timelines):
        points = sorted(timelines[device], key=lambda tp: (tp[0], tp[1].file, tp[1].index or 0))
        pieces = _split(points, gap_s)
        for n, piece in enumerate(pieces, start=1):
            out.append(_flight(f"{device}#{n}", device, piece))
    return out


def _split(points: list[tuple[float, TrackPoint]], gap_s: float) -> list[list[tuple[float, TrackPoint]]]:
    pieces: list[list[tuple[float, TrackPoint]]] = []
    for tp in points:
        if pieces and tp[0] - pieces[-1][-1][0] <= gap_s:
            pieces[-1].append(tp)
        else:
            pieces.append([tp])
    return [p for p in pieces if len(p) >= 2]


def _flight(fid: str, device: str, piece: list[tuple[float, TrackPoint]]) -> Flight:
    (t0, first), (t1, last) = piece[0], piece[-1]
    files = tuple(sorted({p.file for _, p in piece}))
    takeoff, landing = (first.lat, first.lon), (last.lat, last.lon)
    return Flight(fid, device, format_utc(t0), format_utc(t1), takeoff, landing, len(piece), files)


def span(flight: Flight) -> tuple[float, float] | None:
    """A flight's (start, end) in epoch seconds, offsets already applied; None when it has no times."""
    start, end = parse_utc(flight.start_utc), parse_utc(flight.end_utc)
    return (start, end) if start is not None and end is not None else None


def assign_points(
    tracks: Sequence[TrackPoint],
    found: Sequence[Flight],
    clock_offsets: Mapping[str, float] | None = None,
) -> list[str | None]:
    """Flight id for each track point: its file is one of the flight's files and its time (offset applied)
    falls inside the flight. Untimed points and points between flights get None."""
    by_file: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for f in found:
        s = span(f)
        if s is not None:
            for file in f.files:
                by_file[file].append((s[0], s[1], f.id))
    out: list[str | None] = []
    for p in tracks:
        t = parse_utc(p.time_utc)
        hit = None
        if t is not None and p.file in by_file:
            t += clock_offset(clock_offsets, p.file)
            hit = next((fid for lo, hi, fid in by_file[p.file] if lo <= t <= hi), None)
        out.append(hit)
    return out


def media_flights(
    media: Iterable[MediaItem],
    found: Sequence[Flight],
    tracks: Sequence[TrackPoint] = (),
    clock_offsets: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """Media path → flight id: taken during a flight (±60 s, the aircraft's own flights first), else the
    flight with a point nearest the photo's position when within 200 m."""
    spans = [(f, s) for f in found if (s := span(f)) is not None]
    owners = assign_points(tracks, found, clock_offsets)
    positions: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p, fid in zip(tracks, owners, strict=True):
        if fid is not None:
            positions[fid].append((p.lat, p.lon))
    out: dict[str, str] = {}
    for item in media:
        fid = _by_time(item, spans, clock_offsets) or _by_place(item, positions)
        if fid is not None:
            out[item.path] = fid
    return out


def _by_time(
    item: MediaItem, spans: list[tuple[Flight, tuple[float, float]]], offsets: Mapping[str, float] | None
) -> str | None:
    t = parse_utc(item.captured_at_utc)
    if t is None:
        return None
    t += clock_offset(offsets, item.path)
    serial = item.serials.get("aircraft-serial")
    hits = [f for f, (lo, hi) in spans if lo - MEDIA_TIME_SLACK_S <= t <= hi + MEDIA_TIME_SLACK_S]
    hits.sort(key=lambda f: (f.device != serial, f.id))
    return hits[0].id if hits else None


def _by_place(item: MediaItem, positions: Mapping[str, list[tuple[float, float]]]) -> str | None:
    if item.lat is None or item.lon is None:
        return None
    best: tuple[float, str] | None = None
    for fid in sorted(positions):
        pts = np.asarray(positions[fid], dtype=np.float64)
        d = float(haversine_m(item.lat, item.lon, pts[:, 0], pts[:, 1]).min())
        if d <= MEDIA_DISTANCE_M and (best is None or d < best[0]):
            best = (d, fid)
    return best[1] if best else None


def haversine_m(lat1: float, lon1: float, lat2: F64, lon2: F64) -> F64:
    """Great-circle metres (mean-radius sphere): enough to decide "within 200 m" of a flight."""
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dlat / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * _EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)
