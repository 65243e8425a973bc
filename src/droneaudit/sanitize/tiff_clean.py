"""Clean an EXIF/TIFF structure in place: remove entries, blank their bytes, never move anything.

Why in place: a TIFF structure is a web of absolute offsets — IFD chains, the Interop IFD, the IFD1
thumbnail, maker notes whose own entries point elsewhere in the segment, DNG strips and tiles tens of
megabytes away. Rebuilding it means re-deriving every one of those pointers, and one we do not know
about (a maker note, a vendor SubIFD) silently breaks. Editing in place keeps every offset valid:

* a removed entry is taken out of its IFD's table (the later entries and the next-IFD pointer move up
  12 bytes, the freed tail is zeroed) and its out-of-line value is overwritten with zeros, so the value
  survives nowhere — not even as unreferenced bytes, which ``exiftool -all=`` style "unlinking" leaves;
* the GPS IFD is unlinked from IFD0 and its table and values are zeroed;
* times are coarsened to the day by overwriting the clock digits (``2021:05:28 00:00:00``), so a tag
  that TIFF/EP or DNG require to exist (``DateTimeOriginal``) still exists, with a blank time;
* the IFD1 thumbnail is cleaned by the caller (it is a JPEG with its own segments) and written back at
  the same offset, shorter, with ``JPEGInterchangeFormatLength`` updated.

The structure is first walked with the inventory's own bounded walker (``readers/media/tiff.py``); a
structure it reports as damaged is refused (``Damaged``), because editing bytes we cannot place exactly
could corrupt the image.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from droneaudit.readers.media import tiff
from droneaudit.sanitize import xmp_clean
from droneaudit.sanitize.common import IDENTITY, LOCATION, TIME, Damaged, Options, Outcome, Removed

#: Cleans an embedded JPEG (the IFD1 thumbnail); returns the new bytes, or None to drop it.
Thumbnailer = Callable[[bytes, Options, Removed, str], bytes | None]

REMOVE, COARSEN, PATH = "remove", "coarsen", "path"
_LOC_ID = frozenset({LOCATION, IDENTITY})


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  #: ExifTool's tag name, used in the manifest
    classes: frozenset[str]
    action: str = REMOVE


def _r(name: str, *classes: str, action: str = REMOVE) -> Rule:
    return Rule(name, frozenset(classes), action)


#: Rules for IFD0 and for every other image IFD (IFD1, SubIFDs) of the same structure.
IMAGE_RULES: dict[int, Rule] = {
    0x010E: _r("ImageDescription", IDENTITY, action=PATH),
    0x0132: _r("ModifyDate", TIME, action=COARSEN),
    0x013B: _r("Artist", IDENTITY),
    0x83BB: Rule("IPTC-NAA", _LOC_ID),
    0x8649: Rule("PhotoshopSettings", _LOC_ID),
    0x9003: _r("DateTimeOriginal", TIME, action=COARSEN),  # TIFF/EP and DNG put it in IFD0
    0x9C9D: _r("XPAuthor", IDENTITY),
    0xC62F: _r("CameraSerialNumber", IDENTITY),
    0xC634: _r("DNGPrivateData", IDENTITY),
    0xC65D: _r("RawDataUniqueID", IDENTITY),
    0xC68B: _r("OriginalRawFileName", IDENTITY),
}
EXIF_RULES: dict[int, Rule] = {
    0x9003: _r("DateTimeOriginal", TIME, action=COARSEN),
    0x9004: _r("CreateDate", TIME, action=COARSEN),
    0x9010: _r("OffsetTime", TIME),
    0x9011: _r("OffsetTimeOriginal", TIME),
    0x9012: _r("OffsetTimeDigitized", TIME),
    0x9290: _r("SubSecTime", TIME),
    0x9291: _r("SubSecTimeOriginal", TIME),
    0x9292: _r("SubSecTimeDigitized", TIME),
    0x927C: _r("MakerNotes", IDENTITY),
    0xA420: _r("ImageUniqueID", IDENTITY),
    0xA430: _r("OwnerName", IDENTITY),
    0xA431: _r("SerialNumber", IDENTITY),
    0xA435: _r("LensSerialNumber", IDENTITY),
    0xA437: _r("Photographer", IDENTITY),
    0xA438: _r("ImageEditor", IDENTITY),
}
GPS_RULES: dict[int, Rule] = {0x0007: _r("GPSTimeStamp", TIME)}
GPS_NAMES = {
    0: "GPSVersionID", 1: "GPSLatitudeRef", 2: "GPSLatitude", 3: "GPSLongitudeRef", 4: "GPSLongitude",
    5: "GPSAltitudeRef", 6: "GPSAltitude", 7: "GPSTimeStamp", 8: "GPSSatellites", 9: "GPSStatus",
    10: "GPSMeasureMode", 11: "GPSDOP", 12: "GPSSpeedRef", 13: "GPSSpeed", 14: "GPSTrackRef", 15: "GPSTrack",
    16: "GPSImgDirectionRef", 17: "GPSImgDirection", 18: "GPSMapDatum", 19: "GPSDestLatitudeRef",
    20: "GPSDestLatitude", 21: "GPSDestLongitudeRef", 22: "GPSDestLongitude", 27: "GPSProcessingMethod",
    28: "GPSAreaInformation", 29: "GPSDateStamp", 30: "GPSDifferential", 31: "GPSHPositioningError",
}  # fmt: skip
#: GPS values searched for in the output after cleaning (latitude/longitude and their destinations).
GPS_SECRET_TAGS = frozenset({2, 4, 20, 22})
THUMB_OFFSET, THUMB_LENGTH, XMP_TAG = 0x0201, 0x0202, 700

_EXIF_TIME = re.compile(rb"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}")
_PATH_LIKE = re.compile(r"[\\/]|dcim|\.(?:jpe?g|dng|mp4|mov|srt)\b", re.IGNORECASE)
_PRINTABLE_RUN = re.compile(rb"[\x21-\x7e]{8,}")


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One 12-byte IFD entry as stored (the walker keeps only the first of a repeated tag)."""

    at: int  #: offset of the entry in the TIFF structure
    tag: int
    type: int
    count: int
    value_at: int  #: where the value lives (inline: at + 8)
    size: int  #: bytes of value (0 for unknown types)

    @property
    def inline(self) -> bool:
        return self.size <= 4


