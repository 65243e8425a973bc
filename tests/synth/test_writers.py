"""pcap/pcapng writers: layouts checked byte by byte, then read back by tshark and a separate parser."""

from __future__ import annotations

import gzip
import io
import ipaddress
import struct
from pathlib import Path

import pytest

from droneaudit.synth.link import ETHERTYPE_IPV4, ethernet
from droneaudit.synth.packets import PROTO_UDP, ipv4, udp
from droneaudit.synth.writers import (
    EPB_INBOUND,
    EPB_OUTBOUND,
    Frame,
    IfaceSpec,
    PcapngSection,
    write_pcap,
    write_pcapng,
)

from ._oracle import fields, needs_tshark, pcapng_blocks, pcapng_options

T0 = 1_773_480_600_123_456_789  # 2026-03-14T09:30:00.123456789Z
A, B = "192.0.2.10", "198.51.100.20"


def _ip(payload: bytes = b"data", src: str = A) -> bytes:
    return ipv4(src, B, PROTO_UDP, udp(1000, 2000, payload, src_ip=src, dst_ip=B))


def _eth(payload: bytes = b"data", src: str = A) -> bytes:
    return ethernet(_ip(payload, src), ethertype=ETHERTYPE_IPV4)


# --- classic pcap -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("big_endian", "nanosecond", "magic"),
    [
        (False, False, "d4c3b2a1"),
        (True, False, "a1b2c3d4"),
        (False, True, "4d3cb2a1"),
        (True, True, "a1b23c4d"),
    ],
)
def test_pcap_header_and_record_layout(big_endian: bool, nanosecond: bool, magic: str) -> None:
    out = io.BytesIO()
    write_pcap(
        out, [Frame(1_500_000_999, b"abc")], link_type=113, nanosecond=nanosecond, big_endian=big_endian
    )
    data = out.getvalue()
    order = ">" if big_endian else "<"
    assert data[:4].hex() == magic
    assert struct.unpack(order + "HHiIII", data[4:24]) == (2, 4, 0, 0, 262144, 113)
    fraction = 500_000_999 if nanosecond else 500_000  # microseconds truncate, as libpcap does
    assert struct.unpack(order + "IIII", data[24:40]) == (1, fraction, 3, 3)
    assert data[40:] == b"abc"


def test_pcap_snaplen_cuts_the_record_and_keeps_the_wire_length() -> None:
    out = io.BytesIO()
    frames = [Frame(0, bytes(100)), Frame(0, bytes(10), orig_len=1514)]
    write_pcap(out, frames, link_type=1, snaplen=64)
    data = out.getvalue()
    assert struct.unpack("<II", data[32:40]) == (64, 100)
    second = 24 + 16 + 64
    assert struct.unpack("<II", data[second + 8 : second + 16]) == (10, 1514)
    assert len(data) == second + 16 + 10


