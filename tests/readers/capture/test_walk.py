"""The compiled kernels (_walk.c: pcap record walk, fixed-offset reads, key grouping) and their
pure-Python/NumPy/pyarrow fallbacks give identical answers, alone and in a whole scan."""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import numpy as np
import pytest

import droneaudit
from droneaudit.readers.capture import gather, pcap, rows, walk
from droneaudit.readers.capture.batch import PAD, read_chunk
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, tcp, udp

T0 = 1_773_480_600 * 1_000_000_000
PHONE, HOST = "192.168.43.23", "47.88.61.146"

needs_compiled = pytest.mark.skipif(not walk.COMPILED, reason="the C extension was not built")


def _records(rng: random.Random, count: int, big: bool, rec_hdr: int) -> bytes:
    order = ">" if big else "<"
    out = []
    for i in range(count):
        size = rng.choice((0, 1, 14, 60, 61, 1514, rng.randrange(0, 3000)))
        head = struct.pack(order + "IIII", 1_700_000_000 + i, rng.randrange(1 << 32), size, size + 3)
        out.append(head + bytes(rec_hdr - 16) + rng.randbytes(size))
    return b"".join(out)


def _buffer(data: bytes) -> np.ndarray:
    arr = np.zeros(len(data) + PAD, dtype=np.uint8)
    arr[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return arr


def _both(data: bytes, size: int, rec_hdr: int, big: bool, limit: int = 262144) -> tuple:
    buf = _buffer(data)
    c_table, c_stop, c_bad = walk.records_compiled(buf, size, rec_hdr, big, limit)
    p_table, p_stop, p_bad = walk.records_python(buf, size, rec_hdr, big, limit)
    assert c_table.shape == p_table.shape
    assert (c_table == p_table).all()
    assert (c_stop, c_bad) == (p_stop, p_bad)
    return p_table, p_stop, p_bad


@needs_compiled
@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("rec_hdr", [16, 24])
def test_compiled_and_python_walks_agree_on_every_cut(big: bool, rec_hdr: int) -> None:
    rng = random.Random(rec_hdr * 2 + big)
    data = _records(rng, 300, big, rec_hdr)
    cuts = [0, 1, 15, 16, len(data) - 1, len(data), *(rng.randrange(len(data)) for _ in range(200))]
    for cut in cuts:
        table, stop, bad = _both(data, cut, rec_hdr, big)
        assert not bad and stop <= cut
        assert stop == (table[-1, 0] + rec_hdr + table[-1, 3] if len(table) else 0)


@needs_compiled
def test_a_record_that_lies_stops_both_walks_at_it() -> None:
    good = struct.pack("<IIII", 1, 2, 4, 4) + b"abcd"
    liar = struct.pack("<IIII", 1, 2, 300_000, 300_000) + bytes(64)
    table, stop, bad = _both(good * 3 + liar + good, len(good) * 4 + len(liar), 16, False)
    assert bad and stop == 3 * len(good) and len(table) == 3


@needs_compiled
def test_whole_scan_is_identical_with_and_without_the_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    frames = []
    for i in range(3000):
        port = 40000 + i % 37
        body = rng.randbytes(rng.randrange(0, 1400))
        seg = tcp(port, 443, body, src_ip=PHONE, dst_ip=HOST) if i % 3 else udp(port, 53, body[:200])
        frames.append(Frame(T0 + i * 10**6, ipv4(PHONE, HOST, 6 if i % 3 else 17, seg)))
    path = tmp_path / "mix.pcap"
    write_pcap(path, frames, link_type=101, big_endian=True)
    monkeypatch.setattr(pcap, "CHUNK_BYTES", 5000)
    compiled = droneaudit.scan([path]).to_json()
    monkeypatch.setattr(walk, "_compiled", None)
    monkeypatch.setattr(gather, "_compiled", None)
    monkeypatch.setattr(rows, "_compiled", None)
    assert droneaudit.scan([path]).to_json() == compiled


class _Pieces:
    """A stream without readinto that hands data over in small pieces (a pipe)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int = -1) -> bytes:
        n = min(n, 7)
        out, self.data = self.data[:n], self.data[n:]
        return out


def test_read_chunk_keeps_the_carry_and_pads_with_zeros() -> None:
    carry = np.frombuffer(b"xyz", dtype=np.uint8)
    buf, got = read_chunk(_Pieces(b"abcdefghij"), carry, 100)
    assert got == 7 and bytes(buf[:-PAD]) == b"xyzabcdefg" and not buf[-PAD:].any()


@needs_compiled
@pytest.mark.parametrize("name", ["u8", "u16be", "u16le", "u32be", "u32le", "u64be"])
def test_compiled_gathers_equal_numpy_ones(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    buf = rng.integers(0, 256, 4096).astype(np.uint8)
    offsets = [rng.integers(0, 4088, 500), np.array([-1, -8, -9, 0, 4088]), np.zeros(0, dtype=np.int64)]
    read = getattr(gather, name)
    for off in (o.astype(np.int64) for o in offsets):
        compiled = read(buf, off)
        monkeypatch.setattr(gather, "_compiled", None)
        plain = read(buf, off)
        monkeypatch.undo()
        assert compiled.dtype == plain.dtype and (compiled == plain).all()
    with pytest.raises(IndexError):
        read(buf, np.array([4096], dtype=np.int64))


@needs_compiled
def test_compiled_group_ids_equal_pyarrow_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    keys = np.zeros(5000, dtype=rows.KEY_DTYPE)
    keys["a_lo"] = rng.integers(0, 40, 5000)
    keys["b_port"] = rng.integers(0, 3, 5000)
    keys["vlan"] = rng.integers(-1, 1, 5000)
    for sample in (keys, keys[:1], keys[::-1].copy(), keys[:0]):
        compiled = rows.group_ids(sample)
        monkeypatch.setattr(rows, "_compiled", None)
        assert (rows.group_ids(sample) == compiled).all()
        monkeypatch.undo()


class _ReadOnly(io.RawIOBase):
    """An io base class that implements read() only: its inherited readinto raises."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        out, self.data = self.data[:n], self.data[n:]
        return out

    def readinto(self, view: object) -> int:
        raise NotImplementedError


def test_read_chunk_falls_back_to_read_when_readinto_is_missing() -> None:
    buf, got = read_chunk(_ReadOnly(b"abcdef"), np.zeros(0, dtype=np.uint8), 4)
    assert got == 4 and bytes(buf[:-PAD]) == b"abcd"
