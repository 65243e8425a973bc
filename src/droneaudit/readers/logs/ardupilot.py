"""ArduPilot DataFlash logs (``.bin``, also PX4's older ``.px4log``) through pymavlink's ``DFReader``.

pymavlink is ArduPilot's own reader for these self-describing (FMT) logs, so we use it. What we take:

========  =========================================================  ======================================
message   becomes                                                    time
========  =========================================================  ======================================
GPS/GPS2  "aircraft" when Status >= 2 (a 2-D fix or better)          GPS week + ms - leap seconds: "utc"
CAM       "aircraft": where a photo was triggered                    its own GPS week/time: "utc"
POS       "aircraft": the fused position                             boot clock + GPS offset: "offset"
ORGN      "home" (Type 0 = EKF origin, 1 = home)                     boot clock + GPS offset: "offset"
CMD       mission item 0 = "home" (ArduPilot keeps home there),      none: a plan has no time at which
          items 1.. = "target"; RALY rally points = "target"         the aircraft was there
PARM      identities: SYSID_THISMAV, BRD_SERIAL_NUM, BATTn_SERIAL_NUM (unset values 0 / -1 skipped)
MSG, VER  firmware banner; the boot line ``<board> XXXXXXXX XXXXXXXX XXXXXXXX`` is the MCU unique id
========  ================================================================================================

"target" means planned, not flown. A CMD's altitude reference comes from its ``Frame`` column (ArduPilot
>= 4.0), else it stays unknown (item 0, home, is absolute). GPS time runs ahead of UTC by the leap seconds
since 1980 (18 since 2017); the table is current to 2026 — a new leap second would make later logs 1 s
late until added. Messages with only a boot clock get the first GPS fix's UTC-minus-boot offset, as ULog.

Containment: pymavlink prints, and its compiled indexer writes to file descriptor 2 itself, once per
damaged byte. We force its pure-Python indexer (~1.7x slower, ~1.4 µs a message) so every word passes
through ``sys.stdout``/``sys.stderr``, is captured and folded into problems. Imported on first use (0.2 s).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.logs.dataflash_guard import NoProgress, guarded_reader
from droneaudit.readers.logs.log_time import gps_to_utc_us as gps_to_utc_us
from droneaudit.readers.logs.log_time import iso_us as iso_us
from droneaudit.readers.source import sha256_file

MAGIC = b"\xa3\x95\x80"  #: message header A3 95 + type 0x80: every log opens with the FMT of FMT
FORMAT = "dataflash"
SERIAL_KINDS = ("hardware-uuid", "aircraft-serial", "battery-serial")  #: shown as MediaItem.serials
#: Set while pymavlink imports and indexes (then restored): no C indexer; a prebuilt dialect, never mavgen.
PYMAVLINK_ENV = {"PYMAVLINK_FAST_INDEX": "0", "MAVLINK_DIALECT": "ardupilotmega"}
WANTED = ["GPS", "GPS2", "POS", "CAM", "ORGN", "CMD", "RALY", "MSG", "VER", "PARM"]
BOARD_ID = re.compile(r"^(\S+) ([0-9A-Fa-f]{8}) ([0-9A-Fa-f]{8}) ([0-9A-Fa-f]{8})\s*$")
BANNER = re.compile(r"^(Ardu\w+|Antenna\w*|Blimp|AP_Periph)\b.*\bV\d")
FRAME_REFS = {0: "msl", 3: "relative", 5: "msl", 6: "relative"}  #: MAV_FRAME -> alt_ref (terrain: none)
#: What pymavlink prints about damage -> problem code (None: a repeat of what the indexer already said).
_NOISE: tuple[tuple[str | None, re.Pattern[str]], ...] = (
    ("corrupt-data", re.compile(r"bad header 0x\w+ 0x\w+ at (\d+)")),  # once per damaged byte
    (None, re.compile(r"Skipped \d+ bad bytes in log at offset (\d+)")),
    ("unknown-message-type", re.compile(r"unknown msg type 0x\w+ \(\d+\) at (\d+)")),
)


@dataclass(frozen=True)
class Fix:
    """One position read from a log, before times are settled (boot clock and/or UTC in µs)."""

    kind: str
    source: str
    number: int  #: 1-based message number within its type
    lat: float
    lon: float
    alt: float | None
    alt_ref: str | None
    boot_us: int | None = None
    utc_us: int | None = None
    timed: bool = True  #: False for planned positions (mission items, rally points): never given a time


class Chatter(io.StringIO):
    """A write-only text sink for a library's prints: folds known complaints into counts, keeps no bulk
    (a damaged log makes pymavlink print one line per bad byte)."""

    def __init__(self) -> None:
        super().__init__()
        self._partial = ""
        self.found: dict[str, tuple[int, int]] = {}  #: code -> (first offset, occurrences)
        self.other: list[str] = []

    def write(self, text: str, /) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.strip())
        return len(text)

    def _line(self, line: str) -> None:
        for code, pattern in _NOISE:
            if (match := pattern.search(line)) is None:
                continue
            if code is not None:
                first, count = self.found.get(code, (int(match.group(1)), 0))
                self.found[code] = (first, count + 1)
            return
        if line and len(self.other) < 5:
            self.other.append(line[:200])

    def report(self, display: str, problems: ProblemLog, library: str) -> None:
        self._line(self._partial.strip())
        self._partial = ""
        for code, (offset, count) in self.found.items():
            what = "skipped damaged bytes (count = bytes)" if code == "corrupt-data" else "stopped indexing"
            problems.add(display, code, f"{library}: {what}", offset=offset, count=count)
        if self.other:
            problems.add(display, "parser-warning", f"{library}: {' | '.join(self.other)}"[:300])


@contextlib.contextmanager
def contained(chatter: Chatter, env: dict[str, str]) -> Iterator[None]:
    """Route a library's prints into ``chatter`` and set environment switches it reads, then restore."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            yield
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        for key in (k for k, v in saved.items() if v is None):
            del os.environ[key]


