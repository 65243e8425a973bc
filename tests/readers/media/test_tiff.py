"""The bounded TIFF/EXIF walker: both byte orders, pointer IFDs, and hostile structures.

TIFF data is written here by a tiny writer made from the TIFF 6.0 layout (header, IFDs of 12-byte
entries, values inline when they fit in 4 bytes), so every expected value is one the test wrote.
The same writer builds the Exif payloads of the synthetic JPEGs and the synthetic DNGs.
"""

from __future__ import annotations

import io
import math
import random
import struct
import time
from dataclasses import dataclass, field

import pytest

from droneaudit.readers.media import tiff

ASCII, BYTE, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL, DOUBLE = 2, 1, 3, 4, 5, 7, 10, 12
_FORMATS = {SHORT: "H", LONG: "I", DOUBLE: "d"}


@dataclass(frozen=True)
class Ref:
    """A pointer to another block of the same TIFF (resolved to its offset when written)."""

    name: str


@dataclass
class Block:
    """One IFD to write: (tag, type, value) entries and the name of the next IFD in the chain."""

    entries: list[tuple[int, int, object]]
    next: str | None = None


@dataclass
class Built:
    data: bytes
    offsets: dict[str, int] = field(default_factory=dict)  #: block name → IFD offset
    tags: dict[str, list[int]] = field(default_factory=dict)  #: block name → its tags, as written

    def next_field(self, name: str) -> int:
        """Offset of the 4-byte next-IFD pointer of ``name``."""
        return self.offsets[name] + 2 + 12 * len(self.tags[name])

    def entry_field(self, name: str, tag: int) -> int:
        """Offset of the 12-byte entry for ``tag`` in block ``name`` (entries are written sorted)."""
        return self.offsets[name] + 2 + 12 * self.tags[name].index(tag)


def rationals(*values: float, den: int = 1_000_000) -> tuple[tuple[int, int], ...]:
    return tuple((round(v * den), den) for v in values)


def dms(degrees: float) -> tuple[tuple[int, int], ...]:
    """Degrees → (deg/1, min/1, sec/10000) rationals, the way cameras write them."""
    d = int(degrees)
    m = int((degrees - d) * 60)
    s = round(((degrees - d) * 60 - m) * 60 * 10000)
    return ((d, 1), (m, 1), (s, 10000))


def _encode(typ: int, value: object, order: str, offsets: dict[str, int]) -> tuple[bytes, int]:
    """The bytes of one value and its count."""
    if isinstance(value, Ref):
        value = (value,)
    if typ == ASCII:
        assert isinstance(value, str)
        raw = value.encode() + b"\x00"
        return raw, len(raw)
    if typ in (BYTE, UNDEFINED):
        assert isinstance(value, bytes)
        return value, len(value)
    assert isinstance(value, tuple)
    if typ in (RATIONAL, SRATIONAL):
        code = "I" if typ == RATIONAL else "i"
        flat = [n for pair in value for n in pair]
        return struct.pack(f"{order}{len(flat)}{code}", *flat), len(value)
    items = [offsets[v.name] if isinstance(v, Ref) else v for v in value]
    return struct.pack(f"{order}{len(items)}{_FORMATS[typ]}", *items), len(items)


def _block_size(block: Block) -> int:
    size = 2 + 12 * len(block.entries) + 4
    for _tag, typ, value in block.entries:
        raw, _ = _encode(typ, value, "<", _Zero())
        if len(raw) > 4:
            size += len(raw) + (len(raw) & 1)
    return size


