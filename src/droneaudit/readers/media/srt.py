"""DJI SRT sidecars: one aircraft position per subtitle cue, plus the home point, as the file wrote them.

DJI writes a ``.SRT`` next to each video; no sanitizer touches it, yet it holds the whole flight track
and, in older families, the home (takeoff/operator) point. The families differ in field order and
altitude meaning, so every rule below is explicit and pinned by a test per family
(see ``tests/readers/media/test_srt.py``; samples from JuanIrache/DJI_SRT_Parser and CallMarcus).

===================  ==========================================  =====================================
family               example                                     coordinates / altitude
===================  ==========================================  =====================================
``legacy``           ``HOME(149.0251,-20.2532) 2017.8.5 14:11:51``  GPS/HOME = (lon, lat[, n]); the 3rd
(Phantom 3/4,        ``GPS(149.0251,-20.2533,16) Hb:1.9``        GPS value is the satellite count (it
Mavic Pro)           ``… BAROMETER:1.9``                         drops to 3-5 while the fix is N/A);
                                                                 Hb / BAROMETER = height above takeoff
``p4-oneline``       ``F/3.2, …, GPS (8.2090, 47.4692, 18),``     (lon, lat, satellites); ``H 45.60m``
(P4 Pro, Mini,       ``HOME (-58.84, -34.23, -57.98m), H 85.80m``  = height above takeoff; HOME's 3rd
P4 RTK)                                                          value (``…m``) has no stated datum
``m300``             ``GPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M``  **(lat, lon, …M)** - recognised by
(Matrice 300)                                                    the ``M`` suffix (as JuanIrache does)
``bracket``          ``[latitude : -20.25] [longtitude : 149.0]``  keyed; ``altitude`` has no stated
(Mavic 2, Air 2/2S)  ``[altitude: 74.72]``                       datum, so alt_ref stays None
``bracket-rel-abs``  ``[latitude: 3.41] [longitude: -3.37]``      keyed; abs_alt = MSL (used for the
(Mavic 3, Mini 3/4+)  ``[rel_alt: -2.400 abs_alt: 0.401]``         point), rel_alt = above takeoff
===================  ==========================================  =====================================

Heuristics, each reported in ``MediaItem.extra`` when it fires:

* **Order.** Tuples are (lon, lat) unless the 3rd value ends in ``M`` (M300: lat, lon). If the chosen
  latitude is out of range but the longitude would fit, the pair is swapped and a
  ``coordinate-order-guessed`` problem names the cue.
* **Radians.** Some Air 2 / Mini firmware writes keyed coordinates in radians. Following JuanIrache's
  ``deduceRadians``: when every keyed fix in the file lies within |lat| <= pi/2, |lon| <= pi and the
  whole file spans <= 0.001 in both, the file is read as radians. A real track that small and that close
  to 0 deg, 0 deg would be misread; ``extra["coordinate_units"]`` says when this happened.
* **No fix.** ``N/A`` or 0,0 gives no point; the count goes to a ``gps-no-fix`` problem.

Times: the date line is the RC/phone wall-clock with no zone, so it becomes ``time_local`` exactly as
written (``2017.8.5 14:11:51``, ``2020-08-12 08:55:21,745,078``) and never ``time_utc`` - unless the
line itself ends in ``Z``, which is normalised to ISO 8601 UTC. Families
without a date line (P4 one-line) get only the cue offset, in ``TrackPoint.source`` and ``extra``.
Home points are emitted once per distinct position (the legacy families repeat HOME in every cue).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from droneaudit.model import MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.media.srt_cues import MAX_CUE_LINES as MAX_CUE_LINES
from droneaudit.readers.media.srt_cues import Cue, check_cut, split_cues
from droneaudit.readers.source import GZIP_MAGIC, read_bounded

#: Never read more than this from one SRT (a one-hour per-frame file is about 25 MB).
MAX_BYTES = 256 << 20
_NUM = r"-?\d+(?:\.\d+)?"
_DATE = re.compile(
    r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:[,.](\d{1,3})(?:,(\d{3}))?)?(Z?)"
)
_TUPLE = re.compile(r"\b(GPS|HOME|RTK)\s*\(([^()]*)\)")
_KEYED = re.compile(rf"\b(latitude|longitude|longtitude|altitude|rel_alt|abs_alt)\s*:\s*({_NUM})\b")
_REL = re.compile(rf"\b(?:BAROMETER|Hb)\s*:\s*({_NUM})|(?:^|,\s*)H\s+({_NUM})m\b")
_DJI_HINT = re.compile(
    r"(?:\bGPS\s*\(|\bHOME\s*\(|\[\s*(?:latitude|iso)\s*:|FrameCnt\s*:|SrtCnt\s*:|BAROMETER\s*:|"
    r"\bF/\d+(?:\.\d+)?, SS )"
)


@dataclass
class _Frame:
    """What one cue says, before file-level decisions (radians) are applied."""

    cue: Cue
    family: str | None = None
    time_local: str | None = None
    time_utc: str | None = None
    fix: tuple[float, float] | None = None  #: (lat, lon) from a GPS tuple, already ordered
    keyed: tuple[float, float] | None = None  #: (lat, lon) from [latitude]/[longitude] fields
    home: tuple[float, float, float | None] | None = None
    alt: tuple[float, str | None] | None = None
    no_fix: bool = False
    swapped: bool = False


@dataclass
class _Result:
    frames: list[_Frame] = field(default_factory=list)
    radians: bool = False


class SrtReader:
    """DJI telemetry subtitles (``.SRT``), recognised by content: cue numbers, timing lines, DJI fields."""

    name = "dji-srt"

    def sniff(self, head: bytes, path: Path) -> float:
        """0.6 with DJI fields, 0.2 for another SRT, 0.1 for a cut or empty ``.srt`` - modest on purpose."""
        text = head.decode("utf-8", "replace").lstrip("\ufeff")
        first = text.split("\n", 1)[0].strip()
        is_srt_name = path.name.lower().removesuffix(".gz").endswith(".srt")
        if not first.isdigit():
            return 0.1 if is_srt_name and not text.strip() else -1.0
        sample = _sample(path, head)
        if _DJI_HINT.search(sample):
            return 0.6
        if "-->" in sample:
            return 0.2
        return 0.1 if is_srt_name else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        data, digest, gzipped = read_bounded(path, display, ctx.problems, MAX_BYTES)
        fmt = "srt.gz" if gzipped else "srt"
        ctx.media.append(parse(data, display, digest, fmt, ctx.problems))
        return fmt, digest


def _sample(path: Path, head: bytes) -> str:
    """Up to 4 KB of text for sniffing (the registry's head is only 64 bytes; for a gzip'd file it is
    already decompressed, and then it is all we look at)."""
    try:
        with path.open("rb") as f:
            data = f.read(4096)
    except OSError:
        data = head
    return (head if data.startswith(GZIP_MAGIC) else data).decode("utf-8", "replace")


def parse(data: bytes, display: str, digest: str, fmt: str, problems: ProblemLog) -> MediaRecords:
    """The records for one SRT's bytes; damage goes to ``problems``, never an exception."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    if "\ufffd" in text:
        problems.add(display, "bad-encoding", "bytes that are not UTF-8 were replaced")
    cues = split_cues(text, display, problems)
    if not text.strip():
        problems.add(display, "empty-file", "the SRT holds no text", offset=0)
    elif not cues:
        problems.add(display, "no-cues", "no numbered subtitle cue found", offset=0)
    result = _Result([_parse_cue(c, display, problems) for c in cues])
    check_cut(cues, display, problems)
    result.radians = _seems_radians([f.keyed for f in result.frames if f.keyed])
    return _records(result, display, digest, fmt, problems)


