"""JPEG / R-JPEG sanitizing on the real DJI thermal samples, the demo photos and synthetic files.

Every real sample is cleaned into a temporary folder and then judged by tools that do not share the
cleaner's code: our inventory readers, ExifTool 13, a raw byte search for each removed value, and a
byte comparison of the image data (SOS to EOI) and the thermal segments. Pillow, when installed,
decodes the output and the MPF preview (a dev dependency only).
"""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from droneaudit.readers.media import tiff
from droneaudit.readers.media.photo_meta import DJI_NAMESPACES
from droneaudit.sanitize import jpeg as sjpeg
from droneaudit.sanitize import xmp_clean
from droneaudit.sanitize.common import Damaged, Options, Outcome, Removed, parse_profile
from droneaudit.synth.media import DEMO_PHOTOS, DEMO_SERIAL, build_demo_media
from readers.media.test_jpeg import SCAN, exif_segment, exiftool_command, jpeg, segment, xmp_segment
from readers.media.test_tiff import ASCII, UNDEFINED, Block, build_tiff, gps_block, photo_tiff
from readers.media.test_xmp import DJI, dji_packet, packet

from . import (
    POSITION_CODES,
    SERIAL_CODE,
    TIME_CODE,
    codes,
    entropy_data,
    exiftool_leaks,
    header_segments,
    inventory,
    sha256,
    thermal_segments,
)

THERMAL = ("DJI_H20T.jpg", "DJI_XT2.jpg", "DJI_XTS.jpg")
#: Identifying text in the samples, from ExifTool dumps and the corpus README.
SECRETS = {
    "DJI_H20T.jpg": [b"1W9DH8R000003K", b"+40.5637811", b"-79.7649628", b"+221.404", b"+16.508"],
    "DJI_XT2.jpg": [b"39.156853", b"1.900000"],
    "DJI_XTS.jpg": [b"0190415185", b"-29.44", b"+37.70"],
}
DEFAULT = Options()


@pytest.fixture(scope="module")
def et() -> Callable[..., Any]:
    command = exiftool_command()
    if command is None:
        pytest.skip("ExifTool 13 not found: set DRONEAUDIT_EXIFTOOL to its `exiftool` script")

    def run(path: Path, *args: str) -> bytes:
        return subprocess.run(
            [*command, *args, str(path)], capture_output=True, timeout=120, check=True
        ).stdout

    return run


def et_json(et: Callable[..., bytes], path: Path) -> dict[str, Any]:
    import json

    return dict(json.loads(et(path, "-j", "-n", "-G1", "-a", "-u"))[0])


@pytest.fixture
def pillow() -> Iterator[Any]:
    image = pytest.importorskip("PIL.Image", reason="Pillow is a dev dependency; `pip install pillow`")
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True  # the XT S sample has no EOI: decode it as its viewer does
    yield image
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def sample(corpus: Path, name: str) -> Path:
    path = corpus / "drone-media" / "thermal_parser" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return path


def cleaned(src: Path, tmp_path: Path, opts: Options = DEFAULT) -> tuple[Path, Outcome]:
    outcome = sjpeg.clean(src.read_bytes(), opts)
    assert outcome.data is not None
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / src.name
    out.write_bytes(outcome.data)
    return out, outcome


def gps_rationals(data: bytes) -> list[bytes]:
    """Raw bytes of GPSLatitude/GPSLongitude in the first Exif segment (what must not survive)."""
    body = next(b for m, b in header_segments(data)[0] if m == 0xE1 and b.startswith(b"Exif\x00\x00"))
    walked = tiff.walk(tiff.BytesSource(body[6:]), 0)
    gps = walked.ifd("GPS")
    return [
        body[6 + gps.entries[t].offset : 6 + gps.entries[t].offset + 24] for t in (2, 4) if t in gps.entries
    ]


