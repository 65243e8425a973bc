"""GPMF decoder against the gpmf-parser sample payloads (``*.raw``).

Two answer keys, both independent of this decoder: the corpus README and gpmf-parser's SAMPLES.md
(device, GPSU time, fix count, first fix), and ExifTool 13 reading the same payload wrapped in an MP4
``gpmd`` track built by ``test_mp4``'s writer - which checks every GPS5 fix, not just the first.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from droneaudit.readers.media import gpmf

from .test_mp4 import ExifTool, TrackSpec, exif_seconds, exiftool_runner, movie, read_file, tagged

#: From the corpus README (gpmf-parser/README.md): GPSU, GPS5 count, first fix.
RAW = {
    "hero5.raw": ("2017-04-17T17:31:03.000Z", 18, 33.126497, -117.327354),
    "hero6.raw": ("2018-01-24T19:28:01.699Z", 17, 33.126554, -117.32713),
    "hero6+ble.raw": ("2018-03-23T22:51:39.829Z", 18, 33.126733, -117.327445),
    "Fusion.raw": ("2018-03-23T17:25:37.375Z", 19, 33.12663, -117.327439),
}
#: The camera's DVNM per payload; SAMPLES.md names the products (Hero5 Black, Hero6 Black, Fusion).
DEVICES = {
    "hero5.raw": "Camera", "hero6.raw": "Hero6 Black", "hero6+ble.raw": "Hero6 Black", "Fusion.raw": "Fusion"
}  # fmt: skip


@pytest.fixture(scope="module", name="exiftool")
def exiftool_fixture() -> ExifTool:
    return exiftool_runner()


def raw_path(corpus: Path, name: str) -> Path:
    path = corpus / "drone-media" / "gpmf-parser" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return path


def decode(data: bytes) -> tuple[gpmf.Telemetry, list[tuple[str, str, int]]]:
    tele = gpmf.Telemetry()
    problems: list[tuple[str, str, int]] = []
    gpmf.parse_payload(data, 1, tele, lambda *p: problems.append(p))
    gpmf.finish(tele)
    return tele, problems


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_payload_matches_the_readme(corpus: Path, name: str) -> None:
    gpsu, count, lat, lon = RAW[name]
    tele, problems = decode(raw_path(corpus, name).read_bytes())
    fixes = [f for f in tele.fixes if f.key == "GPS5"]
    assert len(fixes) == count and problems == []
    assert (fixes[0].lat, fixes[0].lon) == pytest.approx((lat, lon), abs=1e-6)
    assert fixes[0].time_utc == gpsu and all(f.time_utc is None for f in fixes[1:])
    assert fixes[0].alt_ref == "ellipsoid" and fixes[0].device == DEVICES[name]
    assert tele.devices[0] == DEVICES[name]


def test_samples_md_lists_these_products(corpus: Path) -> None:
    """SAMPLES.md is upstream's provenance table: the devices named there match the payloads' DVNM."""
    table = raw_path(corpus, "SAMPLES.md").read_text()
    assert "GoPro Hero 5 Black" in table and "GoPro Hero 6 Black" in table and "Karma" in table
    assert decode(raw_path(corpus, "karma.raw").read_bytes())[0].devices == ["Camera", "GoPro Karma v1.0"]


@pytest.mark.parametrize("name", [*sorted(RAW), "karma.raw"])
def test_raw_payload_matches_exiftool(corpus: Path, exiftool: ExifTool, tmp_path: Path, name: str) -> None:
    """The payload as the only sample of a gpmd track: every fix ExifTool reports, in order."""
    path = tmp_path / "wrapped.mp4"
    spec = TrackSpec(b"meta", b"gpmd", [raw_path(corpus, name).read_bytes()], name="GoPro MET")
    path.write_bytes(movie([spec]))
    tags = exiftool(path)
    _fmt, rec, problems = read_file(path)
    stream = "GLPI" if name == "karma.raw" else "GPS5"
    points = [t for t in rec.tracks if t.source.startswith(f"GPMF {stream}")]
    columns = [tagged(tags, t) for t in ("GPSLatitude", "GPSLongitude", "GPSAltitude")]
    expected = list(zip(*columns, strict=True))
    assert len(points) == len(expected) > 0 and problems == []
    for point, (lat, lon, alt) in zip(points, expected, strict=True):
        assert (point.lat, point.lon, point.alt_m) == pytest.approx((lat[1], lon[1], alt[1]), abs=1e-6)
    first_time = tagged(tags, "GPSDateTime")[0][1]
    assert points[0].time_utc is not None
    if name == "karma.raw":
        # One SYST point on a whole second: ExifTool 13.59's ConvertSystemTime needs a fractional part
        # and prints a zero date; we shift by the point's offset (README: SYST is 19:27:58 UTC).
        assert first_time == "0000:00:00 00:00:00"
        assert points[0].time_utc == "2017-04-17T19:27:57.526Z"
        return
    assert exif_seconds(points[0].time_utc) == pytest.approx(exif_seconds(first_time), abs=1e-3)


def test_karma_raw_matches_the_readme(corpus: Path) -> None:
    """README: GPRI first fix 33.125368, -117.3310641, 15.445 m; BPOS 33.125979, -117.3313116, 17.2 m;
    SYST UTC 2017-04-17 19:27:58."""
    tele, problems = decode(raw_path(corpus, "karma.raw").read_bytes())
    gpri = next(f for f in tele.fixes if f.key == "GPRI")
    bpos = next(f for f in tele.fixes if f.key == "BPOS")
    assert (gpri.lat, gpri.lon, gpri.alt) == pytest.approx((33.125368, -117.3310641, 15.445), abs=1e-7)
    assert bpos.kind == "operator" and (bpos.lat, bpos.lon) == pytest.approx((33.125979, -117.3313116))
    assert bpos.alt == pytest.approx(17.2, abs=0.05) and bpos.time_utc is None
    (clock,) = tele.clock
    assert clock == pytest.approx((146.544283, 1492457278.0))  # 2017-04-17T19:27:58Z
    assert tele.ids == {"accessory-firmware": "1.1.11.0"} and problems == []


def klv(key: bytes, kind: bytes, size: int, repeat: int, data: bytes) -> bytes:
    pad = b"\x00" * (-len(data) % 4)
    return key + kind + struct.pack(">BH", size, repeat) + data + pad


def nest(key: bytes, *items: bytes) -> bytes:
    body = b"".join(items)
    return key + b"\x00" + struct.pack(">BH", 1, len(body)) + body


def test_gps9_dates_every_fix_and_identity_keys() -> None:
    """Hero 13 GPS9: lat, lon, alt, 2D, 3D speed, days since 2000, seconds, DOP, fix (TYPE lllllllSS)."""
    row = struct.pack(">7l2H", 331234567, -1171234567, 12345, 0, 0, 8000, 3600 * 1000 + 500, 150, 3)
    scal = struct.pack(">9l", 10_000_000, 10_000_000, 1000, 1000, 100, 1, 1000, 100, 1)
    payload = nest(
        b"DEVC",
        klv(b"DVNM", b"c", 1, 9, b"HERO13 Bk"),
        klv(b"CASN", b"c", 1, 14, b"C3501324500123"),
        nest(
            b"STRM",
            klv(b"GPSA", b"F", 4, 1, b"MSLV"),
            klv(b"TYPE", b"c", 1, 9, b"lllllllSS"),
            klv(b"SCAL", b"l", 4, 9, scal),
            klv(b"GPS9", b"?", len(row), 1, row),
        ),
    )
    tele, problems = decode(payload)
    (fix,) = tele.fixes
    assert (fix.lat, fix.lon, fix.alt, fix.alt_ref) == (33.1234567, -117.1234567, 12.345, "msl")
    assert fix.time_utc == "2021-11-26T01:00:00.500Z"  # 8000 days after 2000-01-01, 3600.5 s
    assert tele.ids == {"camera-serial": "C3501324500123"} and problems == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (klv(b"GPS5", b"l", 20, 3, b"\x00" * 20), "gpmf-truncated"),
        (b"\x01\x02\x03\x04l\x04\x00\x01\x00\x00\x00\x00", "gpmf-bad-klv"),
        (b"GPS5Z\x04\x00\x01\x00\x00\x00\x00", "gpmf-bad-klv"),
        (b"DEVC\x00", "gpmf-truncated"),
        (klv(b"BPOS", b"?", 32, 1, b"\x00" * 32), "gpmf-bad-structure"),
    ],
)
def test_damaged_payloads_are_problems(payload: bytes, code: str) -> None:
    tele, problems = decode(payload)
    assert [p[0] for p in problems] == [code] and tele.fixes == []


def test_nesting_bomb_stops_at_the_depth_limit() -> None:
    payload = klv(b"DVNM", b"c", 1, 1, b"x")
    for _ in range(gpmf.MAX_DEPTH + 4):
        payload = nest(b"DEVC", payload)
    _tele, problems = decode(payload)
    assert [p[0] for p in problems] == ["gpmf-depth-limit"]


def test_system_clock_interpolates_and_extrapolates() -> None:
    clock = [(10.0, 1000.0), (20.0, 1010.5)]
    assert gpmf.system_to_unix(clock, 15.0) == 1005.25
    assert gpmf.system_to_unix(clock, 30.0) == 1021.0  # the last segment, extended
    assert gpmf.system_to_unix(clock, 0.0) == pytest.approx(989.5)
    assert gpmf.system_to_unix([(10.0, 1000.0)], 12.5) == 1002.5
    assert gpmf.gpsu_time("170417173103.000") == "2017-04-17T17:31:03.000Z" and gpmf.gpsu_time("bad") is None