class _Zero(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 0


def build_tiff(blocks: dict[str, Block], order: str = "<", pad: int = 0) -> Built:
    """Header, ``pad`` zero bytes, then each block (IFD + its out-of-line values) in the given order."""
    built = Built(b"")
    at = 8 + pad
    for name, block in blocks.items():
        built.offsets[name] = at
        built.tags[name] = sorted(tag for tag, _, _ in block.entries)
        at += _block_size(block)
    out = bytearray(b"II*\x00" if order == "<" else b"MM\x00*")
    out += struct.pack(order + "I", built.offsets[next(iter(blocks))]) + bytes(pad)
    for name, block in blocks.items():
        out += _ifd(block, built.offsets[name], order, built.offsets)
    built.data = bytes(out)
    return built


def _ifd(block: Block, at: int, order: str, offsets: dict[str, int]) -> bytes:
    entries = sorted(block.entries, key=lambda e: e[0])
    head = bytearray(struct.pack(order + "H", len(entries)))
    data = bytearray()
    data_at = at + 2 + 12 * len(entries) + 4
    for tag, typ, value in entries:
        raw, count = _encode(typ, value, order, offsets)
        if len(raw) <= 4:
            head += struct.pack(order + "HHI", tag, typ, count) + raw.ljust(4, b"\x00")
        else:
            head += struct.pack(order + "HHII", tag, typ, count, data_at + len(data))
            data += raw + b"\x00" * (len(raw) & 1)
    head += struct.pack(order + "I", offsets[block.next] if block.next else 0)
    return bytes(head + data)


def gps_block(lat: float, lon: float, alt: float | None = None, alt_ref: int = 0) -> Block:
    entries: list[tuple[int, int, object]] = [
        (0, BYTE, b"\x02\x03\x00\x00"),
        (1, ASCII, "S" if lat < 0 else "N"),
        (2, RATIONAL, dms(abs(lat))),
        (3, ASCII, "W" if lon < 0 else "E"),
        (4, RATIONAL, dms(abs(lon))),
    ]
    if alt is not None:
        entries += [(5, BYTE, bytes([alt_ref])), (6, RATIONAL, rationals(alt, den=1000))]
    return Block(entries)


def photo_tiff(
    order: str = "<", gps: Block | None = None, exif_extra: list[tuple[int, int, object]] | None = None
) -> Built:
    """IFD0 (Make/Model) → ExifIFD (DateTimeOriginal, SerialNumber) + GPS IFD, and an IFD1."""
    ifd0: list[tuple[int, int, object]] = [(0x010F, ASCII, "DJI"), (0x0110, ASCII, "FC7303")]
    blocks = {"IFD0": Block(ifd0, next="IFD1")}
    ifd0.append((0x8769, LONG, Ref("ExifIFD")))
    blocks["ExifIFD"] = Block([(0x9003, ASCII, "2021:05:28 10:33:46"), (0xA431, ASCII, "1SFOJ1T0AB0KRQ")])
    blocks["ExifIFD"].entries += exif_extra or []
    if gps is not None:
        ifd0.append((0x8825, LONG, Ref("GPS")))
        blocks["GPS"] = gps
    blocks["IFD1"] = Block([(0x0103, SHORT, (6,))])
    return build_tiff(blocks, order)


def walk_bytes(data: bytes, base: int = 0) -> tiff.Tiff:
    return tiff.walk(tiff.BytesSource(data), base)


def codes(walked: tiff.Tiff) -> set[str]:
    return {issue.code for issue in walked.issues}


@pytest.mark.parametrize("order", ["<", ">"])
def test_both_byte_orders_read_the_same_values(order: str) -> None:
    walked = walk_bytes(photo_tiff(order, gps_block(-33.85, 151.2, 12.5)).data)
    assert walked.byte_order == ("II" if order == "<" else "MM")
    assert walked.issues == []
    assert set(walked.ifds) == {"IFD0", "ExifIFD", "GPS", "IFD1"}
    assert walked.ifd("IFD0").text(0x010F) == "DJI"
    assert walked.ifd("ExifIFD").text(0xA431) == "1SFOJ1T0AB0KRQ"
    gps = walked.ifd("GPS")
    assert gps.text(1) == "S"
    lat = gps.numbers(2)
    assert lat is not None and lat[0] == 33 and lat[1] == 51
    assert gps.numbers(6) == (12.5,)
    assert gps.first_int(0) == 2
    assert walked.ifd("IFD1").first_int(0x0103) == 6


def test_zero_denominator_is_nan_not_an_error() -> None:
    gps = Block([(2, RATIONAL, ((40, 0), (0, 0), (0, 1)))])
    walked = walk_bytes(photo_tiff(gps=gps).data)
    values = walked.ifd("GPS").numbers(2)
    assert values is not None and math.isnan(values[0]) and values[2] == 0.0


def test_signed_and_double_types() -> None:
    blocks = {"IFD0": Block([(0x9204, SRATIONAL, ((-1, 3),)), (0x1234, DOUBLE, (1.5, -2.25))])}
    walked = walk_bytes(build_tiff(blocks, ">").data)
    assert walked.ifd("IFD0").numbers(0x9204) == (pytest.approx(-1 / 3),)
    assert walked.ifd("IFD0").numbers(0x1234) == (1.5, -2.25)


@pytest.mark.parametrize(
    ("patch_name", "target"),
    [("IFD0", "IFD0"), ("IFD1", "IFD0"), ("IFD1", "IFD1")],
    ids=["ifd0-to-itself", "ifd1-back-to-ifd0", "ifd1-to-itself"],
)
def test_looping_next_pointer_is_refused_at_once(patch_name: str, target: str) -> None:
    built = photo_tiff(gps=gps_block(1.0, 2.0))
    data = bytearray(built.data)
    struct.pack_into("<I", data, built.next_field(patch_name), built.offsets[target])
    started = time.perf_counter()
    walked = walk_bytes(bytes(data), base=100)
    assert time.perf_counter() - started < 1.0
    assert "ifd-loop" in codes(walked)
    assert walked.ifd("IFD0").text(0x010F) == "DJI"
    loop = next(i for i in walked.issues if i.code == "ifd-loop")
    assert loop.offset == 100 + built.offsets[target]


def test_exif_pointer_back_to_ifd0_is_a_loop() -> None:
    blocks = {"IFD0": Block([(0x010F, ASCII, "DJI"), (0x8769, LONG, Ref("IFD0"))])}
    walked = walk_bytes(build_tiff(blocks).data)
    assert "ifd-loop" in codes(walked)
    assert "ExifIFD" not in walked.ifds


def test_huge_count_is_refused_without_allocation() -> None:
    built = build_tiff({"IFD0": Block([(0x010F, ASCII, "DJI"), (0x9999, DOUBLE, (1.0,))])})
    data = bytearray(built.data)
    struct.pack_into("<I", data, built.entry_field("IFD0", 0x9999) + 4, 0x3FFF_FFFF)  # count of the DOUBLE
    walked = walk_bytes(bytes(data))
    assert "tiff-value-out-of-bounds" in codes(walked)
    entry = walked.ifd("IFD0").entries[0x9999]
    assert entry.value is None and entry.count == 0x3FFF_FFFF
    assert walked.ifd("IFD0").text(0x010F) == "DJI"


def test_entry_count_over_the_limit_is_refused() -> None:
    data = b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", tiff.MAX_ENTRIES + 1) + bytes(64)
    walked = walk_bytes(data)
    assert codes(walked) == {"ifd-entry-count"}
    assert walked.ifds == {}


def test_pointer_outside_the_data_is_a_problem() -> None:
    built = photo_tiff(gps=gps_block(1.0, 2.0))
    data = bytearray(built.data)
    struct.pack_into("<I", data, built.entry_field("IFD0", 0x8825) + 8, 0x7FFF_0000)
    walked = walk_bytes(bytes(data))
    assert "ifd-bad-offset" in codes(walked)
    assert "GPS" not in walked.ifds and "ExifIFD" in walked.ifds


def test_truncated_ifd_keeps_the_entries_before_the_cut() -> None:
    built = build_tiff(
        {"IFD0": Block([(0x010F, ASCII, "DJI"), (0x0112, SHORT, (1,)), (0x0128, SHORT, (2,))])}
    )
    cut = built.entry_field("IFD0", 0x0128) + 5
    walked = walk_bytes(built.data[:cut])
    assert "ifd-truncated" in codes(walked)
    assert walked.ifd("IFD0").first_int(0x0112) == 1
    assert 0x0128 not in walked.ifd("IFD0").entries


def test_not_a_tiff_header() -> None:
    assert codes(walk_bytes(b"GIF89a" + bytes(20))) == {"tiff-bad-header"}
    assert codes(walk_bytes(b"")) == {"tiff-bad-header"}


def test_file_source_reads_ifds_beyond_its_cached_head() -> None:
    built = build_tiff(
        {
            "IFD0": Block([(0x010F, ASCII, "DJI"), (0x8769, LONG, Ref("ExifIFD"))]),
            "ExifIFD": Block([(0xA431, ASCII, "SERIAL-FAR-AWAY")]),
        },
        pad=200_000,
    )
    assert built.offsets["IFD0"] > tiff.FileSource.HEAD
    walked = tiff.walk(tiff.FileSource(io.BytesIO(built.data), len(built.data)))
    assert walked.ifd("ExifIFD").text(0xA431) == "SERIAL-FAR-AWAY"


def test_sub_ifds_are_followed_only_on_request() -> None:
    blocks = {
        "IFD0": Block([(0x00FE, LONG, (0,)), (0x014A, LONG, (Ref("P1"), Ref("P2")))]),
        "P1": Block([(0x00FE, LONG, (1,)), (0x0103, SHORT, (7,))]),
        "P2": Block([(0x00FE, LONG, (1,))]),
    }
    data = build_tiff(blocks).data
    assert walk_bytes(data).sub_ifds == []
    walked = tiff.walk(tiff.BytesSource(data), sub_ifds=True)
    assert [sub.first_int(0x0103) for sub in walked.sub_ifds] == [7, None]


def test_random_damage_never_raises() -> None:
    """Seeded mutation fuzz: flipped, cut and overwritten bytes give issues, never an exception."""
    good = photo_tiff(">", gps_block(10.0, 20.0, 5.0)).data
    rng = random.Random(20240528)
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.choice((0, 0xFF, rng.randrange(256)))
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        walked = tiff.walk(tiff.BytesSource(bytes(data)), sub_ifds=True)
        assert len(walked.ifds) <= 4