class _Editor:
    """Collects the edits for one TIFF structure, then applies them in an order that keeps offsets valid."""

    def __init__(self, buf: bytearray, walked: tiff.Tiff, opts: Options, removed: Removed, where: str):
        self.buf, self.walked, self.opts, self.removed, self.where = buf, walked, opts, removed, where
        self.endian = "<" if walked.byte_order == "II" else ">"
        self.drop: dict[int, set[int]] = {}  #: IFD offset → entry offsets to take out of its table
        self.blank: list[tuple[int, int]] = []  #: byte ranges to zero
        self.keep: list[tuple[int, int]] = []  #: value ranges of entries that stay

    def entries(self, ifd: tiff.Ifd) -> list[RawEntry]:
        (count,) = struct.unpack(self.endian + "H", self.buf[ifd.offset : ifd.offset + 2])
        out = []
        for i in range(count):
            at = ifd.offset + 2 + 12 * i
            tag, typ, n = struct.unpack(self.endian + "HHI", self.buf[at : at + 8])
            size = tiff.TYPE_SIZES.get(typ, 0) * n
            value_at = (
                at + 8 if size <= 4 else struct.unpack(self.endian + "I", self.buf[at + 8 : at + 12])[0]
            )
            out.append(RawEntry(at, tag, typ, n, value_at, size))
        return out

    def value(self, entry: RawEntry) -> bytes:
        return bytes(self.buf[entry.value_at : entry.value_at + entry.size])

    def remove(self, ifd: tiff.Ifd, entry: RawEntry, label: str, *, secret: bool = False) -> None:
        self.drop.setdefault(ifd.offset, set()).add(entry.at)
        if not entry.inline:
            self.blank.append((entry.value_at, entry.value_at + entry.size))
        self.removed.add(f"{self.where} {label}", self.value(entry), secret=secret)

    def apply(self) -> None:
        """Zero removed values (never bytes a kept entry still uses), then compact the IFD tables."""
        keep = sorted(self.keep)
        for start, end in self.blank:
            for lo, hi in _minus(start, min(end, len(self.buf)), keep):
                self.buf[lo:hi] = bytes(hi - lo)
        for ifd_offset, gone in self.drop.items():
            self._compact(ifd_offset, gone)

    def _compact(self, ifd_offset: int, gone: set[int]) -> None:
        (count,) = struct.unpack(self.endian + "H", self.buf[ifd_offset : ifd_offset + 2])
        table_end = ifd_offset + 2 + 12 * count
        kept = [
            bytes(self.buf[at : at + 12]) for at in range(ifd_offset + 2, table_end, 12) if at not in gone
        ]
        next_ifd = bytes(self.buf[table_end : table_end + 4])
        new = struct.pack(self.endian + "H", len(kept)) + b"".join(kept) + next_ifd
        self.buf[ifd_offset : table_end + 4] = new.ljust(table_end + 4 - ifd_offset, b"\x00")


