"""MAVLink telemetry logs (``.tlog``): what a ground station recorded from the radio link, frame by frame.

A tlog is a plain sequence of records: an 8-byte big-endian receive time (µs since 1970, the ground
station's clock) followed by one MAVLink v1 (``0xFE``) or v2 (``0xFD``) frame. We walk the records
ourselves — the frame length is in the header, so this is cheap and gives exact offsets for damage — check
each frame's CRC, and decode only the messages below with pymavlink's generated ``ardupilotmega`` dialect
(it includes ``common``). We do not use ``mavutil``: it picks a reader by file extension, switches dialects
through process-wide environment variables and prints.

=============================  ===========================================================================
message                        becomes
=============================  ===========================================================================
GLOBAL_POSITION_INT            "aircraft" (fused position, mm MSL, boot clock)
GPS_RAW_INT, GPS2_RAW          "aircraft" when ``fix_type`` >= 2; ``time_usec`` is UTC when it is a Unix time
OPEN_DRONE_ID_LOCATION         "aircraft" as broadcast by Remote ID (altitude above the WGS-84 ellipsoid)
OPEN_DRONE_ID_SYSTEM           "operator": the pilot's position the aircraft broadcasts
HOME_POSITION                  "home"; GPS_GLOBAL_ORIGIN is "home" too (the EKF origin)
MISSION_ITEM(_INT), RALLY_...  "target" (planned, never timed); ArduPilot's mission item 0 is its home
AUTOPILOT_VERSION              identities: ``uid`` / ``uid2`` (board unique id), firmware version
HEARTBEAT, PARAM_VALUE         MAVLink system ids of vehicles; SYSID_THISMAV, BRD_SERIAL_NUM, …
STATUSTEXT                     ArduPilot's boot banner and board-id line (as in DataFlash MSG)
OPEN_DRONE_ID_BASIC_ID / …_ID  "remote-id" (UAS id) and "operator-id"
SYSTEM_TIME                    the vehicle's UTC (GPS-derived) against its boot clock
=============================  ===========================================================================

Times, best first: a GPS time stated in the message ("utc"); the vehicle boot clock plus that vehicle's
first SYSTEM_TIME offset ("offset"); else the ground station's receive time ("utc", and the source says
it is the ground station's clock, which nobody checked). Receive times before 2001 are not clock times
(test tools write seconds since start) and give no time at all.

Repeats: vehicles resend HOME_POSITION and GPS_GLOBAL_ORIGIN every second; only changes are kept.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.logs.ardupilot import (
    FRAME_REFS,
    Fix,
    board_identities,
    command_name,
    has_fix,
    iso_us,
    param_identities,
    summary,
)
from droneaudit.readers.source import sha256_file

FORMAT = "tlog"
STAMP = 8  #: bytes of receive time before each frame
MIN_UNIX_US = 1_000_000_000_000_000  #: 2001-09-09: smaller stamps are not clock times
MAX_UNIX_US = 4_102_444_800_000_000  #: 2100-01-01: larger ones are damage, not clock times
ODID_EPOCH_S = 1_546_300_800  #: 2019-01-01T00:00:00Z, the Remote ID system timestamp's epoch
ARDUPILOT = 3  #: MAV_AUTOPILOT_ARDUPILOTMEGA
AUTOPILOTS = {3: "ArduPilot", 12: "PX4", 0: "generic MAVLink"}  #: MAV_AUTOPILOT; 8 = INVALID (not a vehicle)
MAV_TYPE_GCS = 6


@dataclass(frozen=True)
class Frame:
    """Where one record sits: its offset, total length (stamp included) and message id."""

    offset: int
    length: int
    msgid: int


@dataclass
class _State:
    """Everything gathered in one walk, before times are settled."""

    fixes: list[tuple[Fix, int, int]] = field(default_factory=list)  #: (fix, source system, receive µs)
    planned: dict[Fix, int] = field(default_factory=dict)  #: planned position -> the system it is meant for
    last_static: dict[str, tuple[float, float, float | None]] = field(default_factory=dict)  #: per source
    offsets: dict[int, int] = field(default_factory=dict)  #: system id -> UTC µs minus boot µs
    autopilots: dict[int, int] = field(default_factory=dict)  #: vehicle system id -> MAV_AUTOPILOT
    params: dict[str, float] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    ids: list[Identity] = field(default_factory=list)
    records: int = 0
    unknown: int = 0


def frame_at(data: bytes | mmap.mmap, offset: int) -> Frame | None:
    """The record starting at ``offset`` from its header alone (None: no MAVLink marker there)."""
    if offset + STAMP + 10 > len(data):
        return None
    marker, size = data[offset + STAMP], data[offset + STAMP + 1]
    if marker == 0xFE:
        return Frame(offset, STAMP + 8 + size, data[offset + STAMP + 5])
    if marker == 0xFD:
        signed = 13 if data[offset + STAMP + 2] & 1 else 0
        msgid = int.from_bytes(data[offset + STAMP + 7 : offset + STAMP + 10], "little")
        return Frame(offset, STAMP + 12 + size + signed, msgid)
    return None


def crc_ok(dialect: Any, frame: bytes) -> bool | None:
    """X.25 CRC with the message's CRC_EXTRA; None when the dialect does not know the message."""
    v2 = frame[0] == 0xFD
    msgid = int.from_bytes(frame[7:10], "little") if v2 else frame[5]
    kind = dialect.mavlink_map.get(msgid)
    if kind is None:
        return None
    end = (10 if v2 else 6) + frame[1]
    crc = dialect.x25crc(bytes(frame[1:end]) + bytes([kind.crc_extra]))
    return bool(crc.crc == int.from_bytes(frame[end : end + 2], "little"))


