"""Positions as an RFC 7946 GeoJSON FeatureCollection, for QGIS, ``ogr2ogr`` and web maps.

What becomes what:

* each file's "aircraft" points -> one LineString (one Point if the file holds a single position), in
  time order when every point has a UTC time, else in file order (``index``); consecutive repeats of one
  position are dropped, because a line needs two distinct positions to be valid;
* "home", "operator" and "target" points -> one Point each, deduplicated per file (autopilots resend
  home every second; missions are downloaded twice): ``count`` says how often the file stated it;
* each photo (JPEG, R-JPEG, DNG, TIFF) with a position -> one Point of kind "photo". The photo's own
  "aircraft" track points are not drawn as a line as well: they are the same place.

RFC 7946 rules kept: [longitude, latitude] order, WGS-84 (no ``crs`` member), finite numbers only
(positions that are not finite or out of range are left out). The optional third coordinate "SHALL be
the height in meters above or below the WGS 84 reference ellipsoid" (§4), so it is written only when
every position of a geometry is an ellipsoid height; MSL, relative and unknown altitudes stay in the
properties (``alt_m`` / ``alt_m_min`` / ``alt_m_max`` with ``alt_ref``).

Determinism: features are sorted by file, then kind (aircraft, photo, home, operator, target), then
time, index and position; the same records in any order give the same collection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from droneaudit.model import MediaItem, TrackPoint

PHOTO_FORMATS = frozenset({"jpeg", "rjpeg", "dng", "tiff"})
KIND_ORDER = {"aircraft": 0, "photo": 1, "home": 2, "operator": 3, "target": 4}
Feature = dict[str, Any]


def to_geojson(tracks: list[TrackPoint], media: list[MediaItem]) -> dict[str, Any]:
    """A FeatureCollection of every position in ``tracks`` and every located photo in ``media``."""
    photos = sorted(
        (m for m in media if m.format in PHOTO_FORMATS and _located(m.lat, m.lon)), key=_photo_key
    )
    usable = sorted((t for t in tracks if _located(t.lat, t.lon)), key=_point_key)
    photo_files = {m.path for m in photos}
    features = _aircraft(t for t in usable if t.kind == "aircraft" and t.file not in photo_files)
    own: dict[tuple[str, float, float], TrackPoint] = {}
    for t in usable:
        if t.file in photo_files:
            own.setdefault((t.file, t.lat, t.lon), t)
    features += [_photo(m, own.get((m.path, m.lat or 0.0, m.lon or 0.0))) for m in photos]
    features += _places(t for t in usable if t.kind != "aircraft")
    features.sort(key=lambda f: (f["properties"]["file"], KIND_ORDER.get(f["properties"]["kind"], 9)))
    return {"type": "FeatureCollection", "features": features}


def _aircraft(points: Iterable[TrackPoint]) -> list[Feature]:
    by_file: dict[str, list[TrackPoint]] = {}
    for point in points:
        by_file.setdefault(point.file, []).append(point)
    return [_track(file, _in_order(group)) for file, group in by_file.items()]


def _in_order(points: list[TrackPoint]) -> list[TrackPoint]:
    """Time order when every point has a UTC time; file order otherwise (input is already key-sorted)."""
    stamps = [_stamp(p.time_utc) for p in points]
    if None not in stamps:
        order = sorted(range(len(points)), key=lambda i: (stamps[i], i))
        return [points[i] for i in order]
    return sorted(points, key=lambda p: p.index if p.index is not None else -1)


def _track(file: str, points: list[TrackPoint]) -> Feature:
    kept = [p for i, p in enumerate(points) if i == 0 or _where(p) != _where(points[i - 1])]
    coordinates = _coordinates(kept)
    geometry: dict[str, Any] = (
        {"type": "LineString", "coordinates": coordinates}
        if len({tuple(c[:2]) for c in coordinates}) > 1
        else {"type": "Point", "coordinates": coordinates[0]}
    )
    alts = [p.alt_m for p in points if p.alt_m is not None and math.isfinite(p.alt_m)]
    properties = {
        **_common(file, "aircraft", "; ".join(sorted({_family(p.source) for p in points}))),
        "time_utc": points[0].time_utc,
        "time_utc_end": points[-1].time_utc,
        "time_local": points[0].time_local,
        "time_basis": "; ".join(sorted({p.time_basis for p in points if p.time_basis})) or None,
        "alt_m_min": min(alts) if alts else None,
        "alt_m_max": max(alts) if alts else None,
        "alt_ref": _one({p.alt_ref for p in points if _finite(p.alt_m)}),
        "points": len(points),
    }
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _places(points: Iterable[TrackPoint]) -> list[Feature]:
    """One Point per distinct (file, kind, position, altitude); the first by sort order speaks for all."""
    first: dict[tuple[Any, ...], TrackPoint] = {}
    count: dict[tuple[Any, ...], int] = {}
    for point in points:
        key = (point.file, point.kind, *_where(point), point.alt_ref)
        first.setdefault(key, point)
        count[key] = count.get(key, 0) + 1
    return [_place(point, count[key]) for key, point in first.items()]


def _place(point: TrackPoint, count: int) -> Feature:
    properties = {
        **_common(point.file, point.kind, point.source),
        "time_utc": point.time_utc,
        "time_local": point.time_local,
        "time_basis": point.time_basis,
        "alt_m": point.alt_m if _finite(point.alt_m) else None,
        "alt_ref": point.alt_ref if _finite(point.alt_m) else None,
        "index": point.index,
        "count": count,
    }
    geometry = {"type": "Point", "coordinates": _coordinates([point])[0]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _photo(item: MediaItem, own: TrackPoint | None) -> Feature:
    """A photo's position; its own track point (same file and position) says where it came from."""
    assert item.lat is not None and item.lon is not None
    alt = item.alt_m if _finite(item.alt_m) else None
    ref = own.alt_ref if own is not None and alt is not None else None
    stand_in = TrackPoint(item.path, "photo", item.lat, item.lon, alt, ref)
    properties = {
        **_common(item.path, "photo", own.source if own is not None else f"{item.format} position"),
        "time_utc": item.captured_at_utc,
        "time_local": item.captured_at if item.captured_at != item.captured_at_utc else None,
        "time_basis": own.time_basis if own is not None else None,
        "alt_m": alt,
        "alt_ref": ref,
        "format": item.format,
    }
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": _coordinates([stand_in])[0]},
            "properties": properties}  # fmt: skip


