"""The FLIR 'FFF' record that Zenmuse XT/XT2/XTR R-JPEGs carry in APP1 ``FLIR`` segments: keep the
radiometry, blank the few identifying fields in place.

Why in place and field by field: the FFF record is the temperature data (a raw 16-bit frame plus the
Planck and atmospheric constants needed to turn it into degrees). It is split over up to 256 APP1
chunks of at most 64 KiB, and its record directory holds absolute offsets into the joined data, so any
change of length would have to be mirrored in every chunk header and directory entry. Blanking a
fixed-width string field with zeros changes no length: the chunks stay the same size and, when the
fields were already empty (the XT2 sample), byte-identical.

Fields follow ExifTool's ``FLIR.pm`` tables (CameraInfo record 0x20, GPSInfo record 0x2b). What is
edited: the camera, lens and filter serial numbers (identity), the GPSInfo record (location, zeroed
whole, which also clears ``GPSValid``), and DateTimeOriginal (time: cut to midnight of its day). What
stays is said in the manifest: the raw frame, calibration constants, camera/lens/filter models and part
numbers (they name a product, not a unit).
"""

from __future__ import annotations

import struct

from droneaudit.sanitize.common import IDENTITY, LOCATION, TIME, Options, Removed

SIGNATURE = b"FLIR\x00"
CHUNK_HEADER = 8  #: "FLIR\0", 0x01, chunk number, number of the last chunk
CAMERA_INFO, GPS_INFO = 0x20, 0x2B
#: (offset in the CameraInfo record, width, ExifTool name)
SERIALS = (
    (0x104, 16, "CameraSerialNumber"),
    (0x1A0, 16, "LensSerialNumber"),
    (0x21C, 32, "FilterSerialNumber"),
)
TIME_FIELD = 0x384
MAX_RECORDS = 1024
KEPT = (
    "FLIR FFF record kept: raw thermal frame, Planck and atmospheric constants, emissivity and distance, "
    "camera/lens/filter model and part numbers"
)


def is_flir(body: bytes) -> bool:
    return body.startswith(SIGNATURE) and len(body) >= CHUNK_HEADER


def clean(bodies: list[bytes], opts: Options, removed: Removed) -> list[bytes]:
    """The FLIR APP1 payloads (in file order) with identifying fields blanked; same sizes as given."""
    order = _chunk_order(bodies)
    if order is None:
        removed.note("FLIR FFF record kept unparsed (chunk numbers inconsistent): serials inside not checked")
        return bodies
    joined = bytearray(b"".join(bodies[i][CHUNK_HEADER:] for i in order))
    if not _edit(joined, opts, removed):
        removed.note("FLIR FFF record kept unparsed (no FFF directory): serials inside not checked")
        return bodies
    out = list(bodies)
    pos = 0
    for i in order:
        size = len(bodies[i]) - CHUNK_HEADER
        out[i] = bodies[i][:CHUNK_HEADER] + bytes(joined[pos : pos + size])
        pos += size
    time_note = "" if opts.removes(TIME) else ", capture time (DateTimeOriginal)"
    removed.note(KEPT + time_note)
    return out


def _chunk_order(bodies: list[bytes]) -> list[int] | None:
    """Indexes of ``bodies`` sorted by chunk number, or None unless the numbers are exactly 0..n-1."""
    numbers = [b[6] for b in bodies]
    if sorted(numbers) != list(range(len(bodies))) or any(b[7] != len(bodies) - 1 for b in bodies):
        return None
    return sorted(range(len(bodies)), key=lambda i: numbers[i])


def _edit(fff: bytearray, opts: Options, removed: Removed) -> bool:
    """Walk the FFF record directory and blank what the profile removes; False when it is not an FFF."""
    if len(fff) < 0x40 or fff[:4] != b"FFF\x00":
        return False
    endian = _byte_order(fff)
    if endian is None:
        return False
    directory, count = struct.unpack(endian + "II", fff[0x18:0x20])
    if count > MAX_RECORDS or directory + count * 0x20 > len(fff):
        return False
    for i in range(count):
        entry = directory + i * 0x20
        kind = struct.unpack(endian + "H", fff[entry : entry + 2])[0]
        start, length = struct.unpack(endian + "II", fff[entry + 0x0C : entry + 0x14])
        if kind not in (CAMERA_INFO, GPS_INFO) or start + length > len(fff):
            continue
        record = memoryview(fff)[start : start + length]
        changed = _camera_info(record, endian, opts, removed) if kind == CAMERA_INFO else False
        if kind == GPS_INFO and opts.removes(LOCATION):
            changed = _gps_info(record, removed)
        if changed:
            fff[entry + 0x1C : entry + 0x20] = bytes(4)  # checksum 0 = "not checked" (ExifTool ref 3)
    return True


def _byte_order(fff: bytearray) -> str | None:
    """FFF version (100–199) decides the byte order, as ExifTool does."""
    for endian in (">", "<"):
        if 100 <= struct.unpack(endian + "I", fff[0x14:0x18])[0] < 200:
            return endian
    return None


def _camera_info(record: memoryview, endian: str, opts: Options, removed: Removed) -> bool:
    changed = False
    if opts.removes(IDENTITY):
        for offset, width, name in SERIALS:
            field = bytes(record[offset : offset + width])
            if len(field) == width and field.strip(b"\x00"):
                removed.add(f"FLIR CameraInfo:{name}", field.split(b"\x00", 1)[0], secret=True)
                record[offset : offset + width] = bytes(width)
                changed = True
    if opts.removes(TIME) and len(record) >= TIME_FIELD + 10:
        changed = _coarsen_time(record, endian, removed) or changed
    return changed


def _coarsen_time(record: memoryview, endian: str, removed: Removed) -> bool:
    """DateTimeOriginal: Unix seconds, then milliseconds, then a zone; keep the day, zero the rest."""
    if struct.unpack(endian + "H", record[0:2])[0] >= 0x100:  # the record's own byte order (ExifTool)
        endian = "<" if endian == ">" else ">"
    seconds, fraction = struct.unpack(endian + "II", record[TIME_FIELD : TIME_FIELD + 8])
    day = seconds - seconds % 86400
    if (day, 0) == (seconds, fraction):
        return False
    record[TIME_FIELD : TIME_FIELD + 8] = struct.pack(endian + "II", day, 0)
    removed.add("FLIR CameraInfo:DateTimeOriginal (time of day)")
    return True


def _gps_info(record: memoryview, removed: Removed) -> bool:
    """The whole GPSInfo record (validity flag, refs, latitude/longitude doubles, altitude…) becomes zeros."""
    if not bytes(record).strip(b"\x00"):
        return False
    if len(record) >= 0x20:
        removed.add("FLIR GPSInfo:GPSLatitude", bytes(record[0x10:0x18]), secret=True)
        removed.add("FLIR GPSInfo:GPSLongitude", bytes(record[0x18:0x20]), secret=True)
    else:
        removed.add("FLIR GPSInfo")
    record[:] = bytes(len(record))
    return True
