"""Turn what the MP4 walk found (``Movie``) into droneaudit records: one MediaItem, its track points
and identities.

Why separate: the walk reads bytes, this module only decides what each fact means for an audit -
which positions are the aircraft's and which the operator's, which strings are serial numbers, and how
sure a time is. Those decisions are the ones a reviewer checks, so they sit together:

* GPMF GPS5/GPS9 and the Karma's GPRI/GLPI are ``aircraft`` (the camera rides the aircraft); Karma
  BPOS is ``operator``; a hand-held DJI Osmo's GPS is the person carrying it, so ``operator`` too;
  ``©xyz`` is where the recording device was, so ``aircraft``.
* A time is UTC only when it comes from GPS (GPSU, GPS9, SYST-calibrated Karma clock, djmd
  GPSDateTime). The ``mvhd`` creation time is reported as written; ``extra["mvhd_minus_gps_s"]`` gives
  its difference from the first GPS time, which reveals the camera's clock offset (a zone hint).
* The GoPro ``fdsc`` "other" serial is the attached device's; it is called ``aircraft-serial`` only when
  the GPMF names a Karma.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.media import djmd, gpmf, mp4_meta, srt
from droneaudit.readers.media.mp4_samples import Track

#: Readable names of the GPMF position streams, for TrackPoint.source.
STREAM_NAMES = {"GPS5": "GPS5", "GPS9": "GPS9", "GPRI": "GPRI (GPS RAW)", "GLPI": "GLPI (Position)",
                "BPOS": "BPOS (Controller)"}  # fmt: skip


@dataclass(slots=True)
class Movie:
    """Everything the walk of one file found (no interpretation yet)."""

    format: str = "mp4"  #: "mov" for QuickTime brand ``qt`` or no ftyp
    brand: str | None = None
    compatible: list[str] = field(default_factory=list)
    created: str | None = None  #: mvhd creation time as written (QuickTime epoch, zone unknown)
    duration_s: float | None = None
    tracks: list[Track] = field(default_factory=list)
    udta: mp4_meta.UserData = field(default_factory=mp4_meta.UserData)
    telemetry: gpmf.Telemetry = field(default_factory=gpmf.Telemetry)  #: gpmd track(s)
    settings: gpmf.Telemetry = field(default_factory=gpmf.Telemetry)  #: udta GPMF (global settings)
    djmd: djmd.Decoded = field(default_factory=djmd.Decoded)
    dbgi_schema: str | None = None
    dbgi_samples: int = 0
    dbgi_bytes: int = 0
    fdsc: mp4_meta.Fdsc | None = None
    subtitles: dict[str, list[tuple[float | None, str]]] = field(default_factory=dict)  #: track -> cues
    fragmented: bool = False
    mdat_bytes: int = 0


def build(movie: Movie, display: str, digest: str, problems: ProblemLog) -> MediaRecords:
    """The records for one file; subtitle and djmd damage goes to ``problems``."""
    points = [*_udta_points(movie, display), *_gpmf_points(movie, display), *_djmd_points(movie, display)]
    points += _subtitle_points(movie, display, digest, problems)
    _djmd_problems(movie, display, problems)
    identities = _identities(movie, display)
    serials: dict[str, str] = {}
    for ident in identities:
        serials.setdefault(ident.kind, ident.value)
    first = next((p for p in points if p.kind == "aircraft"), None)
    utc = next((p for p in points if p.time_utc), None)
    item = MediaItem(
        path=display,
        sha256=digest,
        format=movie.format,
        make=_make(movie),
        model=_model(movie),
        serials=serials,
        captured_at=movie.created,
        captured_at_utc=utc.time_utc if utc else None,
        lat=first.lat if first else None,
        lon=first.lon if first else None,
        alt_m=first.alt_m if first else None,
        extra=_extra(movie, points, utc),
    )
    return MediaRecords(item, points, identities)


def _udta_points(movie: Movie, display: str) -> list[TrackPoint]:
    """``©xyz``: where the recording device was (ISO 6709 altitude has no stated datum here)."""
    if movie.udta.location is None:
        return []
    lat, lon, alt = movie.udta.location
    return [TrackPoint(display, "aircraft", lat, lon, alt, None, source="MP4 udta ©xyz (ISO 6709)")]


def _gpmf_points(movie: Movie, display: str) -> list[TrackPoint]:
    """Camera GPS first, then the Karma's fused and raw GPS, then the controller; off-globe rows dropped."""
    order = {"GPS5": 0, "GPS9": 0, "GLPI": 1, "GPRI": 2, "BPOS": 3}
    fixes = sorted(movie.telemetry.fixes, key=lambda f: order.get(f.key, 9))
    return [_gpmf_point(f, display) for f in fixes if abs(f.lat) <= 90 and abs(f.lon) <= 180]


