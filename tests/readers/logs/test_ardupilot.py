"""ArduPilot DataFlash reader against upstream's own dump of test.BIN, hand-checked values, and damage.

Oracles:

* ``test.BIN.py3.dumped``: pymavlink upstream's expected ``mavlogdump`` text for the same file (made by
  another pymavlink version on another machine). Positions must match it value for value. Its times are
  in the dumping machine's zone and clock rule, so only their spacing is compared.
* the GPS rule, applied here with ``datetime`` alone: UTC = 1980-01-06 + week + ms - leap seconds
  (18 since 2017-01-01, 17 from 2015-07-01; IERS Bulletin C).
* the corpus README (board id line, firmware banner, first GPS fix) and the dump's PARM lines.
* newer message layouts (ArduPilot 4.x: GPS instance column, CMD Frame, VER) on a log built here from
  the FMT rules (header A3 95, FMT = BBnNZ), since the corpus has no 4.x log.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.logs.ardupilot import DataflashReader, gps_to_utc_us, iso_us, param_identities

READER = DataflashReader()
DUMP_LINE = re.compile(r"^(\S+ \S+): (\w+) \{(.*)\}$")


def _read(path: Path) -> tuple[MediaRecords, ScanContext]:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))
    assert READER.read(path, path.name, ctx) == ("dataflash", ctx.media[0].item.sha256)
    assert len(ctx.media) == 1
    return ctx.media[0], ctx


def _codes(ctx: ScanContext) -> set[str]:
    return {p.code for p in ctx.problems.records()}


@pytest.fixture(scope="module")
def sample(corpus: Path) -> Path:
    return corpus / "drone-media" / "pymavlink" / "test.BIN"


@pytest.fixture(scope="module")
def dump(sample: Path) -> list[tuple[datetime, str, dict[str, float]]]:
    """(local time, type, numeric fields) of every GPS, POS, ORGN and CMD line of upstream's dump."""
    out = []
    for line in (sample.parent / "test.BIN.py3.dumped").read_text().splitlines():
        match = DUMP_LINE.match(line)
        if match and match.group(2) in ("GPS", "POS", "ORGN", "CMD"):
            fields = dict(part.split(" : ") for part in match.group(3).split(", "))
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f")
            out.append((when, match.group(2), {k: float(v) for k, v in fields.items()}))
    return out


