"""The content tap reassembles each TCP direction as tshark's "Follow TCP stream" does.

Captures are synthetic (written here, deterministic): in-order, out-of-order, retransmitted and
overlapping segments, sequence numbers that wrap past 2**32, a connection seen without its SYN, and a
5-tuple reused after FIN. The oracle is ``tshark -z follow,tcp,raw,N`` on the same file, an independent
reassembly; a hole in a stream is checked against what the generator left out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.content_tap import ContentTap
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.reader import CaptureReader
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, tcp
from oracles.tshark import run_tshark

RAW = 101
PHONE, SERVER = "192.168.1.20", "47.88.61.146"
T0 = 1_700_000_000 * 1_000_000_000
MS = 1_000_000


def _seg(src: str, dst: str, sport: int, dport: int, seq: int, data: bytes = b"", flags: str = "PA") -> bytes:
    return ipv4(src, dst, 6, tcp(sport, dport, data, seq=seq, flags=flags, src_ip=src, dst_ip=dst))


def _connection(
    port: int, isn: int, parts: list[tuple[int, int]], body: bytes, syn: bool = True
) -> list[bytes]:
    """Client sends ``body`` cut into (start, end) pieces in the order given; the server answers."""
    out = []
    if syn:
        out += [
            _seg(PHONE, SERVER, port, 443, isn, flags="S"),
            _seg(SERVER, PHONE, 443, port, 7000, flags="SA"),
        ]
    for start, end in parts:
        out.append(_seg(PHONE, SERVER, port, 443, isn + 1 + start, body[start:end]))
    out.append(_seg(SERVER, PHONE, 443, port, 7001, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    return out


BODY = bytes(range(256)) * 8  # 2 KiB


def _streams(path: Path) -> list[tuple[bytes, bytes]]:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    builder = FlowBuilder(interfaces, problems, content=ContentTap(interfaces, problems))
    CaptureReader().read(path, str(path), ScanContext(problems, interfaces, builder))
    assert builder.content is not None
    return [(c.sent.data, c.received.data) for c in builder.content.conversations()]


def _follow(path: Path, index: int) -> tuple[bytes, bytes]:
    """tshark's reassembly of stream ``index``: Node 0 lines unindented, Node 1 lines tab-indented."""
    out = run_tshark(["-r", str(path), "-q", "-z", f"follow,tcp,raw,{index}"]).stdout
    sent, received = bytearray(), bytearray()
    body = out.split("Node 1:", 1)[1].split("\n", 1)[1]
    for line in body.splitlines():
        if line.startswith("="):
            break
        if line.startswith("\t"):
            received += bytes.fromhex(line.strip())
        elif line.strip():
            sent += bytes.fromhex(line.strip())
    return bytes(sent), bytes(received)


@pytest.mark.usefixtures("tshark")
def test_streams_match_tshark_follow(tmp_path: Path) -> None:
    cases = [
        _connection(50001, 1000, [(0, 700), (700, 1400), (1400, 2048)], BODY),
        _connection(50002, 2000, [(700, 1400), (0, 700), (1400, 2048)], BODY),  # out of order
        _connection(50003, 3000, [(0, 700), (0, 700), (500, 1500), (1400, 2048)], BODY),  # retransmit+overlap
        _connection(50004, 0xFFFFFF00, [(0, 1000), (1000, 2048)], BODY),  # wraps past 2**32
        _connection(50005, 5000, [(0, 1024), (1024, 2048)], BODY, syn=False),  # no SYN in the capture
    ]
    packets = [p for case in cases for p in case]
    path = tmp_path / "streams.pcap"
    write_pcap(path, [Frame(T0 + i * MS, p) for i, p in enumerate(packets)], link_type=RAW)
    ours = _streams(path)
    assert len(ours) == len(cases)
    for index, (sent, received) in enumerate(ours):
        assert (sent, received) == _follow(path, index), f"stream {index}"
        assert sent == BODY


def test_a_hole_stops_the_direction(tmp_path: Path) -> None:
    packets = _connection(50010, 100, [(0, 500), (900, 2048)], BODY)  # bytes 500..900 never captured
    path = tmp_path / "hole.pcap"
    write_pcap(path, [Frame(T0 + i * MS, p) for i, p in enumerate(packets)], link_type=RAW)
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    builder = FlowBuilder(interfaces, problems, content=ContentTap(interfaces, problems))
    CaptureReader().read(path, "hole.pcap", ScanContext(problems, interfaces, builder))
    assert builder.content is not None
    (conv,) = builder.content.conversations()
    assert conv.sent.data == BODY[:500]
    assert conv.sent.gap_at == 500 and conv.sent.dropped == 2048 - 900
    assert conv.sent.frames(0, 500) == (3, 3)  # frame 3: the first data segment after SYN, SYN-ACK
    assert conv.received.data.startswith(b"HTTP/1.1 200")


def test_reused_five_tuple_is_a_new_conversation(tmp_path: Path) -> None:
    first = _connection(50020, 100, [(0, 10)], b"first-body")
    fin = [_seg(PHONE, SERVER, 50020, 443, 111, flags="FA")]
    second = _connection(50020, 90000, [(0, 11)], b"second-body")
    path = tmp_path / "reuse.pcap"
    frames = first + fin + second
    write_pcap(path, [Frame(T0 + i * MS, p) for i, p in enumerate(frames)], link_type=RAW)
    assert [s for s, _ in _streams(path)] == [b"first-body", b"second-body"]