def _gpmf_point(fix: gpmf.Fix, display: str) -> TrackPoint:
    """The source names the stream, payload, row, device and fix type, so a reviewer can find it."""
    where = f"GPMF {STREAM_NAMES.get(fix.key, fix.key)} payload {fix.payload} #{fix.index}"
    if fix.device:
        where += f" [{fix.device}]"
    if fix.fix_type is not None:
        where += f" GPSF {fix.fix_type}" + (" (no fix)" if fix.fix_type == 0 else "")
    return TrackPoint(
        file=display,
        kind=fix.kind,
        lat=fix.lat,
        lon=fix.lon,
        alt_m=fix.alt,
        alt_ref=fix.alt_ref,
        time_utc=fix.time_utc,
        time_basis="utc" if fix.time_utc else None,
        source=where,
        index=fix.payload,
    )


def _djmd_points(movie: Movie, display: str) -> list[TrackPoint]:
    """One point per djmd frame with a fix; the sample time goes into the source."""
    state = movie.djmd
    layout = state.layout
    if layout is None:
        return []
    kind = "operator" if layout.handheld else "aircraft"
    out: list[TrackPoint] = []
    for frame in state.frames:
        if frame.lat is None or frame.lon is None or abs(frame.lat) > 90 or abs(frame.lon) > 180:
            continue
        alt, ref = _djmd_alt(frame)
        at = f" @ {frame.time_s:.3f} s" if frame.time_s is not None else ""
        source = f"DJI djmd {state.protocol} sample {frame.sample}{at}"
        utc, basis = frame.time_utc, "utc" if frame.time_utc else None
        out.append(
            TrackPoint(display, kind, frame.lat, frame.lon, alt, ref, utc, None, basis, source, frame.sample)
        )
    return out


def _djmd_alt(frame: djmd.Frame) -> tuple[float | None, str | None]:
    """Absolute (MSL) first, then above-takeoff, then the Osmo's datum-less GPSAltitude."""
    if frame.abs_alt is not None:
        return frame.abs_alt, "msl"
    if frame.rel_alt is not None:
        return frame.rel_alt, "relative"
    return frame.gps_alt, None


def _subtitle_points(movie: Movie, display: str, digest: str, problems: ProblemLog) -> list[TrackPoint]:
    """DJI SRT-style subtitle tracks, parsed by the SRT reader; its problems are re-filed under this file."""
    out: list[TrackPoint] = []
    for label, cues in movie.subtitles.items():
        if not any(_looks_dji(text) for _t, text in cues):
            continue
        sub_problems = ProblemLog()
        records = srt.parse(mp4_meta.as_srt(cues), display, digest, "srt", sub_problems)
        for p in sub_problems.records():
            problems.add(display, p.code, f"subtitle track {label}: {p.detail}", frame=p.frame, count=p.count)
        out += [replace(t, source=f"MP4 subtitle track {label}, {t.source}") for t in records.tracks]
    return out


#: Words that mark DJI SRT-style telemetry in subtitle text.
DJI_MARKERS = (
    "GPS(",
    "GPS (",
    "HOME(",
    "HOME (",
    "latitude",
    "longitude",
    "longtitude",
    "FrameCnt",
    "abs_alt",
)


def _looks_dji(text: str) -> bool:
    """Only DJI-style text goes to the SRT parser (other subtitles would only produce no-cue problems)."""
    return any(m in text for m in DJI_MARKERS)


def _djmd_problems(movie: Movie, display: str, problems: ProblemLog) -> None:
    """An unmapped schema and undecodable samples, each folded into one counted problem."""
    state = movie.djmd
    if state.protocol is not None and state.layout is None:
        detail = f"djmd schema {state.protocol!r} is not one ExifTool 13 maps; fields not decoded"
        problems.add(display, "djmd-unknown-schema", detail)
    if state.bad_samples:
        first, count = state.bad_samples[0], len(state.bad_samples)
        detail = f"djmd sample {first} is not a valid protobuf message"
        problems.add(display, "djmd-bad-sample", detail, frame=first, count=count)


def _identities(movie: Movie, display: str) -> list[Identity]:
    """Serials and ids from fdsc, udta, GPMF and djmd, each naming the box or field it came from."""
    found: list[Identity] = []
    if movie.fdsc is not None:
        karma = any("karma" in d.lower() for d in movie.telemetry.devices)
        other = "aircraft-serial" if karma else "serial"  # the attached device's, kind unknown
        for kind, value, tag in (("camera-serial", movie.fdsc.serial, "SerialNumber"),
                                 (other, movie.fdsc.other_serial, "OtherSerialNumber")):  # fmt: skip
            if value:
                found.append(Identity(kind, value, display, f"MP4 fdsc {tag}"))
    found += [Identity(kind, value, display, source) for kind, value, source in movie.udta.ids]
    for tele, where in ((movie.settings, "udta GPMF"), (movie.telemetry, "GPMF")):
        for kind, value in tele.ids.items():
            if kind in ("camera-serial", "capture-uuid"):
                found.append(Identity(kind, value, display, f"{where} {_gpmf_key(kind)}"))
    found += _djmd_identities(movie, display)
    return found


