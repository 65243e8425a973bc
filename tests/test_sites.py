"""Site layers and metric buffers, with pyproj's geodesic (GeographicLib) distances as the oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from droneaudit.errors import UsageError
from droneaudit.sites import Frame, Site, load, match
from droneaudit.synth.sites import write_demo_sites

pyproj = pytest.importorskip("pyproj")
GEOD = pyproj.Geod(ellps="WGS84")
LATITUDES = (0.0, 45.0, 70.0, 85.0, -60.0)


def fwd(lat: float, lon: float, az: float, dist: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, dist)
    return float(lat2), float(lon2)


@pytest.mark.parametrize("lat0", LATITUDES)
@pytest.mark.parametrize("lon0", [8.5, 179.999, -179.999])
def test_frame_distances_match_geodesic(lat0: float, lon0: float) -> None:
    frame = Frame.at(lat0, lon0)
    az = np.arange(0.0, 360.0, 10.0)
    for dist in (1.0, 100.0, 5_000.0, 50_000.0):
        lon2, lat2, _ = GEOD.fwd(np.full(az.size, lon0), np.full(az.size, lat0), az, np.full(az.size, dist))
        x, y = frame.project(lat2, lon2)
        assert np.allclose(np.hypot(x, y), dist, rtol=1e-8, atol=1e-6)
        _, _, between = GEOD.inv(lon2[:-1], lat2[:-1], lon2[1:], lat2[1:])
        assert np.allclose(np.hypot(np.diff(x), np.diff(y)), between, rtol=2e-5)


@pytest.mark.parametrize("lat0", LATITUDES)
def test_point_buffer_edge(lat0: float) -> None:
    site = Site.make("p", "t", shapely.Point(10.0, lat0), 100.0)
    for az in (0.0, 37.0, 90.0, 180.0, 271.0):
        inside, outside = fwd(lat0, 10.0, az, 99.99), fwd(lat0, 10.0, az, 100.01)
        on_edge = fwd(lat0, 10.0, az, 100.0)
        hits = match(
            [site],
            np.array([inside[0], outside[0], on_edge[0]]),
            np.array([inside[1], outside[1], on_edge[1]]),
        )
        assert sorted(hits.point.tolist()) == [0, 2]
        assert hits.distance_m[hits.point == 0][0] == pytest.approx(99.99, abs=1e-4)


@pytest.mark.parametrize("lat0", LATITUDES)
def test_line_buffer_against_geodesic_offset(lat0: float) -> None:
    """A point 250 m abeam the middle of a 2 km east-west line is 250 m from it (geodesic oracle)."""
    west, east = fwd(lat0, 20.0, 270.0, 1000.0), fwd(lat0, 20.0, 90.0, 1000.0)
    site = Site.make(
        "line", "t", shapely.LineString([(west[1], west[0]), (20.0, lat0), (east[1], east[0])]), 250.0
    )
    north = fwd(lat0, 20.0, 0.0, 250.0)
    assert site.distance_m([north[0]], [north[1]])[0] == pytest.approx(250.0, abs=0.01)
    just_out = fwd(lat0, 20.0, 0.0, 250.05)
    assert match(
        [site], np.array([north[0], just_out[0]]), np.array([north[1], just_out[1]])
    ).point.tolist() == [0]


def test_polygon_across_antimeridian() -> None:
    ring = [(179.99, -16.0), (-179.99, -16.0), (-179.99, -16.01), (179.99, -16.01), (179.99, -16.0)]
    site = Site.make("fiji", "t", shapely.Polygon(ring), 0.0)
    lat = np.array([-16.005, -16.005, -16.005, -16.005])
    lon = np.array([180.0, -180.0, 179.995, 0.0])
    assert sorted(match([site], lat, lon).point.tolist()) == [0, 1, 2]
    assert len(site.boxes()) == 2
    width = site.distance_m([-16.005], [179.98])[0]
    _, _, oracle = GEOD.inv(179.98, -16.005, 179.99, -16.005)
    assert width == pytest.approx(oracle, rel=1e-4)


def test_point_buffer_across_antimeridian() -> None:
    site = Site.make("dateline", "t", shapely.Point(179.9995, 0.0), 200.0)
    lat, lon = fwd(0.0, 179.9995, 90.0, 150.0)
    assert lon < 0
    hits = match([site], np.array([lat]), np.array([lon]))
    assert hits.point.tolist() == [0]
    assert hits.distance_m[0] == pytest.approx(150.0, abs=1e-3)


def test_high_latitude_and_pole() -> None:
    site = Site.make("pole", "t", shapely.Point(0.0, 89.9995), 500.0)
    across = fwd(89.9995, 0.0, 0.0, 400.0)  # over the pole, to the other side
    _, _, oracle = GEOD.inv(0.0, 89.9995, across[1], across[0])
    assert site.distance_m([across[0]], [across[1]])[0] == pytest.approx(oracle, abs=0.01)
    assert match([site], np.array([across[0], 89.99]), np.array([across[1], 120.0])).point.tolist() == [0]
    ((west, south, east, north),) = site.boxes()
    assert (west, east, north) == (-180.0, 180.0, 90.0)
    assert south == pytest.approx(89.9995 - 500 / 110_000, abs=1e-6)


def test_geojson_kml_csv_and_defaults(tmp_path: Path) -> None:
    gj = tmp_path / "a.geojson"
    square = [[[8.0, 47.0], [8.001, 47.0], [8.001, 47.001], [8.0, 47.001], [8.0, 47.0]]]
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Polygon", "coordinates": square},
                        "properties": {},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [8.0, 47.0]},
                        "properties": {"name": "P", "buffer_m": 42},
                    },
                    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": square[0][:2]}},
                ],
            }
        )
    )
    kml = tmp_path / "b.kml"
    kml.write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        '<Placemark><name>K</name><ExtendedData><Data name="buffer_m"><value>7</value></Data></ExtendedData>'
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>8,47,0 8.001,47,0 8.001,47.001,0 8,47,0"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
        "<Placemark><Point><coordinates>8.5,47.5</coordinates></Point></Placemark></Document></kml>"
    )
    csv = tmp_path / "c.csv"
    csv.write_text("Name,Lat,Lon,buffer_m\nx,47.1,8.1,\ny,47.2,8.2,5\nbad,,8.3,\n")
    sites = load([gj, kml, csv])
    got = [(s.layer, s.name, s.geometry.geom_type, s.buffer_m) for s in sites]
    assert got == [
        ("a", "a#1", "Polygon", 0.0),
        ("a", "P", "Point", 42.0),
        ("a", "a#3", "LineString", 100.0),
        ("b", "K", "Polygon", 7.0),
        ("b", "b#2", "Point", 100.0),
        ("c", "x", "Point", 100.0),
        ("c", "y", "Point", 5.0),
    ]
    assert [s.buffer_m for s in load([gj], buffer_m=30.0)] == [30.0, 42.0, 30.0]
    with pytest.raises(UsageError):
        load([tmp_path / "x.shp"])


def test_demo_layer_is_deterministic(tmp_path: Path) -> None:
    first = write_demo_sites(tmp_path / "1").read_bytes()
    assert first == write_demo_sites(tmp_path / "2").read_bytes()
    sites = load([tmp_path / "1" / "demo-sites.geojson"])
    assert [s.name for s in sites] == ["Demo substation", "Demo rail line", "Demo hospital"]
    photos = np.array([[47.3769001, 8.5416999], [47.3771502, 8.5421004], [47.3774008, 8.5425511]])
    hits = match(sites, photos[:, 0], photos[:, 1])
    assert (1, 0) in set(zip(hits.point.tolist(), hits.site.tolist(), strict=True))


def test_corpus_layers(corpus: Path) -> None:
    geo = corpus / "geo"
    nuclear = load([geo / "druidsmith-powergeneration" / "nuclear.geojson"])
    assert len(nuclear) > 50 and all(s.geometry.geom_type == "Point" and s.buffer_m == 100.0 for s in nuclear)
    assert nuclear[0].name == "FARLEY NUCLEAR PLANT"
    eprtr = load([geo / "wri-gppd" / "database_EPRTR.csv"], buffer_m=1000.0)
    assert len(eprtr) > 1000 and all(s.buffer_m == 1000.0 for s in eprtr)
    plant = nuclear[0]
    ((lon0, lat0),) = shapely.get_coordinates(plant.geometry).tolist()
    near, far = fwd(lat0, lon0, 45.0, 99.0), fwd(lat0, lon0, 45.0, 101.0)
    hits = match(nuclear, np.array([near[0], far[0]]), np.array([near[1], far[1]]))
    assert set(hits.point.tolist()) == {0}
    assert {nuclear[s].name for s in hits.site.tolist()} == {"FARLEY NUCLEAR PLANT"}
