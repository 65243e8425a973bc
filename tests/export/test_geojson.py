"""GeoJSON export: RFC 7946 structure, geometry validity (shapely) and readability by GDAL (ogrinfo).

Independent checks: the RFC's own rules written out below (not our code), shapely's validity test, and
GDAL's GeoJSON driver — what QGIS and ogr2ogr use — when the Debian ``gdal-bin`` package is installed
(``apt-get install gdal-bin``; the tests skip without it).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from droneaudit.export.geojson import to_geojson
from droneaudit.model import MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.logs.ardupilot import DataflashReader

OGRINFO = shutil.which("ogrinfo")
needs_gdal = pytest.mark.skipif(OGRINFO is None, reason="gdal-bin not installed (apt-get install gdal-bin)")


def rfc7946_problems(collection: dict[str, Any]) -> list[str]:
    """What breaks RFC 7946 in the subset we emit (FeatureCollection of Point / LineString features)."""
    out = []
    if collection.get("type") != "FeatureCollection" or not isinstance(collection.get("features"), list):
        return ["top level must be a FeatureCollection with a features array (§3.3)"]
    if "crs" in collection:
        out.append("no crs member: coordinates are always WGS-84 (§4)")
    for n, feature in enumerate(collection["features"]):
        if feature.get("type") != "Feature" or set(feature) != {"type", "geometry", "properties"}:
            out.append(f"feature {n}: type Feature with geometry and properties (§3.2)")
            continue
        geometry, properties = feature["geometry"], feature["properties"]
        if not isinstance(properties, dict):
            out.append(f"feature {n}: properties must be an object (§3.2)")
        kind, coordinates = geometry.get("type"), geometry.get("coordinates")
        positions = [coordinates] if kind == "Point" else coordinates if kind == "LineString" else None
        if positions is None:
            out.append(f"feature {n}: unexpected geometry type {kind}")
            continue
        if kind == "LineString" and len(positions) < 2:
            out.append(f"feature {n}: a LineString needs two or more positions (§3.1.4)")
        for position in positions:
            if not 2 <= len(position) <= 3 or not all(isinstance(v, float | int) and math.isfinite(v)
                                                      for v in position):  # fmt: skip
                out.append(f"feature {n}: a position is 2 or 3 finite numbers (§3.1.1)")
            elif not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
                out.append(f"feature {n}: longitude first, then latitude, in range (§3.1.1, §4)")
    return out


def _point(file: str, kind: str, lat: float, lon: float, **kw: Any) -> TrackPoint:
    return TrackPoint(file, kind, lat, lon, **kw)


def _sample_records() -> tuple[list[TrackPoint], list[MediaItem]]:
    msl, ell = {"alt_ref": "msl"}, {"alt_ref": "ellipsoid"}
    tracks = [
        _point("b.srt", "aircraft", 47.02, 8.02, alt_m=500.0, time_utc="2024-07-01T10:00:02Z",
               source="SRT frame 3", index=3, **msl),
        _point("b.srt", "aircraft", 47.00, 8.00, alt_m=498.0, time_utc="2024-07-01T10:00:00Z",
               source="SRT frame 1", index=1, **msl),
        _point("b.srt", "aircraft", 47.01, 8.01, alt_m=499.0, time_utc="2024-07-01T10:00:01.5Z",
               source="SRT frame 2", index=2, **msl),
        _point("b.srt", "home", 46.99, 7.99, source="SRT HOME", index=1),
        _point("b.srt", "home", 46.99, 7.99, source="SRT HOME", index=2),
        _point("b.srt", "home", 46.99, 7.99, source="SRT HOME", index=3),
        _point("a.tlog", "aircraft", 10.0, 20.0, alt_m=100.0, source="Remote ID", index=1, **ell),
        _point("a.tlog", "aircraft", 10.1, 20.1, alt_m=101.0, source="Remote ID", index=2, **ell),
        _point("a.tlog", "operator", 10.05, 20.05, alt_m=90.0, source="Remote ID operator", **ell),
        _point("a.tlog", "target", 10.2, 20.2, alt_m=30.0, alt_ref="relative", source="mission item 1",
               index=1),
        _point("c.jpg", "aircraft", 46.5, 7.5, alt_m=1200.0, source="EXIF GPS", **msl),
        _point("c.jpg", "aircraft", 46.5, 7.5, alt_m=1200.0, source="XMP drone-dji", **msl),
        _point("d.bin", "aircraft", 1.0, 2.0, source="DataFlash GPS", index=1),
        _point("e.bin", "aircraft", math.nan, 2.0, source="broken"),
        _point("e.bin", "home", 91.0, 2.0, source="out of range"),
    ]  # fmt: skip
    media = [
        MediaItem("c.jpg", "c" * 64, "jpeg", lat=46.5, lon=7.5, alt_m=1200.0,
                  captured_at="2024:07:01 12:00:00", captured_at_utc="2024-07-01T10:00:00Z"),
        MediaItem("b.srt", "b" * 64, "srt", lat=47.0, lon=8.0),  # a video sidecar: its track is the line
        MediaItem("f.jpg", "f" * 64, "jpeg"),  # no position: nothing to draw
    ]  # fmt: skip
    return tracks, media


def _by(collection: dict[str, Any], file: str, kind: str) -> list[dict[str, Any]]:
    return [
        f
        for f in collection["features"]
        if (f["properties"]["file"], f["properties"]["kind"]) == (file, kind)
    ]


def test_structure_is_rfc7946() -> None:
    collection = to_geojson(*_sample_records())
    assert rfc7946_problems(collection) == []
    json.dumps(collection, allow_nan=False)  # no NaN or Infinity can reach the text
    order = [(f["properties"]["file"], f["properties"]["kind"]) for f in collection["features"]]
    assert order == [
        ("a.tlog", "aircraft"), ("a.tlog", "operator"), ("a.tlog", "target"),
        ("b.srt", "aircraft"), ("b.srt", "home"),
        ("c.jpg", "photo"),
        ("d.bin", "aircraft"),
    ]  # fmt: skip


def test_aircraft_line_in_time_order_without_msl_heights() -> None:
    (line,) = _by(to_geojson(*_sample_records()), "b.srt", "aircraft")
    assert line["geometry"] == {
        "type": "LineString",
        "coordinates": [[8.0, 47.0], [8.01, 47.01], [8.02, 47.02]],
    }
    props = line["properties"]
    assert (props["time_utc"], props["time_utc_end"]) == ("2024-07-01T10:00:00Z", "2024-07-01T10:00:02Z")
    assert (props["alt_m_min"], props["alt_m_max"], props["alt_ref"]) == (498.0, 500.0, "msl")
    assert (props["source"], props["points"]) == ("SRT frame", 3)


def test_ellipsoid_heights_become_the_third_coordinate() -> None:
    collection = to_geojson(*_sample_records())
    (line,) = _by(collection, "a.tlog", "aircraft")
    assert line["geometry"]["coordinates"] == [[20.0, 10.0, 100.0], [20.1, 10.1, 101.0]]
    (operator,) = _by(collection, "a.tlog", "operator")
    assert operator["geometry"]["coordinates"] == [20.05, 10.05, 90.0]
    (target,) = _by(collection, "a.tlog", "target")
    assert target["geometry"]["coordinates"] == [20.2, 10.2]  # relative height stays in the properties
    assert (target["properties"]["alt_m"], target["properties"]["alt_ref"]) == (30.0, "relative")


def test_repeated_places_are_one_point_with_a_count() -> None:
    (home,) = _by(to_geojson(*_sample_records()), "b.srt", "home")
    assert home["geometry"]["coordinates"] == [7.99, 46.99]
    assert (home["properties"]["count"], home["properties"]["index"]) == (3, 1)


def test_photo_is_a_point_not_a_line() -> None:
    collection = to_geojson(*_sample_records())
    assert _by(collection, "c.jpg", "aircraft") == []
    (photo,) = _by(collection, "c.jpg", "photo")
    assert photo["geometry"]["coordinates"] == [7.5, 46.5]
    props = photo["properties"]
    assert (props["time_utc"], props["time_local"]) == ("2024-07-01T10:00:00Z", "2024:07:01 12:00:00")
    assert (props["alt_m"], props["alt_ref"], props["source"], props["format"]) == (
        1200.0,
        "msl",
        "EXIF GPS",
        "jpeg",
    )


def test_single_position_track_is_a_point_and_bad_positions_are_dropped() -> None:
    collection = to_geojson(*_sample_records())
    (lone,) = _by(collection, "d.bin", "aircraft")
    assert lone["geometry"] == {"type": "Point", "coordinates": [2.0, 1.0]}
    assert [f for f in collection["features"] if f["properties"]["file"] == "e.bin"] == []


def test_order_of_input_does_not_matter() -> None:
    tracks, media = _sample_records()
    expected = json.dumps(to_geojson(tracks, media))
    rng = random.Random(5)
    for _ in range(5):
        rng.shuffle(tracks)
        rng.shuffle(media)
        assert json.dumps(to_geojson(tracks, media)) == expected


def test_empty_input() -> None:
    assert to_geojson([], []) == {"type": "FeatureCollection", "features": []}


def test_geometries_are_valid_for_shapely() -> None:
    geometry = pytest.importorskip("shapely.geometry")
    for feature in to_geojson(*_sample_records())["features"]:
        shape = geometry.shape(feature["geometry"])
        assert shape.is_valid and not shape.is_empty, feature
        first = feature["geometry"]["coordinates"]
        first = first[0] if feature["geometry"]["type"] == "LineString" else first
        assert (shape.coords[0][0], shape.coords[0][1]) == (first[0], first[1])


def _dataflash_records(corpus: Path) -> MediaRecords:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))
    DataflashReader().read(corpus / "drone-media" / "pymavlink" / "test.BIN", "test.BIN", ctx)
    return ctx.media[0]


def test_a_real_flight_log(corpus: Path) -> None:
    rec = _dataflash_records(corpus)
    collection = to_geojson(rec.tracks, [rec.item])
    assert rfc7946_problems(collection) == []
    kinds = [f["properties"]["kind"] for f in collection["features"]]
    assert kinds == ["aircraft"] + ["home"] * 3 + ["target"] * 10  # README: CMAC field, ORGN 2, 11 CMDs
    line = collection["features"][0]
    assert (
        line["properties"]["points"] == 28 and line["properties"]["source"] == "DataFlash GPS; DataFlash POS"
    )


def _ogrinfo(path: Path, *args: str) -> str:
    assert OGRINFO is not None
    done = subprocess.run([OGRINFO, "-ro", *args, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_gdal
def test_gdal_reads_it(tmp_path: Path, corpus: Path) -> None:
    rec = _dataflash_records(corpus)
    tracks, media = _sample_records()
    collection = to_geojson(tracks + rec.tracks, [*media, rec.item])
    path = tmp_path / "positions.geojson"
    path.write_text(json.dumps(collection, allow_nan=False))
    summary = _ogrinfo(path, "-al", "-so")
    assert f"Feature Count: {len(collection['features'])}" in summary
    assert 'GEOGCRS["WGS 84"' in summary and "count: Integer" in summary
    assert "time_utc: DateTime" in summary or "time_utc: String" in summary  # GDAL guesses dates by version
    details = _ogrinfo(path, "-al", "-q")
    assert details.count("LINESTRING") == 3 and "POINT Z (20.05 10.05 90)" in details
    converted = tmp_path / "positions.gpkg"
    ogr2ogr = shutil.which("ogr2ogr")
    assert ogr2ogr is not None
    subprocess.run(
        [ogr2ogr, "-f", "GPKG", str(converted), str(path)], check=True, capture_output=True, timeout=60
    )
    assert f"Feature Count: {len(collection['features'])}" in _ogrinfo(converted, "-al", "-so")