class TlogReader:
    """MAVLink v1/v2 telemetry logs, recognised by a timestamped frame whose CRC checks out."""

    name = "mavlink-tlog"

    def sniff(self, head: bytes, path: Path) -> float:
        if len(head) < STAMP + 10 or head[STAMP] not in (0xFE, 0xFD):
            return -1.0
        with path.open("rb") as f:  # the head may be decompressed; we read the raw file
            data = f.read(4096)
        if not data.startswith(head):
            return -1.0
        from pymavlink.dialects.v20 import ardupilotmega as dialect

        first = frame_at(data, 0)
        if first is None or first.length > len(data):
            return -1.0
        verdict = crc_ok(dialect, data[STAMP : first.length])
        if verdict is None:  # unknown message: accept only if the next record lines up too
            verdict = frame_at(data, first.length) is not None
        return 0.8 if verdict else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        digest = sha256_file(path)
        if path.stat().st_size == 0:
            ctx.problems.add(display, "unreadable-log", "the file is empty", offset=0)
            ctx.media.append(MediaRecords(MediaItem(display, digest, FORMAT)))
            return FORMAT, digest
        from pymavlink.dialects.v20 import ardupilotmega as dialect

        state = _State()
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _walk(data, dialect, state, display, ctx.problems)
        ctx.media.append(_records(state, display, digest))
        return FORMAT, digest


def _walk(data: mmap.mmap, dialect: Any, state: _State, display: str, problems: ProblemLog) -> None:
    """Record by record. After damage (``lost``) a candidate must pass its CRC before it is trusted."""
    mav = dialect.MAVLink(None)
    offset, end, lost = 0, len(data), False
    while offset < end:
        frame = frame_at(data, offset)
        if (frame is None and end - offset < STAMP + 10) or (
            frame and offset + frame.length > end and not lost
        ):
            problems.add(display, "truncated-record", "the file ends inside a tlog record", offset=offset)
            return
        if frame is None:
            offset, lost = _resync(data, offset, display, problems), True
            continue
        body = data[offset + STAMP : offset + frame.length]
        verdict = crc_ok(dialect, body) if offset + frame.length <= end else False
        if verdict is False or (lost and verdict is None):
            if not lost:
                problems.add(display, "bad-checksum", "a MAVLink frame failed its CRC", offset=offset)
            offset, lost = _resync(data, offset + 1, display, problems), True
            continue
        lost = False
        state.records += 1
        state.unknown += verdict is None
        if frame.msgid in HANDLERS:
            stamp = int.from_bytes(data[offset : offset + STAMP], "big")
            _decode(mav, body, stamp, state, display, problems, offset)
        offset += frame.length


