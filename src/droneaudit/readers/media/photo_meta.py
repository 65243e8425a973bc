"""Turn a photo's EXIF (a walked TIFF structure) and XMP map into inventory records, for JPEG and DNG.

Why one module for both containers: a DJI DNG carries the same EXIF, GPS IFD and ``drone-dji`` XMP as
the JPEG, so the rules below (which source wins, what counts as "no fix", which times are UTC) must be
the same whatever the container, or an audit would disagree with itself.

The rules, each for a trap seen in real files:

* Positions: the EXIF GPS IFD (rational degrees/minutes/seconds plus N/S/E/W refs) gives the item's
  position; DJI XMP ``GpsLatitude`` + ``GpsLongitude`` (or the misspelt ``GpsLongtitude``) is used for
  the item only when EXIF has no fix. 0,0, an empty GPS IFD (MSDK v5 writes ``GPSVersionID 0.0.0.0``
  and nothing else) or out-of-range values mean "no fix". Every source that has a fix still becomes its
  own ``aircraft`` TrackPoint, because a sanitizer that strips EXIF GPS but not XMP still leaks.
* DJI XMP is matched by namespace URI (four are known) and by local name without regard to case.
* Altitudes: EXIF ``GPSAltitudeRef`` 1 is below sea level (the XT S sample is at −29.4 m); XMP
  ``AbsoluteAltitude`` is MSL, ``RelativeAltitude`` is above the take-off point.
* Times: EXIF ``DateTimeOriginal`` is local wall-clock; it gets a UTC form only with
  ``OffsetTimeOriginal``. XMP ``UTCAtExposure`` and the GPS IFD date/time stamp are UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from droneaudit.model import Identity, MediaItem, MediaRecords, TrackPoint
from droneaudit.readers.media.tiff import Ifd, Tiff
from droneaudit.readers.media.xmp import XmpMap

#: DJI XMP namespace URIs → the label used in ``source`` strings (prefixes vary; the URI is the key).
DJI_NAMESPACES = {
    "http://www.dji.com/drone-dji/1.0/": "drone-dji",
    "http://www.uav.com/drone-dji/1.0/": "drone-dji",
    "http://www.dji.com": "DJI",
    "http://www.dji.com/": "DJI",
    "http://www.dji.com/FLIR/1.0/": "FLIR",
}
EXIF_NS = "http://ns.adobe.com/exif/1.0/"
TIFF_NS = "http://ns.adobe.com/tiff/1.0/"
AUX_NS = "http://ns.adobe.com/exif/1.0/aux/"
EXIFEX_NS = "http://cipa.jp/exif/1.0/"

#: (IFD, tag, identity kind, source) — ExifTool's tag names in the source strings.
EXIF_IDS = (
    ("ExifIFD", 0xA431, "camera-serial", "EXIF SerialNumber"),
    ("IFD0", 0xC62F, "camera-serial", "EXIF CameraSerialNumber"),
    ("ExifIFD", 0xA435, "lens-serial", "EXIF LensSerialNumber"),
)
DJI_IDS = (
    ("DroneSerialNumber", "aircraft-serial"),
    ("CameraSerialNumber", "camera-serial"),
    ("LensSerialNumber", "lens-serial"),
    ("CaptureUUID", "capture-uuid"),
)
STD_XMP_IDS = (
    (AUX_NS, "SerialNumber", "camera-serial", "XMP aux:SerialNumber"),
    (EXIFEX_NS, "BodySerialNumber", "camera-serial", "XMP exifEX:BodySerialNumber"),
    (AUX_NS, "LensSerialNumber", "lens-serial", "XMP aux:LensSerialNumber"),
    (EXIFEX_NS, "LensSerialNumber", "lens-serial", "XMP exifEX:LensSerialNumber"),
)
#: DJI XMP facts copied to ``MediaItem.extra`` as ``dji:<Name>`` (RTK quality, LRF, free text, …).
DJI_EXTRA = (
    "Version", "DroneModel", "ProductName", "ImageSource", "GpsStatus", "AltitudeType", "AbsoluteAltitude",
    "RelativeAltitude", "RtkFlag", "RtkStdLon", "RtkStdLat", "RtkStdHgt", "RtkDiffAge", "SurveyingMode",
    "LRFStatus", "LRFTargetDistance", "SelfData", "ShutterCount", "UTCAtExposure",
)  # fmt: skip
#: (written tag in its IFD, offset tag in ExifIFD): DateTimeOriginal, CreateDate, ModifyDate.
TIME_TAGS = (("ExifIFD", 0x9003, 0x9011), ("ExifIFD", 0x9004, 0x9012), ("IFD0", 0x0132, 0x9010))

_EXIF_TIME = "%Y:%m:%d %H:%M:%S"
_EXIF_STRICT = re.compile(r"\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_DMS_SCALE = (1.0, 60.0, 3600.0)
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_ISO = re.compile(
    r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(slots=True)
class PhotoInput:
    """What a container reader collected from one photo."""

    display: str
    sha256: str
    fmt: str
    tiff: Tiff | None
    xmp: XmpMap
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Fix:
    lat: float
    lon: float
    alt: float | None
    alt_ref: str | None
    source: str


@dataclass(frozen=True, slots=True)
class _When:
    """The photo's time as tracks carry it."""

    utc: str | None = None
    local: str | None = None
    basis: str | None = None


