"""Small MP4/MOV metadata boxes: the movie header time, ``udta`` user data, GoPro ``fdsc`` and
embedded subtitle text.

Why separate from the walker: these are leaf payloads of at most a few KB, decoded from bytes without
touching the file, so each rule can be tested on bytes alone.

* ``mvhd`` creation time counts seconds from 1904-01-01 (the QuickTime epoch). The specification says
  UTC, but GoPro and DJI cameras write their clock's local time, and nothing in the file says which:
  it is reported as written, never as UTC.
* ``©xyz`` is an ISO 6709 string (``+33.1254-117.3311+015.000/``); degrees, degrees-minutes and
  degrees-minutes-seconds forms are told apart by the number of integer digits, as the standard says.
* GoPro ``udta`` atoms: ``FIRM`` firmware, ``LENS`` (ExifTool: LensSerialNumber - on the Hero5 it holds
  the camera serial), ``CAME`` (SerialNumberHash), ``MUID`` (MediaUID); ``GPMF`` (global settings)
  goes to the GPMF decoder.
  DJI: ``©mdl`` (model, a bare string), ``fsid`` (original file path). QuickTime text atoms ``©mak``,
  ``©mod``, ``©swr``, ``©day`` carry a 2-byte length and a 2-byte language before the text.
* ``fdsc`` (GoPro Hero5/6 "SOS" track, first sample starting ``GPRO``) has no tags, only fixed offsets:
  firmware at 0x08, serial at 0x17, the attached device's serial at 0x57, model at 0x66 (ExifTool's
  GoPro::fdsc table).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

QT_EPOCH = datetime(1904, 1, 1, tzinfo=UTC)
#: Seconds from the QuickTime epoch to the end of year 9999: beyond is damage, not a date (fuzzing).
_MAX_QT = int((datetime(9999, 12, 31, tzinfo=UTC) - QT_EPOCH).total_seconds())
#: udta text atoms kept as facts (name in MediaItem.extra).
TEXT_ATOMS = {
    "©mak": "make", "©mod": "model", "©mdl": "model", "©swr": "software", "©day": "date",
    "©too": "encoder", "FIRM": "firmware", "fsid": "original_file_path",
}  # fmt: skip
#: udta atoms that identify the camera: atom -> (Identity.kind, ExifTool tag name).
ID_ATOMS = {"LENS": ("lens-serial", "LensSerialNumber"), "CAME": ("serial", "SerialNumberHash"),
            "MUID": ("capture-uuid", "MediaUID")}  # fmt: skip
_ISO6709 = re.compile(r"([+-])(\d+(?:\.\d*)?)([+-])(\d+(?:\.\d*)?)(?:([+-]\d+(?:\.\d*)?))?")


@dataclass(slots=True)
class UserData:
    """What ``udta`` holds."""

    location: tuple[float, float, float | None] | None = None
    location_text: str | None = None
    texts: dict[str, str] = field(default_factory=dict)  #: TEXT_ATOMS name -> value
    ids: list[tuple[str, str, str]] = field(default_factory=list)  #: (kind, value, source)


def mvhd_created(payload: bytes) -> tuple[str | None, float | None]:
    """(creation time as written, ``YYYY-MM-DDTHH:MM:SS`` with no zone; duration in seconds)."""
    if len(payload) < 4:
        return None, None
    version = payload[0]
    fmt = ">QQIQ" if version == 1 else ">IIII"
    if len(payload) < 4 + struct.calcsize(fmt):
        return None, None
    created, _modified, scale, duration = struct.unpack_from(fmt, payload, 4)
    stamp = QT_EPOCH + timedelta(seconds=created) if 0 < created < _MAX_QT else None
    when = stamp.strftime("%Y-%m-%dT%H:%M:%S") if stamp is not None else None
    return when, (duration / scale if scale else None)


def parse_iso6709(text: str) -> tuple[float, float, float | None] | None:
    """(lat, lon, alt) in degrees and metres; None unless both coordinates parse and are on the globe."""
    m = _ISO6709.match(text.strip())
    if m is None:
        return None
    lat_sign, lat, lon_sign, lon, alt = m.groups()
    lat_deg, lon_deg = _sexagesimal(lat, 2), _sexagesimal(lon, 3)
    if lat_deg is None or lon_deg is None:
        return None
    lat_deg, lon_deg = lat_deg * (-1 if lat_sign == "-" else 1), lon_deg * (-1 if lon_sign == "-" else 1)
    if abs(lat_deg) > 90 or abs(lon_deg) > 180:
        return None
    return lat_deg, lon_deg, float(alt) if alt else None


def _sexagesimal(value: str, degree_digits: int) -> float | None:
    """ISO 6709: D..D[.d], DDMM[.m] or DDMMSS[.s], by the count of integer digits."""
    whole, _, frac = value.partition(".")
    number = float(value)
    fraction = float("0." + frac) if frac else 0.0
    if len(whole) == degree_digits:
        return number
    if len(whole) == degree_digits + 2:
        return int(whole[:degree_digits]) + (int(whole[degree_digits:]) + fraction) / 60
    if len(whole) == degree_digits + 4:
        minutes, seconds = int(whole[degree_digits : degree_digits + 2]), int(whole[degree_digits + 2 :])
        return int(whole[:degree_digits]) + minutes / 60 + (seconds + fraction) / 3600
    return None


def qt_text(payload: bytes) -> str:
    """A QuickTime user-data string: 2-byte length + 2-byte language + text, or a bare string."""
    if len(payload) >= 4:
        (length,) = struct.unpack(">H", payload[:2])
        if 0 < length <= len(payload) - 4:
            return _clean(payload[4 : 4 + length])
    return _clean(payload)


def _clean(raw: bytes) -> str:
    """Text up to the first NUL (fixed-width fields are NUL-padded)."""
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def udta_atom(kind: str, payload: bytes, data: UserData) -> None:
    """Record one ``udta`` child."""
    if kind == "©xyz":
        text = qt_text(payload)
        data.location_text = text
        data.location = parse_iso6709(text)
    elif kind in ("©mdl", "fsid", "FIRM"):
        if value := _clean(payload):
            data.texts.setdefault(TEXT_ATOMS[kind], value)
    elif kind in TEXT_ATOMS:
        if value := qt_text(payload):
            data.texts.setdefault(TEXT_ATOMS[kind], value)
    elif kind in ID_ATOMS:
        _id_atom(kind, payload, data)


def _id_atom(kind: str, payload: bytes, data: UserData) -> None:
    """Serial-like atoms; all-zero values (unset) are skipped."""
    if not payload.strip(b"\x00"):
        return
    ident, tag = ID_ATOMS[kind]
    text = _clean(payload)
    printable = text and all(0x20 <= ord(c) < 0x7F for c in text)
    value = text if kind == "LENS" and printable else payload.hex()
    data.ids.append((ident, value, f"MP4 udta {kind} (ExifTool: {tag})"))


@dataclass(frozen=True, slots=True)
class Fdsc:
    firmware: str
    serial: str
    other_serial: str
    model: str


def parse_fdsc(sample: bytes) -> Fdsc | None:
    """GoPro ``fdsc`` sample (only the ``GPRO`` variant has known offsets)."""
    if not sample.startswith(b"GPRO") or len(sample) < 0x66 + 16:
        return None
    return Fdsc(
        _clean(sample[0x08 : 0x08 + 15]),
        _clean(sample[0x17 : 0x17 + 16]),
        _clean(sample[0x57 : 0x57 + 15]),
        _clean(sample[0x66 : 0x66 + 16]),
    )


def subtitle_text(sample: bytes, sample_format: str) -> str:
    """The text of one ``tx3g``/``text`` sample: a 2-byte length then UTF-8 (style boxes follow)."""
    if sample_format in ("tx3g", "text", "") and len(sample) >= 2:
        (length,) = struct.unpack(">H", sample[:2])
        if length <= len(sample) - 2:
            return sample[2 : 2 + length].decode("utf-8", "replace")
    return sample.decode("utf-8", "replace").strip("\x00")


def srt_timestamp(seconds: float) -> str:
    """SubRip ``HH:MM:SS,mmm``."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d},{rest % 1000:03d}"


def as_srt(cues: list[tuple[float | None, str]]) -> bytes:
    """Subtitle samples (start time, text) as one SubRip document, so the SRT reader's rules apply."""
    lines: list[str] = []
    for i, (start, text) in enumerate(cues, start=1):
        begin = start or 0.0
        end = cues[i][0] if i < len(cues) and cues[i][0] is not None else begin + 1.0
        body = re.sub(r"\n\s*\n+", "\n", text.replace("\r\n", "\n")).strip() or " "
        lines += [str(i), f"{srt_timestamp(begin)} --> {srt_timestamp(end or begin)}", body, ""]
    return "\n".join(lines).encode("utf-8")
