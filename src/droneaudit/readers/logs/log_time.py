"""Clock arithmetic shared by the ArduPilot DataFlash and MAVLink tlog readers: GPS week time to UTC
(with the leap seconds of the day) and fixed-width ISO 8601 text that never raises on a damaged clock."""

from __future__ import annotations

from datetime import UTC, datetime

#: Months whose 1st (UTC) began with one more leap second (IERS Bulletin C, none announced to 2026-12).
_LEAPS = "1981-07 1982-07 1983-07 1985-07 1988-01 1990-01 1991-01 1992-07 1993-07 1994-07 1996-01 1997-07 "
_LEAPS += "1999-01 2006-01 2009-01 2012-07 2015-07 2017-01"
LEAP_SECONDS = tuple(
    (int(datetime.fromisoformat(f"{d}-01T00:00Z").timestamp()), n) for n, d in enumerate(_LEAPS.split(), 1)
)
GPS_EPOCH_S = int(datetime(1980, 1, 6, tzinfo=UTC).timestamp())


def gps_to_utc_us(week: int, ms: float) -> int | None:
    """UTC microseconds for GPS week + milliseconds of week (GPS time minus the leap seconds then)."""
    if week <= 0 or not 0 <= ms < 604_800_000:
        return None
    gps_us = (GPS_EPOCH_S + week * 604_800) * 1_000_000 + round(ms * 1000)
    leaps = next((n for start, n in reversed(LEAP_SECONDS) if gps_us // 1_000_000 - n >= start), 0)
    return gps_us - leaps * 1_000_000


def iso_us(utc_us: int) -> str | None:
    """ISO 8601 UTC with microseconds and "Z" (fixed width, as the ULog reader writes it); None for a
    value no calendar holds (a damaged clock: beyond year 9999 or before year 1)."""
    seconds, micros = divmod(utc_us, 1_000_000)
    try:
        when = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when.replace(microsecond=micros).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
