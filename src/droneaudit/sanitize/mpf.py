"""Multi-Picture Format (CIPA DC-007): clean the images appended after the main JPEG and rewrite the index.

Why it needs care: the MP Entry list (tag 0xB002 in the APP2 ``MPF`` segment) gives each image's size and
its offset *relative to the MPF header inside APP2*. When an earlier segment shrinks — the XMP packet
loses properties, APP7 DJI-DBG is dropped, ``--drop-thermal`` removes 700 kB — every secondary image
moves, and a stale offset makes the DJI VGA preview unreadable (or, worse, points a viewer at thermal
bytes). The preview itself is a full JPEG that may carry its own Exif and XMP, so it is cleaned with the
same rules as the main image. The entry for the main image gets its true size (SOI to EOI). Bytes after
the main image that the index does not name are dropped: a trailer is metadata we cannot check.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from droneaudit.readers.media import tiff
from droneaudit.readers.media.jpeg import MPF_ENTRIES, MPF_SIG
from droneaudit.sanitize.common import Damaged, Options, Removed

if TYPE_CHECKING:
    from droneaudit.sanitize.jpeg import Parsed, Segment

#: Cleans one embedded JPEG at a nesting depth: (data, options, removed, depth) → new bytes.
ImageCleaner = Callable[[bytes, Options, Removed, int], bytes]
ENTRY_SIZE = 16


def read_index(body: bytes) -> tuple[str, int, list[tuple[int, int]]] | None:
    """(byte order, offset of the entry list in the body, [(size, offset)] per image) of an MPF segment."""
    index = tiff.walk(tiff.BytesSource(body[len(MPF_SIG) :]), 0)
    entry = index.ifd("IFD0").entries.get(MPF_ENTRIES)
    if entry is None or not isinstance(entry.value, bytes) or len(entry.value) % ENTRY_SIZE:
        return None
    endian = "<" if index.byte_order == "II" else ">"
    raw = entry.value
    images = [struct.unpack(endian + "II", raw[i + 4 : i + 12]) for i in range(0, len(raw), ENTRY_SIZE)]
    return endian, len(MPF_SIG) + entry.offset, [(int(s), int(o)) for s, o in images]


def assemble(
    data: bytes, parsed: Parsed, segs: list[Segment], opts: Options, removed: Removed, clean: ImageCleaner
) -> bytes:
    """The output file: cleaned main image, cleaned MPF images after it, MPF index rewritten."""
    main = b"\xff\xd8" + b"".join(s.encode() for s in segs) + parsed.image
    at = next((i for i, s in enumerate(segs) if s.marker == 0xE2 and s.body.startswith(MPF_SIG)), None)
    index = read_index(segs[at].body) if at is not None else None
    if at is None or index is None or len(index[2]) < 2:
        _note_trailer(data, parsed.end, [], removed)
        return main
    endian, list_at, images = index
    base_in = segs[at].at + 4 + len(MPF_SIG)
    placed = _secondary(data, parsed.end, base_in, images, opts, removed, clean)
    out = bytearray(main)
    new_offsets: dict[int, tuple[int, int]] = {0: (len(main), 0)}
    base_out = 2 + sum(len(s.encode()) for s in segs[:at]) + 4 + len(MPF_SIG)
    for i, blob in placed:
        new_offsets[i] = (len(blob), len(out) - base_out)
        out += blob
    for i, (size, offset) in new_offsets.items():
        where = base_out - len(MPF_SIG) + list_at + i * ENTRY_SIZE + 4
        out[where : where + 8] = struct.pack(endian + "II", size, offset)
    return bytes(out)


def _secondary(
    data: bytes,
    end: int,
    base: int,
    images: list[tuple[int, int]],
    opts: Options,
    removed: Removed,
    clean: ImageCleaner,
) -> list[tuple[int, bytes]]:
    """(entry number, cleaned bytes) for images 2…n, in file order; ``Damaged`` if one lies outside."""
    spans: list[tuple[int, int, int]] = []
    for i, (size, offset) in enumerate(images[1:], start=1):
        if size == 0 and offset == 0:
            continue
        start = base + offset
        if start < end or start + size > len(data):
            raise Damaged(f"MPF image {i + 1} (offset {offset}, {size} bytes) lies outside the file")
        spans.append((start, start + size, i))
    spans.sort()
    if any(a[1] > b[0] for a, b in itertools.pairwise(spans)):
        raise Damaged("MPF images overlap")
    _note_trailer(data, end, [(s, e) for s, e, _ in spans], removed)
    placed = []
    for start, stop, i in spans:
        sub = Removed()
        placed.append((i, clean(data[start:stop], opts, sub, 1)))
        removed.merge(sub, f"MPF image {i + 1}: ")
    return placed


def _note_trailer(data: bytes, end: int, spans: list[tuple[int, int]], removed: Removed) -> None:
    """Record bytes after the main image that no MPF entry covers (they are not copied)."""
    loose, pos = 0, end
    for start, stop in [*spans, (len(data), len(data))]:
        loose += len(data[pos:start].strip(b"\x00"))
        pos = max(pos, stop)
    if loose:
        removed.add(f"trailer after the image ({loose} bytes not indexed by MPF)")
