"""PX4 ULog (``.ulg``) through pyulog: GPS and global-position fixes, the home position, and the
autopilot's identity (``sys_uuid`` is the flight controller's unique MCU id, in every log it writes).

pyulog is the PX4 project's own parser, so we use it rather than re-implementing the format; only the
position topics are loaded (``message_name_filter_list``), which keeps big logs cheap.

Topics and units (PX4 message definitions; both generations are accepted):

=========================  ====================================  =========================================
topic                      position                              altitude / time
=========================  ====================================  =========================================
``vehicle_gps_position``,  ``lat``/``lon`` int x 1e7, or         ``alt`` mm MSL (``altitude_msl_m``), else
``sensor_gps``             ``latitude_deg``/``longitude_deg``     ellipsoid; ``time_utc_usec`` = UTC
``vehicle_global_position``  ``lat``/``lon`` degrees             ``alt`` m MSL; boot clock only
``home_position``          ``lat``/``lon`` degrees                ``alt`` m MSL; boot clock only
=========================  ====================================  =========================================

Times: a GPS sample's ``time_utc_usec`` is UTC as the receiver states it (basis "utc"). Other topics
carry only the boot clock; their UTC is the boot time plus the offset between the first GPS sample's
UTC and boot clock (basis "offset", the source says so). GPS samples without a 3-D fix
(``fix_type`` < 2) or at 0,0 give no point.

Damage: pyulog raises on an unreadable header and flags corrupt data; a file cut mid-message parses
silently, so the message headers are walked once to find where the last one runs past the end.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pyulog import ULog

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.source import sha256_file

MAGIC = b"ULog\x01\x12\x35"
HEADER_SIZE = 16
GPS_TOPICS = ("vehicle_gps_position", "sensor_gps")
OTHER_TOPICS = {"vehicle_global_position": "aircraft", "home_position": "home"}
#: ULog info keys -> Identity kind. Any other info key holding "uuid" or "serial" is kept too.
INFO_IDENTITIES = {
    "sys_uuid": "hardware-uuid",
    "ver_hw": "hardware-model",
    "sys_name": "autopilot",
    "ver_sw": "firmware-version",
    "ver_sw_branch": "firmware-branch",
}
PARAM_IDENTITIES = {"MAV_SYS_ID": "mavlink-system-id", "COM_FLIGHT_UUID": "flight-uuid"}


@dataclass(frozen=True)
class _Sample:
    """One position sample, already in degrees / metres."""

    topic: str
    number: int  #: 1-based sample number within its topic instance
    boot_us: int
    lat: float
    lon: float
    alt: tuple[float, str] | None
    utc_us: int | None


class UlogReader:
    """PX4 ULog flight logs, recognised by their 7-byte magic ``ULog\\x01\\x12\\x35``."""

    name = "px4-ulog"

    def sniff(self, head: bytes, path: Path) -> float:
        if not head.startswith(MAGIC):
            return -1.0
        with path.open("rb") as f:  # a gzip'd log has a decompressed head but pyulog needs the raw file
            return 0.9 if f.read(len(MAGIC)) == MAGIC else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        digest = sha256_file(path)
        chatter = io.StringIO()  # pyulog prints warnings; readers never print, so they become problems
        try:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
                log = _load(path)
        except ParserStuck as exc:
            ctx.problems.add(display, "parser-limit", str(exc), offset=exc.offset)
            ctx.media.append(MediaRecords(MediaItem(display, digest, "ulog")))
            return "ulog", digest
        except Exception as exc:  # pyulog raises ULogException, OSError, struct.error… on damage
            ctx.problems.add(display, "unreadable-log", f"pyulog cannot read it: {exc}", offset=0)
            ctx.media.append(MediaRecords(MediaItem(display, digest, "ulog")))
            return "ulog", digest
        if said := " ".join(chatter.getvalue().split()):
            ctx.problems.add(display, "parser-warning", f"pyulog: {said[:200]}")
        _check_damage(log, path, display, ctx.problems)
        ctx.media.append(records(log, display, digest, ctx.problems))
        return "ulog", digest


def _load(path: Path) -> Any:
    with path.open("rb") as f:
        return ULog(Budgeted(f, path.stat().st_size), [*GPS_TOPICS, *OTHER_TOPICS])


class ParserStuck(Exception):
    """pyulog asked for far more reads than the file can need: its resynchronisation went in circles."""

    def __init__(self, offset: int) -> None:
        super().__init__("pyulog kept re-reading damaged data (a message cut by the file's end); stopped")
        self.offset = offset


class Budgeted:
    """The file as pyulog sees it, with a budget of read calls. pyulog 1.3 steps back over a message
    whose size runs past the end of the file and reads it again, for ever; a sound parse needs at most
    two reads per byte (header and body of a one-byte resynchronisation step), so four per byte plus a
    margin is a bound no real log reaches."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self._left = 4 * size + 1024

    def read(self, n: int = -1) -> bytes:
        self._left -= 1
        if self._left < 0:
            raise ParserStuck(self._f.tell())
        return self._f.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