def _resync(data: mmap.mmap, offset: int, display: str, problems: ProblemLog) -> int:
    """Next offset whose marker byte could start a record; the bytes between are reported as damage."""
    hits = [i for i in (data.find(b"\xfe", offset + STAMP), data.find(b"\xfd", offset + STAMP)) if i >= 0]
    after = min(hits) - STAMP if hits else len(data)
    if after > offset:
        problems.add(display, "corrupt-data", "bytes that are not tlog records (count = bytes)",
                     offset=offset, count=after - offset)  # fmt: skip
    return max(after, offset + 1) if hits else len(data)


def _decode(
    mav: Any, body: bytes, stamp: int, state: _State, display: str, problems: ProblemLog, offset: int
) -> None:
    try:
        msg = mav.decode(bytearray(body))
        HANDLERS[msg.get_msgId()](msg, state, stamp, display)
    except Exception as exc:  # MAVError, struct or value errors on a frame whose CRC matched by chance
        problems.add(display, "undecodable-frame", f"pymavlink cannot decode a frame: {exc}", offset=offset)


def _unix_us(value: int) -> int | None:
    """The value when it is a plausible Unix time in µs (2001..2100), else None."""
    return value if MIN_UNIX_US <= value < MAX_UNIX_US else None


def _deg(value: Any) -> float:
    return float(value) / 1e7


def _fix(state: _State, msg: Any, stamp: int, fix: Fix | None) -> None:
    if fix is None or not has_fix(fix.lat, fix.lon):
        return
    if not fix.timed:  # a ground station uploads a mission to a vehicle: the item belongs to the target
        if fix not in state.planned:
            state.planned[fix] = getattr(msg, "target_system", 0)
            state.fixes.append((fix, msg.get_srcSystem(), stamp))
        return
    if fix.kind == "home":  # resent every second: keep changes only
        where = (fix.lat, fix.lon, fix.alt)
        if state.last_static.get(fix.source) == where:
            return
        state.last_static[fix.source] = where
    state.fixes.append((fix, msg.get_srcSystem(), stamp))


def _global_position(msg: Any, state: _State, stamp: int, display: str) -> None:
    fix = Fix("aircraft", "MAVLink GLOBAL_POSITION_INT", state.records, _deg(msg.lat), _deg(msg.lon),
              msg.alt / 1000, "msl", boot_us=msg.time_boot_ms * 1000)  # fmt: skip
    _fix(state, msg, stamp, fix)


def _gps_raw(msg: Any, state: _State, stamp: int, display: str) -> None:
    if msg.fix_type < 2:
        return
    utc = _unix_us(msg.time_usec)
    boot = None if utc else msg.time_usec
    fix = Fix("aircraft", f"MAVLink {msg.get_type()}", state.records, _deg(msg.lat), _deg(msg.lon),
              msg.alt / 1000, "msl", boot_us=boot, utc_us=utc)  # fmt: skip
    _fix(state, msg, stamp, fix)


def _home(msg: Any, state: _State, stamp: int, display: str) -> None:
    what = "HOME_POSITION" if msg.get_type() == "HOME_POSITION" else "GPS_GLOBAL_ORIGIN (EKF origin)"
    utc = _unix_us(getattr(msg, "time_usec", 0))
    fix = Fix("home", f"MAVLink {what}", state.records, _deg(msg.latitude), _deg(msg.longitude),
              msg.altitude / 1000, "msl", utc_us=utc)  # fmt: skip
    _fix(state, msg, stamp, fix)


