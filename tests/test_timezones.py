"""Time-zone inference against the published rules of each zone, never against our own output.

Rules used for the expected values (IANA tz database, as in force in 2024):

* Europe/Zurich: CET = UTC+1; CEST = UTC+2 from the last Sunday of March 01:00 UTC (02:00 local jumps to
  03:00) to the last Sunday of October 01:00 UTC (03:00 local falls back to 02:00). In 2024: 31 March and
  27 October.
* Australia/Sydney (also Canberra): AEST = UTC+10; AEDT = UTC+11 from the first Sunday of October 02:00
  local (to 03:00) to the first Sunday of April 03:00 local (back to 02:00). In 2024: 7 April, 6 October.
* America/Phoenix: MST = UTC-7 all year (Arizona does not observe DST).
* Australia/Lord_Howe: UTC+10:30, and UTC+11 in summer (a 30-minute shift).
* Asia/Kathmandu: UTC+5:45 all year.

The network is blocked for every test (conftest), so passing also proves the lookups are offline.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from droneaudit.timezones import (
    infer_utc,
    iso_utc,
    local_to_utc,
    parse_wall_clock,
    utc_from_local,
    zone_at,
)

ZURICH = (47.3769, 8.5417)
SYDNEY = (-33.8688, 151.2093)
CANBERRA_CMAC = (-35.3626, 149.1653)  # the ArduPilot test.BIN flying field
PHOENIX = (33.4484, -112.0740)
LORD_HOWE = (-31.5553, 159.0821)
KATHMANDU = (27.7172, 85.3240)
MID_ATLANTIC = (0.0, -30.0)


@pytest.mark.parametrize(
    ("where", "local", "utc", "zone"),
    [
        (ZURICH, "2024:07:01 12:00:00", "2024-07-01T10:00:00Z", "Europe/Zurich"),  # CEST +2
        (ZURICH, "2024:01:15 12:00:00", "2024-01-15T11:00:00Z", "Europe/Zurich"),  # CET +1
        (ZURICH, "2024-03-31T01:59:59", "2024-03-31T00:59:59Z", "Europe/Zurich"),  # last second of CET
        (ZURICH, "2024-03-31T03:00:00", "2024-03-31T01:00:00Z", "Europe/Zurich"),  # first of CEST
        (ZURICH, "2024-10-27 03:00:00", "2024-10-27T02:00:00Z", "Europe/Zurich"),  # after the overlap
        (SYDNEY, "2024-01-15T10:00:00", "2024-01-14T23:00:00Z", "Australia/Sydney"),  # AEDT +11
        (SYDNEY, "2024-07-15T10:00:00", "2024-07-15T00:00:00Z", "Australia/Sydney"),  # AEST +10
        (CANBERRA_CMAC, "2017-10-29 12:47:10", "2017-10-29T01:47:10Z", "Australia/Sydney"),  # AEDT
        (PHOENIX, "2024-07-01 12:00:00", "2024-07-01T19:00:00Z", "America/Phoenix"),  # no DST
        (PHOENIX, "2024-01-15 12:00:00", "2024-01-15T19:00:00Z", "America/Phoenix"),
        (LORD_HOWE, "2024-01-15 12:00:00", "2024-01-15T01:00:00Z", "Australia/Lord_Howe"),  # +11
        (LORD_HOWE, "2024-07-15 12:00:00", "2024-07-15T01:30:00Z", "Australia/Lord_Howe"),  # +10:30
        (KATHMANDU, "2024-06-01 12:00:00", "2024-06-01T06:15:00Z", "Asia/Kathmandu"),  # +5:45
    ],
)
def test_known_places_and_dates(where: tuple[float, float], local: str, utc: str, zone: str) -> None:
    found = infer_utc(*where, local)
    assert (found.utc, found.zone, found.reason) == (utc, zone, "")
    assert utc_from_local(*where, local) == (utc, zone)


def test_fraction_of_a_second_is_kept() -> None:
    assert utc_from_local(*ZURICH, "2024:07:01 12:00:00.250") == ("2024-07-01T10:00:00.25Z", "Europe/Zurich")
    assert utc_from_local(*ZURICH, datetime(2024, 7, 1, 12, 0, 0, 5)) == (
        "2024-07-01T10:00:00.000005Z",
        "Europe/Zurich",
    )


@pytest.mark.parametrize(
    ("where", "local", "word"),
    [
        (ZURICH, "2024-03-31 02:30:00", "gap"),  # 02:00-03:00 CET never happened
        (SYDNEY, "2024-10-06 02:30:00", "gap"),  # 02:00-03:00 AEST never happened
        (ZURICH, "2024-10-27 02:30:00", "twice"),  # 02:00-03:00 happened in CEST, then in CET
        (SYDNEY, "2024-04-07 02:30:00", "twice"),
        (LORD_HOWE, "2024-04-07 01:45:00", "twice"),  # only half an hour repeats there
    ],
)
def test_dst_gaps_and_overlaps_are_refused(where: tuple[float, float], local: str, word: str) -> None:
    found = infer_utc(*where, local)
    assert found.utc is None and found.zone is not None and word in found.reason
    assert utc_from_local(*where, local) is None


def test_overlap_names_both_offsets() -> None:
    reason = infer_utc(*ZURICH, "2024-10-27 02:30:00").reason
    assert "UTC+02:00" in reason and "UTC+01:00" in reason


def test_ocean_has_no_civil_zone() -> None:
    assert zone_at(*MID_ATLANTIC) is None
    found = infer_utc(*MID_ATLANTIC, "2024-07-01 12:00:00")
    assert found.utc is None and found.zone is None and "at sea" in found.reason


def test_territorial_water_counts_as_land() -> None:
    """About 10 km off Sydney's coast, still inside the 12-nautical-mile limit."""
    assert zone_at(-33.87, 151.32) == "Australia/Sydney"


