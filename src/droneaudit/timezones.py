"""Offline time-zone inference: a position plus a zone-less wall-clock time -> UTC, or an honest "cannot say".

Why this exists: drone photos (EXIF ``DateTimeOriginal``), SRT sidecars and some logs write local wall-clock
time with no zone, yet the same file holds where it was recorded. The civil zone at that place, with its
rules for that date, turns the wall-clock time into UTC so it can sit on one timeline with captures and logs.

Where the data comes from (nothing is downloaded at run time):

* zone polygons: ``timezonefinder`` and its ``timezonefinder-data`` wheel (timezone-boundary-builder
  polygons from OpenStreetMap, ODbL). Land zones include territorial waters.
* zone rules: the stdlib ``zoneinfo`` with the ``tzdata`` package as the IANA database wherever the
  operating system has none (Windows, slim containers), so results do not depend on the host.

Refused rather than guessed (``utc`` is None and ``reason`` says why):

* at sea, outside every land zone. Nautical zones (``Etc/GMT±N``) exist, but a drone's or phone's clock
  is never set to one, so naming one would be a guess dressed as a fact;
* a wall-clock time inside a daylight-saving gap (it never happened there) or overlap (it happened twice,
  an hour apart) — one hour of error is exactly what a timeline must not silently absorb;
* coordinates that are not finite or out of range, text that is not a time, or a time that already
  carries an offset (then there is nothing to infer).

Caveat for callers: the zone is where the file was recorded. It is the clock's zone only if the device
clock followed local time there (a traveller's camera may keep home time), which is why results are
labelled ``time_basis="inferred-tz"`` and never ``"utc"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:  # imported where first used: the zone polygons (~10 MB) only matter for media times
    from timezonefinder import TimezoneFinder

#: Wall-clock spellings accepted as text: ISO 8601 (``T`` or space) and EXIF's colon-separated date.
_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class ZoneInference:
    """The outcome of one inference; ``utc`` is None exactly when ``reason`` is not empty."""

    utc: str | None  #: ISO 8601 UTC with "Z" (fraction only when the input had one)
    zone: str | None  #: IANA zone at the position, when one was found (also set for DST gaps/overlaps)
    reason: str = ""  #: why there is no ``utc``; empty on success


@lru_cache(maxsize=1)
def _finder() -> TimezoneFinder:
    """One finder per process: opening the polygon files takes ~25 ms, a query then ~0.1 ms."""
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def zone_at(lat: float, lon: float) -> str | None:
    """IANA zone of the land (or territorial water) at a WGS-84 position; None at sea or for bad input."""
    if not _valid(lat, lon):
        return None
    return _finder().timezone_at_land(lng=lon, lat=lat)


def parse_wall_clock(text: str) -> datetime | None:
    """A zone-less wall-clock time from text (ISO 8601 or EXIF spelling, optional fraction), else None."""
    stripped = text.strip().rstrip("\x00").strip()
    base, _, fraction = stripped.partition(".")
    for fmt in _FORMATS:
        try:
            moment = datetime.strptime(base, fmt)
        except ValueError:
            continue
        if not fraction:
            return moment
        if not fraction.isdigit():
            return None
        return moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return None


def local_to_utc(local: datetime, zone: str) -> tuple[str | None, str]:
    """Pure rule application: (UTC ISO string, "") or (None, why) for one wall-clock time in one zone."""
    if local.tzinfo is not None:
        return None, "the time already carries a UTC offset; there is nothing to infer"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None, f"zone {zone!r} is not in the IANA database shipped with tzdata"
    early, late = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        if early.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local:
            return None, f"{local.isoformat()} falls in a daylight-saving gap in {zone}: it never occurred"
        return None, (
            f"{local.isoformat()} occurred twice in {zone} (daylight-saving overlap, "
            f"UTC{_offset(early)} or UTC{_offset(late)}): ambiguous"
        )
    return iso_utc(early.astimezone(UTC)), ""


def infer_utc(lat: float, lon: float, local: datetime | str) -> ZoneInference:
    """UTC for a wall-clock time recorded at a position, or the reason it cannot be known."""
    moment = parse_wall_clock(local) if isinstance(local, str) else local
    if moment is None:
        return ZoneInference(None, None, f"{local!r} is not a wall-clock time this reads")
    zone = zone_at(lat, lon)
    if zone is None:
        where = "out of range" if not _valid(lat, lon) else "at sea, outside every land time zone"
        return ZoneInference(None, None, f"position {lat}, {lon} is {where}")
    utc, reason = local_to_utc(moment, zone)
    return ZoneInference(utc, zone, reason)


def utc_from_local(lat: float, lon: float, local: datetime | str) -> tuple[str, str] | None:
    """(UTC ISO string with "Z", zone name), or None when ``infer_utc`` would give a reason instead."""
    found = infer_utc(lat, lon, local)
    return (found.utc, found.zone) if found.utc is not None and found.zone is not None else None


def iso_utc(moment: datetime) -> str:
    """ISO 8601 with "Z"; the fraction appears only when there is one, so whole seconds stay short."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