class DjiXmp:
    """DJI XMP properties across all DJI namespaces, by local name in any case (first one wins)."""

    def __init__(self, xmp: XmpMap) -> None:
        self.found: dict[str, tuple[str, str]] = {}  # lower-case name → (value, "XMP <label>:<Name>")
        for (uri, local), value in xmp.items():
            label = DJI_NAMESPACES.get(uri)
            if label is not None:
                self.found.setdefault(local.lower(), (value.strip(), f"XMP {label}:{local}"))

    def get(self, *names: str) -> tuple[str, str] | None:
        for name in names:
            hit = self.found.get(name.lower())
            if hit is not None and hit[0]:
                return hit
        return None

    def number(self, *names: str) -> float | None:
        hit = self.get(*names)
        return _float(hit[0]) if hit is not None else None


def _float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def has_fix(lat: float | None, lon: float | None) -> bool:
    """A usable position: both present, in range, and not the 0,0 that empty receivers write."""
    if lat is None or lon is None:
        return False
    return abs(lat) <= 90 and abs(lon) <= 180 and not (lat == 0 and lon == 0)


def _dms(values: tuple[float, ...] | None, ref: str | None, negative: str) -> float | None:
    if not values or not all(math.isfinite(v) for v in values[:3]):
        return None
    degrees = sum(v / scale for v, scale in zip(values[:3], _DMS_SCALE, strict=False))
    if ref and ref.strip().upper().startswith(negative):
        degrees = -abs(degrees)
    return degrees


def exif_fix(gps: Ifd) -> _Fix | None:
    """The GPS IFD's position (tags 1–6), or None when it holds no fix."""
    lat = _dms(gps.numbers(2), gps.text(1), "S")
    lon = _dms(gps.numbers(4), gps.text(3), "W")
    if lat is None or lon is None or not has_fix(lat, lon):
        return None
    alt_values = gps.numbers(6)
    alt = alt_values[0] if alt_values and math.isfinite(alt_values[0]) else None
    ref = gps.first_int(5) or 0
    if alt is not None and ref in (1, 3):
        alt = -abs(alt)
    return _Fix(lat, lon, alt, "ellipsoid" if ref in (2, 3) else "msl", "EXIF GPS")


def gps_stamp(gps: Ifd) -> str | None:
    """GPSDateStamp + GPSTimeStamp (UTC by definition) as ISO 8601, when both are sane."""
    date, hms = gps.text(29), gps.numbers(7)
    if not date or not hms or len(hms) < 3 or not all(math.isfinite(v) for v in hms[:3]):
        return None
    try:
        day = datetime.strptime(date.strip(), "%Y:%m:%d")
    except ValueError:
        return None
    moment = day + timedelta(hours=hms[0], minutes=hms[1], seconds=hms[2])
    return _iso(moment)