class DataflashReader:
    """ArduPilot DataFlash binary logs, recognised by the FMT message that opens them."""

    name = "ardupilot-dataflash"

    def sniff(self, head: bytes, path: Path) -> float:
        if len(head) < 9 or not head.startswith(MAGIC) or not head[5:8].isalnum():
            return -1.0
        with path.open("rb") as f:  # pymavlink maps the raw file: a gzip'd log is not readable as one
            return 0.9 if f.read(9) == head[:9] else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        digest = sha256_file(path)
        chatter, collected = Chatter(), _Collected()
        with contained(chatter, PYMAVLINK_ENV):
            log = _open(path, display, ctx.problems)
            if log is not None:
                try:
                    _collect(log, collected, display, ctx.problems)
                    _check_cut(log, display, ctx.problems)
                finally:
                    log.close()
        chatter.report(display, ctx.problems, "pymavlink")
        if log is not None and not collected.types:
            ctx.problems.add(display, "truncated-file-header", "no message definitions (FMT) found", offset=0)
        ctx.media.append(collected.records(display, digest, ctx.problems))
        return FORMAT, digest


def _open(path: Path, display: str, problems: ProblemLog) -> Any:
    """pymavlink's indexed reader, or None (and a problem) when it cannot even index the file."""
    try:
        return guarded_reader()(str(path))
    except NoProgress as exc:
        problems.add(display, "parser-limit", f"pymavlink would loop for ever: {exc}", offset=exc.offset)
        return None
    except Exception as exc:  # mmap of an empty file, struct errors in a damaged FMT, …
        problems.add(display, "unreadable-log", f"pymavlink cannot read it: {exc}", offset=0)
        return None


@dataclass
class _Collected:
    """What one pass over the log gathers, before times are settled."""

    fixes: list[Fix] = field(default_factory=list)
    planned: set[Fix] = field(default_factory=set)  #: missions are logged again at every start: keep once
    params: dict[str, float] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    version: dict[str, Any] = field(default_factory=dict)
    types: int = 0
    messages: int = 0

    def records(self, display: str, digest: str, problems: ProblemLog | None = None) -> MediaRecords:
        tracks = settle_times(self.fixes, display, "DataFlash", problems)
        identities = board_identities(self.texts, display, "DataFlash MSG")
        identities += param_identities(self.params, display, "ArduPilot parameter")
        if fws := str(self.version.get("FWS") or "").strip():
            identities.append(Identity("firmware-version", fws, display, "DataFlash VER FWS"))
        extra = {"messages": str(self.messages), "message_formats": str(self.types)}
        if "APJ" in self.version:
            extra["board_id"] = str(self.version["APJ"])
        make = "ArduPilot" if self.version or any(BANNER.match(t) for t in self.texts) else None
        item = summary(display, digest, FORMAT, tracks, identities, extra, make)
        return MediaRecords(item, tracks, identities)


