"""Packet builders: checksums and layouts by hand where the RFCs give vectors, tshark for the rest."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from droneaudit.synth import link, packets
from droneaudit.synth.app import dns_query, dns_response, http_request
from droneaudit.synth.packets import (
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    ethernet,
    fragment_ipv4,
    fragment_ipv6,
    icmp,
    icmpv6,
    internet_checksum,
    ipv4,
    ipv6,
    ipv6_hop_by_hop,
    tcp,
    tls_client_hello,
    udp,
)
from droneaudit.synth.writers import Frame, write_pcap

from ._oracle import fields, needs_tshark

A, B = "192.0.2.10", "198.51.100.20"
A6, B6 = "2001:db8::10", "2001:db8:1::20"
IPV4, IPV6 = link.ETHERTYPE_IPV4, link.ETHERTYPE_IPV6


def _pcap(tmp_path: Path, frames: list[bytes], link_type: int = 1, name: str = "t.pcap") -> Path:
    path = tmp_path / name
    write_pcap(path, [Frame(1_000_000 * i, data) for i, data in enumerate(frames)], link_type=link_type)
    return path


def _tcp4(payload: bytes, sport: int = 40000, dport: int = 443) -> bytes:
    return ipv4(A, B, PROTO_TCP, tcp(sport, dport, payload, flags="PA", seq=1, ack=1, src_ip=A, dst_ip=B))


def _udp4(payload: bytes, sport: int = 5353, dport: int = 53) -> bytes:
    return ipv4(A, B, PROTO_UDP, udp(sport, dport, payload, src_ip=A, dst_ip=B))


# --- by hand ----------------------------------------------------------------------------------------------


def test_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, so the checksum is ~ddf2.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(b"\xff\xff") == 0x0000
    assert internet_checksum(b"\x01") == internet_checksum(b"\x01\x00")


def test_ipv4_header_fields_and_checksum() -> None:
    packet = ipv4(
        A, B, PROTO_UDP, b"x" * 10, ident=0xBEEF, ttl=7, dont_fragment=True, options=b"\x94\x04\x00"
    )
    assert packet[0] == 0x46  # 4-byte option (padded from 3): IHL 6
    assert struct.unpack("!H", packet[2:4])[0] == 24 + 10
    assert struct.unpack("!HH", packet[4:8]) == (0xBEEF, 0x4000)
    assert internet_checksum(packet[:24]) == 0  # a correct header sums to zero
    assert struct.unpack("!H", ipv4(A, B, 6, b"y" * 3000, total_length=0)[2:4])[0] == 0


def test_tcp_flags_and_options() -> None:
    assert packets.tcp_flag_bits("SA") == 0x12
    assert packets.tcp_flag_bits("FA") == packets.tcp_flag_bits("AF") == 0x11
    segment = tcp(1, 2, b"abc", flags="PA", options=packets.tcp_syn_options())
    assert segment[12] >> 4 == 5 + 3  # 10 option bytes padded to 12
    assert segment[-3:] == b"abc"
    with pytest.raises(ValueError):
        packets.tcp_flag_bits("SX")


def test_dns_compression_points_into_the_question() -> None:
    message = dns_response("a.example.org", [("CNAME", "b.example.org", 5), ("A", "192.0.2.1", 5)])
    plain = dns_response(
        "a.example.org", [("CNAME", "b.example.org", 5), ("A", "192.0.2.1", 5)], compress=False
    )
    assert len(message) < len(plain)
    assert message[12 + 15 + 4 : 12 + 15 + 6] == b"\xc0\x0c"  # first answer's owner → offset 12


def test_vlan_defaults_are_8021q_single_and_qinq_stacked() -> None:
    assert ethernet(b"", ethertype=IPV4, vlans=[5])[12:16] == b"\x81\x00\x00\x05"
    qinq = ethernet(b"", ethertype=IPV4, vlans=[100, 200])
    assert qinq[12:22] == b"\x88\xa8\x00\x64\x81\x00\x00\xc8\x08\x00"
    with pytest.raises(ValueError):
        ethernet(b"", ethertype=IPV4, vlans=[1, 2], vlan_tpids=[0x8100])


def test_cooked_headers_have_the_documented_layout() -> None:
    v1 = link.sll(b"P", pkttype=link.PACKET_OUTGOING, protocol=IPV4)
    assert len(v1) == 17 and struct.unpack("!HHH", v1[:6]) == (4, 1, 6) and v1[14:16] == b"\x08\x00"
    v2 = link.sll2(b"P", protocol=IPV6, ifindex=9, pkttype=link.PACKET_HOST)
    assert len(v2) == 21 and struct.unpack("!HHIHBB", v2[:12]) == (IPV6, 0, 9, 1, 0, 6)
    assert link.null_loop(b"", 2) == b"\x02\x00\x00\x00"
    assert link.null_loop(b"", 2, big_endian=True) == b"\x00\x00\x00\x02"


def test_fragment_sizes_and_offsets() -> None:
    datagram = _udp4(bytes(3000))
    pieces = fragment_ipv4(datagram, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert sum(len(p) - 20 for p in pieces) == len(datagram) - 20
    assert [struct.unpack("!H", p[6:8])[0] for p in pieces] == [0x2000, 0x2000 | 122, 0x2000 | 244, 366]
    with pytest.raises(ValueError):
        fragment_ipv4(ipv4(A, B, 17, bytes(100), dont_fragment=True), 60)
    # Router Alert (0x94) has the 'copied' bit and is repeated; Record Route (0x07) stays in the first.
    options = b"\x94\x04\x00\x00" + b"\x07\x07\x04" + bytes(4)
    with_options = fragment_ipv4(ipv4(A, B, 17, bytes(100), options=options), 60)
    assert [p[0] & 0x0F for p in with_options] == [8, 6, 6, 6]
    assert all(
        p[20:24] == b"\x94\x04\x00\x00" and internet_checksum(p[: 4 * (p[0] & 15)]) == 0 for p in with_options
    )
    six = fragment_ipv6(ipv6(A6, B6, PROTO_UDP, udp(1, 2, bytes(3000), src_ip=A6, dst_ip=B6)), 1280)
    assert all(len(p) <= 1280 for p in six) and all(p[6] == 44 for p in six)


def test_tls_record_split_rejects_sizes_that_do_not_fit() -> None:
    whole = tls_client_hello("a.example")
    assert tls_client_hello("a.example", record_split=[len(whole) - 5]) == whole
    with pytest.raises(ValueError):
        tls_client_hello("a.example", record_split=[len(whole)])


# --- tshark as the oracle ---------------------------------------------------------------------------------


@needs_tshark
def test_tshark_finds_all_checksums_good(tmp_path: Path) -> None:
    frames = [
        ethernet(_tcp4(b"hello"), ethertype=IPV4),
        ethernet(_udp4(dns_query("a.example")), ethertype=IPV4, min_size=60),
        ethernet(ipv4(A, B, PROTO_ICMP, icmp(8, 0, b"ping", ident=1, seq=2)), ethertype=IPV4),
        ethernet(
            ipv6(A6, B6, 0, tcp(1, 2, b"x", src_ip=A6, dst_ip=B6), ext_headers=ipv6_hop_by_hop(6)),
            ethertype=IPV6,
        ),
        ethernet(ipv6(A6, B6, PROTO_UDP, udp(3, 4, b"y", src_ip=A6, dst_ip=B6)), ethertype=IPV6),
        ethernet(
            ipv6(A6, B6, PROTO_ICMPV6, icmpv6(128, 0, b"abc", src_ip=A6, dst_ip=B6, ident=3)), ethertype=IPV6
        ),
    ]
    names = ["ip.len", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status"]
    names += ["icmp.checksum.status", "icmpv6.checksum.status", "ipv6.nxt"]
    rows = fields(_pcap(tmp_path, frames), names)
    assert [row["ip.len"] for row in rows[:3]] == ["45", "55", "32"]  # the padded frame keeps ip.len 55
    statuses = [value for row in rows for name, value in row.items() if name.endswith(".status") and value]
    assert statuses == ["1"] * 9  # 1 = good: IPv4 header x3, TCP x2, UDP x2, ICMP, ICMPv6
    assert rows[3]["ipv6.nxt"] == "0"


@needs_tshark
def test_tshark_decodes_vlan_and_qinq(tmp_path: Path) -> None:
    frames = [
        ethernet(_udp4(b"a"), ethertype=IPV4, vlans=[100]),
        ethernet(_udp4(b"b"), ethertype=IPV4, vlans=[100, 200]),
    ]
    rows = fields(_pcap(tmp_path, frames), ["vlan.id", "ieee8021ad.id", "ip.src"])
    assert rows == [
        {"vlan.id": "100", "ieee8021ad.id": "", "ip.src": A},
        {"vlan.id": "200", "ieee8021ad.id": "100", "ip.src": A},
    ]


@pytest.mark.parametrize(
    ("link_type", "framer", "expected"),
    [
        (113, lambda p, et, out: link.sll(p, pkttype=4 if out else 0, protocol=et), "sll"),
        (276, lambda p, et, out: link.sll2(p, pkttype=4 if out else 0, protocol=et, ifindex=3), "sll"),
        (0, lambda p, et, out: link.null_loop(p, 2 if et == IPV4 else 30), "null"),
        (108, lambda p, et, out: link.null_loop(p, 2 if et == IPV4 else 24, big_endian=True), "null"),
        (
            127,
            lambda p, et, out: link.radiotap_80211_data(p, ethertype=et, qos=out, to_ds=out, from_ds=not out),
            "radiotap",
        ),
    ],
)
@needs_tshark
def test_tshark_decodes_each_link_type(
    tmp_path: Path, link_type: int, framer: Callable[[bytes, int, bool], bytes], expected: str
) -> None:
    """``framer(ip_packet, ethertype, outgoing)`` wraps one packet in the link layer under test."""
    make = framer
    v4 = _udp4(dns_query("four.example"))
    v6 = ipv6(A6, B6, PROTO_UDP, udp(5353, 53, dns_query("six.example"), src_ip=A6, dst_ip=B6))
    frames = [make(v4, IPV4, True), make(v6, IPV6, False)]
    rows = fields(
        _pcap(tmp_path, frames, link_type), ["frame.protocols", "dns.qry.name", "udp.checksum.status"]
    )
    assert [row["frame.protocols"].split(":")[0] for row in rows] == [expected, expected]
    assert [row["dns.qry.name"] for row in rows] == ["four.example", "six.example"]
    assert [row["udp.checksum.status"] for row in rows] == ["1", "1"]


@needs_tshark
def test_tshark_reassembles_ipv4_and_ipv6_fragments(tmp_path: Path) -> None:
    body = bytes(range(256)) * 12
    v4 = fragment_ipv4(ipv4(A, B, PROTO_UDP, udp(1000, 2000, body, src_ip=A, dst_ip=B), ident=0x4242), 1000)
    hbh = ipv6_hop_by_hop(PROTO_UDP)
    v6 = fragment_ipv6(ipv6(A6, B6, 0, udp(1000, 2000, body, src_ip=A6, dst_ip=B6), ext_headers=hbh), 1280)
    frames = [ethernet(p, ethertype=IPV4) for p in v4] + [ethernet(p, ethertype=IPV6) for p in v6]
    names = ["frame.number", "ip.reassembled_in", "ipv6.reassembled.in", "udp.length", "udp.checksum.status"]
    rows = fields(_pcap(tmp_path, frames), names, two_pass=True)
    assert [row["ip.reassembled_in"] for row in rows[:3]] == ["4"] * 3
    assert [row["ipv6.reassembled.in"] for row in rows[4:6]] == ["7"] * 2
    done = [row for row in rows if row["udp.length"]]
    assert [(row["frame.number"], row["udp.length"], row["udp.checksum.status"]) for row in done] == [
        ("4", "3080", "1"),
        ("7", "3080", "1"),
    ]


@needs_tshark
def test_tshark_reads_dns_answers_and_cname_chains(tmp_path: Path) -> None:
    answers = [("CNAME", "a.cdn.example", 60), ("CNAME", "b.cdn.example", 60), ("A", "8.209.72.38", 60)]
    answers += [("AAAA", "2001:db8::5", 30)]
    frames = [
        ethernet(_udp4(dns_response("flysafe-api.dji.com", answers, txid=7), 53, 5353), ethertype=IPV4),
        ethernet(
            _udp4(dns_response("flysafe-api.dji.com", answers, compress=False), 53, 5354), ethertype=IPV4
        ),
        ethernet(_udp4(dns_response("nx.example", [], qtype="AAAA", rcode=3), 53, 5355), ethertype=IPV4),
    ]
    names = [
        "dns.qry.name",
        "dns.cname",
        "dns.a",
        "dns.aaaa",
        "dns.flags.rcode",
        "dns.resp.name",
        "_ws.malformed",
    ]
    rows = fields(_pcap(tmp_path, frames), names)
    for row in rows[:2]:
        assert row["dns.cname"] == "a.cdn.example,b.cdn.example"
        assert (row["dns.a"], row["dns.aaaa"]) == ("8.209.72.38", "2001:db8::5")
        assert row["dns.resp.name"] == "flysafe-api.dji.com,a.cdn.example,b.cdn.example,b.cdn.example"
    assert (rows[2]["dns.qry.name"], rows[2]["dns.flags.rcode"]) == ("nx.example", "3")
    assert not any(row["_ws.malformed"] for row in rows)


@needs_tshark
def test_tshark_reads_sni_alpn_versions_and_split_records(tmp_path: Path) -> None:
    frames = [
        ethernet(_tcp4(tls_client_hello("flysafe-api.dji.com"), sport=40001), ethertype=IPV4),
        ethernet(_tcp4(tls_client_hello("split.example", record_split=[5, 40]), sport=40002), ethertype=IPV4),
        ethernet(_tcp4(tls_client_hello(None, tls13=False, alpn=()), sport=40003), ethertype=IPV4),
    ]
    names = ["tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str", "tls.record.length"]
    names += ["tls.handshake.extensions.supported_version", "_ws.malformed"]
    rows = fields(_pcap(tmp_path, frames), names)
    assert rows[0]["tls.handshake.extensions_server_name"] == "flysafe-api.dji.com"
    assert rows[0]["tls.handshake.extensions_alpn_str"] == "h2,http/1.1"
    assert rows[0]["tls.handshake.extensions.supported_version"] == "0x0304,0x0303"
    assert rows[1]["tls.handshake.extensions_server_name"] == "split.example"
    assert rows[1]["tls.record.length"].split(",")[:2] == ["5", "40"]
    assert rows[2]["tls.handshake.extensions_server_name"] == ""
    assert not any(row["_ws.malformed"] for row in rows)


@needs_tshark
def test_tshark_reads_http_host(tmp_path: Path) -> None:
    request = http_request("POST", "/api/v1/upload", "api.example.com", b'{"a": 1}')
    rows = fields(
        _pcap(tmp_path, [ethernet(_tcp4(request, dport=80), ethertype=IPV4)]),
        ["http.host", "http.request.method", "http.content_length"],
    )
    assert rows == [
        {"http.host": "api.example.com", "http.request.method": "POST", "http.content_length": "8"}
    ]