@pytest.mark.parametrize("name", THERMAL)
def test_real_sample_clean_by_inventory_and_bytes(corpus: Path, tmp_path: Path, name: str) -> None:
    src = sample(corpus, name)
    before = sha256(src)
    original = src.read_bytes()
    out, _ = cleaned(src, tmp_path)
    data = out.read_bytes()
    case = inventory(out)
    assert not codes(case) & (POSITION_CODES | {SERIAL_CODE})
    assert case.tracks == [] and [i for i in case.identities if "serial" in i.kind] == []
    assert "contains-thermal-data" in codes(case) and case.inputs[0].format == "rjpeg"
    for secret in SECRETS[name] + gps_rationals(original):
        assert secret in original and secret not in data, secret
    assert entropy_data(data) == entropy_data(original)
    assert thermal_segments(data) == thermal_segments(original)
    assert sha256(src) == before
    assert {p.code for p in case.problems} <= {"jpeg-no-eoi"}  # the XT S sample has no EOI already


@pytest.mark.parametrize("name", THERMAL)
def test_real_sample_clean_by_exiftool(
    corpus: Path, tmp_path: Path, et: Callable[..., bytes], name: str
) -> None:
    src = sample(corpus, name)
    assert exiftool_leaks(et_json(et, src))  # the sample does leak before cleaning
    out, _ = cleaned(src, tmp_path)
    after = et_json(et, out)
    assert exiftool_leaks(after) == {}
    assert not [k for k in after if k.startswith("ExifTool:Warning") and "MakerNotes" in str(after[k])]


def test_h20t_mpf_preview_moves_and_stays_readable(
    corpus: Path, tmp_path: Path, et: Callable[..., bytes], pillow: Any
) -> None:
    """The XMP shrinks and APP segments before the preview move it: ExifTool still finds it, intact."""
    src = sample(corpus, "DJI_H20T.jpg")
    out, _ = cleaned(src, tmp_path)
    old, new = et(src, "-b", "-PreviewImage"), et(out, "-b", "-PreviewImage")
    assert new.startswith(b"\xff\xd8") and new == old  # the preview carried no metadata of its own
    assert et_json(et, out)["MPImage2:MPImageStart"] < et_json(et, src)["MPImage2:MPImageStart"]
    pillow.open(io.BytesIO(new)).load()
    dropped, _ = cleaned(src, tmp_path / "drop", Options(drop_thermal=True))
    preview = et(dropped, "-b", "-PreviewImage")
    assert preview == old and pillow.open(io.BytesIO(preview)).size == (640, 512)


@pytest.mark.parametrize("name", THERMAL)
def test_output_decodes_to_the_same_pixels(corpus: Path, tmp_path: Path, pillow: Any, name: str) -> None:
    src = sample(corpus, name)
    out, _ = cleaned(src, tmp_path)
    with pillow.open(src) as a, pillow.open(out) as b:
        assert a.tobytes() == b.tobytes() and a.size == b.size


@pytest.mark.parametrize("name", THERMAL)
def test_drop_thermal_removes_radiometric_data(corpus: Path, tmp_path: Path, name: str) -> None:
    src = sample(corpus, name)
    out, outcome = cleaned(src, tmp_path, Options(drop_thermal=True))
    data = out.read_bytes()
    assert thermal_segments(data) == [] and outcome.format == "jpeg"
    assert entropy_data(data) == entropy_data(src.read_bytes())
    case = inventory(out)
    assert "contains-thermal-data" not in codes(case) and case.inputs[0].format == "jpeg"


def test_time_profile_coarsens_to_the_day(corpus: Path, tmp_path: Path, et: Callable[..., bytes]) -> None:
    out, outcome = cleaned(sample(corpus, "DJI_XT2.jpg"), tmp_path, Options(parse_profile("all")))
    after = et_json(et, out)
    assert after["ExifIFD:DateTimeOriginal"] == "2018:07:27 00:00:00"
    assert after["FLIR:DateTimeOriginal"].startswith("2018:07:27 00:00:00")
    assert "ExifIFD:SubSecTimeOriginal" not in after
    assert "FLIR CameraInfo:DateTimeOriginal (time of day)" in outcome.removed.fields
    assert after["FLIR:RawThermalImage"] == et_json(et, sample(corpus, "DJI_XT2.jpg"))["FLIR:RawThermalImage"]