def _coordinates(points: list[TrackPoint]) -> list[list[float]]:
    """[lon, lat], plus the height only when every point gives one above the WGS-84 ellipsoid (§4)."""
    heights = [p.alt_m for p in points if p.alt_ref == "ellipsoid" and p.alt_m is not None]
    if len(heights) == len(points) and all(math.isfinite(h) for h in heights):
        return [[p.lon, p.lat, h] for p, h in zip(points, heights, strict=True)]
    return [[p.lon, p.lat] for p in points]


def _common(file: str, kind: str, source: str) -> dict[str, Any]:
    return {"file": file, "kind": kind, "source": source}


def _family(source: str) -> str:
    """A source without its per-point parts: "SRT frame 12 (…)" -> "SRT frame"."""
    words = source.split(" (")[0].split()
    while words and words[-1].isdigit():
        words.pop()
    return " ".join(words) if words else source


def _one(values: set[str | None]) -> str | None:
    return next(iter(values)) if len(values) == 1 else ("mixed" if values else None)


def _where(point: TrackPoint) -> tuple[float, float, float | None]:
    return point.lon, point.lat, point.alt_m if _finite(point.alt_m) else None


def _stamp(text: str | None) -> float | None:
    """Seconds since 1970 for an ISO 8601 time (any precision, "Z" or offset); None when there is none."""
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def _point_key(p: TrackPoint) -> tuple[Any, ...]:
    alt = p.alt_m if _finite(p.alt_m) else -math.inf
    when = _stamp(p.time_utc)
    when = math.inf if when is None else when
    return (p.file, KIND_ORDER.get(p.kind, 9), when, p.index if p.index is not None else -1, p.lat, p.lon,
            alt, p.alt_ref or "", p.source, p.time_local or "", p.time_basis or "")  # fmt: skip


def _photo_key(m: MediaItem) -> tuple[str, str]:
    return m.path, m.sha256


def _located(lat: float | None, lon: float | None) -> bool:
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    return abs(lat) <= 90 and abs(lon) <= 180


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
