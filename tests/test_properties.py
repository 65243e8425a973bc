"""Properties over generated inputs (hypothesis).

* **Write -> read.** Random IPv4/IPv6 TCP/UDP conversations, written with the project's synth writers
  as pcap (Ethernet or raw IP, either byte order, µs or ns) and pcapng (one or two interfaces), plain
  or gzip'd, come back from ``droneaudit.scan`` with exactly the generated 5-tuples and, per direction,
  the generated packet counts and IP-layer byte counts (the length of each IP packet written).
* **Order.** The JSON of a case does not depend on the order its inputs were given in.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import droneaudit
from droneaudit.synth import Frame, IfaceSpec, write_pcap, write_pcapng
from droneaudit.synth.link import ethernet
from droneaudit.synth.media import DEMO_PHOTOS, DEMO_SERIAL, write_photo, write_srt
from droneaudit.synth.packets import ipv4, ipv6, tcp, udp

T0 = 1_773_480_600 * 1_000_000_000
#: Ports no protocol decoder claims by number (the counts must not depend on payload parsing anyway).
PORTS = st.integers(1024, 65535).filter(lambda p: p not in (1900, 3478, 5353, 5355, 8080, 8443))
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Conversation:
    v6: bool
    proto: int  #: 6 TCP, 17 UDP
    device: str
    remote: str
    device_port: int
    remote_port: int
    sizes: tuple[tuple[bool, int], ...]  #: (from the device?, payload bytes) per packet, in order


@st.composite
def conversations(draw: st.DrawFn, v6: bool) -> Conversation:
    if v6:
        device = str(ipaddress.IPv6Address(0xFD00 << 112 | draw(st.integers(1, 2**32))))
        remote = str(ipaddress.IPv6Address(0x2A00_1450 << 96 | draw(st.integers(1, 2**40))))
    else:
        device = f"192.168.{draw(st.integers(0, 255))}.{draw(st.integers(1, 254))}"
        first = draw(st.sampled_from([8, 47, 52, 142]))
        remote = f"{first}.{draw(st.integers(0, 255))}.0.{draw(st.integers(1, 254))}"
    sizes = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 1200)), min_size=1, max_size=6))
    return Conversation(
        v6, draw(st.sampled_from([6, 17])), device, remote, draw(PORTS), draw(PORTS), tuple(sizes)
    )


def _ip_packet(c: Conversation, up: bool, size: int, seq: int) -> bytes:
    src, dst = (c.device, c.remote) if up else (c.remote, c.device)
    sport, dport = (c.device_port, c.remote_port) if up else (c.remote_port, c.device_port)
    payload = bytes([seq % 251]) * size
    if c.proto == 6:
        segment = tcp(
            sport, dport, payload, seq=seq, ack=1, flags="PA" if size else "A", src_ip=src, dst_ip=dst
        )
    else:
        segment = udp(sport, dport, payload, src_ip=src, dst_ip=dst)
    return (ipv6 if c.v6 else ipv4)(src, dst, c.proto, segment)


def _expected(convs: list[Conversation]) -> dict[tuple[object, ...], list[int]]:
    """Per 5-tuple (device side first): packets up, bytes up, packets down, bytes down."""
    out: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in convs:
        row = out[("tcp" if c.proto == 6 else "udp", c.device, c.device_port, c.remote, c.remote_port)]
        for i, (up, size) in enumerate(c.sizes):
            n = len(_ip_packet(c, up, size, i))
            row[0 if up else 2] += 1
            row[1 if up else 3] += n
    return dict(out)


def _frames(convs: list[Conversation], link: str, two_ifaces: bool) -> list[Frame]:
    frames, t = [], T0
    for ci, c in enumerate(convs):
        for i, (up, size) in enumerate(c.sizes):
            packet = _ip_packet(c, up, size, i)
            data = packet if link == "raw" else ethernet(packet, ethertype=0x86DD if c.v6 else 0x0800)
            t += 1_000_000 + ci  # 1 ms apart: no flow is idle long enough to be split
            frames.append(Frame(t, data, interface=ci % 2 if two_ifaces else 0))
    return frames


def _write(path: Path, frames: list[Frame], container: str, link: str, big: bool, two_ifaces: bool) -> None:
    link_type = 101 if link == "raw" else 1
    if container == "pcap":
        write_pcap(path, frames, link_type=link_type, big_endian=big, nanosecond=two_ifaces)
    else:
        ifaces = [IfaceSpec(link_type, name="wlan0", tsresol_exp10=9), IfaceSpec(link_type, name="eth1")]
        write_pcapng(path, ifaces if two_ifaces else ifaces[:1], frames, big_endian=big)


def _found(case: droneaudit.Case) -> dict[tuple[object, ...], list[int]]:
    out: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for f in case.flow_records():
        row = out[(f["proto"], f["device_ip"], f["device_port"], f["remote_ip"], f["remote_port"])]
        for i, key in enumerate(("packets_up", "bytes_up", "packets_down", "bytes_down")):
            row[i] += f[key]
    return dict(out)


def _distinct(convs: list[Conversation]) -> bool:
    keys = [(c.proto, c.device, c.device_port, c.remote, c.remote_port) for c in convs]
    ends = {(c.proto, c.remote, c.remote_port) for c in convs} & {
        (c.proto, c.device, c.device_port) for c in convs
    }
    return len(set(keys)) == len(keys) and not ends


CONVERSATIONS = st.lists(st.booleans().flatmap(conversations), min_size=1, max_size=5).filter(_distinct)


@SETTINGS
@given(
    convs=CONVERSATIONS,
    container=st.sampled_from(["pcap", "pcapng"]),
    link=st.sampled_from(["ethernet", "raw"]),
    big=st.booleans(),
    two_ifaces=st.booleans(),
    gz=st.booleans(),
)
def test_generated_packets_round_trip(
    tmp_path: Path,
    convs: list[Conversation],
    container: str,
    link: str,
    big: bool,
    two_ifaces: bool,
    gz: bool,
) -> None:
    path = tmp_path / f"gen.{container}{'.gz' if gz else ''}"
    frames = _frames(convs, link, two_ifaces)
    _write(path, frames, container, link, big, two_ifaces)
    devices = sorted({c.device for c in convs})
    case = droneaudit.scan([path], devices=devices)
    assert _found(case) == _expected(convs)
    (read,) = case.inputs
    assert read.format == container + (".gz" if gz else "") and read.packets == len(frames)
    assert case.stats.frames == len(frames)
    assert not [p for p in case.problems if p.code not in ("duplicate-across-interfaces",)]


# --- order ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    files: list[Path]
    expected: str  #: the JSON of scanning ``files`` in this order

    def __repr__(self) -> str:  # hypothesis prints its arguments: keep failures readable
        return f"Evidence({[p.name for p in self.files]})"


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    """Two captures that share a connection (so their interfaces and duplicates meet), two photos and
    an SRT."""
    root = tmp_path_factory.mktemp("order")
    conv = Conversation(False, 17, "192.168.1.5", "47.88.1.2", 40000, 50000, ((True, 100), (False, 20)))
    other = Conversation(True, 6, "fd00::5", "2a00:1450::1", 40001, 50001, ((True, 10), (True, 0)))
    files = [root / "a.pcap", root / "b.pcapng"]
    _write(files[0], _frames([conv], "raw", False), "pcap", "raw", False, False)
    _write(files[1], _frames([other, conv], "ethernet", True), "pcapng", "ethernet", True, True)
    for photo in DEMO_PHOTOS[:2]:
        files.append(root / photo.name)
        write_photo(files[-1], photo, DEMO_SERIAL)
    files.append(root / "clip.SRT")
    write_srt(files[-1], DEMO_PHOTOS[0], 5)
    return Evidence(files, droneaudit.scan(files).to_json())


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_json_is_the_same_whatever_the_input_order(evidence: Evidence, data: st.DataObject) -> None:
    """Found by this test: the interfaces list followed the input order (now sorted by file, index)."""
    got = droneaudit.scan(data.draw(st.permutations(evidence.files))).to_json()
    if got != evidence.expected:
        diff = difflib.unified_diff(evidence.expected.splitlines(), got.splitlines(), lineterm="", n=2)
        pytest.fail("\n".join(list(diff)[:40]))