def _collect(log: Any, out: _Collected, display: str, problems: ProblemLog) -> None:
    out.types = len(getattr(log, "name_to_id", {}))
    out.messages = int(getattr(log, "_count", 0))
    numbers: dict[str, int] = {}
    try:
        while (msg := log.recv_match(type=WANTED, strict=True)) is not None:
            name = msg.get_type()
            numbers[name] = numbers.get(name, 0) + 1
            _take(name, msg.to_dict(), numbers[name], out)
    except Exception as exc:  # a damaged message pymavlink cannot unpack: keep what came before
        problems.add(display, "undecodable-message", f"pymavlink stopped: {type(exc).__name__}: {exc}")
    out.params.update({str(k): float(v) for k, v in getattr(log, "params", {}).items()})


def _take(name: str, m: dict[str, Any], number: int, out: _Collected) -> None:
    if name == "MSG":
        out.texts.append(str(m.get("Message", "")))
    elif name == "VER":
        out.version.update(m)
    elif name != "PARM" and (fix := position(name, m, number)) is not None and fix not in out.planned:
        out.fixes.append(fix)
        if not fix.timed:
            out.planned.add(fix)


def position(name: str, m: dict[str, Any], number: int) -> Fix | None:
    """A ``Fix`` from one decoded DataFlash message (pymavlink has applied the FMT multipliers)."""
    lat, lon = _number(m.get("Lat")), _number(m.get("Lng", m.get("Lon")))
    if lat is None or lon is None or not has_fix(lat, lon):
        return None
    alt, boot = _number(m.get("Alt")), _boot_us(m)
    label = f"DataFlash {name}" + (f"[{m['I']}]" if "I" in m and name in ("GPS", "CAM") else "")
    if name in ("GPS", "GPS2", "CAM", "POS"):  # only GPS has a Status; POS has no GPS time of its own
        status = _number(m.get("Status", m.get("Fix")))
        if status is not None and status < 2:
            return None
        label += " camera trigger" if name == "CAM" else ""
        return Fix("aircraft", label, number, lat, lon, alt, "msl", boot, _gps_utc_us(m))
    if name == "ORGN":
        what = {0: "EKF origin", 1: "home"}.get(int(_number(m.get("Type")) or 0), "origin")
        return Fix("home", f"{label} ({what})", number, lat, lon, alt, "msl", boot)
    return _planned(name, m, lat, lon, alt)


def _planned(name: str, m: dict[str, Any], lat: float, lon: float, alt: float | None) -> Fix | None:
    if name == "RALY":
        seq = int(_number(m.get("Seq")) or 0)
        return Fix("target", f"DataFlash RALY rally point {seq}", seq, lat, lon, alt, None, timed=False)
    if name != "CMD":
        return None
    seq, command = int(_number(m.get("CNum")) or 0), int(_number(m.get("CId")) or 0)
    frame = _number(m.get("Frame"))
    ref = FRAME_REFS.get(int(frame)) if frame is not None else ("msl" if seq == 0 else None)
    if seq == 0:
        return Fix("home", "DataFlash CMD mission item 0 (home)", 0, lat, lon, alt, ref, timed=False)
    source = f"DataFlash CMD mission item {seq} ({command_name(command)})"
    return Fix("target", source, seq, lat, lon, alt, ref, timed=False)


def _check_cut(log: Any, display: str, problems: ProblemLog) -> None:
    """A last message that runs past the end of the file (pymavlink drops it without a word)."""
    offsets, formats, end = getattr(log, "offsets", None), getattr(log, "formats", {}), log.data_len
    if not isinstance(offsets, list):
        return
    cut = [o[-1] for t, o in enumerate(offsets) if o and t in formats and o[-1] + formats[t].len > end]
    if cut:
        problems.add(display, "truncated-record", "the file ends inside a DataFlash message", offset=max(cut))


# --- shared with the MAVLink telemetry-log reader ------------------------------------------------------


def command_name(command: int) -> str:
    """MAV_CMD name without its prefix (``NAV_WAYPOINT``), or the number when the dialect does not know it."""
    from pymavlink.dialects.v20 import ardupilotmega as dialect

    entry = dialect.enums["MAV_CMD"].get(command)
    return str(entry.name).removeprefix("MAV_CMD_") if entry is not None else f"command {command}"


def has_fix(lat: float, lon: float) -> bool:
    """Finite, in range, and not the 0,0 that autopilots report before a fix."""
    finite = math.isfinite(lat) and math.isfinite(lon)
    return finite and abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0.0, 0.0)