def _flat(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


def _gps_utc(week: int, ms: int, leaps: int) -> str:
    moment = datetime(1980, 1, 6, tzinfo=UTC) + timedelta(weeks=week, milliseconds=ms - leaps * 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_aircraft_positions_match_upstreams_dump(sample: Path, dump: list[Any]) -> None:
    rec, _ = _read(sample)
    expected = [(f["Lat"], f["Lng"], f["Alt"]) for _, kind, f in dump if kind in ("GPS", "POS")]
    got = [(t.lat, t.lon, t.alt_m) for t in rec.tracks if t.kind == "aircraft"]
    assert len(got) == len(expected) == 5 + 23  # README: GPS 5, POS 23
    assert _flat(got) == pytest.approx(_flat(expected), abs=1e-9)  # 1e-7 degree resolution, float noise
    assert {t.alt_ref for t in rec.tracks if t.kind == "aircraft"} == {"msl"}


def test_home_and_mission_match_upstreams_dump(sample: Path, dump: list[Any]) -> None:
    rec, _ = _read(sample)
    orgn = [(f["Lat"], f["Lng"], f["Alt"]) for _, kind, f in dump if kind == "ORGN"]
    cmds = [f for _, kind, f in dump if kind == "CMD" and (f["Lat"], f["Lng"]) != (0.0, 0.0)]
    homes = [t for t in rec.tracks if t.kind == "home"]
    assert _flat([(t.lat, t.lon, t.alt_m) for t in homes if "ORGN" in t.source]) == pytest.approx(
        _flat(orgn), abs=1e-9
    )
    assert [t.source.split(" (UTC")[0] for t in homes if "ORGN" in t.source] == [
        "DataFlash ORGN (EKF origin)",  # Type 0
        "DataFlash ORGN (home)",  # Type 1
    ]
    planned = [t for t in rec.tracks if t.time_utc is None]
    assert [(t.lat, t.lon, t.index) for t in planned] == [(f["Lat"], f["Lng"], f["CNum"]) for f in cmds]
    assert [t.kind for t in planned] == ["home"] + ["target"] * 10  # item 0 is ArduPilot's home
    assert planned[1].source == "DataFlash CMD mission item 1 (NAV_TAKEOFF)"  # CId 22
    assert planned[7].source == "DataFlash CMD mission item 8 (NAV_WAYPOINT)"  # CId 16
    assert planned[0].alt_ref == "msl" and {t.alt_ref for t in planned[1:]} == {None}  # no Frame column


def test_first_gps_fix_time_by_the_gps_rule(sample: Path) -> None:
    """README: week 1973, 6448000 ms; 1980-01-06 + 1973 weeks = Sunday 2017-10-29, + 6448 s = 01:47:28
    GPS time, minus 18 leap seconds = 01:47:10 UTC."""
    rec, _ = _read(sample)
    gps = [t for t in rec.tracks if t.source == "DataFlash GPS"]
    assert gps[0].time_utc == _gps_utc(1973, 6448000, 18) == "2017-10-29T01:47:10.000000Z"
    assert [t.time_utc for t in gps] == [_gps_utc(1973, 6448000 + 200 * i, 18) for i in range(5)]
    assert {t.time_basis for t in gps} == {"utc"}
    assert rec.item.captured_at_utc == "2017-10-29T01:47:09.940874Z"  # the first POS, 59.126 ms earlier


def test_spacing_of_times_matches_upstreams_dump(sample: Path, dump: list[Any]) -> None:
    """The dump prints local time to 10 ms; our UTC minus its time must be one constant (within 10 ms)."""
    rec, _ = _read(sample)
    ours = [t for t in rec.tracks if t.kind == "aircraft"] + [t for t in rec.tracks if "ORGN" in t.source]
    theirs = [when for when, kind, _ in dump if kind in ("GPS", "POS")] + [
        w for w, k, _ in dump if k == "ORGN"
    ]
    gaps = [
        (w - datetime.strptime(t.time_utc or "", "%Y-%m-%dT%H:%M:%S.%fZ")).total_seconds()
        for t, w in zip(ours, theirs, strict=True)
    ]
    assert max(gaps) - min(gaps) <= 0.0101
    assert {t.time_basis for t in ours if "GPS" not in t.source.split(" (")[0]} == {"offset"}


def test_times_agree_with_pymavlinks_own_clock(sample: Path) -> None:
    """pymavlink's DFReader clock is another implementation of "boot clock + first GPS offset". It gives
    later GPS messages their boot-clock time too, where we keep the receiver's own fix time, so only the
    first GPS message (the reference) and the POS messages are compared."""
    from pymavlink import DFReader

    log = DFReader.DFReader_binary(str(sample))
    theirs = []
    while (m := log.recv_match(type=["GPS", "POS"])) is not None:
        theirs.append((m.get_type(), round(m._timestamp * 1e6)))
    log.close()
    rec, _ = _read(sample)
    aircraft = [t for t in rec.tracks if t.kind == "aircraft"]
    ours = [round(datetime.fromisoformat(t.time_utc or "").timestamp() * 1e6) for t in aircraft]
    pairs = [(o, t) for o, (kind, t) in zip(ours, theirs, strict=True) if kind == "POS"]
    assert len(pairs) == 23 and all(abs(o - t) <= 2 for o, t in pairs)
    assert ours[1] == theirs[1][1] == 1509241630_000000  # the first GPS message


def test_identities_as_the_readme_and_parameters_say(sample: Path) -> None:
    """MSG "PX4v4 00360029 30365103 31323731", "ArduPlane V3.8.2-dev (8178ab40)"; PARM SYSID_THISMAV 1,
    BRD_SERIAL_NUM 0 and BATT_SERIAL_NUM -1 (both ArduPilot's "unset")."""
    rec, _ = _read(sample)
    found = {(i.kind, i.value) for i in rec.identities}
    assert found == {
        ("hardware-uuid", "003600293036510331323731"),
        ("hardware-model", "PX4v4"),
        ("firmware-version", "ArduPlane V3.8.2-dev (8178ab40)"),
        ("mavlink-system-id", "1"),
    }
    assert (rec.item.format, rec.item.make, rec.item.model) == ("dataflash", "ArduPilot", "PX4v4")
    assert rec.item.serials == {"hardware-uuid": "003600293036510331323731"}


def test_the_64_kib_cut_is_reported(sample: Path) -> None:
    """README: the file is truncated at 64 KiB; the last message starts at 65512 and does not fit."""
    data = sample.read_bytes()
    assert len(data) == 65536 and data[65512:65514] == b"\xa3\x95"
    _, ctx = _read(sample)
    assert [(p.code, p.offset) for p in ctx.problems.records()] == [("truncated-record", 65512)]


def test_sniff_by_content(corpus: Path, sample: Path, tmp_path: Path) -> None:
    for path in sorted((corpus / "drone-media").glob("*/*")):
        assert (READER.sniff(path.read_bytes()[:64], path) > 0) == (path.name == "test.BIN"), path
    renamed = tmp_path / "flight.log"
    renamed.write_bytes(sample.read_bytes())
    assert READER.sniff(renamed.read_bytes()[:64], renamed) == 0.9
    zipped = tmp_path / "flight.bin.gz"
    zipped.write_bytes(gzip.compress(sample.read_bytes()))
    assert READER.sniff(gzip.decompress(zipped.read_bytes())[:64], zipped) < 0  # pymavlink needs raw bytes


# --- hand-built ArduPilot 4.x log -----------------------------------------------------------------------

_STRUCT = {
    "Q": "Q",
    "B": "B",
    "H": "H",
    "I": "I",
    "i": "i",
    "f": "f",
    "c": "h",
    "e": "i",
    "L": "i",
    "Z": "64s",
}
_SCALE = {"c": 100, "e": 100, "L": 1e7}
_LAYOUTS = {  # type id: (name, format, columns) as ArduPilot 4.x declares them
    129: ("GPS", "QBBIHBcLLeffffB", "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U"),
    130: ("CMD", "QHHHffffLLfB", "TimeUS,CTot,CNum,CId,Prm1,Prm2,Prm3,Prm4,Lat,Lng,Alt,Frame"),
    131: ("PARM", "QZf", "TimeUS,Name,Value"),
    132: ("VER", "QBHBBBBIZH", "TimeUS,BT,BST,Maj,Min,Pat,FWT,GH,FWS,APJ"),
}


def _message(type_id: int, *values: Any) -> bytes:
    if type_id == 128:
        return b"\xa3\x95\x80" + struct.pack("<BB4s16s64s", *values)
    _, fmt, _ = _LAYOUTS[type_id]
    packed = [
        round(v * _SCALE[ch]) if ch in _SCALE else (v.encode() if isinstance(v, str) else v)
        for ch, v in zip(fmt, values, strict=True)
    ]
    return b"\xa3\x95" + bytes([type_id]) + struct.pack("<" + "".join(_STRUCT[ch] for ch in fmt), *packed)


def _fmt(type_id: int) -> bytes:
    name, fmt, columns = _LAYOUTS[type_id]
    size = 3 + struct.calcsize("<" + "".join(_STRUCT[ch] for ch in fmt))
    return _message(128, type_id, size, name.encode(), fmt.encode(), columns.encode())


def _v4_log(path: Path) -> Path:
    """GPS week 2300 / 302400000 ms is 2024-02-07 12:00:00 GPS time = 11:59:42 UTC (18 leap seconds)."""
    parts = [_message(128, 128, 89, b"FMT", b"BBnNZ", b"Type,Length,Name,Format,Columns")]
    parts += [_fmt(t) for t in _LAYOUTS]
    parts += [
        _message(129, 5_000_000, 0, 1, 302_399_000, 2300, 0, 9.99, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0),  # no fix
        _message(129, 6_000_000, 1, 3, 302_400_000, 2300, 12, 0.7, 47.3977, 8.5456, 488.25, 0, 0, 0, 0, 1),
        _message(130, 7_000_000, 2, 1, 16, 0, 0, 0, 0, 47.3980, 8.5460, 30.0, 3),
        _message(130, 7_000_100, 2, 1, 16, 0, 0, 0, 0, 47.3980, 8.5460, 30.0, 3),  # mission logged twice
        _message(131, 7_100_000, "BRD_SERIAL_NUM", 4242.0),
        _message(131, 7_100_001, "BATT2_SERIAL_NUM", 77.0),
        _message(131, 7_100_002, "SERIAL1_BAUD", 57.0),  # a serial port, not a serial number
        _message(132, 7_200_000, 140, 0, 4, 5, 7, 255, 0xABCDEF12, "ArduCopter V4.5.7 (abcdef12)", 140),
    ]
    path.write_bytes(b"".join(parts))
    return path


def test_v4_layouts(tmp_path: Path) -> None:
    rec, ctx = _read(_v4_log(tmp_path / "v4.bin"))
    assert _codes(ctx) == set()
    gps, mission = rec.tracks
    assert (gps.source, gps.lat, gps.lon, gps.alt_m) == ("DataFlash GPS[1]", 47.3977, 8.5456, 488.25)
    assert gps.time_utc == _gps_utc(2300, 302_400_000, 18) == "2024-02-07T11:59:42.000000Z"
    assert (mission.kind, mission.alt_ref, mission.index) == ("target", "relative", 1)  # MAV_FRAME 3
    found = {(i.kind, i.value, i.source) for i in rec.identities}
    assert found == {
        ("aircraft-serial", "4242", "ArduPilot parameter BRD_SERIAL_NUM"),
        ("battery-serial", "77", "ArduPilot parameter BATT2_SERIAL_NUM"),
        ("firmware-version", "ArduCopter V4.5.7 (abcdef12)", "DataFlash VER FWS"),
    }
    assert rec.item.extra["board_id"] == "140" and rec.item.make == "ArduPilot"


# --- time and parameter rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "leaps"),
    [
        (datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC), 17),
        (datetime(2017, 1, 1, 0, 0, 0, tzinfo=UTC), 18),
        (datetime(2012, 6, 30, 12, 0, 0, tzinfo=UTC), 15),
        (datetime(1985, 1, 1, 0, 0, 0, tzinfo=UTC), 3),
        (datetime(2026, 5, 1, 0, 0, 0, 250000, tzinfo=UTC), 18),
    ],
)
def test_gps_to_utc_across_leap_seconds(utc: datetime, leaps: int) -> None:
    gps = utc + timedelta(seconds=leaps) - datetime(1980, 1, 6, tzinfo=UTC)
    week, rest = divmod(gps, timedelta(weeks=1))
    us = gps_to_utc_us(week, rest / timedelta(milliseconds=1))
    assert us is not None and iso_us(us) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(("week", "ms"), [(0, 1000), (-1, 0), (2000, -1), (2000, 604_800_000)])
