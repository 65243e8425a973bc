"""Flows joined to flights by time, on a synthetic case whose flight and upload times are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from droneaudit.correlate import correlate
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import CatalogEntry
from droneaudit.flights import flights
from droneaudit.model import Flight, Identity, TrackPoint

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)  # takeoff; landing 09:10 UTC
SCHEMA = pa.schema(
    [
        ("first_seen", pa.timestamp("ns", tz="UTC")),
        ("last_seen", pa.timestamp("ns", tz="UTC")),
        ("host", pa.string()),
        ("remote_ip", pa.string()),
        ("bytes_up", pa.int64()),
        ("bytes_down", pa.int64()),
        ("file", pa.string()),
        ("first_frame", pa.int64()),
        ("duplicate_of", pa.int64()),
    ]
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def flow(
    start: float,
    end: float,
    host: str | None,
    ip: str,
    up: int,
    file: str,
    frame: int,
    dup: int | None = None,
) -> dict[str, object]:
    return {
        "first_seen": at(start),
        "last_seen": at(end),
        "host": host,
        "remote_ip": ip,
        "bytes_up": up,
        "bytes_down": 10,
        "file": file,
        "first_frame": frame,
        "duplicate_of": dup,
    }


def case_flights(log_offset: float = 0.0) -> list[Flight]:
    """One flight 09:00–09:10 UTC; the log's own clock is ``-log_offset`` seconds off."""
    pts = [
        TrackPoint(
            "/e/FlightRecord.txt",
            "aircraft",
            47.0,
            8.0,
            time_utc=(at(m) - timedelta(seconds=log_offset)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for m in range(11)
    ]
    return list(
        flights(
            pts,
            [Identity("aircraft-serial", "SN1", "/e/FlightRecord.txt")],
            clock_offsets={"FlightRecord.txt": log_offset},
        )
    )


def endpoints() -> list[Endpoint]:
    entry = CatalogEntry(
        "upload.example", "Vendor", "Photo upload", "cloud-storage", True, (), "B", ("test",)
    )
    up = Endpoint("upload.example", ["203.0.113.5"], False, None, None, None, None, entry)
    lan = Endpoint(None, ["192.168.1.1"], True, None, None, None, None, None)
    return [up, lan]


def table(late_capture_shift_min: float = 0.0) -> pa.Table:
    s = late_capture_shift_min
    rows = [
        flow(-14, -13, "telemetry.example", "198.51.100.7", 100, "phone.pcapng", 1),
        flow(5, 5.5, "upload.example", "203.0.113.5", 2000, "phone.pcapng", 50),
        flow(5, 5.5, "upload.example", "203.0.113.5", 2000, "router.pcap", 7, dup=1),
        flow(6, 6, None, "192.168.1.1", 99, "phone.pcapng", 60),
        flow(20 + s, 22 + s, "upload.example", "203.0.113.5", 5_000_000, "late.pcap", 3),
        flow(-2, 3, None, "198.51.100.9", 1, "phone.pcapng", 2),
        flow(41, 42, "upload.example", "203.0.113.5", 1, "phone.pcapng", 90),
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def summary(found: list[Flight], **kw: object) -> list[tuple[object, ...]]:
    out = correlate(table(kw.pop("shift", 0.0)), found, endpoints(), **kw)  # type: ignore[arg-type]
    return [(c.flight, c.relation, c.host, c.category, c.offset_s, c.bytes_up) for c in out]


EXPECTED = [
    ("SN1#1", "before_takeoff", "telemetry.example", None, -780.0, 100),
    ("SN1#1", "during", "198.51.100.9", None, -120.0, 1),
    ("SN1#1", "during", "upload.example", "cloud-storage", 300.0, 2000),
    ("SN1#1", "after_landing", "upload.example", "cloud-storage", 600.0, 5_000_000),
]


def test_relations_hosts_categories_and_bytes() -> None:
    assert summary(case_flights()) == EXPECTED


def test_window() -> None:
    got = summary(case_flights(), window_s=3600.0)
    assert ("SN1#1", "after_landing", "upload.example", "cloud-storage", 600.0, 5_000_001) in got
    assert summary(case_flights(), window_s=60.0) == EXPECTED[1:3]


def test_clock_offsets_on_both_sides() -> None:
    """The capture that ran 2 h fast (a phone left in another zone) and a log 5 s slow line up again."""
    found = case_flights(log_offset=5.0)
    got = summary(found, shift=120.0, clock_offsets={"late.pcap": -7200.0})
    assert got == EXPECTED
    without = summary(found, shift=120.0)
    assert all(r[1] != "after_landing" for r in without)


def test_evidence_and_json() -> None:
    out = correlate(table(), case_flights(), endpoints())
    after = next(c for c in out if c.relation == "after_landing")
    assert after.evidence == ({"file": "late.pcap", "frame": 3, "kind": "flow"},)
    assert after.to_dict()["offset_s"] == pytest.approx(600.0)


def test_no_flights_or_no_times() -> None:
    assert correlate(table(), [], endpoints()) == []
    assert correlate(table().slice(0, 0), case_flights(), endpoints()) == []