@pytest.mark.parametrize(
    ("lat", "lon"), [(float("nan"), 8.5), (47.0, float("inf")), (91.0, 0.0), (0.0, 180.5)]
)
def test_bad_coordinates(lat: float, lon: float) -> None:
    assert zone_at(lat, lon) is None
    assert "out of range" in infer_utc(lat, lon, "2024-07-01 12:00:00").reason


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2024-13-01 00:00:00", "2024:07:01 12:00:00.5x", "0000:00:00"]
)
def test_unreadable_times(text: str) -> None:
    assert parse_wall_clock(text) is None
    assert "not a wall-clock time" in infer_utc(*ZURICH, text).reason


def test_exif_padding_is_tolerated() -> None:
    assert parse_wall_clock("2024:07:01 12:00:00\x00") == datetime(2024, 7, 1, 12)


def test_aware_times_are_not_reinterpreted() -> None:
    aware = datetime(2024, 7, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert local_to_utc(aware, "Europe/Zurich")[0] is None
    assert "already carries" in infer_utc(*ZURICH, aware).reason


def test_unknown_zone_name() -> None:
    utc, reason = local_to_utc(datetime(2024, 7, 1, 12), "Mars/Olympus_Mons")
    assert utc is None and "not in the IANA database" in reason


def test_iso_utc_shape() -> None:
    assert iso_utc(datetime(2024, 7, 1, 10, 0, 0, 120000, tzinfo=UTC)) == "2024-07-01T10:00:00.12Z"
    assert iso_utc(datetime(2024, 7, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == "2024-07-01T10:00:00Z"


def test_zone_rules_ship_in_the_tzdata_wheel() -> None:
    """Results must not depend on whether the host has /usr/share/zoneinfo."""
    assert importlib.metadata.version("tzdata")
    assert (importlib.resources.files("tzdata.zoneinfo") / "Europe" / "Zurich").is_file()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_lookup_in_a_namespace_without_network() -> None:
    """The polygons and zone rules are read from installed wheels: no interface, still an answer."""
    code = "from droneaudit.timezones import utc_from_local as f\n"
    code += "print(f(47.3769, 8.5417, '2024-07-01 12:00:00'))"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.decode(errors='replace').strip()}")
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "('2024-07-01T10:00:00Z', 'Europe/Zurich')", done.stderr