def test_gps_time_without_a_fix_is_no_time(week: int, ms: int) -> None:
    assert gps_to_utc_us(week, ms) is None


def test_parameter_identities_skip_unset_values() -> None:
    params = {"SYSID_THISMAV": 3.0, "BRD_SERIAL_NUM": 0.0, "BATT_SERIAL_NUM": -1.0, "SERIAL2_PROTOCOL": 2.0}
    assert [(i.kind, i.value) for i in param_identities(params, "f", "p")] == [("mavlink-system-id", "3")]


# --- damaged input -------------------------------------------------------------------------------------


def _scramble(data: bytes) -> bytes:
    return bytes(b ^ 0x5A for b in data)


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("empty", lambda d: b"", "unreadable-log"),
        ("wrong-format", lambda d: b"hello world" * 100, "truncated-file-header"),
        ("junk-after-magic", lambda d: d[:3] + b"\xff" * 3000, "unreadable-log"),  # an FMT of junk
        ("junk-after-fmt", lambda d: d[:89] + b"\x00" * 3000, "corrupt-data"),
        ("cut-in-fmt", lambda d: d[:100], "truncated-record"),
        ("cut-in-params", lambda d: d[:30_000], "truncated-record"),
        ("scrambled-middle", lambda d: d[:20_000] + _scramble(d[20_000:25_000]) + d[25_000:], "corrupt-data"),
    ],
)
def test_damaged_logs_become_problems(sample: Path, tmp_path: Path, name: str, make: Any, code: str) -> None:
    path = tmp_path / f"{name}.bin"
    path.write_bytes(make(sample.read_bytes()))
    rec, ctx = _read(path)
    assert code in _codes(ctx)
    assert len(rec.tracks) <= 41


