"""Airdata CSV reader against Airdata's own KML of the same flight and the corpus READMEs.

``AirdataKML.kml`` is Airdata's export of the flight in ``AirdataCSV.csv``: its track has one vertex per
fifth CSV row with ``absolute`` (MSL) altitude in metres, and a ``Home`` placemark. DROP's CSV is checked
against the values its README gives (row 1, and the v7 log's first HOME record being the same point).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.logs.airdata_csv import AirdataCsvReader

READER = AirdataCsvReader()
HEADER = "time(millisecond),datetime(utc),latitude,longitude,altitude(feet),flycState,message\n"


def _read(path: Path) -> tuple[MediaRecords, ScanContext]:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))
    fmt, digest = READER.read(path, path.name, ctx)
    assert fmt == "airdata-csv" and len(digest) == 64
    assert len(ctx.media) == 1
    return ctx.media[0], ctx


def _codes(ctx: ScanContext) -> dict[str, tuple[int | None, int]]:
    return {p.code: (p.frame, p.count) for p in ctx.problems.records()}


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _kml_points(kml: str) -> tuple[list[tuple[float, float, float]], tuple[float, float, float]]:
    """(track vertices, home) as (lat, lon, alt) from Airdata's KML."""
    blocks = re.findall(r"<coordinates>(.*?)</coordinates>", kml, re.S)
    home, track = blocks[0].split(), blocks[1].split()
    as_point = [(float(lat), float(lon), float(alt)) for lon, lat, alt in (c.split(",") for c in track)]
    lon, lat, alt = home[0].split(",")
    return as_point, (float(lat), float(lon), float(alt))


@pytest.fixture(scope="module")
def airdata(corpus: Path) -> Path:
    return corpus / "drone-media" / "dronextract"


def test_track_matches_airdatas_own_kml(airdata: Path) -> None:
    records, ctx = _read(airdata / "AirdataCSV.csv")
    aircraft = [t for t in records.tracks if t.kind == "aircraft"]
    assert len(aircraft) == 2261  # README: 2,261 data rows
    kml_track, _ = _kml_points((airdata / "AirdataKML.kml").read_text())
    assert len(kml_track) == 453
    for vertex, point in zip(kml_track, aircraft[::5], strict=True):
        assert (point.lat, point.lon) == vertex[:2]
        assert point.alt_m == pytest.approx(vertex[2], abs=1e-4) and point.alt_ref == "msl"
    assert len(ctx.problems) == 0


def test_first_row_as_the_readme_says(airdata: Path) -> None:
    """Row 1: 2021-10-10 00:31:35 UTC at 33.882353627688, -118.371087252864."""
    records, _ = _read(airdata / "AirdataCSV.csv")
    first = records.tracks[0]
    assert (first.lat, first.lon, first.index) == (33.882353627688, -118.371087252864, 1)
    assert (first.time_utc, first.time_basis, first.time_local) == ("2021-10-10T00:31:35Z", "utc", None)
    assert records.item.captured_at_utc == "2021-10-10T00:31:35Z"
    assert records.item.captured_at == "2021-10-10 00:31:35"
    assert (records.item.lat, records.item.lon) == (first.lat, first.lon)
    assert records.item.format == "airdata-csv"


def test_home_from_the_homepoint_message_is_near_airdatas_home(airdata: Path) -> None:
    """No home columns: the 'Homepoint updated' row gives an approximate home; Airdata's KML home is
    within GPS noise (about 11 m) of it."""
    records, _ = _read(airdata / "AirdataCSV.csv")
    homes = [t for t in records.tracks if t.kind == "home"]
    assert len(homes) == 1 and "Homepoint updated" in homes[0].source
    _, (lat, lon, alt) = _kml_points((airdata / "AirdataKML.kml").read_text())
    assert abs(homes[0].lat - lat) * 111_320 < 15 and abs(homes[0].lon - lon) * 92_500 < 15
    assert homes[0].alt_m == pytest.approx(alt, abs=1.0)


def test_drop_csv_is_the_same_family(corpus: Path) -> None:
    """DROP README: 2,518 rows; row 1 41.2944871526276, -72.96442396355 at 2016-09-15 17:51:19 UTC;
    the log's first HOME is the first OSD fix (row 1 says 'Home Point Recorded')."""
    records, ctx = _read(corpus / "drone-media" / "drop" / "2016-09-15_13-51-19_Standard.csv")
    aircraft = [t for t in records.tracks if t.kind == "aircraft"]
    assert len(aircraft) == 2518
    assert (aircraft[0].lat, aircraft[0].lon) == (41.2944871526276, -72.96442396355)
    assert aircraft[0].time_utc == "2016-09-15T17:51:19Z"
    assert aircraft[0].alt_m == pytest.approx(156.75737968815 * 0.3048) and aircraft[0].alt_ref == "msl"
    homes = [t for t in records.tracks if t.kind == "home"]
    assert [(round(h.lat, 7), round(h.lon, 7)) for h in homes] == [(41.2944872, -72.964424)]
    assert records.item.extra["alt_column"] == "altitude(feet) (msl)"
    assert len(ctx.problems) == 0


