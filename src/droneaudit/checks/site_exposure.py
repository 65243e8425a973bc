"""Site exposure (policy): which track points and photo positions fall inside which sensitive site's buffer.

This lives beside ``checks/policy.py`` rather than in a ``checks/policy/`` package because that module
already exists and a package of the same name would shadow it.

One ``Exposure`` per (site, source file, kind, flight), with the first/last UTC time, the closest
approach in metres (0 = inside the site itself) and how many positions were inside. Kinds and why they
get their severity:

* ``photo`` — high: a picture taken inside the zone very likely shows the site.
* ``home``, ``operator`` — high: they tell where a person stood or the aircraft took off, next to the site.
* ``target`` — medium: a ranged or planned point inside the zone (intent, not presence).
* ``track`` (aircraft positions) — medium when the aircraft entered the site itself, low when it only
  crossed the buffer around it.

Positions from photo files are reported once, as ``photo`` (from the media item), not again as track
points. The geometry is ``droneaudit.sites.match``: one STRtree prefilter over all positions, then an
exact metric ``dwithin`` per site, so a million positions against ten thousand sites runs in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from droneaudit.flights import assign_points, clock_offset, format_utc, media_flights, parse_utc
from droneaudit.model import Exposure, Flight, MediaItem, TrackPoint

if TYPE_CHECKING:  # shapely is imported only when there are sites to match (see exposures)
    from droneaudit.sites import Site

PHOTO_FORMATS = frozenset({"jpeg", "rjpeg", "dng", "tiff", "heic"})
KIND_LABEL = {"aircraft": "track", "home": "home", "operator": "operator", "target": "target"}


@dataclass(frozen=True, slots=True)
class _Position:
    file: str
    kind: str
    time: float | None
    flight: str | None


@dataclass
class _Group:
    first: float | None = None
    last: float | None = None
    min_d: float = float("inf")
    points: int = 0

    def add(self, time: float | None, distance: float) -> None:
        self.points += 1
        self.min_d = min(self.min_d, distance)
        if time is not None:
            self.first = time if self.first is None else min(self.first, time)
            self.last = time if self.last is None else max(self.last, time)


def exposures(
    tracks: Sequence[TrackPoint],
    media: Sequence[MediaItem],
    sites: Sequence[Site],
    flights: Sequence[Flight] = (),
    clock_offsets: Mapping[str, float] | None = None,
) -> list[Exposure]:
    """Every exposure, sorted by site, layer, file, kind and flight."""
    if not sites:
        return []
    photos = [m for m in media if m.format in PHOTO_FORMATS and m.lat is not None and m.lon is not None]
    photo_paths = {m.path for m in photos}
    kept = [p for p in tracks if p.kind in KIND_LABEL and (p.file not in photo_paths or p.kind == "target")]
    lat = np.fromiter((p.lat for p in kept), np.float64, len(kept))
    lon = np.fromiter((p.lon for p in kept), np.float64, len(kept))
    lat = np.concatenate([lat, np.array([m.lat for m in photos], dtype=np.float64)])
    lon = np.concatenate([lon, np.array([m.lon for m in photos], dtype=np.float64)])
    from droneaudit.sites import match

    hits = match(sites, lat, lon)
    wanted = sorted({int(i) for i in hits.point if i < len(kept)})
    owners = assign_points([kept[i] for i in wanted], flights, clock_offsets)
    point_flight = dict(zip(wanted, owners, strict=True))
    photo_flight = media_flights(photos, flights, tracks, clock_offsets) if len(hits.point) else {}
    groups: dict[tuple[int, str, str, str | None], _Group] = {}
    for i, s, d in zip(hits.point.tolist(), hits.site.tolist(), hits.distance_m.tolist(), strict=True):
        pos = _position(i, kept, photos, point_flight, photo_flight, clock_offsets)
        groups.setdefault((s, pos.file, pos.kind, pos.flight), _Group()).add(pos.time, d)
    out = [_exposure(sites[s], file, kind, flight, g) for (s, file, kind, flight), g in groups.items()]
    out.sort(key=lambda e: (e.site, e.layer, e.file, e.kind, e.flight or "", e.first_utc or ""))
    return out


def _position(
    i: int,
    kept: Sequence[TrackPoint],
    photos: Sequence[MediaItem],
    point_flight: Mapping[int, str | None],
    photo_flight: Mapping[str, str],
    offsets: Mapping[str, float] | None,
) -> _Position:
    """Row ``i`` of the position table: track points first, then photos."""
    if i < len(kept):
        p = kept[i]
        t = parse_utc(p.time_utc)
        t = None if t is None else t + clock_offset(offsets, p.file)
        return _Position(p.file, KIND_LABEL[p.kind], t, point_flight.get(i))
    m = photos[i - len(kept)]
    t = parse_utc(m.captured_at_utc)
    t = None if t is None else t + clock_offset(offsets, m.path)
    return _Position(m.path, "photo", t, photo_flight.get(m.path))


def severity(kind: str, min_distance_m: float) -> str:
    """See the module docstring for why each kind gets its level."""
    if kind in ("photo", "home", "operator"):
        return "high"
    if kind == "target":
        return "medium"
    return "medium" if min_distance_m <= 0.0 else "low"


def _exposure(site: Site, file: str, kind: str, flight: str | None, g: _Group) -> Exposure:
    dist = round(g.min_d, 3)
    return Exposure(
        site=site.name,
        layer=site.layer,
        flight=flight,
        file=file,
        kind=kind,
        first_utc=format_utc(g.first) if g.first is not None else None,
        last_utc=format_utc(g.last) if g.last is not None else None,
        min_distance_m=dist,
        points=g.points,
        severity=severity(kind, dist),
    )