def test_scrambled_region_is_located(sample: Path, tmp_path: Path) -> None:
    data = sample.read_bytes()
    path = tmp_path / "scrambled.bin"
    path.write_bytes(data[:20_000] + _scramble(data[20_000:25_000]) + data[25_000:])
    rec, ctx = _read(path)
    damage = next(p for p in ctx.problems.records() if p.code == "corrupt-data")
    assert damage.offset is not None and 19_900 <= damage.offset <= 20_000 and damage.count >= 5000
    assert len([t for t in rec.tracks if t.kind == "aircraft"]) >= 20  # positions after it are still read


def test_pymavlink_says_nothing_and_leaves_the_environment(
    sample: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = {key: os.environ.get(key) for key in ("PYMAVLINK_FAST_INDEX", "MAVLINK_DIALECT")}
    path = tmp_path / "junk.bin"
    path.write_bytes(b"\xa3\x95\x80" + bytes(random.Random(7).randrange(256) for _ in range(20_000)))
    _read(path)
    _read(sample)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert {key: os.environ.get(key) for key in before} == before


def test_random_byte_damage_never_raises(sample: Path, tmp_path: Path) -> None:
    data = bytearray(sample.read_bytes())
    rng = random.Random(1234)
    for i in range(25):
        damaged = bytearray(data)
        for _ in range(rng.randrange(1, 40)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / f"fuzz{i}.bin"
        path.write_bytes(bytes(damaged[: rng.randrange(3, len(damaged))]))
        rec, _ = _read(path)
        assert all(-90 <= t.lat <= 90 and -180 <= t.lon <= 180 for t in rec.tracks)