def test_exiftool_and_mat2_side_by_side(corpus: Path, tmp_path: Path, et: Callable[..., bytes]) -> None:
    """What the usual tools leave or destroy on the H20T R-JPEG (reference note §4), and what we do."""
    src = sample(corpus, "DJI_H20T.jpg")
    ours, _ = cleaned(src, tmp_path)
    everything = tmp_path / "all.jpg"
    shutil.copyfile(src, everything)
    et(everything, "-all=", "-overwrite_original")
    gone = et_json(et, everything)
    assert (
        "DJI:ThermalData" not in gone and "MPImage2:PreviewImage" not in gone
    )  # -all= kills the thermal data
    assert everything.stat().st_size < 400_000 and thermal_segments(everything.read_bytes()) == []
    gps_only = tmp_path / "gps.jpg"
    shutil.copyfile(src, gps_only)
    et(gps_only, "-gps:all=", "-overwrite_original")
    left = exiftool_leaks(et_json(et, gps_only))
    assert "XMP-drone-dji:GPSLatitude" in left and "ExifIFD:SerialNumber" in left  # -gps:all= leaks
    kept = et_json(et, ours)
    assert "DJI:ThermalData" in kept and "MPImage2:PreviewImage" in kept and exiftool_leaks(kept) == {}


def test_mat2_reencodes_and_drops_thermal(corpus: Path, tmp_path: Path) -> None:
    mat2 = shutil.which("mat2")
    if mat2 is None:
        pytest.skip("mat2 not installed (apt-get install mat2)")
    src = sample(corpus, "DJI_H20T.jpg")
    copy = tmp_path / "h20t.jpg"
    shutil.copyfile(src, copy)
    subprocess.run([mat2, str(copy)], capture_output=True, timeout=120, check=True)
    theirs = (tmp_path / "h20t.cleaned.jpg").read_bytes()
    ours, _ = cleaned(src, tmp_path)
    assert thermal_segments(theirs) == [] and entropy_data(theirs) != entropy_data(src.read_bytes())
    assert thermal_segments(ours.read_bytes()) == thermal_segments(src.read_bytes())
    assert entropy_data(ours.read_bytes()) == entropy_data(src.read_bytes())


def test_demo_photos(tmp_path: Path, et: Callable[..., bytes], pillow: Any) -> None:
    photos = [p for p in build_demo_media(tmp_path / "in") if p.suffix == ".JPG"]
    for src, demo in zip(photos, DEMO_PHOTOS, strict=True):
        out, _ = cleaned(src, tmp_path)
        data = out.read_bytes()
        assert not codes(inventory(out)) & (POSITION_CODES | {SERIAL_CODE})
        assert exiftool_leaks(et_json(et, out)) == {}
        assert DEMO_SERIAL.encode() not in data and f"{demo.lat:+.7f}".encode() not in data
        assert entropy_data(data) == entropy_data(src.read_bytes())
        with pillow.open(out) as image:
            assert image.size == (8, 8)


# --- synthetic files: each trap on its own ------------------------------------------------------------


def thumbnail_with_gps() -> bytes:
    """A thumbnail JPEG that carries its own Exif (GPS fix, serial) and XMP (seen on some cameras)."""
    meta = dji_packet(GpsLatitude="+51.50000", GpsLongitude="-0.12000", CameraSerialNumber="5L4SK6A02AA064")
    return jpeg(exif_segment(photo_tiff(gps=gps_block(51.5, -0.12)).data), xmp_segment(meta))


