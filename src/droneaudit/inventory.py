"""Inventory post-processing over the readers' records: infer UTC from the position where a file only
gives local wall-clock time (labelled ``inferred-tz``, never silent), keeping the zone as evidence.

Pure over the records; the zone lookup uses data shipped in the timezonefinder/tzdata wheels.
"""

from __future__ import annotations

from dataclasses import replace

from droneaudit.model import MediaItem, TrackPoint
from droneaudit.timezones import infer_utc


def infer_times(media: list[MediaItem], tracks: list[TrackPoint]) -> tuple[list[MediaItem], list[TrackPoint]]:
    return [_item(m) for m in media], [_point(p) for p in tracks]


def _item(m: MediaItem) -> MediaItem:
    if m.captured_at_utc or not m.captured_at or m.lat is None or m.lon is None:
        return m
    found = infer_utc(m.lat, m.lon, m.captured_at)
    if found.utc is None:
        return (
            m
            if not found.reason
            else replace(m, extra={**m.extra, "time_zone": f"not inferred: {found.reason}"})
        )
    zone = f"{found.zone} (inferred from the position)"
    return replace(m, captured_at_utc=found.utc, extra={**m.extra, "time_zone": zone})


def _point(p: TrackPoint) -> TrackPoint:
    if p.time_utc or not p.time_local:
        return p
    found = infer_utc(p.lat, p.lon, p.time_local)
    return replace(p, time_utc=found.utc, time_basis="inferred-tz") if found.utc else p
