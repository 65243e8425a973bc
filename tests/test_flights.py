"""Flights from track points: per device, cut on gaps, clock offsets applied, media tied by time or place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from droneaudit.flights import assign_points, flights, media_flights, parse_utc
from droneaudit.model import Identity, MediaItem, TrackPoint

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def track(file: str, times: range, lat0: float = 47.0, kind: str = "aircraft") -> list[TrackPoint]:
    return [
        TrackPoint(file, kind, lat0 + i * 1e-5, 8.0, time_utc=iso(t), time_basis="utc", index=i)
        for i, t in enumerate(times)
    ]


def test_split_on_gaps_and_merge_files_of_one_serial() -> None:
    log = track("log.txt", range(0, 601, 10))  # 09:00–09:10
    srt = track("clip.SRT", range(300, 361, 1))  # same aircraft, inside flight 1
    second = track("log.txt", range(3600, 3901, 10))  # 10:00–10:05, after a 50 min gap
    untimed = [TrackPoint("log.txt", "aircraft", 1.0, 1.0, time_local="2026-03-14T10:00:00")]
    home = track("log.txt", range(0, 1), kind="home")
    ids = [Identity("aircraft-serial", "SN1", "log.txt"), Identity("aircraft-serial", "SN1", "clip.SRT")]
    found = flights([*log, *srt, *second, *untimed, *home], ids)
    assert [(f.id, f.device, f.start_utc, f.end_utc, f.points, f.files) for f in found] == [
        ("SN1#1", "SN1", iso(0), iso(600), 61 + 61, ("clip.SRT", "log.txt")),
        ("SN1#2", "SN1", iso(3600), iso(3900), 31, ("log.txt",)),
    ]
    assert found[0].takeoff == (47.0, 8.0)
    assert found[1].landing == pytest.approx((47.0 + 30e-5, 8.0))


def test_device_falls_back_to_file_and_single_fix_is_no_flight() -> None:
    found = flights([*track("a.ulg", range(0, 100, 5)), *track("b.ulg", range(0, 1))])
    assert [f.id for f in found] == ["a.ulg#1"]
    assert [f.id for f in flights(track("a.ulg", range(0, 100, 5)), gap_s=4)] == []


def test_clock_offset_by_file_name() -> None:
    found = flights(track("/evidence/log.txt", range(0, 61, 10)), clock_offsets={"log.txt": -3600.0})
    assert found[0].start_utc == (T0 - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assigned = assign_points(track("/evidence/log.txt", range(0, 61, 30)), found, {"log.txt": -3600.0})
    assert assigned == ["/evidence/log.txt#1"] * 3


def test_parse_utc_zones() -> None:
    assert parse_utc("2026-03-14T10:31:12+01:00") == parse_utc("2026-03-14T09:31:12Z")
    assert parse_utc("2026-03-14T10:31:12") is None  # naive local time: never guessed
    assert parse_utc(None) is None


def test_media_by_time_then_by_place() -> None:
    pts = track("log.txt", range(0, 601, 10))
    found = flights(pts)
    during = MediaItem("a.jpg", "", "jpeg", captured_at_utc="2026-03-14T10:10:30+01:00")  # 30 s after landing
    untimed_near = MediaItem("b.jpg", "", "jpeg", lat=47.0003, lon=8.0005)  # ~40 m from the track
    untimed_far = MediaItem("c.jpg", "", "jpeg", lat=47.1, lon=8.0)
    late = MediaItem("d.jpg", "", "jpeg", captured_at_utc=iso(800), lat=48.0, lon=8.0)
    got = media_flights([during, untimed_near, untimed_far, late], found, pts)
    assert got == {"a.jpg": "log.txt#1", "b.jpg": "log.txt#1"}