def _check_damage(log: Any, path: Path, display: str, problems: ProblemLog) -> None:
    if log.file_corruption:
        problems.add(display, "corrupt-data", "pyulog skipped damaged data (it resynchronised after it)")
    elif (cut := cut_offset(path)) is not None:
        problems.add(display, "truncated-record", "the file ends inside a ULog message", offset=cut)
    if not log.msg_info_dict and not log.initial_parameters:
        problems.add(display, "truncated-file-header", "no definitions after the ULog header", offset=16)


def cut_offset(path: Path) -> int | None:
    """Offset of a last message that runs past the end of the file (message header: u16 size, u8 type)."""
    if path.stat().st_size <= HEADER_SIZE:
        return HEADER_SIZE if path.stat().st_size < HEADER_SIZE else None
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        offset, end = HEADER_SIZE, len(data)
        while offset + 3 <= end:
            (size,) = struct.unpack_from("<H", data, offset)
            if offset + 3 + size > end:
                return offset
            offset += 3 + size
        return offset if offset != end else None


def records(log: Any, display: str, digest: str, problems: ProblemLog) -> MediaRecords:
    """Track points and identities from a loaded ``pyulog.ULog``."""
    gps = [s for topic in GPS_TOPICS for s in _samples(log, topic)]
    offset = next((s.utc_us - s.boot_us for s in gps if s.utc_us), None)
    tracks = [_point(s, "aircraft", display, None) for s in gps]
    for topic, kind in OTHER_TOPICS.items():
        tracks.extend(_point(s, kind, display, offset) for s in _samples(log, topic))
    if any(s.utc_us and _iso(s.utc_us) is None for s in gps):
        problems.add(display, "implausible-time", "a GPS time beyond year 9999; those points have no time")
    identities = _identities(log, display)
    return MediaRecords(_item(log, tracks, identities, display, digest), tracks, identities)


def _samples(log: Any, topic: str) -> Iterator[_Sample]:
    for dataset in log.data_list:
        if dataset.name != topic:
            continue
        data: dict[str, Any] = dataset.data
        if "timestamp" not in data:  # a damaged format declaration (found by fuzzing)
            continue
        label = f"{topic}[{dataset.multi_id}]"
        for i in range(len(data["timestamp"])):
            sample = _sample(data, i, label)
            if sample is not None:
                yield sample


def _sample(data: dict[str, Any], i: int, label: str) -> _Sample | None:
    def value(*names: str) -> float | None:
        return next((float(data[n][i]) for n in names if n in data), None)

    if "latitude_deg" in data:
        lat, lon = value("latitude_deg"), value("longitude_deg")
    elif "lat" in data and "lon" in data and data["lat"].dtype.kind in "iu":  # "lon" may be missing: fuzzing
        lat, lon = float(data["lat"][i]) / 1e7, float(data["lon"][i]) / 1e7
    else:
        lat, lon = value("lat"), value("lon")
    fix = value("fix_type")
    if lat is None or lon is None or (lat, lon) == (0.0, 0.0) or (fix is not None and fix < 2):
        return None
    utc = value("time_utc_usec")
    return _Sample(
        label, i + 1, int(data["timestamp"][i]), lat, lon, _altitude(data, i), int(utc) if utc else None
    )