def photo_with_thumbnail(thumb: bytes) -> bytes:
    ifd0: list[tuple[int, int, object]] = [
        (0x010F, ASCII, "DJI"),
        (0x010E, ASCII, "DCIM\\100MEDIA\\DJI_0227.JPG"),
    ]
    blocks = {
        "IFD0": Block(ifd0, next="IFD1"),
        "IFD1": Block([(0x0103, 3, (6,)), (0x0201, 4, (0,)), (0x0202, 4, (0,))]),
    }
    built = build_tiff(blocks)
    data = bytearray(built.data + thumb)
    start = built.entry_field("IFD1", 0x0201) + 8
    data[start : start + 4] = struct.pack("<I", len(built.data))
    data[start + 12 : start + 16] = struct.pack("<I", len(thumb))
    return jpeg(exif_segment(bytes(data)))


def test_ifd1_thumbnail_metadata_is_cleaned_and_its_length_updated(tmp_path: Path) -> None:
    thumb = thumbnail_with_gps()
    outcome = sjpeg.clean(photo_with_thumbnail(thumb), DEFAULT)
    assert outcome.data is not None
    body = next(b for m, b in header_segments(outcome.data)[0] if m == 0xE1)[6:]
    ifd1 = tiff.walk(tiff.BytesSource(body), 0).ifd("IFD1")
    start, length = ifd1.first_int(0x0201), ifd1.first_int(0x0202)
    assert start is not None and length is not None and length < len(thumb)
    new_thumb = body[start : start + length]
    assert new_thumb.startswith(b"\xff\xd8") and new_thumb.endswith(SCAN)
    assert b"1SFOJ1T0AB0KRQ" not in outcome.data and b"5L4SK6A02AA064" not in outcome.data
    assert "EXIF IFD1 thumbnail: EXIF GPS:GPSLatitude" in outcome.removed.fields
    assert "EXIF IFD0:ImageDescription" in outcome.removed.fields  # an SD-card path
    assert b"DCIM" not in outcome.data


def mpf_segment(main_size: int, preview_size: int, preview_offset: int) -> bytes:
    """APP2 MPF: version, two images, the MP Entry list (primary, then a dependent child)."""
    entries = struct.pack("<IIIHH", 0x20030000, main_size, 0, 0, 0)
    entries += struct.pack("<IIIHH", 0x10000, preview_size, preview_offset, 0, 0)
    tags: list[tuple[int, int, object]] = [
        (0xB000, UNDEFINED, b"0100"),
        (0xB001, 4, (2,)),
        (0xB002, UNDEFINED, entries),
    ]
    return segment(0xE2, b"MPF\x00" + build_tiff({"IFD0": Block(tags)}).data)


def mpf_photo(preview: bytes, before_mpf: bytes = b"", after_mpf: bytes = b"") -> bytes:
    """Main image with an MPF index naming ``preview``, appended after its EOI (as DJI does)."""
    main_size = 2 + len(before_mpf) + len(mpf_segment(0, 0, 0)) + len(after_mpf) + len(SCAN)
    base = 2 + len(before_mpf) + 8  # the MPF TIFF header, which entry offsets count from
    mpf = mpf_segment(main_size, len(preview), main_size - base)
    return sjpeg.SOI + before_mpf + mpf + after_mpf + SCAN + preview


def test_mpf_offsets_rewritten_when_earlier_segments_shrink(tmp_path: Path, et: Callable[..., bytes]) -> None:
    preview = thumbnail_with_gps()
    dbg = segment(0xE7, b"DJI-DBG\x00[sensor_id:1W9DH8R000003K]" + bytes(300))
    src = tmp_path / "mpf.jpg"
    src.write_bytes(mpf_photo(preview, before_mpf=exif_segment(photo_tiff().data), after_mpf=dbg))
    assert et_json(et, src)["MPImage2:MPImageLength"] == len(preview)
    out, outcome = cleaned(src, tmp_path / "out")
    assert "APP7 DJI-DBG segment" in outcome.removed.fields
    after = et_json(et, out)
    got = et(out, "-b", "-PreviewImage")
    assert got.startswith(b"\xff\xd8") and len(got) == after["MPImage2:MPImageLength"] < len(preview)
    assert b"1W9DH8R000003K" not in out.read_bytes() and b"1SFOJ1T0AB0KRQ" not in out.read_bytes()
    assert "MPF image 2: EXIF GPS:GPSLatitude" in outcome.removed.fields
    assert not codes(inventory(out)) & (POSITION_CODES | {SERIAL_CODE})