def _iso(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def xmp_fix(dji: DjiXmp, xmp: XmpMap) -> _Fix | None:
    """DJI XMP position (any DJI namespace, either spelling), else standard XMP-exif GPS."""
    lat_hit = dji.get("GpsLatitude", "Latitude")
    lon_hit = dji.get("GpsLongitude", "GpsLongtitude", "Longitude")
    if lat_hit and lon_hit:
        lat, lon = _float(lat_hit[0]), _float(lon_hit[0])
        if lat is not None and lon is not None and has_fix(lat, lon):
            source = lat_hit[1].rsplit(":", 1)[0]
            absolute = dji.number("AbsoluteAltitude")
            if absolute is not None:
                return _Fix(lat, lon, absolute, "msl", source)
            return _Fix(lat, lon, dji.number("RelativeAltitude"), "relative", source)
    lat = _xmp_coord(xmp.get((EXIF_NS, "GPSLatitude")))
    lon = _xmp_coord(xmp.get((EXIF_NS, "GPSLongitude")))
    if has_fix(lat, lon) and lat is not None and lon is not None:
        return _Fix(lat, lon, None, None, "XMP exif")
    return None


def _xmp_coord(text: str | None) -> float | None:
    """XMP-exif GPSCoordinate: "DDD,MM,SSk" or "DDD,MM.mmk" with k one of N/S/E/W."""
    if not text or text[-1:].upper() not in ("N", "S", "E", "W"):
        return None
    parts = [_float(p) for p in text[:-1].split(",")]
    if not parts or len(parts) > 3 or any(p is None for p in parts):
        return None
    value = sum((p or 0.0) / scale for p, scale in zip(parts, _DMS_SCALE, strict=False))
    return -value if text[-1].upper() in ("S", "W") else value


def target_point(dji: DjiXmp, display: str, when: _When) -> TrackPoint | None:
    """Laser rangefinder target: where the camera was looking, measured (enterprise models)."""
    lat, lon = dji.number("LRFTargetLat"), dji.number("LRFTargetLon")
    if lat is None or lon is None or not has_fix(lat, lon):
        return None
    alt, ref = dji.number("LRFTargetAbsAlt"), "msl"
    if alt is None:
        alt, ref = dji.number("LRFTargetAlt"), "relative"
    hit = dji.get("LRFTargetLat")
    source = hit[1].rsplit(":", 1)[0] + " LRFTarget" if hit else "XMP LRFTarget"
    return _point(display, "target", _Fix(lat, lon, alt, ref if alt is not None else None, source), when)


def _point(display: str, kind: str, fix: _Fix, when: _When) -> TrackPoint:
    return TrackPoint(
        file=display,
        kind=kind,
        lat=fix.lat,
        lon=fix.lon,
        alt_m=fix.alt,
        alt_ref=fix.alt_ref if fix.alt is not None else None,
        time_utc=when.utc,
        time_local=when.local,
        time_basis=when.basis,
        source=fix.source,
    )


def exif_times(tiff: Tiff) -> tuple[str | None, str | None]:
    """(capture time as written, its UTC form when the matching OffsetTime* tag gives the zone)."""
    exif = tiff.ifd("ExifIFD")
    for ifd_name, tag, offset_tag in TIME_TAGS:
        written = tiff.ifd(ifd_name).text(tag)
        if written and written.strip(" :0"):
            return written, _with_offset(written, exif.text(offset_tag))
    return None, None


def exif_datetime(text: str) -> datetime:
    """``datetime.strptime(text, "%Y:%m:%d %H:%M:%S")``, without strptime's ~20 µs for the zero-padded
    form every camera writes (the same values and the same ValueError for impossible dates)."""
    if _EXIF_STRICT.fullmatch(text):
        day = int(text[0:4]), int(text[5:7]), int(text[8:10])
        return datetime(*day, int(text[11:13]), int(text[14:16]), int(text[17:19]))
    return datetime.strptime(text, _EXIF_TIME)


def _with_offset(written: str, offset: str | None) -> str | None:
    match = _OFFSET.match(offset.strip()) if offset else None
    if match is None:
        return None
    try:
        local = exif_datetime(written.strip()[:19])
    except ValueError:
        return None
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return _iso(local - delta if match[1] == "+" else local + delta)


def utc_text(text: str) -> str | None:
    """A UTC time written as "YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]" (or with colons in the date)."""
    match = _ISO.match(text.strip())
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    moment += timedelta(seconds=float(match[7] or 0))
    zone = _OFFSET.match(match[8]) if match[8] and match[8] != "Z" else None
    if zone is not None:
        delta = timedelta(hours=int(zone[2]), minutes=int(zone[3]))
        moment = moment - delta if zone[1] == "+" else moment + delta
    return _iso(moment)


def _identities(inp: PhotoInput, dji: DjiXmp) -> list[Identity]:
    found: list[tuple[str, str | None, str]] = []
    if inp.tiff is not None:
        found += [(kind, inp.tiff.ifd(name).text(tag), src) for name, tag, kind, src in EXIF_IDS]
    for name, kind in DJI_IDS:
        hit = dji.get(name)
        found.append((kind, hit[0] if hit else None, hit[1] if hit else ""))
    found += [(kind, inp.xmp.get((uri, local)), src) for uri, local, kind, src in STD_XMP_IDS]
    out: list[Identity] = []
    for kind, value, source in found:
        if value and value.strip(" 0\x00") and not any(i.value == value and i.source == source for i in out):
            out.append(Identity(kind, value.strip(), inp.display, source))
    return out


def _make_model(inp: PhotoInput) -> tuple[str | None, str | None]:
    ifd0 = inp.tiff.ifd("IFD0") if inp.tiff is not None else Ifd("IFD0", -1)
    make = ifd0.text(0x010F) or inp.xmp.get((TIFF_NS, "Make")) or None
    model = ifd0.text(0x0110) or inp.xmp.get((TIFF_NS, "Model")) or None
    return make, model


def _extra(inp: PhotoInput, dji: DjiXmp) -> dict[str, str]:
    extra = dict(inp.extra)
    if inp.tiff is not None:
        ifd0 = inp.tiff.ifd("IFD0")
        for key, tag in (("software", 0x0131), ("image_description", 0x010E)):
            if text := ifd0.text(tag):
                extra[key] = text
        if "GPS" in inp.tiff.ifds:
            extra["exif_gps"] = "fix" if exif_fix(inp.tiff.ifds["GPS"]) else "no-fix"
    for name in DJI_EXTRA:
        if hit := dji.get(name):
            extra[f"dji:{name}"] = hit[0]
    if inp.xmp:
        extra["xmp_namespaces"] = ", ".join(sorted({uri for uri, _ in inp.xmp}))
    return extra


def _when(inp: PhotoInput, dji: DjiXmp) -> tuple[str | None, str | None, _When]:
    """(captured_at, captured_at_utc, time for tracks). UTCAtExposure > OffsetTime > GPS stamp."""
    written, with_offset = exif_times(inp.tiff) if inp.tiff is not None else (None, None)
    hit = dji.get("UTCAtExposure")
    exposure = utc_text(hit[0]) if hit else None
    stamp = gps_stamp(inp.tiff.ifd("GPS")) if inp.tiff is not None else None
    local = written if with_offset is None else None
    if exposure:
        when = _When(exposure, local, "utc")
    elif with_offset:
        when = _When(with_offset, None, "offset")
    else:
        when = _When(stamp, local, "utc" if stamp else None)
    return written, with_offset or exposure, when


def build(inp: PhotoInput) -> MediaRecords:
    """All records for one photo: the item, one TrackPoint per source with a fix, and identities."""
    dji = DjiXmp(inp.xmp)
    captured_at, captured_utc, when = _when(inp, dji)
    exif = exif_fix(inp.tiff.ifd("GPS")) if inp.tiff is not None else None
    from_xmp = xmp_fix(dji, inp.xmp)
    tracks = [_point(inp.display, "aircraft", fix, when) for fix in (exif, from_xmp) if fix is not None]
    target = target_point(dji, inp.display, when)
    if target is not None:
        tracks.append(target)
    identities = _identities(inp, dji)
    serials: dict[str, str] = {}
    for identity in identities:
        if identity.kind != "capture-uuid":
            serials.setdefault(identity.kind, identity.value)
    make, model = _make_model(inp)
    best = exif or from_xmp
    item = MediaItem(
        path=inp.display,
        sha256=inp.sha256,
        format=inp.fmt,
        make=make,
        model=model,
        serials=serials,
        captured_at=captured_at,
        captured_at_utc=captured_utc,
        lat=best.lat if best else None,
        lon=best.lon if best else None,
        alt_m=best.alt if best else None,
        extra=_extra(inp, dji),
    )
    return MediaRecords(item, tracks, identities)