def _altitude(data: dict[str, Any], i: int) -> tuple[float, str] | None:
    """MSL first, ellipsoid otherwise; GPS topics of PX4 <= 1.13 store millimetres as integers."""
    for names, ref in (
        (("altitude_msl_m", "alt"), "msl"),
        (("altitude_ellipsoid_m", "alt_ellipsoid"), "ellipsoid"),
    ):
        for name in names:
            if name in data:
                raw = data[name][i]
                return (float(raw) / 1000 if data[name].dtype.kind in "iu" else float(raw)), ref
    return None


def _iso(utc_us: int) -> str | None:
    """None for a time no calendar holds (a damaged clock field)."""
    seconds, micros = divmod(utc_us, 1_000_000)
    try:
        when = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when.replace(microsecond=micros).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _point(sample: _Sample, kind: str, display: str, offset: int | None) -> TrackPoint:
    basis, utc = (None, None)
    source = f"ULog {sample.topic} sample {sample.number}"
    if sample.utc_us:
        basis, utc = "utc", _iso(sample.utc_us)
    elif offset is not None:
        basis, utc = "offset", _iso(sample.boot_us + offset)
        source += " (UTC from boot clock + GPS offset)"
    basis = basis if utc else None
    return TrackPoint(
        file=display,
        kind=kind,
        lat=sample.lat,
        lon=sample.lon,
        alt_m=sample.alt[0] if sample.alt else None,
        alt_ref=sample.alt[1] if sample.alt else None,
        time_utc=utc,
        time_basis=basis,
        source=source,
        index=sample.number,
    )


def _identities(log: Any, display: str) -> list[Identity]:
    out: list[Identity] = []
    for key, value in sorted(log.msg_info_dict.items()):
        kind = INFO_IDENTITIES.get(key)
        if kind is None and ("uuid" in key or "serial" in key):
            kind = "hardware-uuid" if "uuid" in key else "serial"
        if kind is not None and str(value).strip():
            out.append(Identity(kind, str(value).strip(), display, f"ULog info {key}"))
    for name, kind in PARAM_IDENTITIES.items():
        if name in log.initial_parameters:
            out.append(Identity(kind, str(log.initial_parameters[name]), display, f"ULog parameter {name}"))
    return out


def _item(
    log: Any, tracks: list[TrackPoint], identities: list[Identity], display: str, digest: str
) -> MediaItem:
    info: dict[str, Any] = log.msg_info_dict
    aircraft = [t for t in tracks if t.kind == "aircraft"]
    first = aircraft[0] if aircraft else None
    first_utc = next((t.time_utc for t in tracks if t.time_basis == "utc"), None)
    extra = {
        "aircraft_fixes": str(len(aircraft)),
        "home_points": str(sum(1 for t in tracks if t.kind == "home")),
        "logged_messages": str(len(log.logged_messages)),
        "dropouts": str(len(log.dropouts)),
        "topics": ", ".join(sorted({d.name for d in log.data_list})) or "none",
    }
    if info.get("time_ref_utc"):  # SDLOG_UTC_OFFSET: the local zone the operator configured
        extra["time_ref_utc_s"] = str(info["time_ref_utc"])
    return MediaItem(
        path=display,
        sha256=digest,
        format="ulog",
        make=str(info["sys_name"]) if "sys_name" in info else None,
        model=str(info["ver_hw"]) if "ver_hw" in info else None,
        serials={i.kind: i.value for i in identities if i.kind == "hardware-uuid"},
        captured_at=first_utc,
        captured_at_utc=first_utc,
        lat=first.lat if first else None,
        lon=first.lon if first else None,
        alt_m=first.alt_m if first else None,
        extra=extra,
    )