def _parse_cue(cue: Cue, display: str, problems: ProblemLog) -> _Frame:
    text = "\n".join(cue.body)
    frame = _Frame(cue, family=_family(text))
    if m := _DATE.search(text):
        _set_time(frame, m)
    for kind, inner in _TUPLE.findall(text):
        _take_tuple(frame, kind, [v.strip() for v in inner.split(",")])
    keyed = {k: float(v) for k, v in _KEYED.findall(text)}
    lat, lon = keyed.get("latitude"), keyed.get("longitude", keyed.get("longtitude"))
    if lat is not None and lon is not None:
        frame.keyed = (lat, lon)
    frame.alt = _altitude(text, keyed)
    if frame.swapped:
        problems.add(
            display, "coordinate-order-guessed", "latitude out of range; lon/lat swapped", frame=cue.number
        )
    return frame


def _family(text: str) -> str | None:
    if "rel_alt" in text or "abs_alt" in text:
        return "bracket-rel-abs"
    if re.search(r"\[\s*(?:latitude|iso)\s*:|FrameCnt|SrtCnt", text):
        return "bracket"
    if re.search(r"\bGPS\s*\([^)]*M\)", text):
        return "m300"
    if re.search(r"\bGPS \(", text):
        return "p4-oneline"
    if re.search(r"\b(?:GPS|HOME)\(", text):
        return "legacy"
    return None


