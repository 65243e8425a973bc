"""MAVLink telemetry-log reader on the corpus's real tlog and on tlogs built here from hand-set values.

The corpus holds one real tlog (a single MAVLink2 BATTERY_STATUS plus a trailing fragment, see its
README); there is no flight tlog under a licence we can ship. So the flight content is built here with
pymavlink's generated encoders (the MAVLink wire format: 8-byte big-endian receive time, then a v1 0xFE
or v2 0xFD frame) from values chosen by hand, and every expectation below is derived from those values
with plain arithmetic: degrees = value / 1e7, metres = mm / 1000, UTC from Unix µs.
"""

from __future__ import annotations

import gzip
import random
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v10 import ardupilotmega as v1
from pymavlink.dialects.v20 import ardupilotmega as v2

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.logs.tlog import TlogReader

READER = TlogReader()
T0 = 1_700_000_000_000_000  #: 2023-11-14T22:13:20Z in Unix µs: the vehicle's UTC at boot + 100 s
BOOT_MS = 100_000  #: the vehicle's boot clock at T0
GCS_CLOCK = T0 + 2_000_000  #: the ground station's clock runs 2 s ahead of the vehicle's
GCS = " (ground-station receive time)"


def _iso(unix_us: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=unix_us)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def _f32(value: float) -> float:
    """MISSION_ITEM carries degrees as float32."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _read(path: Path) -> tuple[MediaRecords, ScanContext]:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))
    assert READER.read(path, path.name, ctx)[0] == "tlog"
    assert len(ctx.media) == 1
    return ctx.media[0], ctx


def _codes(ctx: ScanContext) -> set[str]:
    return {p.code for p in ctx.problems.records()}


class Tlog:
    """Builds a tlog: each record is the receive time then one packed frame."""

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.links = {sys: v2.MAVLink(None, srcSystem=sys, srcComponent=1) for sys in (1, 2, 255)}

    def add(self, sysid: int, name: str, args: tuple[Any, ...], stamp: int | None = None) -> None:
        link = self.links[sysid]
        frame = getattr(link, f"{name}_encode")(*args).pack(link)
        when = GCS_CLOCK + len(self.records) * 1000 if stamp is None else stamp
        self.records.append(struct.pack(">Q", when) + frame)

    def bytes(self) -> bytes:
        return b"".join(self.records)


Q = [1, 0, 0, 0]  #: identity quaternion for HOME_POSITION
ODID = bytes(20)  #: Remote ID id_or_mac: none
#: (system id, message, encoder arguments in MAVLink field order[, receive time µs]); record n is line n.
FLIGHT: list[tuple[Any, ...]] = [
    (1, "heartbeat", (1, 3, 0, 0, 4, 3)),  # 1: fixed wing, MAV_AUTOPILOT_ARDUPILOTMEGA
    (255, "heartbeat", (6, 8, 0, 0, 4, 3)),  # 2: a ground station, not a vehicle
    (1, "global_position_int", (BOOT_MS - 500, 473977418, 85455939, 488000, 0, 0, 0, 0, 0)),
    (1, "system_time", (T0, BOOT_MS)),
    (1, "global_position_int", (BOOT_MS + 500, 473977500, 85456000, 490500, 0, 0, 0, 0, 0)),
    (1, "gps_raw_int", (T0 + 250_000, 3, 473977400, 85455900, 489000, 0, 0, 0, 0, 12)),  # 3-D fix, Unix µs
    (1, "gps_raw_int", (T0 + 450_000, 1, 473977400, 85455900, 489000, 0, 0, 0, 0, 3)),  # no fix
    (1, "gps2_raw", (BOOT_MS * 1000 + 600_000, 3, 473977410, 85455910, 489100, 0, 0, 0, 0, 9, 0, 0)),  # boot
    (1, "home_position", (473977000, 85455000, 487000, 0, 0, 0, Q, 0, 0, 0)),  # 9: resent every second
    (1, "home_position", (473977000, 85455000, 487000, 0, 0, 0, Q, 0, 0, 0)),
    (1, "home_position", (473977000, 85455000, 487000, 0, 0, 0, Q, 0, 0, 0)),
    (1, "home_position", (473978000, 85455000, 487000, 0, 0, 0, Q, 0, 0, 0)),  # 12: moved
    (1, "gps_global_origin", (473976000, 85454000, 486000)),
    (255, "mission_item_int", (1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 473977000, 85455000, 487.0)),  # uploaded
    (255, "mission_item_int", (1, 1, 1, 3, 16, 0, 1, 0, 0, 0, 0, 473990000, 85470000, 50.0)),
    (255, "mission_item_int", (1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 473977000, 85455000, 487.0)),  # again
    (255, "mission_item_int", (1, 1, 1, 3, 16, 0, 1, 0, 0, 0, 0, 473990000, 85470000, 50.0)),
    (255, "mission_item", (1, 1, 2, 3, 21, 0, 1, 0, 0, 0, 0, 47.3995, 8.5480, 0.0)),  # float32 degrees
    (255, "mission_item_int", (1, 1, 0, 0, 5000, 0, 1, 0, 0, 0, 0, 473000000, 85000000, 0.0, 1)),  # fence
    (1, "rally_point", (255, 0, 0, 1, 473960000, 85440000, 60, 0, 0, 0)),
    (1, "autopilot_version", (0, (4 << 24) | (5 << 16) | (7 << 8) | 255, 0, 0, 0, b"abcdef12", bytes(8),
                              bytes(8), 0x1209, 0x5741, 0x0123456789ABCDEF, bytes(range(1, 19)))),
    (1, "param_value", (b"BRD_SERIAL_NUM", 4242.0, 6, 900, 10)),
    (1, "param_value", (b"SYSID_THISMAV", 1.0, 2, 900, 11)),
    (1, "statustext", (6, b"ArduPlane V4.5.7 (abcdef12)")),
    (1, "statustext", (6, b"CubeOrange 00300020 3431510C 32353432")),
    (1, "open_drone_id_basic_id", (0, 0, ODID, 1, 2, b"1596F123456789AB".ljust(20, b"\0"))),
    (1, "open_drone_id_operator_id", (0, 0, ODID, 0, b"FIN87astrdge12k8")),
    (1, "open_drone_id_system", (0, 0, ODID, 1, 0, 473950000, 85430000, 1, 0, -1000, -1000, 0, 0, 512.5,
                                 154_000_000)),
    (1, "open_drone_id_location", (0, 0, ODID, 2, 0, 0, 0, 473977600, 85456100, -1000, -1000, 0, -1000, 0, 0,
                                   0, 0, 0, 0)),
    (2, "global_position_int", (5000, -353626000, 1491653000, 584000, 0, 0, 0, 0, 0)),  # no SYSTEM_TIME
    (2, "global_position_int", (6000, -353627000, 1491654000, 584000, 0, 0, 0, 0, 0), 47),  # no clock
]  # fmt: skip


def _flight() -> Tlog:
    log = Tlog()
    for sysid, name, args, *stamp in FLIGHT:
        log.add(sysid, name, args, *stamp)
    return log


@pytest.fixture()
def flight(tmp_path: Path) -> Path:
    path = tmp_path / "flight.tlog"
    path.write_bytes(_flight().bytes())
    return path


def test_aircraft_positions_and_times(flight: Path) -> None:
    rec, ctx = _read(flight)
    assert _codes(ctx) == set()
    got = [
        (t.source.split(" (")[0], t.lat, t.lon, t.alt_m, t.time_utc, t.time_basis)
        for t in rec.tracks
        if t.kind == "aircraft"
    ]
    offset = T0 - BOOT_MS * 1000  # SYSTEM_TIME: vehicle UTC minus boot clock
    assert got == [
        ("MAVLink GLOBAL_POSITION_INT", 47.3977418, 8.5455939, 488.0, _iso(offset + 99_500_000), "offset"),
        ("MAVLink GLOBAL_POSITION_INT", 47.39775, 8.5456, 490.5, _iso(T0 + 500_000), "offset"),
        ("MAVLink GPS_RAW_INT", 47.39774, 8.54559, 489.0, _iso(T0 + 250_000), "utc"),
        ("MAVLink GPS2_RAW", 47.397741, 8.545591, 489.1, _iso(T0 + 600_000), "offset"),
        ("MAVLink OPEN_DRONE_ID_LOCATION", 47.39776, 8.54561, None, _iso(GCS_CLOCK + 28_000), "utc"),
        ("MAVLink GLOBAL_POSITION_INT", -35.3626, 149.1653, 584.0, _iso(GCS_CLOCK + 29_000), "utc"),
        ("MAVLink GLOBAL_POSITION_INT", -35.3627, 149.1654, 584.0, None, None),  # received "at 47 µs"
    ]
    assert "(ground-station receive time)" in rec.tracks[-2].source  # system 2 sent no SYSTEM_TIME
    assert [t.index for t in rec.tracks if t.kind == "aircraft"][:3] == [3, 5, 6]  # 1-based record numbers


def test_home_origin_mission_rally_and_operator(flight: Path) -> None:
    rec, _ = _read(flight)
    rest = [(t.kind, t.source.replace(GCS, ""), t.lat, t.lon, t.alt_m, t.alt_ref)
            for t in rec.tracks if t.kind != "aircraft"]  # fmt: skip
    mission0 = "MAVLink MISSION_ITEM_INT mission item 0 (NAV_WAYPOINT) (ArduPilot keeps home there)"
    assert rest == [
        ("home", "MAVLink HOME_POSITION", 47.3977, 8.5455, 487.0, "msl"),  # three copies kept once
        ("home", "MAVLink HOME_POSITION", 47.3978, 8.5455, 487.0, "msl"),  # it moved: kept
        ("home", "MAVLink GPS_GLOBAL_ORIGIN (EKF origin)", 47.3976, 8.5454, 486.0, "msl"),
        ("home", mission0, 47.3977, 8.5455, 487.0, "msl"),
        ("target", "MAVLink MISSION_ITEM_INT mission item 1 (NAV_WAYPOINT)", 47.399, 8.547, 50.0, "relative"),
        ("target", "MAVLink MISSION_ITEM mission item 2 (NAV_LAND)", _f32(47.3995), _f32(8.548), 0.0,
         "relative"),
        ("target", "MAVLink RALLY_POINT 0", 47.396, 8.544, 60.0, None),
        ("operator", "MAVLink OPEN_DRONE_ID_SYSTEM (Remote ID operator position)", 47.395, 8.543, 512.5,
         "ellipsoid"),
    ]  # fmt: skip
    planned = [t for t in rec.tracks if "MISSION" in t.source or "RALLY" in t.source]
    assert {t.time_utc for t in planned} == {None}


def test_times_of_home_and_operator(flight: Path) -> None:
    rec, _ = _read(flight)
    homes = [t for t in rec.tracks if "HOME_POSITION" in t.source or "ORIGIN" in t.source]
    assert [t.time_utc for t in homes] == [
        _iso(GCS_CLOCK + n * 1000) for n in (8, 11, 12)
    ]  # records 9, 12, 13
    assert {t.time_basis for t in homes} == {"utc"} and all(t.source.endswith(GCS) for t in homes)
    # Remote ID timestamps count seconds from 2019-01-01T00:00:00Z (Unix 1546300800); 154e6 s is 1782 days
    # (2019..2022 = 1461, then day 322 of 2023 = 18 November) and 35200 s (09:46:40).
    (operator,) = [t for t in rec.tracks if t.kind == "operator"]
    assert operator.time_utc == "2023-11-18T09:46:40.000000Z" == _iso((1_546_300_800 + 154_000_000) * 10**6)
    assert operator.time_basis == "utc"


def test_identities(flight: Path) -> None:
    rec, _ = _read(flight)
    found = [(i.kind, i.value) for i in rec.identities]
    assert found == [
        ("hardware-uuid", "0123456789abcdef"),  # AUTOPILOT_VERSION uid
        ("hardware-uuid", bytes(range(1, 19)).hex()),  # uid2
        ("firmware-version", "4.5.7 official (abcdef12)"),
        ("remote-id", "1596F123456789AB"),
        ("operator-id", "FIN87astrdge12k8"),
        ("firmware-version", "ArduPlane V4.5.7 (abcdef12)"),  # STATUSTEXT banner
        ("hardware-uuid", "003000203431510c32353432"),  # board line, words joined
        ("hardware-model", "CubeOrange"),
        ("aircraft-serial", "4242"),
        ("mavlink-system-id", "1"),  # from SYSID_THISMAV and HEARTBEAT: once
    ]
    assert rec.item.make == "ArduPilot" and rec.item.model == "CubeOrange"
    assert rec.item.serials == {"hardware-uuid": "0123456789abcdef", "aircraft-serial": "4242"}
    assert rec.item.captured_at_utc == _iso(T0 - 500_000)  # the first GLOBAL_POSITION_INT
    assert rec.item.extra["records"] == str(len(_flight().records))


def test_mavlink1_and_signed_frames(tmp_path: Path) -> None:
    link1 = v1.MAVLink(None, srcSystem=7, srcComponent=1)
    signed = v2.MAVLink(None, srcSystem=7, srcComponent=1)
    signed.signing.secret_key, signed.signing.sign_outgoing, signed.signing.timestamp = bytes(32), True, 1
    frames = [
        link1.global_position_int_encode(1000, 100000000, 200000000, 1000, 0, 0, 0, 0, 0).pack(link1),
        signed.global_position_int_encode(2000, 100000001, 200000001, 2000, 0, 0, 0, 0, 0).pack(signed),
        link1.global_position_int_encode(3000, 100000002, 200000002, 3000, 0, 0, 0, 0, 0).pack(link1),
    ]
    assert frames[0][0] == 0xFE and frames[1][0] == 0xFD and frames[1][2] & 1  # v1, signed v2
    path = tmp_path / "mixed.tlog"
    path.write_bytes(b"".join(struct.pack(">Q", T0 + i) + f for i, f in enumerate(frames)))
    rec, ctx = _read(path)
    assert _codes(ctx) == set()
    assert [(t.lat, t.lon, t.alt_m) for t in rec.tracks] == [
        (10.0, 20.0, 1.0),
        (10.0000001, 20.0000001, 2.0),
        (10.0000002, 20.0000002, 3.0),
    ]


def test_the_corpus_tlog(corpus: Path) -> None:
    """README: one MAVLink2 BATTERY_STATUS, then a fragment pymavlink reports as BAD_DATA."""
    path = corpus / "drone-media" / "pymavlink" / "capture.mav2.battery_status.tlog"
    rec, ctx = _read(path)
    assert rec.item.extra["records"] == "1" and rec.tracks == []
    assert [(p.code, p.offset) for p in ctx.problems.records()] == [("truncated-record", 56)]  # 8 + 48 bytes


def test_sniff_by_content(corpus: Path, flight: Path, tmp_path: Path) -> None:
    for path in sorted((corpus / "drone-media").glob("*/*")):
        assert (READER.sniff(path.read_bytes()[:64], path) > 0) == (path.suffix == ".tlog"), path
    assert READER.sniff(flight.read_bytes()[:64], flight) == 0.8
    renamed = tmp_path / "capture.bin"
    renamed.write_bytes(flight.read_bytes())
    assert READER.sniff(renamed.read_bytes()[:64], renamed) == 0.8
    zipped = tmp_path / "flight.tlog.gz"
    zipped.write_bytes(gzip.compress(flight.read_bytes()))
    assert READER.sniff(gzip.decompress(zipped.read_bytes())[:64], zipped) < 0
    noise = tmp_path / "noise.tlog"
    noise.write_bytes(bytes(8) + b"\xfe" + bytes(range(200)))  # a marker, but the CRC does not check out
    assert READER.sniff(noise.read_bytes()[:64], noise) < 0


# --- damaged input -------------------------------------------------------------------------------------


def test_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.tlog"
    path.write_bytes(b"")
    rec, ctx = _read(path)
    assert _codes(ctx) == {"unreadable-log"} and rec.tracks == []


def test_cut_in_the_last_record(flight: Path, tmp_path: Path) -> None:
    data = _flight()
    path = tmp_path / "cut.tlog"
    path.write_bytes(data.bytes()[:-5])
    rec, ctx = _read(path)
    cut = len(data.bytes()) - len(data.records[-1])
    assert [(p.code, p.offset) for p in ctx.problems.records()] == [("truncated-record", cut)]
    assert len(rec.tracks) == len(_read(flight)[0].tracks) - 1


def test_garbage_between_records_is_skipped_and_counted(flight: Path, tmp_path: Path) -> None:
    data = _flight()
    junk = (
        bytes(random.Random(3).randrange(256) for _ in range(700)).replace(b"\xfe", b"").replace(b"\xfd", b"")
    )
    at = sum(len(r) for r in data.records[:5])
    path = tmp_path / "junk.tlog"
    path.write_bytes(data.bytes()[:at] + junk + data.bytes()[at:])
    rec, ctx = _read(path)
    damage = ctx.problems.records()
    assert [(p.code, p.offset, p.count) for p in damage] == [("corrupt-data", at, len(junk))]
    assert [t.to_dict() | {"index": 0} for t in rec.tracks] == [
        t.to_dict() | {"file": "junk.tlog", "index": 0} for t in _read(flight)[0].tracks
    ]


def test_a_flipped_byte_costs_one_record(flight: Path, tmp_path: Path) -> None:
    data = _flight()
    at = sum(len(r) for r in data.records[:4]) + 20  # inside the second GLOBAL_POSITION_INT's payload
    damaged = bytearray(data.bytes())
    damaged[at] ^= 0xFF
    path = tmp_path / "flip.tlog"
    path.write_bytes(bytes(damaged))
    rec, ctx = _read(path)
    assert "bad-checksum" in _codes(ctx)
    assert len(rec.tracks) == len(_read(flight)[0].tracks) - 1


def test_random_bytes_and_random_damage_never_raise(
    flight: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(99)
    data = flight.read_bytes()
    for i in range(25):
        damaged = bytearray(data)
        for _ in range(rng.randrange(1, 30)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / f"fuzz{i}.tlog"
        path.write_bytes(bytes(damaged[: rng.randrange(1, len(damaged))]))
        rec, _ = _read(path)
        assert all(-90 <= t.lat <= 90 and -180 <= t.lon <= 180 for t in rec.tracks)
    noise = tmp_path / "noise.tlog"
    noise.write_bytes(bytes(rng.randrange(256) for _ in range(50_000)))
    rec, ctx = _read(noise)
    assert rec.tracks == [] and "corrupt-data" in _codes(ctx)
    assert capfd.readouterr() == ("", "")  # readers never print
