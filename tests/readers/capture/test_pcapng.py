"""pcapng blocks whose lengths lie: every lie is a problem record at the block's offset, the walk never
reads past a block or the buffer, and the scan goes on to the next file."""

from __future__ import annotations

import struct
from pathlib import Path

import droneaudit
from droneaudit.synth import Frame, IfaceSpec, write_pcapng
from droneaudit.synth.packets import ipv4, udp

T0 = 1_773_480_600 * 1_000_000_000
PHONE, HOST = "192.168.43.23", "47.88.61.146"
EPB = 6


def _pkt(size: int) -> bytes:
    return ipv4(PHONE, HOST, 17, udp(40000, 443, b"d" * size, src_ip=PHONE, dst_ip=HOST))


def _capture(path: Path, sizes: list[int]) -> bytearray:
    write_pcapng(path, [IfaceSpec(101)], [Frame(T0 + i * 10**6, _pkt(n)) for i, n in enumerate(sizes)])
    return bytearray(path.read_bytes())


def _blocks(data: bytes) -> list[tuple[int, int]]:
    """(offset, type) of every block of a little-endian single-section pcapng, walked by the test."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        out.append((pos, btype))
        pos += blen
    return out


def _epbs(data: bytes) -> list[int]:
    return [pos for pos, btype in _blocks(data) if btype == EPB]


def _good(tmp_path: Path) -> Path:
    path = tmp_path / "z-good.pcapng"
    _capture(path, [10, 20])
    return path


def _scan(tmp_path: Path, data: bytes) -> tuple[droneaudit.Case, Path]:
    path = tmp_path / "a-lie.pcapng"
    path.write_bytes(bytes(data))
    good = _good(tmp_path)
    case = droneaudit.scan([path, good])
    assert {i.path: i.packets for i in case.inputs}[str(good)] == 2  # the next file is read in full
    return case, path


def _codes(case: droneaudit.Case, path: Path) -> dict[str, tuple[int | None, int | None]]:
    return {p.code: (p.offset, p.frame) for p in case.problems if p.file == str(path)}


def test_captured_length_larger_than_its_block(tmp_path: Path) -> None:
    """Found by fuzzing: the flow table read 439 MB past a 1 KB buffer."""
    data = _capture(tmp_path / "x.pcapng", [10, 20, 30])
    first = _epbs(data)[0]
    struct.pack_into("<I", data, first + 20, 0x7FFFFFF0)  # caplen
    case, path = _scan(tmp_path, data)
    assert _codes(case, path) == {"caplen-exceeds-block": (first, 1)}
    assert {i.path: i.packets for i in case.inputs}[str(path)] == 3


def test_trailing_length_that_differs_from_the_leading_one(tmp_path: Path) -> None:
    data = _capture(tmp_path / "x.pcapng", [10, 20])
    second = _epbs(data)[1]
    blen = struct.unpack_from("<I", data, second + 4)[0]
    struct.pack_into("<I", data, second + blen - 4, blen + 4)
    case, path = _scan(tmp_path, data)
    assert _codes(case, path) == {"block-length-mismatch": (second, 2)}


def test_packet_block_shorter_than_its_own_fields(tmp_path: Path) -> None:
    """A 16-byte EPB: its caplen field lies in the next block; the packet is cut to nothing, reported."""
    data = _capture(tmp_path / "x.pcapng", [10, 20])
    first = _epbs(data)[0]
    stub = struct.pack("<IIII", EPB, 16, 0, 16)
    data[first:first] = stub
    case, path = _scan(tmp_path, data)
    codes = _codes(case, path)
    assert codes.get("caplen-exceeds-block") == (first, 1)
    assert {i.path: i.packets for i in case.inputs}[str(path)] == 3


def test_block_claiming_gigabytes_stops_the_file_not_the_scan(tmp_path: Path) -> None:
    data = _capture(tmp_path / "x.pcapng", [10, 20, 30])
    second = _epbs(data)[1]
    struct.pack_into("<I", data, second + 4, 0xFFFFFFFC)
    case, path = _scan(tmp_path, data)
    assert _codes(case, path) == {"bad-block-length": (second, 2)}
    assert {i.path: i.packets for i in case.inputs}[str(path)] == 1