def _set_time(frame: _Frame, m: re.Match[str]) -> None:
    """Local wall-clock stays as written; only a ``Z`` time is normalised, to ISO 8601 UTC."""
    year, month, day, hour, minute, sec, ms, us, zulu = m.groups()
    if not zulu:
        frame.time_local = m.group(0)
        return
    iso = f"{year}-{int(month):02d}-{int(day):02d}T{int(hour):02d}:{minute}:{sec}"
    frame.time_utc = iso + ("." + ms.ljust(3, "0") + (us or "") if ms else "") + "Z"


def _take_tuple(frame: _Frame, kind: str, values: list[str]) -> None:
    """GPS/RTK/HOME tuples: (lon, lat, …) except the M300's (lat, lon, xM)."""
    nums = [_number(v) for v in values[:2]]
    if len(values) < 2 or nums[0] is None or nums[1] is None:
        frame.no_fix = frame.no_fix or kind != "HOME"
        return
    third = values[2] if len(values) > 2 else ""
    m300 = re.fullmatch(rf"{_NUM}M", third) is not None
    lat, lon = (nums[0], nums[1]) if m300 else (nums[1], nums[0])
    if abs(lat) > 90 >= abs(lon):
        lat, lon = lon, lat
        frame.swapped = True
    if kind == "HOME":
        frame.home = (lat, lon, _number(third[:-1]) if third.endswith("m") else None)
    elif (lat, lon) == (0.0, 0.0):
        frame.no_fix = True
    elif frame.fix is None:
        frame.fix = (lat, lon)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _altitude(text: str, keyed: dict[str, float]) -> tuple[float, str | None] | None:
    """MSL when the file has abs_alt, else the keyed ``altitude`` (datum unstated), else above-takeoff."""
    if "abs_alt" in keyed:
        return keyed["abs_alt"], "msl"
    if "altitude" in keyed:
        return keyed["altitude"], None
    if "rel_alt" in keyed:
        return keyed["rel_alt"], "relative"
    if m := _REL.search(text):
        return float(m.group(1) or m.group(2)), "relative"
    return None


def _seems_radians(fixes: list[tuple[float, float]]) -> bool:
    """JuanIrache's ``deduceRadians``: every keyed fix within radian range and the file spans <= 0.001."""
    real = [f for f in fixes if f != (0.0, 0.0)]
    if not real:
        return False
    lats, lons = [f[0] for f in real], [f[1] for f in real]
    in_range = max(map(abs, lats)) <= math.pi / 2 and max(map(abs, lons)) <= math.pi
    return in_range and max(lats) - min(lats) <= 0.001 and max(lons) - min(lons) <= 0.001


def _position(frame: _Frame, radians: bool) -> tuple[float, float] | None:
    if frame.fix is not None:
        return frame.fix
    if frame.keyed is None or frame.keyed == (0.0, 0.0):
        return None
    lat, lon = frame.keyed
    return (math.degrees(lat), math.degrees(lon)) if radians else (lat, lon)


