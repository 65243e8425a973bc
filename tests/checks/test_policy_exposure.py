"""Site exposure (policy check): grouping, times, distances and severities on a synthetic case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shapely

from droneaudit.checks.site_exposure import exposures, severity
from droneaudit.flights import flights
from droneaudit.model import Identity, MediaItem, TrackPoint
from droneaudit.sites import Site, load
from droneaudit.synth.sites import write_demo_sites

pyproj = pytest.importorskip("pyproj")
GEOD = pyproj.Geod(ellps="WGS84")
T0 = datetime(2026, 3, 14, 9, 31, tzinfo=UTC)


def iso(s: float) -> str:
    return (T0 + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def walk(file: str, lat: float, lon: float, az: float, steps: int, step_m: float = 10.0) -> list[TrackPoint]:
    """Points every ``step_m`` metres along a geodesic, one per second."""
    out = []
    for i in range(steps):
        lon2, lat2, _ = GEOD.fwd(lon, lat, az, i * step_m)
        out.append(TrackPoint(file, "aircraft", lat2, lon2, time_utc=iso(i), time_basis="utc", index=i))
    return out


def test_demo_case(tmp_path: Path) -> None:
    sites = load([write_demo_sites(tmp_path)])
    track = walk("log.txt", 47.3769, 8.5417, 45.0, 8)  # 0–70 m north-east, over the substation
    home = TrackPoint("log.txt", "home", 47.3769, 8.5417, time_utc=iso(0))
    photo_pt = TrackPoint("a.jpg", "aircraft", 47.3771502, 8.5421004, time_utc=iso(40))
    photo = MediaItem("a.jpg", "", "jpeg", captured_at_utc=iso(40), lat=47.3771502, lon=8.5421004)
    found = flights(track, [Identity("aircraft-serial", "SN9", "log.txt")], gap_s=120)
    got = exposures([*track, home, photo_pt], [photo], sites, found)
    rows = [(e.site, e.file, e.kind, e.flight, e.points, e.severity) for e in got]
    assert ("Demo substation", "a.jpg", "photo", "SN9#1", 1, "high") in rows
    assert ("Demo rail line", "log.txt", "home", "SN9#1", 1, "high") in rows
    assert not any(r[0] == "Demo hospital" for r in rows)
    assert not any(r[1] == "a.jpg" and r[2] == "track" for r in rows)  # the photo counts once
    sub = next(e for e in got if e.site == "Demo substation" and e.kind == "track")
    assert sub.min_distance_m == 0.0 and sub.severity == "medium" and sub.flight == "SN9#1"
    assert sub.first_utc is not None and sub.first_utc < (sub.last_utc or "")


def test_counts_times_and_min_distance_against_geodesic() -> None:
    site = Site.make("mast", "t", shapely.Point(10.0, 70.0), 100.0)
    track = walk("f.ulg", 70.0, 10.0, 90.0, 30, step_m=5.0)[3:]  # 15 m … 145 m east of the mast
    (e,) = exposures(track, [], [site], flights(track))
    assert e.points == 18  # 15, 20, … 100 m
    assert e.first_utc == iso(3) and e.last_utc == iso(20)
    assert e.min_distance_m == pytest.approx(15.0, abs=1e-3)
    assert e.severity == "low" and e.flight == "f.ulg#1"


def test_clock_offset_moves_times() -> None:
    site = Site.make("mast", "t", shapely.Point(10.0, 0.0), 50.0)
    track = walk("f.ulg", 0.0, 10.0, 0.0, 3)
    (e,) = exposures(track, [], [site], clock_offsets={"f.ulg": 3600.0})
    assert e.first_utc == iso(3600)
    assert e.flight is None


def test_severity_table() -> None:
    assert [severity(k, 0.0) for k in ("photo", "home", "operator", "target", "track")] == [
        "high",
        "high",
        "high",
        "medium",
        "medium",
    ]
    assert severity("track", 3.0) == "low"


def test_no_sites_or_no_points() -> None:
    assert exposures(walk("f", 0.0, 0.0, 0.0, 3), [], []) == []
    assert exposures([], [], [Site.make("x", "t", shapely.Point(0, 0), 10.0)]) == []


def test_corpus_nuclear_layer(corpus: Path) -> None:
    sites = load([corpus / "geo" / "druidsmith-powergeneration" / "nuclear.geojson"], buffer_m=500.0)
    farley = next(s for s in sites if s.name == "FARLEY NUCLEAR PLANT")
    ((lon0, lat0),) = shapely.get_coordinates(farley.geometry).tolist()
    track = walk("f.ulg", lat0, lon0, 180.0, 80, step_m=10.0)
    got = exposures(track, [], sites)
    farley_rows = [e for e in got if e.site == "FARLEY NUCLEAR PLANT"]
    assert farley_rows and all(e.points == 51 for e in farley_rows)  # 0 … 500 m
    assert {e.min_distance_m for e in farley_rows} == {0.0}