def test_segments_we_cannot_check_are_dropped() -> None:
    extended = segment(0xE1, b"http://ns.adobe.com/xmp/extension/\x00" + b"G" * 32 + bytes(8) + b"<x/>")
    data = jpeg(
        segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        extended,
        segment(0xED, b"Photoshop 3.0\x008BIM"),
        segment(0xFE, b"pilot: Jane"),
        segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + bytes(16)),
    )
    outcome = sjpeg.clean(data, DEFAULT)
    assert outcome.data is not None
    kept = [m for m, _ in header_segments(outcome.data)[0]]
    assert kept == [0xE0, 0xE2] and b"Jane" not in outcome.data
    assert {"APP1 extended XMP segment", "APP13 Photoshop/IPTC segment", "COM comment segment"} <= set(
        outcome.removed.fields
    )


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xd8", b"\xff\xd8\xff\xe1\xff\xff", b"\xff\xd8\xff\xd9", b"GIF89a"]
)
def test_damaged_jpeg_is_refused(data: bytes) -> None:
    with pytest.raises(Damaged):
        sjpeg.clean(data, DEFAULT)


def test_damaged_exif_is_dropped_whole_not_edited() -> None:
    built = bytearray(photo_tiff(gps=gps_block(10.0, 20.0)).data)
    built[4:8] = struct.pack("<I", 60_000)  # IFD0 offset outside the segment
    outcome = sjpeg.clean(jpeg(exif_segment(bytes(built))), DEFAULT)
    assert outcome.data is not None and b"Exif" not in outcome.data
    assert "APP1 Exif segment (damaged, dropped whole)" in outcome.removed.fields


# --- XMP ------------------------------------------------------------------------------------------


def test_xmp_elements_structs_and_arrays_by_uri() -> None:
    sky = "https://www.skydio.com/drone-skydio/1.0/"
    description = (
        f'<rdf:Description xmlns:s="{sky}" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dj="{DJI}"'
        ' xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" s:VehicleId="E1.0J.A.00K7BK"'
        ' xmp:CreateDate="2023-12-16T12:14:08">'
        '<s:Latitude>29.7861</s:Latitude><s:CameraOrientationNED rdf:parseType="Resource"><s:Yaw>12</s:Yaw>'
        "</s:CameraOrientationNED><s:VehiclePositionNED><rdf:Seq><rdf:li>1</rdf:li></rdf:Seq></s:VehiclePositionNED>"
        "<dj:DewarpData>2022-06-08;3713.29,3713.29</dj:DewarpData><aux:SerialNumber>S2.0F.B.0043BX</aux:SerialNumber>"
        "<s:TakeoffUtime>1702728848</s:TakeoffUtime></rdf:Description>"
    )
    removed = Removed()
    out = xmp_clean.clean_packet(packet(description), Options(parse_profile("all")), removed)
    assert out is not None
    for gone in (
        b"E1.0J.A.00K7BK",
        b"29.7861",
        b"VehiclePositionNED",
        b"S2.0F.B.0043BX",
        b"1702728848",
        b"2022-06-08",
    ):
        assert gone not in out
    assert (
        b"<s:Yaw>12</s:Yaw>" in out and b";3713.29,3713.29" in out and b'xmp:CreateDate="2023-12-16"' in out
    )
    assert out.endswith(b'<?xpacket end="w"?>\x00\x00') and b" " * 64 in out  # wrapper and padding kept