def _mission(msg: Any, state: _State, stamp: int, display: str) -> None:
    if getattr(msg, "mission_type", 0) == 1:  # geofence vertices are not positions anyone goes to
        return
    scale = 1e7 if msg.get_type() == "MISSION_ITEM_INT" else 1.0
    rally = getattr(msg, "mission_type", 0) == 2
    what = "rally point" if rally else f"mission item {msg.seq} ({command_name(msg.command)})"
    fix = Fix("target", f"MAVLink {msg.get_type()} {what}", msg.seq, msg.x / scale, msg.y / scale, msg.z,
              FRAME_REFS.get(msg.frame), timed=False)  # fmt: skip
    _fix(state, msg, stamp, fix)


def _rally(msg: Any, state: _State, stamp: int, display: str) -> None:
    fix = Fix("target", f"MAVLink RALLY_POINT {msg.idx}", msg.idx, _deg(msg.lat), _deg(msg.lng),
              float(msg.alt), None, timed=False)  # fmt: skip
    _fix(state, msg, stamp, fix)


def _odid_location(msg: Any, state: _State, stamp: int, display: str) -> None:
    alt = msg.altitude_geodetic if msg.altitude_geodetic > -1000 else None  # -1000 = unknown (F3411)
    fix = Fix("aircraft", "MAVLink OPEN_DRONE_ID_LOCATION (Remote ID)", state.records, _deg(msg.latitude),
              _deg(msg.longitude), alt, "ellipsoid")  # fmt: skip
    _fix(state, msg, stamp, fix)


def _odid_system(msg: Any, state: _State, stamp: int, display: str) -> None:
    alt = msg.operator_altitude_geo if msg.operator_altitude_geo > -1000 else None
    utc = (ODID_EPOCH_S + msg.timestamp) * 1_000_000 if msg.timestamp else None
    source = "MAVLink OPEN_DRONE_ID_SYSTEM (Remote ID operator position)"
    lat, lon = _deg(msg.operator_latitude), _deg(msg.operator_longitude)
    fix = Fix("operator", source, state.records, lat, lon, alt, "ellipsoid", utc_us=utc)
    _fix(state, msg, stamp, fix)


def _system_time(msg: Any, state: _State, stamp: int, display: str) -> None:
    if _unix_us(msg.time_unix_usec):
        state.offsets.setdefault(msg.get_srcSystem(), msg.time_unix_usec - msg.time_boot_ms * 1000)


def _heartbeat(msg: Any, state: _State, stamp: int, display: str) -> None:
    if msg.type != MAV_TYPE_GCS:
        state.autopilots.setdefault(msg.get_srcSystem(), msg.autopilot)


def _param(msg: Any, state: _State, stamp: int, display: str) -> None:
    state.params[str(msg.param_id).rstrip("\x00")] = float(msg.param_value)


def _text(msg: Any, state: _State, stamp: int, display: str) -> None:
    state.texts.append(str(msg.text).rstrip("\x00"))


def _version(msg: Any, state: _State, stamp: int, display: str) -> None:
    source = f"MAVLink AUTOPILOT_VERSION (system {msg.get_srcSystem()})"
    if msg.uid:
        state.ids.append(Identity("hardware-uuid", f"{msg.uid:016x}", display, f"{source} uid"))
    if any(msg.uid2):
        state.ids.append(Identity("hardware-uuid", bytes(msg.uid2).hex(), display, f"{source} uid2"))
    if version := msg.flight_sw_version:
        major, minor, patch, kind = (
            version >> 24,
            (version >> 16) & 0xFF,
            (version >> 8) & 0xFF,
            version & 0xFF,
        )
        label = {0: "dev", 64: "alpha", 128: "beta", 192: "rc", 255: "official"}.get(kind, str(kind))
        githash = bytes(msg.flight_custom_version).rstrip(b"\x00").decode("ascii", "replace")
        text = f"{major}.{minor}.{patch} {label}" + (f" ({githash})" if githash else "")
        state.ids.append(Identity("firmware-version", text, display, f"{source} flight_sw_version"))