def _minus(start: int, end: int, keep: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) with every kept range cut out."""
    out, lo = [], start
    for k_lo, k_hi in keep:
        if k_hi <= lo or k_lo >= end:
            continue
        if k_lo > lo:
            out.append((lo, k_lo))
        lo = max(lo, k_hi)
    if lo < end:
        out.append((lo, end))
    return out


def clean_structure(
    buf: bytearray,
    opts: Options,
    removed: Removed,
    *,
    where: str = "EXIF",
    sub_ifds: bool = False,
    thumbnail: Thumbnailer | None = None,
) -> None:
    """Clean the TIFF structure held in ``buf`` (offset 0 = the TIFF header) in place."""
    walked = tiff.walk(tiff.BytesSource(bytes(buf)), 0, sub_ifds=sub_ifds)
    if walked.issues or "IFD0" not in walked.ifds:
        first = walked.issues[0].detail if walked.issues else "no IFD0"
        raise Damaged(f"{where}: TIFF structure is damaged ({first})")
    ed = _Editor(buf, walked, opts, removed, where)
    plan = [(ifd, IMAGE_RULES) for name, ifd in walked.ifds.items() if name in ("IFD0", "IFD1")]
    plan += [(ifd, IMAGE_RULES) for ifd in walked.sub_ifds]
    if "ExifIFD" in walked.ifds:
        plan.append((walked.ifds["ExifIFD"], EXIF_RULES))
    gps = walked.ifds.get("GPS")
    if gps is not None and opts.removes(LOCATION):
        _drop_gps(ed, gps)
    elif gps is not None:
        plan.append((gps, GPS_RULES))
    for ifd, rules in plan:
        _apply_rules(ed, ifd, rules)
    if thumbnail is not None and "IFD1" in walked.ifds:
        _thumbnail(ed, walked.ifds["IFD1"], thumbnail)
    if sub_ifds:
        _tiff_xmp(ed, walked.ifds["IFD0"])
    ed.apply()
    if tiff.walk(tiff.BytesSource(bytes(buf)), 0, sub_ifds=sub_ifds).issues:
        raise Damaged(f"{where}: the edited structure does not walk cleanly (not kept)")


def _drop_gps(ed: _Editor, gps: tiff.Ifd) -> None:
    """Unlink the GPS IFD from IFD0 and blank its table and every value it points to."""
    ifd0 = ed.walked.ifds["IFD0"]
    for entry in ed.entries(ifd0):
        if entry.tag == tiff.GPS_IFD_POINTER:
            ed.drop.setdefault(ifd0.offset, set()).add(entry.at)
    entries = ed.entries(gps)
    for entry in entries:
        name = GPS_NAMES.get(entry.tag, f"GPS tag 0x{entry.tag:04x}")
        ed.removed.add(f"{ed.where} GPS:{name}", ed.value(entry), secret=entry.tag in GPS_SECRET_TAGS)
        if not entry.inline:
            ed.blank.append((entry.value_at, entry.value_at + entry.size))
    ed.blank.append((gps.offset, gps.offset + 2 + 12 * len(entries) + 4))


def _apply_rules(ed: _Editor, ifd: tiff.Ifd, rules: dict[int, Rule]) -> None:
    label = ifd.name
    entries = ed.entries(ifd)
    ed.keep.append((ifd.offset, ifd.offset + 2 + 12 * len(entries) + 4))  # a hostile value may overlap it
    for entry in entries:
        rule = rules.get(entry.tag)
        if rule is None or not ed.opts.removes(*rule.classes) or not _acts(ed, entry, rule):
            ed.keep.append((entry.value_at, entry.value_at + entry.size))
            continue
        if rule.action == COARSEN and _coarsen(ed, entry):
            ed.removed.add(f"{ed.where} {label}:{rule.name} (time of day)")
            ed.keep.append((entry.value_at, entry.value_at + entry.size))
            continue
        ed.remove(ifd, entry, f"{label}:{rule.name}", secret=IDENTITY in rule.classes)
        if entry.tag == 0x927C:
            _maker_note_secrets(ed, entry)


def _acts(ed: _Editor, entry: RawEntry, rule: Rule) -> bool:
    """A PATH rule only fires on values that look like an SD-card path (``DCIM\\100MEDIA\\…``)."""
    if rule.action != PATH:
        return True
    text = ed.value(entry).split(b"\x00", 1)[0].decode("utf-8", "replace")
    return _PATH_LIKE.search(text) is not None


def _coarsen(ed: _Editor, entry: RawEntry) -> bool:
    """Overwrite the clock of an EXIF ``YYYY:MM:DD HH:MM:SS`` value with zeros; False if it is not one."""
    raw = ed.value(entry)
    if entry.type != 2 or _EXIF_TIME.match(raw) is None:
        return False
    ed.buf[entry.value_at + 11 : entry.value_at + 19] = b"00:00:00"
    tail = entry.value_at + 19
    end = entry.value_at + entry.size
    ed.buf[tail:end] = bytes(end - tail)  # fractional seconds or a zone some writers append
    return True


def _maker_note_secrets(ed: _Editor, entry: RawEntry) -> None:
    """Maker notes are opaque; the text runs inside them (DJI: ``[sensor_id:1W9DH8R000003K``) must go."""
    for run in _PRINTABLE_RUN.findall(ed.value(entry)):
        if any(48 <= c <= 57 for c in run):
            ed.removed.secrets.add(run)


def _thumbnail(ed: _Editor, ifd1: tiff.Ifd, clean: Thumbnailer) -> None:
    """Clean the IFD1 JPEG thumbnail and write it back at the same offset (it can only get shorter)."""
    entries = {e.tag: e for e in ed.entries(ifd1)}
    start_e, length_e = entries.get(THUMB_OFFSET), entries.get(THUMB_LENGTH)
    if start_e is None or length_e is None:
        return
    start, length = _int(ed, start_e), _int(ed, length_e)
    if start is None or length is None or start + length > len(ed.buf):
        raise Damaged(f"{ed.where}: IFD1 thumbnail runs past the Exif data")
    new = clean(bytes(ed.buf[start : start + length]), ed.opts, ed.removed, f"{ed.where} IFD1 thumbnail")
    if new is None or len(new) > length:
        ed.remove(ifd1, start_e, "IFD1:ThumbnailOffset")
        ed.remove(ifd1, length_e, "IFD1:ThumbnailLength")
        ed.blank.append((start, start + length))
        return
    ed.buf[start : start + length] = new.ljust(length, b"\x00")
    fmt = ed.endian + ("H" if length_e.type == 3 else "I")
    ed.buf[length_e.value_at : length_e.value_at + struct.calcsize(fmt)] = struct.pack(fmt, len(new))
    ed.keep.append((start, start + len(new)))


def _int(ed: _Editor, entry: RawEntry) -> int | None:
    if entry.type not in (3, 4) or entry.count != 1:
        return None
    fmt = ed.endian + ("H" if entry.type == 3 else "I")
    return int(struct.unpack(fmt, ed.buf[entry.value_at : entry.value_at + struct.calcsize(fmt)])[0])


def _tiff_xmp(ed: _Editor, ifd0: tiff.Ifd) -> None:
    """TIFF/DNG tag 700: clean the packet, write it back in place with the freed bytes as XMP padding."""
    entry = next((e for e in ed.entries(ifd0) if e.tag == XMP_TAG and not e.inline), None)
    if entry is None:
        return
    result = xmp_clean.clean_packet(ed.value(entry), ed.opts, ed.removed)
    if result is None:
        ed.remove(ifd0, entry, "IFD0:XMP (damaged packet)")
        return
    ed.buf[entry.value_at : entry.value_at + entry.size] = xmp_clean.pad_to(result, entry.size)
    ed.keep.append((entry.value_at, entry.value_at + entry.size))


def clean_file(data: bytes, opts: Options, thumbnail: Thumbnailer | None = None) -> Outcome:
    """A whole DNG/TIFF file: same size and layout as the input, metadata blanked in place."""
    buf = bytearray(data)
    if tiff.read_header(tiff.BytesSource(data[:8])) is None:
        raise Damaged("not a classic TIFF header (BigTIFF is not supported)")
    removed = Removed()
    clean_structure(buf, opts, removed, where="TIFF", sub_ifds=True, thumbnail=thumbnail)
    walked = tiff.walk(tiff.BytesSource(data), 0)
    fmt = "dng" if 0xC612 in walked.ifd("IFD0").entries else "tiff"
    removed.note("image data, strips/tiles and SubIFD previews are unchanged (edited in place)")
    return Outcome(bytes(buf), fmt, removed)