def test_sniff_by_header(corpus: Path, tmp_path: Path) -> None:
    media = corpus / "drone-media"
    airdata_files = {"AirdataCSV.csv", "2016-09-15_13-51-19_Standard.csv"}
    for path in sorted(media.glob("*/*")):
        head = path.read_bytes()[:64]
        score = READER.sniff(head, path)
        assert (score > 0) == (path.name in airdata_files), path
    renamed = _write(tmp_path, "flight.dat", HEADER + "0,2021-10-10 00:31:35,33.8,-118.3,81,P-GPS,\n")
    assert READER.sniff(renamed.read_bytes()[:64], renamed) > 0
    other = _write(tmp_path, "other.csv", "latitude,longitude,name\n1,2,x\n")
    assert READER.sniff(other.read_bytes()[:64], other) < 0


# --- damaged and hostile input ------------------------------------------------------------------------


def test_empty_and_wrong_format(tmp_path: Path) -> None:
    records, ctx = _read(_write(tmp_path, "empty.csv", b""))
    assert records.tracks == [] and "empty-file" in _codes(ctx)
    records, ctx = _read(_write(tmp_path, "image.csv", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 40))
    assert records.tracks == [] and "bad-header" in _codes(ctx)
    records, ctx = _read(_write(tmp_path, "header_only.csv", HEADER))
    assert records.tracks == [] and records.item.extra["rows"] == "0"


def test_truncated_export_keeps_whole_rows(airdata: Path, tmp_path: Path) -> None:
    data = (airdata / "AirdataCSV.csv").read_bytes()
    cut = data[: data.index(b"\n", 5000) + 40]  # 40 bytes into a row
    records, ctx = _read(_write(tmp_path, "cut.csv", cut))
    whole_rows = cut.count(b"\n") - 1
    assert len([t for t in records.tracks if t.kind == "aircraft"]) == whole_rows
    assert _codes(ctx)["truncated-record"] == (whole_rows + 1, 1)


def test_bad_rows_and_rows_without_fix(tmp_path: Path) -> None:
    body = (
        "0,2021-10-10 00:31:35,0,0,81,P-GPS,\n"
        "100,2021-10-10 00:31:35,north,-118.3,81,P-GPS,\n"
        "200,2021-10-10 00:31:36,33.8,-118.3,81,P-GPS,extra,field\n"
        "300,2021-10-10 00:31:36,33.8,-118.3,81,P-GPS,\n"
    )
    records, ctx = _read(_write(tmp_path, "bad.csv", HEADER + body))
    assert [t.index for t in records.tracks] == [4]
    assert _codes(ctx) == {"gps-no-fix": (1, 1), "bad-row": (2, 2)}


def test_home_operator_and_serial_columns(tmp_path: Path) -> None:
    """Flight Reader style columns: HOME.*, APPGPS.* (the phone = operator), a serial column; metres."""
    text = (
        "datetime(utc),latitude,longitude,height_above_takeoff(meters),HOME.latitude,HOME.longitude,"
        "APPGPS.latitude,APPGPS.longitude,aircraftSerial,batterySerial\n"
        "2024-01-01 10:00:00,45.1,16.1,1.5,45.0,16.0,45.01,16.01,1581F6Z9C23CP003,7BVPLBVDA104J3\n"
        "2024-01-01 10:00:01,45.2,16.2,2.5,45.0,16.0,45.02,16.02,1581F6Z9C23CP003,7BVPLBVDA104J3\n"
    )
    records, _ = _read(_write(tmp_path, "fr.csv", text))
    by_kind = {k: [(t.lat, t.lon) for t in records.tracks if t.kind == k] for k in ("home", "operator")}
    assert by_kind == {"home": [(45.0, 16.0)], "operator": [(45.01, 16.01), (45.02, 16.02)]}
    assert records.tracks[0].alt_m == 1.5 and records.tracks[0].alt_ref == "relative"
    assert {(i.kind, i.value) for i in records.identities} == {
        ("aircraft-serial", "1581F6Z9C23CP003"),
        ("battery-serial", "7BVPLBVDA104J3"),
    }
    assert records.item.serials["aircraft-serial"] == "1581F6Z9C23CP003"


def test_unsplittable_row_stops_with_a_problem(tmp_path: Path) -> None:
    body = "0,2021-10-10 00:31:35,33.8,-118.3,81,P-GPS,\n" + "1," + '"' + "x" * 200_000 + '"\n'
    records, ctx = _read(_write(tmp_path, "huge.csv", HEADER + body))
    assert len(records.tracks) == 1 and "bad-row" in _codes(ctx)