def _records(result: _Result, display: str, digest: str, fmt: str, problems: ProblemLog) -> MediaRecords:
    tracks: list[TrackPoint] = []
    homes: set[tuple[float, float]] = set()
    no_fix = 0
    for frame in result.frames:
        pos = _position(frame, result.radians)
        if pos is not None and _valid(pos, frame, display, problems):
            tracks.append(_point(frame, "aircraft", pos, frame.alt, display))
        elif frame.no_fix or (frame.keyed == (0.0, 0.0)):
            no_fix += 1
        if frame.home is not None and frame.home[:2] not in homes:
            homes.add(frame.home[:2])
            tracks.append(_point(frame, "home", frame.home[:2], _home_alt(frame.home), display))
    if no_fix:
        first = next(f.cue.number for f in result.frames if f.no_fix or f.keyed == (0.0, 0.0))
        problems.add(display, "gps-no-fix", "cue without a GPS fix (N/A or 0,0)", frame=first, count=no_fix)
    return MediaRecords(_item(result, tracks, display, digest, fmt), tracks, [])


def _valid(pos: tuple[float, float], frame: _Frame, display: str, problems: ProblemLog) -> bool:
    if abs(pos[0]) <= 90 and abs(pos[1]) <= 180:
        return True
    problems.add(display, "bad-coordinate", f"position {pos} is off the globe", frame=frame.cue.number)
    return False


def _home_alt(home: tuple[float, float, float | None]) -> tuple[float, str | None] | None:
    return (home[2], None) if home[2] is not None else None


def _point(
    frame: _Frame, kind: str, pos: tuple[float, float], alt: tuple[float, str | None] | None, display: str
) -> TrackPoint:
    where = f"SRT cue {frame.cue.number}" + (f" @ {frame.cue.offset}" if frame.cue.offset else "")
    return TrackPoint(
        file=display,
        kind=kind,
        lat=pos[0],
        lon=pos[1],
        alt_m=alt[0] if alt else None,
        alt_ref=alt[1] if alt else None,
        time_utc=frame.time_utc,
        time_local=frame.time_local,
        time_basis="utc" if frame.time_utc else None,
        source=where,
        index=frame.cue.number,
    )


def _item(result: _Result, tracks: list[TrackPoint], display: str, digest: str, fmt: str) -> MediaItem:
    frames = result.frames
    aircraft = [t for t in tracks if t.kind == "aircraft"]
    first = aircraft[0] if aircraft else None
    dated = next((f for f in frames if f.time_local or f.time_utc), None)
    return MediaItem(
        path=display,
        sha256=digest,
        format=fmt,
        captured_at=(dated.time_local or dated.time_utc) if dated else None,
        captured_at_utc=dated.time_utc if dated else None,
        lat=first.lat if first else None,
        lon=first.lon if first else None,
        alt_m=first.alt_m if first else None,
        extra=_extra(result, aircraft, len(tracks) - len(aircraft), dated is not None),
    )


def _extra(result: _Result, aircraft: list[TrackPoint], homes: int, dated: bool) -> dict[str, str]:
    frames = result.frames
    families = sorted({f.family for f in frames if f.family})
    extra = {
        "srt_family": ", ".join(families) or "unknown",
        "cues": str(len(frames)),
        "aircraft_fixes": str(len(aircraft)),
        "home_points": str(homes),
        "coordinate_units": "radians, converted to degrees (heuristic)" if result.radians else "degrees",
    }
    if aircraft and aircraft[0].alt_m is not None:
        extra["alt_ref"] = aircraft[0].alt_ref or "unstated"
    offsets = [f.cue.offset for f in frames if f.cue.offset]
    undated = sum(1 for f in frames if not (f.time_local or f.time_utc))
    zone = "UTC" if any(f.time_utc for f in frames) else "local wall-clock, no zone"
    extra["time"] = zone if not undated else f"{zone}; {undated} cues without a date (cue offsets only)"
    if not dated:
        extra["time"] = "no date in file; cue offsets only"
    if undated and offsets:
        extra["cue_offsets"] = f"{offsets[0]} to {offsets[-1]}"
    takeoff = _takeoff_msl(frames)
    if takeoff is not None:
        extra["takeoff_alt_msl_m"] = f"{takeoff:.3f}"
    return extra


def _takeoff_msl(frames: list[_Frame]) -> float | None:
    """abs_alt - rel_alt on the first cue that has both: the takeoff point's elevation above sea level."""
    for frame in frames:
        text = "\n".join(frame.cue.body)
        keyed = {k: float(v) for k, v in _KEYED.findall(text)}
        if "abs_alt" in keyed and "rel_alt" in keyed:
            return keyed["abs_alt"] - keyed["rel_alt"]
    return None
