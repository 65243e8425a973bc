"""JPEG / R-JPEG reader: real DJI thermal photos checked against ExifTool, synthetic photos for each trap.

Real samples are read in place from the shared corpus and compared with ExifTool 13 run at test time
(``DRONEAUDIT_EXIFTOOL`` or a known install path; the tests skip with the reason when it is absent).
Synthetic JPEGs are assembled here, segment by segment, with the TIFF writer of ``test_tiff``, so every
expected value is one the test wrote.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from droneaudit.model import MediaRecords, Problem
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.media import xmp
from droneaudit.readers.media.jpeg import JpegReader

from .test_tiff import BYTE, Block, gps_block, photo_tiff
from .test_xmp import BILLION_LAUGHS, DJI, dji_packet

THERMAL = ("DJI_H20T.jpg", "DJI_XT2.jpg", "DJI_XTS.jpg")
#: Where `npm install --prefix /tmp/et exiftool-vendored.pl@13.59` or `npm pack` + `tar xzf` put it.
EXIFTOOL_PATHS = (
    Path("/tmp/et/node_modules/exiftool-vendored.pl/bin/exiftool"),
    Path("/tmp/package/bin/exiftool"),
)
EXIFTOOL_HINT = "ExifTool 13 not found: set DRONEAUDIT_EXIFTOOL to its `exiftool` script (see EXIFTOOL_PATHS)"


def exiftool_command() -> list[str] | None:
    """``perl <script>`` for DRONEAUDIT_EXIFTOOL, else for the first known install path that exists."""
    configured = os.environ.get("DRONEAUDIT_EXIFTOOL")
    perl = shutil.which("perl")
    scripts = [Path(configured)] if configured else EXIFTOOL_PATHS
    return next(([perl, str(s)] for s in scripts if s.is_file() and perl), None)


@cache
def exiftool_json(command: tuple[str, ...], path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [*command, "-j", "-n", "-G1", str(path)], capture_output=True, timeout=120, check=True
    )
    return dict(json.loads(out.stdout)[0])


@pytest.fixture(scope="module")
def exiftool() -> Callable[[Path], dict[str, Any]]:
    command = exiftool_command()
    if command is None:
        pytest.skip(EXIFTOOL_HINT)
    return lambda path: exiftool_json(tuple(command), path)


def scan_context() -> ScanContext:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    return ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))


def read_file(path: Path) -> tuple[str, MediaRecords, list[Problem]]:
    ctx = scan_context()
    fmt, sha = JpegReader().read(path, path.name, ctx)
    assert len(ctx.media) == 1 and len(sha) == 64 and ctx.media[0].item.format == fmt
    return fmt, ctx.media[0], ctx.problems.records()


def read_bytes(tmp_path: Path, data: bytes) -> tuple[str, MediaRecords, list[Problem]]:
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    return read_file(path)


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


SOI, EOI = b"\xff\xd8", b"\xff\xd9"


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def exif_segment(tiff_data: bytes) -> bytes:
    return segment(0xE1, b"Exif\x00\x00" + tiff_data)


def xmp_segment(packet: bytes) -> bytes:
    return segment(0xE1, xmp.JPEG_SIGNATURE + packet)


SCAN = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\x34\x00\x56" + EOI


def jpeg(*segments: bytes) -> bytes:
    return SOI + b"".join(segments) + SCAN


def thermal(corpus: Path, name: str) -> Path:
    path = corpus / "drone-media" / "thermal_parser" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return path


def test_h20t_known_values(corpus: Path) -> None:
    """Values from the corpus README (checked there with Pillow), so this runs without ExifTool."""
    fmt, rec, problems = read_file(thermal(corpus, "DJI_H20T.jpg"))
    assert fmt == "rjpeg" and problems == []
    item = rec.item
    assert (item.make, item.model, item.serials) == ("DJI", "ZH20T", {"camera-serial": "1W9DH8R000003K"})
    assert item.lat == pytest.approx(40.563781, abs=1e-6) and item.lon == pytest.approx(-79.764963, abs=1e-6)
    assert item.alt_m == pytest.approx(221.404)
    assert item.captured_at == "2021:05:28 10:33:46" and item.captured_at_utc is None
    assert item.extra["app3_segments"] == "11" and item.extra["mpf_images"] == "2"
    assert [t.source for t in rec.tracks] == ["EXIF GPS", "XMP drone-dji"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DJI_H20T.jpg", set()),
        ("DJI_XT2.jpg", set()),
        ("DJI_XTS.jpg", {"xmp-duplicate-attribute", "jpeg-no-eoi"}),
    ],
)
def test_corpus_sniff_format_and_problems(corpus: Path, name: str, expected: set[str]) -> None:
    """All three are radiometric. The XT S repeats xmlns:DJI (read anyway) and does not end with EOI."""
    path = thermal(corpus, name)
    assert JpegReader().sniff(path.read_bytes()[:64], path) > 0
    fmt, _rec, problems = read_file(path)
    assert (fmt, codes(problems)) == ("rjpeg", expected)


@pytest.mark.parametrize("name", THERMAL)
def test_corpus_matches_exiftool(corpus: Path, exiftool: Callable[[Path], dict[str, Any]], name: str) -> None:
    path = thermal(corpus, name)
    assert_matches_exiftool(read_file(path)[1], exiftool(path))


def assert_matches_exiftool(rec: MediaRecords, et: dict[str, Any]) -> None:
    """Make, model, capture time, EXIF GPS (signed), serials and XMP positions agree with ExifTool."""
    item = rec.item
    assert (item.make, item.model) == (et["IFD0:Make"], et["IFD0:Model"])
    assert item.captured_at == et["ExifIFD:DateTimeOriginal"]
    assert item.lat == pytest.approx(et["Composite:GPSLatitude"], abs=1e-6)
    assert item.lon == pytest.approx(et["Composite:GPSLongitude"], abs=1e-6)
    assert item.alt_m == pytest.approx(et["Composite:GPSAltitude"], abs=1e-6)
    assert {i.value for i in rec.identities if "serial" in i.kind} == exiftool_serials(et)
    check_xmp_gps(rec, et)


def exiftool_serials(et: dict[str, Any]) -> set[str]:
    """Serials ExifTool found in EXIF and XMP (FLIR APP1 records are not read by this reader)."""
    out = set()
    for key, value in et.items():
        group, _, tag = key.partition(":")
        from_exif_or_xmp = group in ("IFD0", "ExifIFD") or group.startswith("XMP-")
        if tag.endswith("SerialNumber") and from_exif_or_xmp and str(value).strip(" 0"):
            out.add(str(value))
    return out


def check_xmp_gps(rec: MediaRecords, et: dict[str, Any]) -> None:
    """XMP position and altitudes, whatever group (namespace) ExifTool files them under."""
    xmp_tracks = [t for t in rec.tracks if t.source.startswith("XMP") and t.kind == "aircraft"]
    targets = [t for t in rec.tracks if t.kind == "target"]
    seen = set()
    for key, value in et.items():
        group, _, tag = key.partition(":")
        if not group.startswith("XMP-"):
            continue
        if tag in ("GPSLatitude", "GPSLongitude", "GPSLongtitude"):
            attr = "lat" if tag == "GPSLatitude" else "lon"
            assert getattr(xmp_tracks[0], attr) == pytest.approx(float(value), abs=1e-6)
            seen.add(attr)
        elif tag in ("LRFTargetLat", "LRFTargetLon"):
            attr = "lat" if tag == "LRFTargetLat" else "lon"
            assert getattr(targets[0], attr) == pytest.approx(float(value), abs=1e-6)
        elif tag in ("AbsoluteAltitude", "RelativeAltitude"):
            assert float(rec.item.extra[f"dji:{tag}"]) == pytest.approx(float(value), abs=1e-6)
    assert (seen == {"lat", "lon"}) == bool(xmp_tracks)
    if xmp_tracks and "dji:AbsoluteAltitude" in rec.item.extra:
        assert xmp_tracks[0].alt_m == pytest.approx(float(rec.item.extra["dji:AbsoluteAltitude"]))


def test_synthetic_photo_matches_exiftool(tmp_path: Path, exiftool: Callable[[Path], dict[str, Any]]) -> None:
    """The synthetic photo is a valid one to an independent reader, which files the odd prefix and the
    misspelt GpsLongtitude under drone-dji just as we do."""
    path = tmp_path / "DJI_0001.JPG"
    path.write_bytes(full_dji_photo())
    et = exiftool(path)
    assert "XMP-drone-dji:GPSLongtitude" in et
    assert_matches_exiftool(read_file(path)[1], et)


@pytest.mark.parametrize("name", THERMAL)
def test_corpus_segments_match_exiftool(
    corpus: Path, exiftool: Callable[[Path], dict[str, Any]], name: str
) -> None:
    """Thermal block size, IFD1 thumbnail and MPF preview positions, which the sanitizer must preserve."""
    path = thermal(corpus, name)
    et = exiftool(path)
    extra = read_file(path)[1].item.extra
    if "DJI:ThermalData" in et:
        assert f"Binary data {extra['app3_bytes']} bytes" in et["DJI:ThermalData"]
    if "IFD1:ThumbnailOffset" in et:
        assert int(extra["thumbnail_offset"]) == et["IFD1:ThumbnailOffset"]
        assert int(extra["thumbnail_bytes"]) == et["IFD1:ThumbnailLength"]
    if "MPImage2:MPImageStart" in et:
        assert int(extra["mpf_preview_offset"]) == et["MPImage2:MPImageStart"]
        assert int(extra["mpf_preview_bytes"]) == et["MPImage2:MPImageLength"]


def full_dji_photo() -> bytes:
    gps = gps_block(-33.856784, -151.215297, 12.5, alt_ref=1)
    built = photo_tiff(gps=gps)
    packet = dji_packet(
        GpsLatitude="-33.8567844",
        GpsLongtitude="-151.2152967",
        AbsoluteAltitude="-12.480",
        RelativeAltitude="+40.100",
        DroneSerialNumber="1581F5FJD22740010156",
        CameraSerialNumber="5L4SK6A02AA064",
        CaptureUUID="0b1c2d3e-aaaa-bbbb-cccc-000000000001",
        UTCAtExposure="2021-05-28T08:33:46.123456",
        RtkFlag="50",
        LRFTargetLat="-33.8570000",
        LRFTargetLon="-151.2150000",
        LRFTargetAbsAlt="3.500",
    )
    return jpeg(exif_segment(built.data), xmp_segment(packet))


def test_synthetic_dji_photo(tmp_path: Path) -> None:
    fmt, rec, problems = read_bytes(tmp_path, full_dji_photo())
    assert (fmt, problems) == ("jpeg", [])
    item = rec.item
    assert item.lat == pytest.approx(-33.856784, abs=1e-6) and item.lon == pytest.approx(
        -151.215297, abs=1e-6
    )
    assert item.alt_m == pytest.approx(-12.5)
    aircraft = [t for t in rec.tracks if t.kind == "aircraft"]
    assert [t.source for t in aircraft] == ["EXIF GPS", "XMP drone-dji"]
    assert (aircraft[1].lat, aircraft[1].lon, aircraft[1].alt_m) == (-33.8567844, -151.2152967, -12.48)
    assert all(t.time_utc == "2021-05-28T08:33:46.123456Z" and t.time_basis == "utc" for t in rec.tracks)
    (target,) = [t for t in rec.tracks if t.kind == "target"]
    assert (target.lat, target.lon, target.alt_m, target.alt_ref) == (-33.857, -151.215, 3.5, "msl")
    assert item.serials == {"camera-serial": "1SFOJ1T0AB0KRQ", "aircraft-serial": "1581F5FJD22740010156"}
    assert {(i.kind, i.value, i.source) for i in rec.identities} == {
        ("camera-serial", "1SFOJ1T0AB0KRQ", "EXIF SerialNumber"),
        ("aircraft-serial", "1581F5FJD22740010156", "XMP drone-dji:DroneSerialNumber"),
        ("camera-serial", "5L4SK6A02AA064", "XMP drone-dji:CameraSerialNumber"),
        ("capture-uuid", "0b1c2d3e-aaaa-bbbb-cccc-000000000001", "XMP drone-dji:CaptureUUID"),
    }
    assert item.captured_at == "2021:05:28 10:33:46"
    assert item.captured_at_utc == "2021-05-28T08:33:46.123456Z"
    assert item.extra["dji:RtkFlag"] == "50" and item.extra["exif_gps"] == "fix"


@pytest.mark.parametrize(
    "gps",
    [gps_block(0.0, 0.0, 0.0), Block([(0, BYTE, b"\x00\x00\x00\x00")])],
    ids=["zero-zero", "empty-gps-ifd"],  # MSDK v5 writes GPSVersionID 0.0.0.0 alone; XMP still has it
)
def test_exif_without_a_fix_gives_way_to_xmp(tmp_path: Path, gps: Block) -> None:
    packet = dji_packet(GpsLatitude="-1.25", GpsLongtitude="+36.8")
    _fmt, rec, problems = read_bytes(
        tmp_path, jpeg(exif_segment(photo_tiff(gps=gps).data), xmp_segment(packet))
    )
    assert problems == []
    assert (rec.item.lat, rec.item.lon, rec.item.alt_m) == (-1.25, 36.8, None)
    assert [t.source for t in rec.tracks] == ["XMP drone-dji"]
    assert rec.item.extra["exif_gps"] == "no-fix"


@pytest.mark.parametrize(
    ("uri", "props", "position"),
    [
        (DJI, {"GpsLatitude": "51.5", "GpsLongitude": "-0.12"}, (51.5, -0.12)),
        ("http://www.dji.com", {"Latitude": "10.5", "Longitude": "20.5"}, (10.5, 20.5)),
        ("http://www.uav.com/drone-dji/1.0/", {"GpsLatitude": "-3", "GpsLongtitude": "-4"}, (-3.0, -4.0)),
        ("http://example.com/not-dji/", {"GpsLatitude": "1", "GpsLongitude": "2"}, None),
    ],
)
def test_xmp_only_position_by_namespace_uri(
    tmp_path: Path, uri: str, props: dict[str, str], position: tuple[float, float] | None
) -> None:
    """Prefix "drone-dji" on every packet: only the URI decides. RelativeAltitude alone is "relative"."""
    packet = dji_packet("drone-dji", uri, RelativeAltitude="+30.0", DroneSerialNumber="ABC", **props)
    _fmt, rec, _ = read_bytes(tmp_path, jpeg(xmp_segment(packet)))
    assert (rec.item.lat, rec.item.lon) == (position or (None, None))
    assert rec.item.serials == ({"aircraft-serial": "ABC"} if position else {})
    assert [(t.alt_m, t.alt_ref) for t in rec.tracks] == ([(30.0, "relative")] if position else [])
    assert rec.item.make is None and "exif_gps" not in rec.item.extra


def test_truncated_in_xmp_keeps_exif_and_reports_the_segment(tmp_path: Path) -> None:
    data = full_dji_photo()
    xmp_at = data.index(b"\xff\xe1", 4)
    cut = data[: xmp_at + 4 + len(xmp.JPEG_SIGNATURE) + 200]
    _fmt, rec, problems = read_bytes(tmp_path, cut)
    truncated = [p for p in problems if p.code == "jpeg-truncated"]
    assert truncated and truncated[0].offset == xmp_at
    assert rec.item.lat == pytest.approx(-33.856784, abs=1e-6)
    assert rec.item.serials["camera-serial"] == "1SFOJ1T0AB0KRQ"
    assert "xmp-malformed" in codes(problems)


def test_truncated_in_exif_keeps_what_was_readable(tmp_path: Path) -> None:
    data = full_dji_photo()
    _fmt, rec, problems = read_bytes(tmp_path, data[:60])
    assert "jpeg-truncated" in codes(problems)
    assert rec.item.make == "DJI"
    assert rec.tracks == []


def test_looping_ifd_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    built = photo_tiff(gps=gps_block(48.0, 11.0))
    tiff_data = bytearray(built.data)
    struct.pack_into("<I", tiff_data, built.next_field("IFD1"), built.offsets["IFD0"])
    _fmt, rec, problems = read_bytes(tmp_path, jpeg(exif_segment(bytes(tiff_data))))
    (loop,) = [p for p in problems if p.code == "ifd-loop"]
    assert loop.offset == 2 + 4 + 6 + built.offsets["IFD0"]
    assert rec.item.lat == pytest.approx(48.0)


def test_billion_laughs_xmp_is_refused(tmp_path: Path) -> None:
    built = photo_tiff(gps=gps_block(48.0, 11.0))
    _fmt, rec, problems = read_bytes(tmp_path, jpeg(exif_segment(built.data), xmp_segment(BILLION_LAUGHS)))
    assert codes(problems) == {"xmp-refused"}
    assert "xmp_namespaces" not in rec.item.extra
    assert rec.item.lat == pytest.approx(48.0)


def test_empty_file(tmp_path: Path) -> None:
    assert JpegReader().sniff(b"", tmp_path / "x.jpg") < 0
    fmt, rec, problems = read_bytes(tmp_path, b"")
    assert fmt == "jpeg" and codes(problems) == {"jpeg-no-soi"} and rec.tracks == []


@pytest.mark.parametrize(
    "head", [b"\x89PNG\r\n\x1a\n", b"II*\x00\x08\x00\x00\x00", b"\xff\xd8", b"GIF89a", b"\xd4\xc3\xb2\xa1"]
)
def test_not_a_jpeg(head: bytes) -> None:
    assert JpegReader().sniff(head, Path("x.jpg")) < 0


def test_garbage_between_segments_is_a_bad_marker(tmp_path: Path) -> None:
    data = SOI + segment(0xE0, b"JFIF\x00\x01\x01") + b"garbage" + SCAN
    _fmt, _rec, problems = read_bytes(tmp_path, data)
    (bad,) = [p for p in problems if p.code == "jpeg-bad-marker"]
    assert bad.offset == 2 + 2 + 2 + 7


@pytest.mark.parametrize(("label", "fmt"), [(b"\x3e\xfe\x3e\xfe", "rjpeg"), (b"Meta\x00\x00", "jpeg")])
def test_thermal_app3_makes_an_rjpeg(tmp_path: Path, label: bytes, fmt: str) -> None:
    app3 = [segment(0xE3, label + bytes(1000)), segment(0xE3, bytes(500))]
    got, rec, problems = read_bytes(tmp_path, jpeg(*app3, segment(0xE4, bytes(10))))
    assert (got, problems) == (fmt, [])
    assert rec.item.extra["app3_segments"] == "2"
    assert rec.item.extra["app3_bytes"] == str(len(label) + 1000 + 500)
    assert rec.item.extra["app4_segments"] == "1"


def test_random_damage_never_raises(tmp_path: Path) -> None:
    good = full_dji_photo()
    rng = random.Random(1581)
    path = tmp_path / "fuzz.jpg"
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        path.write_bytes(bytes(data))
        read_file(path)


def test_thousands_of_segments_stop_at_the_limit_and_the_scan_goes_on(tmp_path: Path) -> None:
    import time

    import droneaudit
    from droneaudit.readers.media.jpeg import MAX_SEGMENTS

    many = tmp_path / "a-many.jpg"
    many.write_bytes(jpeg(*[segment(0xE5, b"x")] * (MAX_SEGMENTS + 5000), xmp_segment(dji_packet())))
    good = tmp_path / "b-good.jpg"
    good.write_bytes(full_dji_photo())
    started = time.monotonic()
    case = droneaudit.scan([many, good])
    assert time.monotonic() - started < 30
    (limit,) = [p for p in case.problems if p.file == str(many)]
    assert (
        limit.code == "jpeg-segment-limit" and limit.offset == 2 + 5 * MAX_SEGMENTS
    )  # SOI, then 5-byte segments
    assert {t.file for t in case.tracks} == {str(good)}
