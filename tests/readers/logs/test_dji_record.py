"""DJI flight-record reader against the corpus READMEs (values read with pydjirecord 1.3.0) and against
DROP's CSV decode of the same v7 flight (``2016-09-15_13-51-19_Standard.csv``, one row per OSD record).
"""

from __future__ import annotations

import csv
import random
import struct
from datetime import datetime
from pathlib import Path

import pytest

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.logs.dji_record import DjiRecordReader, parse

READER = DjiRecordReader()
FEET = 0.3048


def _read(path: Path) -> tuple[MediaRecords, ScanContext]:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))
    assert READER.read(path, path.name, ctx)[0] == "dji-flight-record"
    assert len(ctx.media) == 1
    return ctx.media[0], ctx


def _parse(data: bytes) -> tuple[MediaRecords, set[str]]:
    problems = ProblemLog()
    records = parse(data, "x.txt", "0" * 64, problems)
    return records, {p.code for p in problems.records()}


def _identities(rec: MediaRecords) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for identity in rec.identities:
        out.setdefault(identity.kind, []).append(identity.value)
    return out


@pytest.fixture(scope="module")
def v7(corpus: Path) -> Path:
    return corpus / "drone-media" / "drop" / "DJIFlightRecord_2016-09-15_[13-51-18].txt"


@pytest.fixture(scope="module")
def v14(corpus: Path) -> Path:
    return corpus / "drone-media" / "pydjirecord" / "DJIFlightRecord_2024-09-01_[14-55-49].txt"


# --- details block ------------------------------------------------------------------------------------


def test_v7_details_as_the_readme_says(v7: Path) -> None:
    rec, ctx = _read(v7)
    ids = _identities(rec)
    assert ids["aircraft-name"] == ["Yuhe's Phantom3"]
    assert rec.item.serials == {
        "aircraft-serial": "03Z0600080",
        "camera-serial": "CL03021337",
        "rc-serial": "05LD102XHR",
        "battery-serial": "1153516293",
    }
    assert set(ids["address"]) == {"New Haven County", "Connecticut"}
    assert ids["app-version"] == ["Android 2.9.0"]
    assert rec.item.captured_at_utc == "2016-09-15T17:51:18.667Z"
    assert (round(rec.item.lat or 0, 6), round(rec.item.lon or 0, 6)) == (41.294487, -72.964424)
    assert (rec.item.make, rec.item.model, rec.item.extra["version"]) == ("DJI", "Phantom 3 Standard", "7")
    takeoff = next(t for t in rec.tracks if t.source == "details takeoff point")
    assert takeoff.kind == "home" and takeoff.time_basis == "utc"
    assert len(ctx.problems) == 0


def test_v14_details_read_offline(v14: Path) -> None:
    rec, _ = _read(v14)
    ids = _identities(rec)
    assert ids["aircraft-name"] == ["m4p.rembish.org"]
    assert rec.item.serials == {
        "aircraft-serial": "1581F6Z9C23CP003",
        "camera-serial": "6TVQLBJ0M209BS",
        "rc-serial": "6ZDZLBG007008Z",
        "battery-serial": "7BVPLBVDA104J3",
    }
    assert ids["app-version"] == ["DJI Fly 1.13.10"]
    assert "address" not in ids  # city/sub_street are the app's "Map Loading" placeholder
    assert rec.item.captured_at_utc == "2024-09-01T12:55:49.477Z"
    assert (round(rec.item.lat or 0, 6), round(rec.item.lon or 0, 6)) == (45.471867, 16.385342)
    assert rec.item.model == "Mini 4 Pro"
    assert rec.item.extra["takeoff_altitude_m"].startswith("95.2 ")
    assert rec.item.extra["embedded_jpegs"] == "0"
    assert rec.item.extra["department"] == "DJI Fly"


def test_v14_frames_are_reported_encrypted_not_fetched(v14: Path) -> None:
    """Only the takeoff point: the frames need DJI's keychain server, which is never called."""
    rec, ctx = _read(v14)
    assert [t.kind for t in rec.tracks] == ["home"]
    assert "not fetched" in rec.item.extra["frames"]
    # The sample's last 4 bytes start a type-57 record whose u16 length (48) runs past the end.
    data = v14.read_bytes()
    assert data[-4] == 57 and struct.unpack_from("<H", data, len(data) - 3)[0] == 48
    assert {p.code for p in ctx.problems.records()} == {"truncated-record"}


# --- v7 frames against DROP's CSV of the same flight ---------------------------------------------------