@needs_tshark
@pytest.mark.parametrize(
    ("big_endian", "nanosecond"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_tshark_reads_pcap_variants(tmp_path: Path, big_endian: bool, nanosecond: bool) -> None:
    path = tmp_path / "v.pcap"
    frames = [Frame(T0, _eth()), Frame(T0 + 1_000, _eth(bytes(300)), orig_len=400)]
    write_pcap(path, frames, link_type=1, nanosecond=nanosecond, big_endian=big_endian, snaplen=200)
    rows = fields(path, ["frame.time_epoch", "frame.cap_len", "frame.len", "ip.src"])
    first = "1773480600.123456789" if nanosecond else "1773480600.123456000"
    second = "1773480600.123457789" if nanosecond else "1773480600.123457000"
    assert rows == [
        {"frame.time_epoch": first, "frame.cap_len": "46", "frame.len": "46", "ip.src": A},
        {"frame.time_epoch": second, "frame.cap_len": "200", "frame.len": "400", "ip.src": A},
    ]


# --- pcapng -----------------------------------------------------------------------------------------------

WLAN = IfaceSpec(
    1,
    name="wlan0",
    tsresol_exp10=9,
    ipv4_addrs=[("192.168.43.23", "255.255.255.0")],
    ipv6_addrs=[("2001:db8::23", 64)],
)
SHORT = IfaceSpec(1, name="eth1", tsresol_exp2=20, snaplen=64, description="binary resolution, snaplen 64")
PLAIN = IfaceSpec(101, name="raw0", write_tsresol=False)


def _two_iface_frames() -> list[Frame]:
    return [
        Frame(T0, _eth(), interface=0, flags=EPB_INBOUND, comment="first"),
        Frame(T0 + 2, _eth(bytes(200)), interface=1, flags=EPB_OUTBOUND),
        Frame(T0 + 4, _ip(src="192.0.2.99"), interface=2),
    ]


def _write_two_iface(target: Path | io.BytesIO, *, big_endian: bool = False) -> None:
    write_pcapng(
        target,
        [WLAN, SHORT, PLAIN],
        _two_iface_frames(),
        big_endian=big_endian,
        interface_stats=[(0, 100, 7), (1, 50, None)],
    )


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_blocks_options_and_statistics(big_endian: bool) -> None:
    out = io.BytesIO()
    _write_two_iface(out, big_endian=big_endian)
    blocks = pcapng_blocks(out.getvalue())
    assert [block_type for block_type, _, _ in blocks] == [0x0A0D0D0A, 1, 1, 1, 6, 6, 6, 5, 5]
    order = blocks[0][1]
    assert order == (">" if big_endian else "<")
    idb = blocks[1][2]
    assert struct.unpack(order + "HHI", idb[:8]) == (1, 0, 262144)
    options = dict(pcapng_options(order, idb[8:]))
    assert options[2] == b"wlan0" and options[9] == b"\x09"
    assert options[4] == ipaddress.IPv4Address("192.168.43.23").packed + bytes([255, 255, 255, 0])
    assert options[5] == ipaddress.IPv6Address("2001:db8::23").packed + bytes([64])
    assert dict(pcapng_options(order, blocks[2][2][8:]))[9] == b"\x94"  # 2**-20 s
    assert 9 not in dict(pcapng_options(order, blocks[3][2][8:]))
    isb = [
        (struct.unpack(order + "I", body[:4])[0], dict(pcapng_options(order, body[12:])))
        for _, _, body in blocks[-2:]
    ]
    assert isb == [
        (0, {4: struct.pack(order + "Q", 100), 5: struct.pack(order + "Q", 7)}),
        (1, {4: struct.pack(order + "Q", 50)}),
    ]


def test_pcapng_epb_fields_and_flags() -> None:
    out = io.BytesIO()
    _write_two_iface(out)
    epbs = [body for block_type, _, body in pcapng_blocks(out.getvalue()) if block_type == 6]
    iface, hi, lo, caplen, origlen = struct.unpack("<IIIII", epbs[0][:20])
    assert (iface, (hi << 32) | lo, caplen, origlen) == (0, T0, 46, 46)
    assert dict(pcapng_options("<", epbs[0][20 + 48 :])) == {1: b"first", 2: struct.pack("<I", EPB_INBOUND)}
    _, hi, lo, caplen, origlen = struct.unpack("<IIIII", epbs[1][:20])
    assert ((hi << 32) | lo, caplen, origlen) == (T0 * 2**20 // 10**9, 64, 242)
    assert len(epbs[2]) == 20 + 32  # raw IP, 32 bytes, no options at all


def test_pcapng_rejects_unknown_interface_and_unwritable_resolution() -> None:
    with pytest.raises(ValueError, match="interface 1"):
        write_pcapng(io.BytesIO(), [WLAN], [Frame(0, b"", interface=1)])
    with pytest.raises(ValueError, match="if_tsresol"):
        write_pcapng(io.BytesIO(), [IfaceSpec(1, tsresol_exp10=9, write_tsresol=False)], [])


@needs_tshark
def test_tshark_reads_pcapng_interfaces_times_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "two.pcapng"
    _write_two_iface(path)
    names = ["frame.interface_name", "frame.time_epoch", "frame.cap_len", "frame.len"]
    names += ["frame.packet_flags_direction", "frame.comment", "ip.src"]
    rows = fields(path, names)
    assert [row["frame.interface_name"] for row in rows] == ["wlan0", "eth1", "raw0"]
    assert rows[0]["frame.time_epoch"] == "1773480600.123456789"  # nanosecond interface: exact
    binary = float(rows[1]["frame.time_epoch"]) - T0 / 1e9
    assert -1e-6 < binary <= 0  # 2**-20 s ticks, truncated
    assert rows[2]["frame.time_epoch"] == "1773480600.123456000"  # no if_tsresol: microseconds
    assert [(row["frame.cap_len"], row["frame.len"]) for row in rows] == [
        ("46", "46"),
        ("64", "242"),
        ("32", "32"),
    ]
    assert [row["frame.packet_flags_direction"] for row in rows] == ["0x00000001", "0x00000002", ""]
    assert rows[0]["frame.comment"] == "first"
    assert [row["ip.src"] for row in rows] == [A, A, "192.0.2.99"]


@needs_tshark
def test_tshark_reads_big_endian_and_extra_sections(tmp_path: Path) -> None:
    path = tmp_path / "sections.pcapng"
    extra = PcapngSection([IfaceSpec(101, name="raw1")], [Frame(T0 + 10, _ip(src="192.0.2.77"))], [(0, 1, 0)])
    write_pcapng(path, [WLAN], [Frame(T0, _eth())], big_endian=True, extra_sections=[extra])
    shb = 0x0A0D0D0A
    assert [block_type for block_type, _, _ in pcapng_blocks(path.read_bytes())] == [shb, 1, 6, shb, 1, 6, 5]
    rows = fields(path, ["frame.time_epoch", "ip.src", "udp.checksum.status"])
    assert [row["ip.src"] for row in rows] == [A, "192.0.2.77"]
    assert [row["udp.checksum.status"] for row in rows] == ["1", "1"]


@needs_tshark
def test_gzip_output_is_deterministic_and_readable(tmp_path: Path) -> None:
    frames = _two_iface_frames()
    for name in ("a.pcapng.gz", "b.pcapng.gz"):
        write_pcapng(tmp_path / name, [WLAN, SHORT, PLAIN], frames, interface_stats=[(0, 100, 7)])
    write_pcap(tmp_path / "c.pcap.gz", [frames[0]], link_type=1)
    packed = (tmp_path / "a.pcapng.gz").read_bytes()
    assert packed == (tmp_path / "b.pcapng.gz").read_bytes()
    assert packed[:2] == b"\x1f\x8b" and packed[4:8] == b"\x00\x00\x00\x00"  # gzip magic, mtime 0
    plain = io.BytesIO()
    write_pcapng(plain, [WLAN, SHORT, PLAIN], frames, interface_stats=[(0, 100, 7)])
    assert gzip.decompress(packed) == plain.getvalue()
    assert len(fields(tmp_path / "a.pcapng.gz", ["frame.number"])) == 3
    assert fields(tmp_path / "c.pcap.gz", ["ip.src"]) == [{"ip.src": A}]
