"""Opening evidence: the decompression-bomb cap, counted against the compressed bytes actually consumed,
and a capped .gz in a scan that goes on to the next file."""

from __future__ import annotations

import gzip
import io
import time
from pathlib import Path

import pytest

import droneaudit
from droneaudit.readers import source
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.source import SafeGzip
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, udp

T0 = 1_773_480_600 * 1_000_000_000
PHONE, HOST = "192.168.43.23", "47.88.61.146"


class _Counting(io.BytesIO):
    """A compressed stream that remembers how much was taken from it."""

    taken = 0

    def read(self, n: int | None = -1, /) -> bytes:
        data = super().read(n)
        self.taken += len(data)
        return data


def _pcap_bytes(tmp_path: Path, name: str, count: int) -> bytes:
    frames = [
        Frame(T0 + i * 10**6, ipv4(PHONE, HOST, 17, udp(40000, 443, b"d" * 100, src_ip=PHONE, dst_ip=HOST)))
        for i in range(count)
    ]
    path = tmp_path / name
    write_pcap(path, frames, link_type=101)
    return path.read_bytes()


def test_inflated_output_stops_at_the_cap_and_says_so() -> None:
    bomb = _Counting(gzip.compress(b"\0" * (64 << 20), mtime=0))  # 64 MiB of zeros in ~64 KiB
    problems = ProblemLog()
    stream = SafeGzip(bomb, "bomb.gz", problems, limit=1 << 20)
    total = 0
    while chunk := stream.read(1 << 16):
        total += len(chunk)
    assert total == 1 << 20
    (problem,) = problems.records()
    assert (problem.code, problem.offset) == ("decompression-limit", 1 << 20)
    assert bomb.taken <= 2 * (1 << 16)  # it stopped pulling compressed input at the cap, too


def test_default_cap_is_finite() -> None:
    assert SafeGzip.__init__.__defaults__ == (source.MAX_INFLATED,)
    assert 0 < source.MAX_INFLATED <= 64 << 30


def test_bomb_in_a_scan_is_capped_and_the_next_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SafeGzip.__init__, "__defaults__", (1 << 20,))  # the cap a 64 GiB bomb would hit
    head = _pcap_bytes(tmp_path, "one.pcap", 1)
    bomb = tmp_path / "a-bomb.pcap.gz"
    bomb.write_bytes(gzip.compress(head + b"\0" * (16 << 20), mtime=0))
    good = tmp_path / "b-good.pcap"
    good.write_bytes(_pcap_bytes(tmp_path, "three.pcap", 3))
    started = time.monotonic()
    case = droneaudit.scan([bomb, good])
    assert time.monotonic() - started < 60
    codes = {(p.file, p.code) for p in case.problems}
    assert (str(bomb), "decompression-limit") in codes
    by_path = {i.path: i for i in case.inputs}
    assert by_path[str(bomb)].format == "pcap.gz"
    assert by_path[str(good)].format == "pcap" and by_path[str(good)].packets == 3