def test_v7_frames_match_the_ground_truth_csv(v7: Path) -> None:
    rows = list(csv.DictReader((v7.parent / "2016-09-15_13-51-19_Standard.csv").open()))
    rec, _ = _read(v7)
    aircraft = [t for t in rec.tracks if t.kind == "aircraft" and t.index is not None]
    assert len(aircraft) == len(rows) == 2518
    for row, point in zip(rows, aircraft, strict=True):
        assert point.lat == pytest.approx(float(row["latitude"]), abs=1e-9)
        assert point.lon == pytest.approx(float(row["longitude"]), abs=1e-9)
        assert point.alt_m == pytest.approx(float(row["ascent(feet)"]) * FEET, abs=1e-3)
        assert point.alt_ref == "relative" and point.time_utc is not None
        ours = datetime.fromisoformat(point.time_utc.replace("Z", "+00:00")).timestamp()
        theirs = datetime.fromisoformat(row["datetime(utc)"] + "+00:00").timestamp()
        assert abs(ours - theirs) <= 0.5  # the CSV rounds to whole seconds


def test_v7_home_operator_and_counts_as_the_readme_says(v7: Path) -> None:
    """README: first HOME = first OSD fix; first APP_GPS 41.2943185 N, -72.9645362 W; 251 APP_GPS
    records; record counts add up to 11,594; 8 embedded JPEGs."""
    rec, _ = _read(v7)
    first_osd = next(t for t in rec.tracks if t.kind == "aircraft" and t.index)
    first_home = next(t for t in rec.tracks if t.kind == "home" and t.index)
    assert (first_home.lat, first_home.lon) == pytest.approx((first_osd.lat, first_osd.lon), abs=1e-6)
    operator = [t for t in rec.tracks if t.kind == "operator"]
    assert (round(operator[0].lat, 7), round(operator[0].lon, 7)) == (41.2943185, -72.9645362)
    assert 1 < len(operator) <= 251 and all(t.time_basis == "utc" for t in operator)
    counts = {1: 2518, 2: 251, 14: 251, 3: 2518, 4: 2518, 5: 2518, 6: 503, 7: 251, 8: 251, 9: 3, 13: 6, 15: 6}
    assert rec.item.extra["records"] == str(sum(counts.values()))
    assert rec.item.extra["embedded_jpegs"] == "8"


# --- sniffing and damage --------------------------------------------------------------------------------


def test_sniff_by_prefix(corpus: Path) -> None:
    for path in sorted((corpus / "drone-media").glob("*/*")):
        score = READER.sniff(path.read_bytes()[:64], path)
        assert (score > 0) == path.name.startswith("DJIFlightRecord_"), path


def test_cut_v7_keeps_frames_and_reports_the_missing_details(v7: Path) -> None:
    rec, codes = _parse(v7.read_bytes()[:100_000])
    assert {"truncated-details", "truncated-record"} <= codes
    assert rec.identities == [] and len([t for t in rec.tracks if t.kind == "aircraft"]) > 700


@pytest.mark.parametrize(
    ("cut", "code"),
    [(0, "truncated-file-header"), (64, "truncated-file-header"), (102, "truncated-details"),
     (500, "truncated-details"), (1000, "truncated-record")],
)  # fmt: skip
def test_cut_v14(v14: Path, cut: int, code: str) -> None:
    _, codes = _parse(v14.read_bytes()[:cut])
    assert code in codes


def test_v14_without_detail_offset_finds_the_records_after_the_version_block(v14: Path) -> None:
    data = bytearray(v14.read_bytes())
    data[0:8] = bytes(8)  # dji-log-parser recovers this case from the auxiliary blocks' sizes
    rec, _ = _parse(bytes(data))
    assert rec.item.extra["records"] == _parse(v14.read_bytes())[0].item.extra["records"] != "0"


def test_wrong_format_and_unsupported_version(tmp_path: Path) -> None:
    text = b"This is not a flight record, just text that is long enough. " * 4
    assert READER.sniff(text[:64], _touch(tmp_path, text)) < 0
    rec, codes = _parse(text)
    assert rec.tracks == [] and codes
    old = struct.pack("<QHB", 200, 100, 5) + bytes(289)
    rec, codes = _parse(old)
    assert "unsupported-version" in codes and rec.identities == []


def _touch(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "DJIFlightRecord_fake.txt"
    path.write_bytes(data)
    return path


def test_scrambled_bytes_never_raise(v7: Path, v14: Path) -> None:
    rng = random.Random(7)
    for path in (v7, v14):
        data = path.read_bytes()
        for _ in range(20):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 40)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            _parse(bytes(damaged))