@pytest.mark.parametrize("uri", sorted(DJI_NAMESPACES))
def test_xmp_position_removed_in_every_dji_namespace(uri: str) -> None:
    raw = dji_packet(
        prefix="Q", uri=uri, GpsLatitude="+1.2345678", GpsLongtitude="+2.3456789", GimbalYawDegree="+3.0"
    )
    out = xmp_clean.clean_packet(raw, DEFAULT, Removed())
    assert (
        out is not None and b"1.2345678" not in out and b"2.3456789" not in out and b"GimbalYawDegree" in out
    )


def test_hostile_xmp_is_dropped_not_expanded() -> None:
    from readers.media.test_xmp import BILLION_LAUGHS

    removed = Removed()
    assert xmp_clean.clean_packet(BILLION_LAUGHS, DEFAULT, removed) is None
    assert any("dropped" in note for note in removed.notes)


# --- property test --------------------------------------------------------------------------------

SERIAL = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=8, max_size=20)
LAT = st.floats(min_value=-89.0, max_value=89.0).filter(lambda v: abs(v) > 0.01)
LON = st.floats(min_value=-179.0, max_value=179.0).filter(lambda v: abs(v) > 0.01)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lat=LAT, lon=LON, serial=SERIAL, drone=SERIAL, uri=st.sampled_from(sorted(DJI_NAMESPACES)),
    prefix=st.sampled_from(["drone-dji", "DJI", "x9"]), order=st.sampled_from(["<", ">"]),
    exif_gps=st.booleans(), spell=st.sampled_from(["GpsLongitude", "GpsLongtitude", "Longitude"]),
)  # fmt: skip
def test_property_sanitize_then_inventory_finds_nothing_removed(
    tmp_path: Path, lat: float, lon: float, serial: str, drone: str, uri: str, prefix: str, order: str,
    exif_gps: bool, spell: str,
) -> None:  # fmt: skip
    gps = gps_block(lat, lon, 100.0) if exif_gps else None
    exif = photo_tiff(order, gps, exif_extra=[(0xA435, ASCII, serial)]).data
    props = {
        "GpsLatitude": f"{lat:+.7f}",
        spell: f"{lon:+.7f}",
        "DroneSerialNumber": drone,
        "AbsoluteAltitude": "+12.5",
    }
    data = jpeg(exif_segment(exif), xmp_segment(dji_packet(prefix=prefix, uri=uri, **props)))
    path = tmp_path / "p.jpg"
    path.write_bytes(data)
    assert codes(inventory(path)) & POSITION_CODES  # the generated photo does reveal a position
    outcome = sjpeg.clean(data, DEFAULT)
    assert outcome.data is not None
    path.write_bytes(outcome.data)
    case = inventory(path)
    assert not codes(case) & (POSITION_CODES | {SERIAL_CODE}) and case.tracks == []
    for secret in (serial, drone, "1SFOJ1T0AB0KRQ", props["GpsLatitude"], props[spell]):
        assert secret.encode() not in outcome.data
    assert entropy_data(outcome.data) == entropy_data(data)
    assert b"2021:05:28 10:33:46" in outcome.data and TIME_CODE not in codes(case)  # time is not removed


def test_random_damage_is_refused_or_cleaned_never_a_crash(tmp_path: Path) -> None:
    """Byte flips and cuts in the header region: ``Damaged`` or a JPEG that parses, nothing else."""
    build_demo_media(tmp_path)
    original = next(tmp_path.rglob("*.JPG")).read_bytes()
    rng = random.Random(20260314)
    for _ in range(400):
        data = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(min(len(data), 700))] = rng.randrange(256)
        damaged = bytes(data[: rng.randrange(len(data))] if rng.random() < 0.2 else data)
        try:
            outcome = sjpeg.clean(
                damaged, Options(parse_profile(rng.choice(["all", "location", "identity"])))
            )
        except Damaged:
            continue
        assert outcome.data is not None and outcome.data.startswith(b"\xff\xd8")
        sjpeg.parse(outcome.data)