def settle_times(
    fixes: list[Fix], display: str, label: str, problems: ProblemLog | None = None
) -> list[TrackPoint]:
    """TrackPoints with UTC where the log supports it: own GPS time, else boot clock + first GPS offset.
    A time no calendar holds (a damaged clock) leaves the point without one, reported in ``problems``."""
    offset = next((f.utc_us - f.boot_us for f in fixes if f.utc_us and f.boot_us is not None), None)
    out: list[TrackPoint] = []
    for f in fixes:
        basis, utc, source = None, None, f.source
        if f.timed and f.utc_us:
            basis, utc = "utc", iso_us(f.utc_us)
        elif f.timed and f.boot_us is not None and offset is not None:
            basis, utc = "offset", iso_us(f.boot_us + offset)
            source += f" (UTC from boot clock + {label} GPS offset)"
        if basis and not utc and problems is not None:
            problems.add(display, "implausible-time", "a clock value beyond year 9999; the point has no time")
        basis = basis if utc else None
        out.append(
            TrackPoint(display, f.kind, f.lat, f.lon, f.alt, f.alt_ref if f.alt is not None else None,
                       utc, None, basis, source, f.number)
        )  # fmt: skip
    return out


def board_identities(texts: list[str], display: str, source: str) -> list[Identity]:
    """Firmware banner and board unique id from the text lines ArduPilot sends at boot."""
    out: list[Identity] = []
    for text in dict.fromkeys(t.strip() for t in texts):
        if (board := BOARD_ID.match(text)) is not None:
            uid = "".join(board.group(2, 3, 4)).lower()
            out.append(Identity("hardware-uuid", uid, display, f"{source} board line ({board.group(1)})"))
            out.append(Identity("hardware-model", board.group(1), display, f"{source} board line"))
        elif BANNER.match(text):
            out.append(Identity("firmware-version", text, display, source))
    return out


def param_identities(params: dict[str, float], display: str, source: str) -> list[Identity]:
    """Parameters that identify a vehicle, board or battery; ArduPilot's unset values (0, -1) are skipped."""
    out: list[Identity] = []
    for name, value in sorted(params.items()):
        if name == "SYSID_THISMAV":
            kind = "mavlink-system-id"
        elif name.endswith("SERIAL_NUM"):  # not SERIALn_*: those configure serial ports
            kind = "battery-serial" if name.startswith("BATT") else "aircraft-serial"
        else:
            continue
        if math.isfinite(value) and value > 0:
            out.append(Identity(kind, str(int(value)) if value.is_integer() else str(value), display,
                                f"{source} {name}"))  # fmt: skip
    return out


def summary(
    display: str, digest: str, fmt: str, tracks: list[TrackPoint], ids: list[Identity],
    extra: dict[str, str], make: str | None,
) -> MediaItem:  # fmt: skip
    """The MediaItem for an ArduPilot/MAVLink log: first fix, first UTC, board and serials."""
    aircraft = [t for t in tracks if t.kind == "aircraft"]
    first = aircraft[0] if aircraft else None
    first_utc = min((t.time_utc for t in aircraft if t.time_utc), default=None)
    by_kind: dict[str, str] = {}
    for identity in ids:
        by_kind.setdefault(identity.kind, identity.value)
    counts = {f"{k}_points": str(sum(t.kind == k for t in tracks)) for k in ("aircraft", "home", "target")}
    serials = {k: v for k, v in by_kind.items() if k in SERIAL_KINDS}
    return MediaItem(
        path=display,
        sha256=digest,
        format=fmt,
        make=make,
        model=by_kind.get("hardware-model"),
        serials=serials,
        captured_at=first_utc,
        captured_at_utc=first_utc,
        lat=first.lat if first else None,
        lon=first.lon if first else None,
        alt_m=first.alt_m if first else None,
        extra={**counts, **extra},
    )


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _boot_us(m: dict[str, Any]) -> int | None:
    if (us := _number(m.get("TimeUS"))) is not None:
        return int(us)
    return int(ms * 1000) if (ms := _number(m.get("TimeMS"))) is not None else None


def _gps_utc_us(m: dict[str, Any]) -> int | None:
    """GPS week/ms columns of GPS (GWk/GMS) and CAM (GPSWeek/GPSTime); px4log's GPSTime is Unix µs."""
    week, ms = _number(m.get("GWk", m.get("GPSWeek"))), _number(m.get("GMS", m.get("GPSTime")))
    if week is not None and ms is not None:
        return gps_to_utc_us(int(week), ms)
    return int(ms) if ms is not None and ms > 1e15 else None