def _odid_ids(msg: Any, state: _State, stamp: int, display: str) -> None:
    if msg.get_type() == "OPEN_DRONE_ID_BASIC_ID":
        value, kind, field_name = bytes(msg.uas_id), "remote-id", f"uas_id (id_type {msg.id_type})"
    else:
        value, kind, field_name = str(msg.operator_id).encode(), "operator-id", "operator_id"
    text = value.rstrip(b"\x00").decode("ascii", "replace").strip()
    if text:
        state.ids.append(Identity(kind, text, display, f"MAVLink {msg.get_type()} {field_name}"))


HANDLERS = {
    33: _global_position,  # GLOBAL_POSITION_INT
    24: _gps_raw,  # GPS_RAW_INT
    124: _gps_raw,  # GPS2_RAW
    242: _home,  # HOME_POSITION
    49: _home,  # GPS_GLOBAL_ORIGIN
    73: _mission,  # MISSION_ITEM_INT
    39: _mission,  # MISSION_ITEM
    175: _rally,  # RALLY_POINT
    12901: _odid_location,  # OPEN_DRONE_ID_LOCATION
    12904: _odid_system,  # OPEN_DRONE_ID_SYSTEM
    2: _system_time,  # SYSTEM_TIME
    0: _heartbeat,  # HEARTBEAT
    22: _param,  # PARAM_VALUE
    253: _text,  # STATUSTEXT
    148: _version,  # AUTOPILOT_VERSION
    12900: _odid_ids,  # OPEN_DRONE_ID_BASIC_ID
    12905: _odid_ids,  # OPEN_DRONE_ID_OPERATOR_ID
}


def _point(fix: Fix, system: int, stamp: int, state: _State, display: str) -> TrackPoint:
    """Settle one point's time (see the module docstring for the order) and label its basis."""
    basis, utc, source, offset = None, None, fix.source, state.offsets.get(system)
    if not fix.timed:
        pass
    elif fix.utc_us:
        basis, utc = "utc", iso_us(fix.utc_us)
    elif fix.boot_us is not None and offset is not None:
        basis, utc = "offset", iso_us(fix.boot_us + offset)
        source += " (UTC from boot clock + SYSTEM_TIME offset)"
    elif _unix_us(stamp):
        basis, utc = "utc", iso_us(stamp)
        source += " (ground-station receive time)"
    basis = basis if utc else None
    vehicles = (state.autopilots.get(system), state.autopilots.get(state.planned.get(fix, -1)))
    if fix.kind == "target" and fix.number == 0 and ARDUPILOT in vehicles and "RALLY" not in fix.source:
        fix, source = replace(fix, kind="home"), source + " (ArduPilot keeps home there)"
    alt_ref = fix.alt_ref if fix.alt is not None else None
    return TrackPoint(
        display, fix.kind, fix.lat, fix.lon, fix.alt, alt_ref, utc, None, basis, source, fix.number
    )


def _records(state: _State, display: str, digest: str) -> MediaRecords:
    tracks = [_point(fix, system, stamp, state, display) for fix, system, stamp in state.fixes]
    ids = state.ids + board_identities(state.texts, display, "MAVLink STATUSTEXT")
    ids += param_identities(state.params, display, "MAVLink PARAM_VALUE")
    ids += [
        Identity("mavlink-system-id", str(s), display, "MAVLink HEARTBEAT") for s in sorted(state.autopilots)
    ]
    unique = list({(i.kind, i.value): i for i in reversed(ids)}.values())[::-1]  # first source of each wins
    extra = {"records": str(state.records), "unknown_messages": str(state.unknown)}
    makes = {AUTOPILOTS.get(a, f"MAV_AUTOPILOT {a}") for a in state.autopilots.values() if a != 8}
    make = ", ".join(sorted(makes)) or None
    return MediaRecords(summary(display, digest, FORMAT, tracks, unique, extra, make), tracks, unique)
