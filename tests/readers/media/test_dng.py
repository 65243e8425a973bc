"""DNG / TIFF reader: the same EXIF, GPS and XMP (tag 700) facts as a JPEG, from a TIFF container.

No small real DJI DNG is public (see reference/drone-formats.md §1.3), so DNGs are written here with
the TIFF writer of ``test_tiff``, laid out like a DJI DNG (IFD0 preview + SubIFDs, XMP in IFD0), and
— when ExifTool is installed — checked against it as well as against the values written.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from droneaudit.model import MediaRecords, Problem
from droneaudit.readers.media.dng import DngReader

from .test_jpeg import exiftool_command, exiftool_json, scan_context
from .test_tiff import (
    ASCII,
    BYTE,
    LONG,
    RATIONAL,
    SHORT,
    UNDEFINED,
    Block,
    Built,
    Ref,
    build_tiff,
    gps_block,
    photo_tiff,
    rationals,
)
from .test_xmp import DJI, dji_packet

PAD = 100_000  #: puts every IFD beyond the reader's cached first 64 KiB


def dng(order: str = "<", *, dng_version: bool = True, xmp_type: int = BYTE, pad: int = PAD) -> Built:
    packet = dji_packet(
        prefix="drone-dji",
        GpsLatitude="+22.6939917",
        GpsLongitude="+114.9658667",
        AbsoluteAltitude="+80.5",
        DroneSerialNumber="1581F6Q8X23AB00C1234",
        UTCAtExposure="2022:07:23 07:12:22.872778",
    )
    ifd0: list[tuple[int, int, object]] = [
        (0x00FE, LONG, (1,)),
        (0x0103, SHORT, (1,)),
        (0x010F, ASCII, "DJI"),
        (0x0110, ASCII, "L2D-20c"),
        (0x014A, LONG, (Ref("Raw"), Ref("Preview"))),
        (700, xmp_type, packet),
        (0x8769, LONG, Ref("ExifIFD")),
        (0x8825, LONG, Ref("GPS")),
        (0xC62F, ASCII, "0K8TH5B0010AB1"),
    ]
    if dng_version:
        ifd0.append((0xC612, BYTE, b"\x01\x04\x00\x00"))
    blocks = {
        "IFD0": Block(ifd0),
        "Raw": Block([(0x00FE, LONG, (0,)), (0x0103, SHORT, (7,))]),
        "Preview": Block([(0x00FE, LONG, (1,)), (0x0103, SHORT, (7,))]),
        "ExifIFD": Block([(0x9003, ASCII, "2022:07:23 15:12:19"), (0x9011, ASCII, "+08:00")]),
        "GPS": gps_block(22.6939917, 114.9658667, 80.5),
    }
    return build_tiff(blocks, order, pad=pad)


def read_bytes(
    tmp_path: Path, data: bytes, name: str = "DJI_0001.DNG"
) -> tuple[str, MediaRecords, list[Problem]]:
    path = tmp_path / name
    path.write_bytes(data)
    ctx = scan_context()
    fmt, sha = DngReader().read(path, name, ctx)
    assert len(ctx.media) == 1 and len(sha) == 64
    return fmt, ctx.media[0], ctx.problems.records()


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


@pytest.mark.parametrize("order", ["<", ">"])
def test_synthetic_dng(tmp_path: Path, order: str) -> None:
    fmt, rec, problems = read_bytes(tmp_path, dng(order).data)
    assert (fmt, problems) == ("dng", [])
    item = rec.item
    assert (item.make, item.model) == ("DJI", "L2D-20c")
    assert item.lat == pytest.approx(22.6939917, abs=1e-6) and item.lon == pytest.approx(
        114.9658667, abs=1e-6
    )
    assert item.alt_m == pytest.approx(80.5)
    assert item.captured_at == "2022:07:23 15:12:19" and item.captured_at_utc == "2022-07-23T07:12:19Z"
    assert [t.source for t in rec.tracks] == ["EXIF GPS", "XMP drone-dji"]
    assert rec.tracks[0].time_utc == "2022-07-23T07:12:22.872778Z"
    assert item.serials == {"camera-serial": "0K8TH5B0010AB1", "aircraft-serial": "1581F6Q8X23AB00C1234"}
    assert item.extra["dng_version"] == "1.4.0.0"
    assert (item.extra["sub_ifds"], item.extra["previews"], item.extra["jpeg_previews"]) == ("2", "2", "1")
    assert DJI in item.extra["xmp_namespaces"]


def test_xmp_as_undefined_type(tmp_path: Path) -> None:
    _fmt, rec, problems = read_bytes(tmp_path, dng(xmp_type=UNDEFINED).data)
    assert problems == [] and rec.item.serials["aircraft-serial"] == "1581F6Q8X23AB00C1234"


def test_plain_tiff_is_named_tiff(tmp_path: Path) -> None:
    assert read_bytes(tmp_path, dng(dng_version=False).data)[0] == "tiff"


def test_synthetic_dng_matches_exiftool(tmp_path: Path) -> None:
    command = exiftool_command()
    if command is None:
        pytest.skip("ExifTool 13 not found: set DRONEAUDIT_EXIFTOOL to its `exiftool` script")
    path = tmp_path / "DJI_0001.DNG"
    path.write_bytes(dng(">").data)
    et = exiftool_json(tuple(command), path)
    _fmt, rec, _ = read_bytes(tmp_path, path.read_bytes(), "again.dng")
    assert (rec.item.make, rec.item.model) == (et["IFD0:Make"], et["IFD0:Model"])
    assert rec.item.lat == pytest.approx(et["Composite:GPSLatitude"], abs=1e-6)
    assert rec.item.lon == pytest.approx(et["Composite:GPSLongitude"], abs=1e-6)
    assert rec.item.alt_m == pytest.approx(et["Composite:GPSAltitude"], abs=1e-6)
    assert rec.item.captured_at == et["ExifIFD:DateTimeOriginal"]
    assert rec.item.serials["camera-serial"] == et["IFD0:CameraSerialNumber"]
    assert rec.item.serials["aircraft-serial"] == et["XMP-drone-dji:DroneSerialNumber"]
    assert rec.tracks[1].lat == pytest.approx(float(et["XMP-drone-dji:GPSLatitude"]), abs=1e-6)


@pytest.mark.parametrize(
    ("offset", "utc"),
    [("+02:00", "2021-05-28T08:33:46Z"), ("-05:30", "2021-05-28T16:03:46Z"), (None, None)],
)
def test_offset_time_gives_utc_only_when_present(tmp_path: Path, offset: str | None, utc: str | None) -> None:
    """Time rules live in photo_meta and hold for every container; a plain TIFF carries them here."""
    extra = [(0x9011, ASCII, offset)] if offset else []
    _fmt, rec, _ = read_bytes(tmp_path, photo_tiff(gps=gps_block(48.0, 11.0), exif_extra=extra).data)
    assert rec.item.captured_at == "2021:05:28 10:33:46"
    assert rec.item.captured_at_utc == utc
    (track,) = rec.tracks
    assert (track.time_utc, track.time_basis) == ((utc, "offset") if utc else (None, None))
    assert track.time_local == (None if utc else "2021:05:28 10:33:46")


def test_gps_date_and_time_stamp_are_utc(tmp_path: Path) -> None:
    gps = gps_block(48.0, 11.0)
    gps.entries += [(7, RATIONAL, rationals(8, 33, 46.5, den=100)), (29, ASCII, "2021:05:28")]
    _fmt, rec, _ = read_bytes(tmp_path, photo_tiff(gps=gps).data)
    (track,) = rec.tracks
    assert (track.time_utc, track.time_basis) == ("2021-05-28T08:33:46.5Z", "utc")
    assert rec.item.captured_at_utc is None


def test_truncated_dng_keeps_what_was_readable(tmp_path: Path) -> None:
    built = dng()
    cut = built.offsets["ExifIFD"] + 4
    _fmt, rec, problems = read_bytes(tmp_path, built.data[:cut])
    assert codes(problems) >= {"ifd-truncated"}
    assert rec.item.make == "DJI" and rec.item.serials["aircraft-serial"] == "1581F6Q8X23AB00C1234"
    assert rec.item.captured_at is None


def test_sub_ifd_pointing_back_to_ifd0_is_a_loop(tmp_path: Path) -> None:
    built = dng(pad=0)
    data = bytearray(built.data)
    (array_at,) = struct.unpack_from("<I", data, built.entry_field("IFD0", 0x014A) + 8)
    struct.pack_into("<I", data, array_at + 4, built.offsets["IFD0"])  # second SubIFD → IFD0
    _fmt, rec, problems = read_bytes(tmp_path, bytes(data))
    (loop,) = [p for p in problems if p.code == "ifd-loop"]
    assert loop.offset == built.offsets["IFD0"]
    assert rec.item.extra["sub_ifds"] == "1"
    assert rec.item.lat == pytest.approx(22.6939917, abs=1e-6)


def test_bad_xmp_is_a_problem_at_its_offset(tmp_path: Path) -> None:
    built = dng(pad=0)
    data = built.data
    at = data.index(b'rdf:about="DJI')
    broken = data[: at + 9] + b"<" + data[at + 10 :]
    _fmt, rec, problems = read_bytes(tmp_path, broken)
    (bad,) = [p for p in problems if p.code.startswith("xmp-")]
    assert bad.code == "xmp-malformed" and at - 40 <= (bad.offset or 0) <= at + 10
    assert rec.item.serials == {"camera-serial": "0K8TH5B0010AB1"}


def test_xmp_out_of_bounds(tmp_path: Path) -> None:
    built = dng(pad=0)
    data = bytearray(built.data)
    struct.pack_into("<I", data, built.entry_field("IFD0", 700) + 8, len(data) - 10)
    _fmt, _rec, problems = read_bytes(tmp_path, bytes(data))
    assert codes(problems) == {"tiff-value-out-of-bounds", "xmp-unreadable"}


def test_sniff(tmp_path: Path) -> None:
    reader = DngReader()
    assert reader.sniff(b"II*\x00\x08\x00\x00\x00", Path("a.dng")) > 0
    assert reader.sniff(b"MM\x00*\x00\x00\x00\x08", Path("a.dng")) > 0
    for head in (b"", b"\xff\xd8\xff\xe1", b"II+\x00", b"\x89PNG"):
        assert reader.sniff(head, Path("a.dng")) < 0


def test_empty_file(tmp_path: Path) -> None:
    fmt, rec, problems = read_bytes(tmp_path, b"")
    assert fmt == "tiff" and codes(problems) == {"tiff-bad-header"} and rec.tracks == []


def test_random_damage_never_raises(tmp_path: Path) -> None:
    good = dng(pad=0).data
    rng = random.Random(700)
    path = tmp_path / "fuzz.dng"
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        path.write_bytes(bytes(data))
        ctx = scan_context()
        DngReader().read(path, "fuzz.dng", ctx)
        assert len(ctx.media) == 1


def test_huge_xmp_is_refused_and_the_scan_goes_on(tmp_path: Path) -> None:
    """An XMP tag claiming 6 MB (over the TIFF value limit): refused with a problem, nothing loaded."""
    import droneaudit
    from droneaudit.readers.media import tiff

    huge = dji_packet(GpsLatitude="+1.0") + b" " * (tiff.MAX_VALUE_BYTES + (2 << 20))
    built = build_tiff({"IFD0": Block([(0x010F, ASCII, "DJI"), (700, BYTE, huge)])})
    bad = tmp_path / "a-huge.dng"
    bad.write_bytes(built.data)
    good = tmp_path / "b-good.dng"
    good.write_bytes(dng(pad=0).data)
    case = droneaudit.scan([bad, good])
    assert {p.code for p in case.problems if p.file == str(bad)} >= {"tiff-value-too-large"}
    assert {t.file for t in case.tracks} == {str(good)}
