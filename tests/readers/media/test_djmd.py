"""DJI djmd reader: MP4s built here with protobuf samples laid out as ExifTool 13's DJI table expects.

No small public DJI MP4 with a djmd track exists (corpus README), so the test writes one: a ``meta``
handler track named "DJI meta" whose ``djmd`` samples name their schema (``dvtm_wm261.proto``, the
Mavic 3 Pro) at field 1-1-1 and carry a serial, model, GPS (radians unless field 1 says degrees),
altitudes, GPSDateTime and attitude at the paths ExifTool 13.59 decodes. ExifTool reads the file, so
every value is checked twice: against what ExifTool reports and against what the test wrote.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from droneaudit.readers.media import djmd

from .test_mp4 import (
    ExifTool,
    TrackSpec,
    codes,
    exif_seconds,
    exiftool_runner,
    movie,
    read_bytes,
    read_file,
    tagged,
)


@pytest.fixture(scope="module", name="exiftool")
def exiftool_fixture() -> ExifTool:
    return exiftool_runner()


# --- a protobuf writer (wire format only: https://protobuf.dev/programming-guides/encoding/) --------------


def uvarint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 -> 10-byte two's complement, as DJI writes them
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb(number: int, value: int | float | bytes, wire: int | None = None) -> bytes:
    """One field: int -> varint, float -> fixed64 double (or fixed32 float with wire=5), bytes -> LEN."""
    if isinstance(value, bytes):
        return uvarint(number << 3 | 2) + uvarint(len(value)) + value
    if isinstance(value, float):
        packed = struct.pack("<f", value) if wire == 5 else struct.pack("<d", value)
        return uvarint(number << 3 | (5 if wire == 5 else 1)) + packed
    return uvarint(number << 3) + uvarint(value)


def msg(*fields: bytes) -> bytes:
    return b"".join(fields)


@dataclass
class Fix:
    lat: float
    lon: float
    abs_mm: int
    rel_mm: float
    utc: str
    yaw: int  #: tenths of a degree


SERIAL = "1581F5FHC23AB00T"
FIXES = [
    Fix(
        47.397742 + i * 1e-4,
        8.545594 - i * 2e-4,
        512_345 + i * 100,
        120_500.0 + i,
        f"2024-05-01 12:34:5{i}",
        -1234 - i,
    )
    for i in range(5)
]


def wm261_sample(fix: Fix, degrees: bool = False, schema: bytes = b"dvtm_wm261.proto") -> bytes:
    """Paths from ExifTool's table: 1-1-1 schema, 1-1-5 serial, 1-1-10 model, 3-3-3 DroneInfo,
    3-3-4-1 GPS (1 units, 2 lat, 3 lon), 3-3-4-2 absolute altitude (mm), 3-3-4-6-1 GPSDateTime,
    3-3-5-1 relative altitude (float mm), 3-4-3 GimbalInfo."""
    lat, lon = (fix.lat, fix.lon) if degrees else (math.radians(fix.lat), math.radians(fix.lon))
    gps = msg(pb(1, 1) if degrees else b"", pb(2, lat), pb(3, lon))
    head = pb(1, msg(pb(1, schema), pb(5, SERIAL.encode()), pb(10, b"DJI Mavic3Pro")))
    drone = pb(3, msg(pb(1, -25), pb(2, 12), pb(3, fix.yaw)))
    position = pb(4, msg(pb(1, gps), pb(2, fix.abs_mm), pb(6, msg(pb(1, fix.utc.encode())))))
    relative = pb(5, msg(pb(1, fix.rel_mm, wire=5)))
    gimbal = pb(4, msg(pb(3, msg(pb(1, -900), pb(3, 1234)))))
    return msg(pb(1, head), pb(3, msg(pb(3, msg(drone, position, relative)), gimbal)))


def dji_movie(samples: list[bytes], fmt: bytes = b"djmd") -> bytes:
    spec = TrackSpec(b"meta", fmt, samples, name="DJI meta", timescale=30000, delta=1001)
    return movie([spec], brand=b"isom")


def test_mavic3pro_track_matches_exiftool(tmp_path: Path, exiftool: ExifTool) -> None:
    path = tmp_path / "DJI_0001.MP4"
    path.write_bytes(dji_movie([wm261_sample(f) for f in FIXES]))
    tags = exiftool(path)
    _fmt, rec, problems = read_file(path)
    columns = (
        "GPSLatitude",
        "GPSLongitude",
        "AbsoluteAltitude",
        "GPSDateTime",
        "RelativeAltitude",
        "DroneYaw",
    )
    rows = list(zip(*(tagged(tags, name) for name in columns), strict=True))
    assert len(rec.tracks) == len(rows) == len(FIXES) and problems == []
    for point, fix, row in zip(rec.tracks, FIXES, rows, strict=True):
        lat, lon, alt, when, _rel, _yaw = (value for _doc, value in row)
        assert (point.lat, point.lon, point.alt_m) == pytest.approx((lat, lon, alt), abs=1e-9)
        assert (point.lat, point.lon, point.alt_m) == pytest.approx(
            (fix.lat, fix.lon, fix.abs_mm / 1000), abs=1e-9
        )
        assert point.time_utc == fix.utc.replace(" ", "T") + ".000Z" and point.time_basis == "utc"
        assert exif_seconds(point.time_utc) == exif_seconds(when)
        assert (point.kind, point.alt_ref) == ("aircraft", "msl")
    assert rec.tracks[1].source == "DJI djmd dvtm_wm261 sample 2 @ 0.033 s"
    assert (
        rec.item.serials
        == {"aircraft-serial": tagged(tags, "SerialNumber")[0][1]}
        == {"aircraft-serial": SERIAL}
    )
    assert rec.item.model == tagged(tags, "Model")[0][1] == "DJI Mavic3Pro" and rec.item.make == "DJI"
    assert rec.item.captured_at_utc == "2024-05-01T12:34:50.000Z"
    assert rec.item.extra["djmd_schema"] == "dvtm_wm261" and rec.item.extra["djmd_frames"] == "5"


def test_attitude_and_relative_altitude_match_exiftool(tmp_path: Path, exiftool: ExifTool) -> None:
    path = tmp_path / "DJI_0002.MP4"
    path.write_bytes(dji_movie([wm261_sample(FIXES[0])]))
    tags = exiftool(path)
    state = djmd.Decoded()
    djmd.decode_sample(wm261_sample(FIXES[0]), 1, 0.0, state)
    (frame,) = state.frames
    exif = [
        tagged(tags, n)[0][1] for n in ("DroneRoll", "DronePitch", "DroneYaw", "GimbalPitch", "GimbalYaw")
    ]
    assert [*frame.attitude, frame.gimbal[0], frame.gimbal[2]] == pytest.approx(exif)  # type: ignore[misc,index]
    assert exif == [-2.5, 1.2, -123.4, -90.0, 123.4]
    assert frame.rel_alt == pytest.approx(tagged(tags, "RelativeAltitude")[0][1]) == 120.5


def test_coordinates_in_degrees_when_the_gps_message_says_so(tmp_path: Path, exiftool: ExifTool) -> None:
    path = tmp_path / "DJI_0003.MP4"
    path.write_bytes(dji_movie([wm261_sample(FIXES[2], degrees=True)]))
    lat = tagged(exiftool(path), "GPSLatitude")[0][1]
    _fmt, rec, _problems = read_file(path)
    assert rec.tracks[0].lat == pytest.approx(lat) == FIXES[2].lat


def test_model_without_gps_time_gets_no_utc(tmp_path: Path, exiftool: ExifTool) -> None:
    """Mini 4 Pro has no GPSDateTime field: ExifTool synthesises one from CreateDate plus the sample time
    (assuming CreateDate is UTC, with a warning); the reader keeps the sample time and claims no UTC."""
    path = tmp_path / "DJI_0004.MP4"
    path.write_bytes(dji_movie([wm261_sample(f, schema=b"dvtm_Mini4_Pro.proto") for f in FIXES[:2]]))
    tags = exiftool(path)
    assert any(
        "Approximating GPSDateTime as CreateDate + SampleTime" in w for w in tags["Doc1:Track1:Warning"]
    )
    assert [t for _doc, t in tagged(tags, "GPSDateTime")] == [
        "2017:04:17 19:27:57.000Z",
        "2017:04:17 19:27:57.033Z",
    ]
    _fmt, rec, problems = read_file(path)
    assert [t.time_utc for t in rec.tracks] == [None, None] and rec.item.captured_at_utc is None
    assert rec.tracks[0].lat == pytest.approx(tagged(tags, "GPSLatitude")[0][1]) and problems == []
    assert rec.item.model == "DJI Mavic3Pro"  # 1-1-10 as written; the layout name is only a fallback


def test_handheld_osmo_position_is_the_operator(tmp_path: Path, exiftool: ExifTool) -> None:
    """Osmo Action 4 (dvtm_ac203): GPS at 3-4-2-1, altitude 3-4-2-2 (unsigned mm), time 3-4-2-6-1."""
    gps = msg(pb(2, math.radians(46.0)), pb(3, math.radians(7.5)))
    sample = msg(
        pb(1, msg(pb(1, msg(pb(1, b"dvtm_ac203.proto"), pb(5, b"OA4SERIAL0001"), pb(10, b"Osmo Action 4"))))),
        pb(
            3,
            msg(
                pb(
                    4,
                    msg(pb(2, msg(pb(1, gps), pb(2, 1_234_567), pb(6, msg(pb(1, b"2024-06-01 08:00:00")))))),
                )
            ),
        ),
    )
    path = tmp_path / "DJI_0005.MP4"
    path.write_bytes(dji_movie([sample]))
    tags = exiftool(path)
    _fmt, rec, _problems = read_file(path)
    (point,) = rec.tracks
    assert (point.kind, point.alt_m, point.alt_ref) == ("operator", tagged(tags, "GPSAltitude")[0][1], None)
    assert point.lat == pytest.approx(tagged(tags, "GPSLatitude")[0][1]) == pytest.approx(46.0)
    assert (
        rec.item.serials
        == {"camera-serial": "OA4SERIAL0001"}
        == {"camera-serial": tagged(tags, "SerialNumber")[0][1]}
    )


def test_unknown_schema_is_reported_not_guessed(tmp_path: Path) -> None:
    data = dji_movie([wm261_sample(FIXES[0], schema=b"dvtm_wm169.proto")])
    _fmt, rec, problems = read_bytes(tmp_path, data, "DJI_0006.MP4")
    assert rec.tracks == [] and rec.identities == [] and codes(problems) == {"djmd-unknown-schema"}
    assert rec.item.extra["djmd_schema"] == "dvtm_wm169" and rec.item.make == "DJI"


def test_schema_carries_over_and_bad_samples_are_counted(tmp_path: Path) -> None:
    """Later samples may omit the schema name (ExifTool remembers it too); garbage samples are problems."""
    first = wm261_sample(FIXES[0])
    second = wm261_sample(FIXES[1]).replace(b"dvtm_wm261.proto", b"dvtm_wm261.xxxxx")
    data = dji_movie([first, second, b"\x0a\xff\xff", b"\xff" * 12])
    _fmt, rec, problems = read_bytes(tmp_path, data)
    assert [t.index for t in rec.tracks] == [1, 2]
    bad = next(p for p in problems if p.code == "djmd-bad-sample")
    assert (bad.frame, bad.count) == (3, 2)


def test_dbgi_track_is_summarised_only(tmp_path: Path) -> None:
    debug = msg(pb(1, msg(pb(1, msg(pb(1, b"dbginfo_wa341.proto"), pb(5, b"NOT-A-SERIAL"))))))
    _fmt, rec, problems = read_bytes(tmp_path, dji_movie([debug, debug], fmt=b"dbgi"))
    assert rec.identities == [] and rec.tracks == [] and problems == []
    assert rec.item.extra["dbgi"] == f"2 samples, {2 * len(debug)} bytes, schema dbginfo_wa341"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x08\x96\x01", [(1, 0, 150)]),
        (pb(3, -2), [(3, 0, (1 << 64) - 2)]),
        (pb(2, b"hi"), [(2, 2, b"hi")]),
        (b"\x0a\x05ab", None),  # length past the end
        (b"\x08" + b"\xff" * 11, None),  # varint longer than 10 bytes
        (b"\x00\x00", None),  # field number 0
        (b"\x0f", None),  # wire type 7
    ],
)
def test_protobuf_wire_format(data: bytes, expected: list[tuple[int, int, object]] | None) -> None:
    assert djmd.message(data) == expected


def test_deeply_nested_protobuf_is_bounded() -> None:
    data = b"x"
    for _ in range(500):
        data = pb(1, data)
    found, schema, ok = djmd.flatten(data, {(1,) * 400})
    assert found == {} and schema is None and ok


def test_gps_datetime_forms() -> None:
    assert djmd.gps_datetime("2024-05-01 12:34:56.9996") == "2024-05-01T12:34:56.999Z"
    assert djmd.gps_datetime("2024:05:01 12:34:56") == "2024-05-01T12:34:56.000Z"
    assert djmd.gps_datetime("not a date") is None and djmd.gps_datetime(None) is None