def _gpmf_key(kind: str) -> str:
    """The GPMF key an identity kind came from, for Identity.source."""
    return "MUID" if kind == "capture-uuid" else next(k for k, v in gpmf.ID_KEYS.items() if v == kind)


def _djmd_identities(movie: Movie, display: str) -> list[Identity]:
    """The djmd serial is the aircraft's on drones and the camera's on hand-held Osmo models."""
    state = movie.djmd
    layout = state.layout
    kind = "camera-serial" if layout is not None and layout.handheld else "aircraft-serial"
    where = f"DJI djmd {state.protocol}"
    out: list[Identity] = []
    if state.serial:
        out.append(Identity(kind, state.serial, display, f"{where} 1-1-5 (ExifTool: SerialNumber)"))
    if state.serial2 and layout is not None and layout.serial2:
        path = "-".join(map(str, layout.serial2))
        source = f"{where} {path} (ExifTool: SerialNumber2)"
        out.append(Identity("serial", state.serial2, display, source))
    return out


def _make(movie: Movie) -> str | None:
    """The file's own ``©mak`` first, else inferred from GoPro- or DJI-only structures."""
    if make := movie.udta.texts.get("make"):
        return make
    gopro_firmware = movie.udta.texts.get("firmware", "").startswith("HD")
    if movie.fdsc is not None or movie.telemetry.payloads or gopro_firmware:
        return "GoPro"
    if movie.djmd.protocol or movie.dbgi_samples:
        return "DJI"
    return None


def _model(movie: Movie) -> str | None:
    """Model strings the file writes, before the product name implied by the djmd schema."""
    layout = movie.djmd.layout
    candidates = (
        movie.udta.texts.get("model"),
        movie.fdsc.model if movie.fdsc else None,
        movie.settings.ids.get("model"),
        movie.djmd.model,
        layout.name if layout else None,
    )
    return next((c for c in candidates if c), None)


def _extra(movie: Movie, points: list[TrackPoint], utc: TrackPoint | None) -> dict[str, str]:
    """Facts worth showing: tracks, brands, times and how sure they are, point counts, udta texts."""
    extra = {"tracks": ", ".join(t.label for t in movie.tracks) or "none"}
    if movie.brand:
        extra["brand"] = movie.brand + (f" ({', '.join(movie.compatible)})" if movie.compatible else "")
    if movie.duration_s is not None:
        extra["duration_s"] = f"{movie.duration_s:.3f}"
    if movie.created:
        extra["mvhd_created"] = movie.created
        extra["mvhd_time_basis"] = "QuickTime epoch (1904); zone unknown - cameras often write local time"
        if utc is not None and utc.time_utc and (offset := _offset(movie.created, utc.time_utc)) is not None:
            extra["mvhd_minus_gps_s"] = offset
    if utc is not None:
        extra["captured_at_utc_source"] = utc.source
    for kind in ("aircraft", "operator", "home"):
        count = sum(1 for p in points if p.kind == kind)
        if count:
            extra[f"{kind}_points"] = str(count)
    extra.update({k: v for k, v in movie.udta.texts.items()})
    if movie.udta.location_text:
        extra["udta_location"] = movie.udta.location_text
    extra.update(_stream_extra(movie))
    return extra


def _stream_extra(movie: Movie) -> dict[str, str]:
    """What the timed-metadata streams said beyond positions and serials."""
    extra: dict[str, str] = {}
    devices = list(dict.fromkeys(movie.telemetry.devices + movie.settings.devices))
    if devices:
        extra["gpmf_devices"] = "; ".join(devices)
        extra["gpmf_payloads"] = str(movie.telemetry.payloads)
    for kind in ("firmware", "accessory-firmware", "model"):
        value = movie.telemetry.ids.get(kind) or movie.settings.ids.get(kind)
        if value:
            extra[f"gpmf_{kind.replace('-', '_')}"] = value
    if movie.fdsc is not None and movie.fdsc.firmware:
        extra["fdsc_firmware"] = movie.fdsc.firmware
    if movie.djmd.protocol:
        extra["djmd_schema"] = movie.djmd.protocol
        extra["djmd_frames"] = str(len(movie.djmd.frames))
    if movie.dbgi_samples:
        extra["dbgi"] = f"{movie.dbgi_samples} samples, {movie.dbgi_bytes} bytes, schema {movie.dbgi_schema}"
    if movie.subtitles:
        extra["subtitle_tracks"] = ", ".join(f"{k} ({len(v)} cues)" for k, v in movie.subtitles.items())
    if movie.fragmented:
        extra["fragmented"] = "yes: samples in moof fragments were not read"
    return extra


def _offset(local: str, utc: str) -> str | None:
    """Seconds from the first GPS UTC time to the mvhd time, e.g. "-25200" for a clock 7 hours behind
    UTC. Only within a day: a larger gap says the clock was never set, not which zone it was in."""
    written = datetime.fromisoformat(local)
    gps = datetime.fromisoformat(utc.replace("Z", "+00:00")).replace(tzinfo=None)
    seconds = (written - gps).total_seconds()
    return f"{seconds:.0f}" if abs(seconds) <= 86_400 else None
