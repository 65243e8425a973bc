"""Which name each flow was for (``droneaudit.attribution``), checked against oracles that are not ours.

Rules under test (issue "Who, whose and why"): TLS SNI, QUIC Initial SNI and the HTTP Host/CONNECT
authority beat DNS; otherwise a flow is named by the latest DNS answer *to that client* that contained
the remote address and came *before* the flow started (ties broken by frame), reported as the name the
client asked for (the head of a CNAME chain). IP-literal Hosts are not names; no name gives host None.
An ECH ClientHello's SNI is marked ``host_ech``. DNS is read over UDP and over TCP.

Oracles:

* **synthetic captures** built here with ``droneaudit.synth``: the expected name is the one the test
  put on the wire, and tshark must read the same thing from the file before droneaudit is asked;
* **Zeek's btest baselines** in the shared corpus (ssl.log, quic.log, dns.log, http.log and the
  ``.stdout`` prints that carry server names or ECH), mapped to traces by ``zeek/baselines/INDEX.tsv``;
* **suricata-verify** expectations (test.yaml, and the JA4 reference output in ja4-quic/README.md);
* **tshark** over the corpus traces that carry names: every ClientHello SNI, first HTTP Host and DNS
  message it shows.

Known gaps are ``xfail(strict=True)`` with the reason, so a fix turns them into failures to clean up.
"""

from __future__ import annotations

import inspect
import ipaddress
import os
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import droneaudit
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.link import ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet
from droneaudit.synth.packets import (
    PROTO_TCP,
    PROTO_UDP,
    dns_query,
    dns_response,
    fragment_ipv4,
    http_request,
    ipv4,
    ipv6,
    tcp,
    udp,
)
from droneaudit.synth.tls import tls_client_hello
from oracles import canonical_ip, find_corpus
from oracles.tshark import run_tshark
from oracles.zeek import read_zeek_log

Record = Mapping[str, Any]
SNI_SOURCES = frozenset({"tls-sni", "quic-sni"})
ECH_EXTENSION = "65037"  # 0xfe0d, encrypted_client_hello

# --- tshark as the oracle ------------------------------------------------------------------------------

FIELDS = (
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "ip.fragment",
    "ipv6.fragment",
    "tcp.segment",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extension.type",
    "tls.handshake.fragment",
    "quic.crypto.fragment",
    "http.request.method",
    "http.request.uri",
    "http.host",
    "dns.flags.response",
    "dns.flags.truncated",
    "dns.count.answers",
    "dns.resp.type",
    "dns.qry.name",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
)
IP_FRAGMENTS = ("ip.fragment", "ipv6.fragment")  # frames of a reassembled datagram
PREFS = (
    "tls.desegment_ssl_records:TRUE",
    "tcp.desegment_tcp_streams:TRUE",
    "tcp.reassemble_out_of_order:TRUE",
)


@dataclass(frozen=True)
class Seen:
    """Where tshark saw one message: the frame it reported it on, every frame carrying its bytes."""

    frame: int
    transport: str
    src: str
    sport: int
    dst: str
    dport: int
    frames: frozenset[int]

    def endpoints(self) -> tuple[tuple[str, int], ...]:
        return ends(self.src, self.sport, self.dst, self.dport)


@dataclass(frozen=True)
class Hello:
    seen: Seen
    sni: str | None
    ech: bool


@dataclass(frozen=True)
class Request:
    seen: Seen
    method: str
    uri: str
    host: str | None  # the Host header as sent


@dataclass(frozen=True)
class DnsMessage:
    seen: Seen
    response: bool
    truncated: bool
    qname: str
    addresses: tuple[str, ...]  # A then AAAA values
    cnames: tuple[str, ...]


@dataclass
class TsharkView:
    hellos: list[Hello] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    dns: list[DnsMessage] = field(default_factory=list)


def ends(a: str, ap: int, b: str, bp: int) -> tuple[tuple[str, int], ...]:
    """The unordered pair of endpoints of a flow (addresses spelled one way)."""
    return tuple(sorted([(canonical_ip(a), ap), (canonical_ip(b), bp)]))


def tshark_view(path: Path) -> TsharkView:
    args = ["-n", "-r", str(path), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]
    args += ["-E", "aggregator=|", "-E", "quote=n"]
    for pref in PREFS:
        args += ["-o", pref]
    for name in FIELDS:
        args += ["-e", name]
    view = TsharkView()
    for line in run_tshark(args).stdout.splitlines():
        values = line.split("\t")
        if len(values) == len(FIELDS):
            _add_row({k: [x for x in v.split("|") if x] for k, v in zip(FIELDS, values, strict=True)}, view)
    return view


def _first(row: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        if row[name]:
            return row[name][0]
    return None


def _seen(row: dict[str, list[str]], *fragment_fields: str) -> Seen | None:
    src, dst = _first(row, "ip.src", "ipv6.src"), _first(row, "ip.dst", "ipv6.dst")
    transport = "tcp" if row["tcp.srcport"] else "udp" if row["udp.srcport"] else None
    if src is None or dst is None or transport is None:
        return None
    frame = int(row["frame.number"][0])
    carried = {frame, *(int(v) for name in fragment_fields for v in row[name])}
    sport, dport = int(row[f"{transport}.srcport"][0]), int(row[f"{transport}.dstport"][0])
    return Seen(frame, transport, canonical_ip(src), sport, canonical_ip(dst), dport, frozenset(carried))


def _add_row(row: dict[str, list[str]], view: TsharkView) -> None:
    layers = row["frame.protocols"][0].split(":") if row["frame.protocols"] else []
    if sum(layer in ("ip", "ipv6") for layer in layers) > 1:
        return  # tunnelled: tshark's ports belong to the inner packet, droneaudit's flow to the outer
    if "1" in row["tls.handshake.type"]:
        seen = _seen(row, "tls.handshake.fragment", "tcp.segment", "quic.crypto.fragment", *IP_FRAGMENTS)
        if seen is not None:
            sni = _first(row, "tls.handshake.extensions_server_name")
            view.hellos.append(Hello(seen, sni, ECH_EXTENSION in row["tls.handshake.extension.type"]))
    if row["http.request.method"]:
        seen = _seen(row, "tcp.segment", *IP_FRAGMENTS)
        if seen is not None:
            method, uri = row["http.request.method"][0], _first(row, "http.request.uri") or ""
            view.requests.append(Request(seen, method, uri, _first(row, "http.host")))
    if row["dns.qry.name"]:
        seen = _seen(row, "tcp.segment", *IP_FRAGMENTS)
        if seen is not None:
            view.dns.append(_dns_message(row, seen))


def _dns_message(row: dict[str, list[str]], seen: Seen) -> DnsMessage:
    """One message per frame; ``dns.a`` also lists authority/additional records, so only the first
    ``dns.count.answers`` records (the answer section comes first) are kept, in message order."""
    count = int(row["dns.count.answers"][0]) if row["dns.count.answers"] else 0
    values = {"1": iter(row["dns.a"]), "28": iter(row["dns.aaaa"]), "5": iter(row["dns.cname"])}
    picked = ((rtype, next(values[rtype], "")) for rtype in row["dns.resp.type"][:count] if rtype in values)
    answers = [(rtype, value) for rtype, value in picked if value]
    return DnsMessage(
        seen,
        response=row["dns.flags.response"][:1] in (["1"], ["True"]),
        truncated=row["dns.flags.truncated"][:1] in (["1"], ["True"]),
        qname=row["dns.qry.name"][0].lower(),
        addresses=tuple(canonical_ip(v) for t, v in answers if t != "5"),
        cnames=tuple(v.lower() for t, v in answers if t == "5"),
    )


def http_name(value: str | None) -> str | None:
    """RFC 9110 host of a Host header or CONNECT authority: no port, case-folded; IP literals name nothing."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):
        return None
    host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.lower().rstrip(".") or None
    return None


def request_name(request: Request) -> str | None:
    return http_name(request.uri if request.method == "CONNECT" else request.host)


def views(paths: Sequence[Path]) -> dict[Path, TsharkView]:
    """tshark over several files at once (it is mostly start-up time)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(paths, pool.map(tshark_view, paths), strict=True))


# --- droneaudit side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scanned:
    path: Path
    flows: tuple[Record, ...]
    dns: tuple[Record, ...]

    def flows_with(self, key: tuple[tuple[str, int], ...]) -> list[Record]:
        return [f for f in self.flows if flow_ends(f) == key]

    def flow(self, device: str, remote: str, remote_port: int, device_port: int | None = None) -> Record:
        found = [
            f
            for f in self.flows
            if canonical_ip(f["device_ip"]) == canonical_ip(device)
            and canonical_ip(f["remote_ip"]) == canonical_ip(remote)
            and f["remote_port"] == remote_port
            and device_port in (None, f["device_port"])
        ]
        assert len(found) == 1, f"{len(found)} flows {device} -> {remote}:{remote_port}: {self.flows}"
        return found[0]


def flow_ends(flow: Record) -> tuple[tuple[str, int], ...]:
    return ends(flow["device_ip"], flow["device_port"], flow["remote_ip"], flow["remote_port"])


@cache
def _shared_scan_options() -> dict[str, Any]:
    """One IP-data table for every scan here, where ``scan`` takes one: loading it is most of a small
    scan's time, and it plays no part in naming."""
    if "ipdata" not in inspect.signature(droneaudit.scan).parameters:
        return {}
    from droneaudit.enrich.ipdata import IpData

    return {"ipdata": IpData()}


def scan(path: Path, devices: Sequence[str] = ()) -> Scanned:
    case = droneaudit.scan([path], devices=devices, **_shared_scan_options())
    return Scanned(path, tuple(case.flow_records()), tuple(case.dns_records()))


def named(flow: Record) -> tuple[Any, Any, Any]:
    return flow["host"], flow["host_source"], flow["host_ech"]


# --- synthetic captures ----------------------------------------------------------------------------

T0_NS = 1_700_000_000 * 1_000_000_000
RESOLVER = "10.0.0.53"


class Wire:
    """The frames of one Ethernet capture in file order; a frame's number is its 1-based position."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.clock_ms = 0.0

    def ip(self, src: str, dst: str, proto: int, segment: bytes, at_ms: float | None = None) -> int:
        v6 = ":" in src
        return self.packet(ipv6(src, dst, proto, segment) if v6 else ipv4(src, dst, proto, segment), at_ms)

    def packet(self, packet: bytes, at_ms: float | None = None) -> int:
        """One IP packet (v4 or v6, by its version nibble) in an Ethernet frame."""
        self.clock_ms = self.clock_ms + 1 if at_ms is None else at_ms
        data = ethernet(packet, ethertype=ETHERTYPE_IPV6 if packet[0] >> 4 == 6 else ETHERTYPE_IPV4)
        self.frames.append(Frame(T0_NS + round(self.clock_ms * 1_000_000), data))
        return len(self.frames)

    def udp(
        self, src: str, sport: int, dst: str, dport: int, payload: bytes, at_ms: float | None = None
    ) -> int:
        return self.ip(src, dst, PROTO_UDP, udp(sport, dport, payload, src_ip=src, dst_ip=dst), at_ms)

    def write(self, path: Path) -> Path:
        write_pcap(path, self.frames, link_type=1, nanosecond=True)
        return path


@dataclass
class Tcp:
    """One TCP connection on a :class:`Wire`, with consistent sequence and acknowledgement numbers."""

    wire: Wire
    client: str
    cport: int
    server: str
    sport: int
    isn_c: int = 1_000
    isn_s: int = 7_000_000
    sent_c: int = 0
    sent_s: int = 0

    def _segment(
        self, from_client: bool, payload: bytes, flags: str, offset: int, at_ms: float | None
    ) -> int:
        src, sp, dst, dp = (
            (self.client, self.cport, self.server, self.sport)
            if from_client
            else (self.server, self.sport, self.client, self.cport)
        )
        isn, peer_isn, peer_sent = (
            (self.isn_c, self.isn_s, self.sent_s) if from_client else (self.isn_s, self.isn_c, self.sent_c)
        )
        seq, ack = isn + 1 + offset, peer_isn + 1 + peer_sent if "A" in flags else 0
        segment = tcp(sp, dp, payload, seq=seq, ack=ack, flags=flags, src_ip=src, dst_ip=dst)
        return self.wire.ip(src, dst, PROTO_TCP, segment, at_ms)

    def syn(self, at_ms: float | None = None) -> int:
        return self._segment(True, b"", "S", -1, at_ms)

    def accept(self) -> None:
        """SYN-ACK and the client's ACK."""
        self._segment(False, b"", "SA", -1, None)
        self._segment(True, b"", "A", 0, None)

    def open(self, at_ms: float | None = None) -> int:
        """Three-way handshake; returns the SYN's frame number."""
        frame = self.syn(at_ms)
        self.accept()
        return frame

    def send(self, data: bytes, *, from_server: bool = False, at_ms: float | None = None) -> int:
        offset = self.sent_s if from_server else self.sent_c
        frame = self._segment(not from_server, data, "PA", offset, at_ms)
        if from_server:
            self.sent_s += len(data)
        else:
            self.sent_c += len(data)
        return frame

    def send_at(self, data: bytes, offset: int, at_ms: float | None = None) -> int:
        """A client segment at an explicit stream offset (for reordering); the caller tracks the length."""
        return self._segment(True, data, "PA", offset, at_ms)


def framed(message: bytes) -> bytes:
    """DNS over TCP: a two-byte length before each message (RFC 1035 section 4.2.2)."""
    return struct.pack(">H", len(message)) + message


def with_tc(message: bytes) -> bytes:
    return message[:2] + bytes([message[2] | 0x02]) + message[3:]


def dns_exchange(
    wire: Wire,
    client: str,
    name: str,
    answers: Sequence[tuple[str, str, int]],
    *,
    at_ms: float,
    server: str = RESOLVER,
    qtype: str = "A",
    sport: int = 53000,
) -> None:
    """A UDP query half a millisecond before its answer, which comes at ``at_ms``."""
    wire.udp(client, sport, server, 53, dns_query(name, qtype), at_ms - 0.5)
    wire.udp(server, 53, client, sport, dns_response(name, answers, qtype=qtype), at_ms)


def tls_flow(
    wire: Wire, client: str, cport: int, server: str, sni: str | None, at_ms: float | None = None
) -> int:
    """A TCP connection with a ClientHello; returns the SYN's frame."""
    conn = Tcp(wire, client, cport, server, 443)
    syn = conn.open(at_ms)
    conn.send(tls_client_hello(sni))
    return syn


# Scenario a: a ClientHello in 3 TLS records and 3 TCP segments, the 2nd segment captured before the 1st.
SPLIT_CLIENT = "10.1.0.2"
SPLIT_CASES = {
    "split.example": ("203.0.113.10", 1_000),
    "wrap.example": ("203.0.113.11", 0xFFFFFFF0),  # the stream's sequence numbers wrap past 2**32
}


def build_split_hello(wire: Wire) -> None:
    for port, (sni, (server, isn)) in enumerate(SPLIT_CASES.items(), start=40001):
        conn = Tcp(wire, SPLIT_CLIENT, port, server, 443, isn_c=isn)
        conn.open()
        hello = tls_client_hello(sni, record_split=[40, 80])
        cuts = [0, 30, 140, len(hello)]
        segments = [(hello[a:b], a) for a, b in pairwise(cuts)]
        for data, offset in (segments[1], segments[0], segments[2]):
            conn.send_at(data, offset)


# Scenario b: a truncated UDP answer, then the same query over TCP, the answer split over two segments.
TC_CLIENT, TC_RESOLVER = "10.2.0.2", "10.2.0.53"
TC_NAME, TC_ADDRESSES = "big.example", ("198.51.100.21", "198.51.100.22")
# Scenario b2: one TCP connection reused for two lookups far apart in time.
REUSE_CLIENT, REUSE_RESOLVER = "10.2.1.2", "10.2.1.53"
REUSE = {"first.example": ("198.51.100.31", 110.0), "second.example": ("198.51.100.32", 500.0)}
REUSE_FLOWS = {40201: 200.0, 40202: 800.0}  # device port -> SYN time (ms): before / after the 2nd answer
# Scenario b3: an answer too big for one packet, in IPv4 fragments (EDNS0 over UDP).
FRAG_CLIENT, FRAG_NAME = "10.2.2.2", "many.example"
FRAG_ADDRESSES = tuple(f"198.51.100.{i}" for i in range(100, 200))


def build_dns_tcp(wire: Wire) -> None:
    answers = [("A", a, 300) for a in TC_ADDRESSES]
    wire.udp(TC_CLIENT, 53001, TC_RESOLVER, 53, dns_query(TC_NAME), 1)
    wire.udp(TC_RESOLVER, 53, TC_CLIENT, 53001, with_tc(dns_response(TC_NAME, [])), 2)
    conn = Tcp(wire, TC_CLIENT, 40100, TC_RESOLVER, 53)
    conn.open(3)
    conn.send(framed(dns_query(TC_NAME)))
    response = framed(dns_response(TC_NAME, answers))
    conn.send(response[:20], from_server=True)
    conn.send(response[20:], from_server=True)
    tls_flow(wire, TC_CLIENT, 40101, TC_ADDRESSES[1], None, 20)
    reuse = Tcp(wire, REUSE_CLIENT, 40200, REUSE_RESOLVER, 53)
    reuse.open(100)
    address = REUSE["second.example"][0]
    for name, (answer_address, at_ms) in REUSE.items():
        reuse.send(framed(dns_query(name)), at_ms=at_ms - 1)
        reuse.send(framed(dns_response(name, [("A", answer_address, 60)])), from_server=True, at_ms=at_ms)
        if name == "first.example":
            tls_flow(wire, REUSE_CLIENT, 40201, address, None, REUSE_FLOWS[40201])
    tls_flow(wire, REUSE_CLIENT, 40202, address, None, REUSE_FLOWS[40202])
    build_fragmented_answer(wire)


def build_fragmented_answer(wire: Wire) -> None:
    wire.udp(FRAG_CLIENT, 53300, RESOLVER, 53, dns_query(FRAG_NAME), 900)
    answer = dns_response(FRAG_NAME, [("A", a, 60) for a in FRAG_ADDRESSES])
    segment = udp(53, 53300, answer, src_ip=RESOLVER, dst_ip=FRAG_CLIENT)
    for fragment in fragment_ipv4(ipv4(RESOLVER, FRAG_CLIENT, PROTO_UDP, segment, ident=0x4242), 576):
        wire.packet(fragment)
    tls_flow(wire, FRAG_CLIENT, 40300, FRAG_ADDRESSES[-1], None, 950)


# Scenarios c, d, e, g, h: DNS-only naming; each uses its own client and remote addresses.
CNAME_CLIENT, CNAME_ADDRESS = "10.3.0.2", "203.0.113.7"
TWO_CLIENTS, SHARED_ADDRESS = {"10.4.0.2": "alpha.example", "10.4.0.3": "beta.example"}, "198.51.100.40"
LATE_CLIENT = "10.5.0.2"
#: Scenario e, remote address -> the name its flow must get (None: every answer came too late).
LATE_EXPECTED = {
    "192.0.2.55": None,
    "192.0.2.66": "early.example",
    "192.0.2.77": None,
    "192.0.2.88": "tie-before.example",
    "192.0.2.99": "newer.example",
}
NAT64_CLIENT, NAT64_RESOLVER, NAT64_ADDRESS = "2001:db8:6::2", "2001:db8:6::53", "64:ff9b::cb00:7107"
SNI_CLIENT, SNI_ADDRESS = "10.8.0.2", "203.0.113.9"


def build_dns_names(wire: Wire) -> None:
    chain = [("CNAME", "edge.cdn.example", 60), ("A", CNAME_ADDRESS, 60)]
    dns_exchange(wire, CNAME_CLIENT, "cdn-alias.example", chain, at_ms=10)
    tls_flow(wire, CNAME_CLIENT, 41000, CNAME_ADDRESS, None, 20)
    for i, (client, name) in enumerate(TWO_CLIENTS.items()):
        dns_exchange(wire, client, name, [("A", SHARED_ADDRESS, 60)], at_ms=30 + 2 * i)
    for i, client in enumerate(TWO_CLIENTS):
        tls_flow(wire, client, 41100, SHARED_ADDRESS, None, 40 + 10 * i)
    build_late_answers(wire)
    nat64 = [("AAAA", NAT64_ADDRESS, 60)]
    dns_exchange(
        wire, NAT64_CLIENT, "ipv4only.example", nat64, server=NAT64_RESOLVER, qtype="AAAA", at_ms=140
    )
    tls_flow(wire, NAT64_CLIENT, 41400, NAT64_ADDRESS, None, 150)
    dns_exchange(wire, SNI_CLIENT, "dns-name.example", [("A", SNI_ADDRESS, 60)], at_ms=160)
    tls_flow(wire, SNI_CLIENT, 41500, SNI_ADDRESS, "sni-name.example", 170)


def build_late_answers(wire: Wire) -> None:
    """Scenario e: answers that come after the flow started, and answers at the flow's own timestamp."""
    dns_exchange(wire, LATE_CLIENT, "early.example", [("A", "192.0.2.66", 60)], at_ms=60, sport=53100)
    tls_flow(wire, LATE_CLIENT, 41200, "192.0.2.55", None, 70)
    tls_flow(wire, LATE_CLIENT, 41201, "192.0.2.66", None, 80)
    dns_exchange(wire, LATE_CLIENT, "late.example", [("A", "192.0.2.55", 60)], at_ms=90, sport=53101)
    dns_exchange(wire, LATE_CLIENT, "later.example", [("A", "192.0.2.66", 60)], at_ms=100, sport=53102)
    # The same timestamp as the SYN, one frame after it: not before the flow.
    wire.udp(LATE_CLIENT, 53103, RESOLVER, 53, dns_query("tie-after.example"), 109.5)
    after = Tcp(wire, LATE_CLIENT, 41202, "192.0.2.77", 443)
    after.syn(110)
    wire.udp(
        RESOLVER, 53, LATE_CLIENT, 53103, dns_response("tie-after.example", [("A", "192.0.2.77", 60)]), 110
    )
    after.accept()
    after.send(tls_client_hello(None))
    # The same timestamp as the SYN, one frame before it: it counts.
    wire.udp(LATE_CLIENT, 53104, RESOLVER, 53, dns_query("tie-before.example"), 119.5)
    wire.udp(
        RESOLVER, 53, LATE_CLIENT, 53104, dns_response("tie-before.example", [("A", "192.0.2.88", 60)]), 120
    )
    tls_flow(wire, LATE_CLIENT, 41203, "192.0.2.88", None, 120)
    # Two answers before the flow: the latest wins.
    for i, name in enumerate(("older.example", "newer.example")):
        dns_exchange(wire, LATE_CLIENT, name, [("A", "192.0.2.99", 60)], at_ms=125 + i, sport=53105 + i)
    tls_flow(wire, LATE_CLIENT, 41204, "192.0.2.99", None, 128)


# Scenario f: HTTP Host that is an IP literal, CONNECT without a Host header, a literal next to DNS.
HTTP_CLIENT = "10.6.0.2"


def build_http(wire: Wire) -> None:
    literal = Tcp(wire, HTTP_CLIENT, 42000, "198.51.100.4", 8080)
    literal.open(10)
    literal.send(http_request("GET", "/status", "198.51.100.4:8080"))
    proxy = Tcp(wire, HTTP_CLIENT, 42001, "198.51.100.5", 3128)
    proxy.open(20)
    proxy.send(b"CONNECT api.example.com:443 HTTP/1.1\r\nUser-Agent: okhttp/4.12\r\n\r\n")
    dns_exchange(wire, HTTP_CLIENT, "plain.example", [("A", "198.51.100.6", 60)], at_ms=30)
    by_dns = Tcp(wire, HTTP_CLIENT, 42002, "198.51.100.6", 80)
    by_dns.open(40)
    by_dns.send(http_request("GET", "/", "198.51.100.6"))


SCENARIOS: dict[str, tuple[Callable[[Wire], None], tuple[str, ...]]] = {
    "tls-split": (build_split_hello, ("10.1.0.0/24",)),
    "dns-tcp": (build_dns_tcp, ("10.2.0.0/16",)),
    "dns-names": (build_dns_names, ("10.0.0.0/8", "2001:db8:6::/64")),
    "http": (build_http, ("10.6.0.0/24",)),
}


@dataclass(frozen=True)
class Built:
    ours: Scanned
    tshark: TsharkView


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tshark: str) -> dict[str, Built]:
    """Every synthetic capture, scanned by droneaudit and read by tshark (in parallel)."""
    del tshark
    folder = tmp_path_factory.mktemp("attribution")
    paths = {}
    for name, (build, _devices) in SCENARIOS.items():
        wire = Wire()
        build(wire)
        paths[name] = wire.write(folder / f"{name}.pcap")
    seen = views(list(paths.values()))
    return {name: Built(scan(path, SCENARIOS[name][1]), seen[path]) for name, path in paths.items()}


def tshark_hello(view: TsharkView, client: str, server: str) -> Hello:
    found = [
        h for h in view.hellos if (h.seen.src, h.seen.dst) == (canonical_ip(client), canonical_ip(server))
    ]
    assert len(found) == 1, found
    return found[0]


def tshark_dns(view: TsharkView, client: str, name: str, *, response: bool) -> list[DnsMessage]:
    client = canonical_ip(client)
    return [
        m
        for m in view.dns
        if m.qname == name and m.response == response and (m.seen.dst if response else m.seen.src) == client
    ]


def evidence(flow: Record, kind: str | None = None) -> set[int]:
    return {e["frame"] for e in flow["host_evidence"] if kind is None or e["kind"] == kind}


# --- a: ClientHello over 3 records and 3 reordered segments ----------------------------------------


@pytest.mark.parametrize(
    "sni",
    [
        "split.example",
        "wrap.example",  # TCP sequence numbers cross 2**32 inside the hello
    ],
)
def test_a_hello_split_over_records_and_reordered_segments(built: dict[str, Built], sni: str) -> None:
    server = SPLIT_CASES[sni][0]
    seen = tshark_hello(built["tls-split"].tshark, SPLIT_CLIENT, server)
    assert (seen.sni, seen.ech) == (sni, False), "tshark must read what the test wrote"
    flow = built["tls-split"].ours.flow(SPLIT_CLIENT, server, 443)
    assert named(flow) == (sni, "tls-sni", False)
    assert evidence(flow) and evidence(flow) <= seen.seen.frames


# --- b: TC bit over UDP, then the same query over TCP ---------------------------------------------


def test_b_truncated_udp_answer_then_tcp_retry(built: dict[str, Built]) -> None:
    view, ours = built["dns-tcp"].tshark, built["dns-tcp"].ours
    (udp_answer,) = [
        m for m in tshark_dns(view, TC_CLIENT, TC_NAME, response=True) if m.seen.transport == "udp"
    ]
    (tcp_answer,) = [
        m for m in tshark_dns(view, TC_CLIENT, TC_NAME, response=True) if m.seen.transport == "tcp"
    ]
    assert udp_answer.truncated and udp_answer.addresses == ()
    assert tcp_answer.addresses == TC_ADDRESSES and len(tcp_answer.seen.frames) == 2
    records = [r for r in ours.dns if r["client_ip"] == TC_CLIENT]
    summary = sorted((r["transport"], r["is_response"], r["qname"], r["server_ip"]) for r in records)
    assert summary == [(t, resp, TC_NAME, TC_RESOLVER) for t in ("tcp", "udp") for resp in (False, True)]
    (tcp_record,) = [r for r in records if r["transport"] == "tcp" and r["is_response"]]
    assert tcp_record["answers"] == [f"A {TC_NAME} {a}" for a in TC_ADDRESSES]
    assert tcp_record["frame"] in tcp_answer.seen.frames
    flow = ours.flow(TC_CLIENT, TC_ADDRESSES[1], 443)
    assert named(flow) == (TC_NAME, "dns", False)
    assert evidence(flow) and evidence(flow) <= tcp_answer.seen.frames


def test_b2_each_dns_over_tcp_message_keeps_its_own_frame(built: dict[str, Built]) -> None:
    view, ours = built["dns-tcp"].tshark, built["dns-tcp"].ours
    for name in REUSE:
        (answer,) = tshark_dns(view, REUSE_CLIENT, name, response=True)
        (record,) = [r for r in ours.dns if r["qname"] == name and r["is_response"]]
        assert record["frame"] in answer.seen.frames, name


def test_b2_answer_on_a_reused_tcp_connection_after_the_flow_started_is_not_used(
    built: dict[str, Built],
) -> None:
    ours, address = built["dns-tcp"].ours, REUSE["second.example"][0]
    before, after = (ours.flow(REUSE_CLIENT, address, 443, device_port=port) for port in REUSE_FLOWS)
    assert named(after) == ("second.example", "dns", False)
    assert named(before) == (None, None, False)


def test_b3_answer_in_ipv4_fragments(built: dict[str, Built]) -> None:
    view, ours = built["dns-tcp"].tshark, built["dns-tcp"].ours
    (answer,) = tshark_dns(view, FRAG_CLIENT, FRAG_NAME, response=True)
    assert answer.addresses == FRAG_ADDRESSES and len(answer.seen.frames) > 2
    (record,) = [r for r in ours.dns if r["client_ip"] == FRAG_CLIENT and r["is_response"]]
    assert answer_values(record) == FRAG_ADDRESSES and record["frame"] in answer.seen.frames
    flow = ours.flow(FRAG_CLIENT, FRAG_ADDRESSES[-1], 443)
    assert named(flow) == (FRAG_NAME, "dns", False)


# --- c: CNAME chain, a flow without SNI -------------------------------------------------------------


def test_c_cname_chain_gives_the_name_the_client_asked(built: dict[str, Built]) -> None:
    view, ours = built["dns-names"].tshark, built["dns-names"].ours
    (answer,) = tshark_dns(view, CNAME_CLIENT, "cdn-alias.example", response=True)
    assert (answer.cnames, answer.addresses) == (("edge.cdn.example",), (CNAME_ADDRESS,))
    assert tshark_hello(view, CNAME_CLIENT, CNAME_ADDRESS).sni is None
    (record,) = [r for r in ours.dns if r["client_ip"] == CNAME_CLIENT and r["is_response"]]
    assert record["answers"] == [
        "CNAME cdn-alias.example edge.cdn.example",
        f"A edge.cdn.example {CNAME_ADDRESS}",
    ]
    flow = ours.flow(CNAME_CLIENT, CNAME_ADDRESS, 443)
    assert named(flow) == ("cdn-alias.example", "dns", False)
    assert evidence(flow) == {answer.seen.frame}


# --- d: two clients, one address, two names --------------------------------------------------------


@pytest.mark.parametrize(("client", "name"), TWO_CLIENTS.items())
def test_d_each_client_gets_the_name_it_asked_for(built: dict[str, Built], client: str, name: str) -> None:
    view, ours = built["dns-names"].tshark, built["dns-names"].ours
    (answer,) = tshark_dns(view, client, name, response=True)
    assert answer.addresses == (SHARED_ADDRESS,)
    flow = ours.flow(client, SHARED_ADDRESS, 443)
    assert named(flow) == (name, "dns", False)
    assert evidence(flow) == {answer.seen.frame}


# --- e: answers after the flow started; ties on the timestamp -------------------------------------


@pytest.mark.parametrize(
    ("remote", "expected"),
    list(LATE_EXPECTED.items()),
    ids=list(LATE_EXPECTED),
)
def test_e_only_answers_before_the_flow_count(
    built: dict[str, Built], remote: str, expected: str | None
) -> None:
    view, ours = built["dns-names"].tshark, built["dns-names"].ours
    flow = ours.flow(LATE_CLIENT, remote, 443)
    answers = [m for m in view.dns if m.response and remote in m.addresses and m.seen.dst == LATE_CLIENT]
    earlier = [m.qname for m in answers if m.seen.frame < flow["first_frame"]]
    assert earlier[-1:] == ([expected] if expected else []), "the capture is not what the test meant to write"
    assert named(flow) == ((expected, "dns", False) if expected else (None, None, False))


# --- f: HTTP Host literals and CONNECT ------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "port", "tshark_sees", "expected"),
    [
        ("198.51.100.4", 8080, ("GET", "198.51.100.4:8080"), (None, None, False)),
        ("198.51.100.5", 3128, ("CONNECT", None), ("api.example.com", "http-host", False)),
        ("198.51.100.6", 80, ("GET", "198.51.100.6"), ("plain.example", "dns", False)),
    ],
    ids=["ip-literal-host", "connect-authority", "ip-literal-host-with-dns"],
)
def test_f_http_host_and_connect(
    built: dict[str, Built],
    server: str,
    port: int,
    tshark_sees: tuple[str, str | None],
    expected: tuple[Any, ...],
) -> None:
    view, ours = built["http"].tshark, built["http"].ours
    (request,) = [r for r in view.requests if r.seen.dst == server]
    assert (request.method, request.host) == tshark_sees
    if request.method == "CONNECT":
        assert request.uri == "api.example.com:443"
    assert named(ours.flow(HTTP_CLIENT, server, port)) == expected


# --- g: NAT64 -------------------------------------------------------------------------------------


def test_g_nat64_aaaa_answer_names_the_ipv6_flow(built: dict[str, Built]) -> None:
    view, ours = built["dns-names"].tshark, built["dns-names"].ours
    (answer,) = tshark_dns(view, NAT64_CLIENT, "ipv4only.example", response=True)
    assert answer.addresses == (NAT64_ADDRESS,)
    flow = ours.flow(NAT64_CLIENT, NAT64_ADDRESS, 443)
    assert named(flow) == ("ipv4only.example", "dns", False)
    assert evidence(flow) == {answer.seen.frame}


# --- h: SNI beats DNS --------------------------------------------------------------------------------


def test_h_sni_beats_a_disagreeing_dns_answer(built: dict[str, Built]) -> None:
    view, ours = built["dns-names"].tshark, built["dns-names"].ours
    hello = tshark_hello(view, SNI_CLIENT, SNI_ADDRESS)
    (answer,) = tshark_dns(view, SNI_CLIENT, "dns-name.example", response=True)
    assert (hello.sni, answer.addresses) == ("sni-name.example", (SNI_ADDRESS,))
    flow = ours.flow(SNI_CLIENT, SNI_ADDRESS, 443)
    assert named(flow) == ("sni-name.example", "tls-sni", False)
    assert evidence(flow, "tls-sni") and evidence(flow, "tls-sni") <= hello.seen.frames


def test_h_evidence_holds_no_frame_naming_another_host(built: dict[str, Built]) -> None:
    b = built["dns-names"]
    flow = b.ours.flow(SNI_CLIENT, SNI_ADDRESS, 443)
    wrong = [e for e in flow["host_evidence"] if not names_host(b.tshark, e, flow)]
    assert wrong == []


# --- every synthetic capture: tshark's view against ours ---------------------------------------------


def names_host(view: TsharkView, entry: Record, flow: Record) -> bool:
    """Whether tshark shows the evidence frame naming ``flow['host']`` for this flow's client."""
    frame, kind, host, key = entry["frame"], entry["kind"], flow["host"], flow_ends(flow)
    if kind in SNI_SOURCES:
        return any(
            h.sni == host and frame in h.seen.frames and h.seen.endpoints() == key for h in view.hellos
        )
    if kind == "http-host":
        return any(
            request_name(r) == host and frame in r.seen.frames and r.seen.endpoints() == key
            for r in view.requests
        )
    remote, device = canonical_ip(flow["remote_ip"]), canonical_ip(flow["device_ip"])
    return any(
        m.response
        and m.qname == host
        and remote in m.addresses
        and m.seen.dst == device
        and frame in m.seen.frames
        for m in view.dns
    )


def sni_disagreements(ours: Scanned, view: TsharkView) -> set[str]:
    """Every ClientHello tshark read whose flow is not named by it (or is named by SNI without one)."""
    wrong = set()
    for hello in view.hellos:
        flows = ours.flows_with(hello.seen.endpoints())
        if len(flows) != 1 or not _named_by(flows[0], hello):
            wrong.add(f"{hello.seen.src}:{hello.seen.sport}>{hello.seen.dst}:{hello.seen.dport} {hello.sni}")
    return wrong


def _named_by(flow: Record, hello: Hello) -> bool:
    if hello.sni is None:
        return flow["host_source"] not in SNI_SOURCES
    source = "quic-sni" if hello.seen.transport == "udp" else "tls-sni"
    return named(flow) == (hello.sni, source, hello.ech)


def evidence_disagreements(ours: Scanned, view: TsharkView) -> set[str]:
    """Named flows whose evidence of the winning kind is missing or does not name the host."""
    wrong = set()
    for flow in ours.flows:
        if flow["host"] is None:
            continue
        entries = [e for e in flow["host_evidence"] if e["kind"] == flow["host_source"]]
        if not entries or not all(names_host(view, e, flow) for e in entries):
            wrong.add(f"{flow['device_ip']}:{flow['device_port']}>{flow['remote_ip']}:{flow['remote_port']}")
    return wrong


#: Known mismatches with tshark per scenario (none now); the set must stay exactly this.
KNOWN_SNI_MISSES: dict[str, set[str]] = {}
KNOWN_EVIDENCE_MISSES: dict[str, set[str]] = {}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_hello_tshark_reads_names_its_flow(built: dict[str, Built], scenario: str) -> None:
    b = built[scenario]
    assert sni_disagreements(b.ours, b.tshark) == KNOWN_SNI_MISSES.get(scenario, set())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_named_flow_has_evidence_tshark_confirms(built: dict[str, Built], scenario: str) -> None:
    b = built[scenario]
    assert evidence_disagreements(b.ours, b.tshark) == KNOWN_EVIDENCE_MISSES.get(scenario, set())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_dns_message_tshark_reads_is_a_dns_record(built: dict[str, Built], scenario: str) -> None:
    b = built[scenario]
    assert dns_disagreements(b.ours, b.tshark) == KNOWN_DNS_MISSES.get(scenario, set())


def answer_values(record: Record) -> tuple[str, ...]:
    """The A/AAAA addresses of a dns record, in order."""
    values = (a.split(" ", 2) for a in record["answers"])
    return tuple(canonical_ip(v[2]) for v in values if v[0] in ("A", "AAAA"))


def dns_disagreements(ours: Scanned, view: TsharkView) -> set[str]:
    """DNS messages tshark read (one per frame) with no record of ours at one of their frames."""
    wrong = set()
    for message in view.dns:
        client = message.seen.dst if message.response else message.seen.src
        match = [
            r
            for r in ours.dns
            if r["frame"] in message.seen.frames
            and r["qname"] == message.qname
            and r["is_response"] == message.response
            and canonical_ip(r["client_ip"]) == client
            and r["transport"] == message.seen.transport
            and answer_values(r) == message.addresses
        ]
        if not match:
            wrong.add(f"{message.seen.transport} {message.qname} response={message.response}")
    return wrong


KNOWN_DNS_MISSES: dict[str, set[str]] = {}


# === the shared corpus ============================================================================

CORPUS = find_corpus()
TUNNEL_REASON = (
    "inside a tunnel: droneaudit keeps only the outer flow (GRE/Teredo), so names carried inside "
    "tunnelled packets are not read; a design decision to confirm, not a parser bug"
)


@cache
def corpus_scan(path: Path) -> Scanned:
    return scan(path)


def index_rows(corpus: Path) -> list[tuple[str, str]]:
    """(trace below zeek/traces, baseline below zeek/baselines) from INDEX.tsv."""
    rows = []
    for line in (corpus / "zeek" / "baselines" / "INDEX.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            trace, _script, baseline = line.split("\t")
            rows.append((trace, baseline))
    return rows


def baselines(kinds: Iterable[str]) -> list[tuple[Path, Path]]:
    """(trace, baseline) for every baseline whose file name starts with one of ``kinds``."""
    if CORPUS is None:
        return []
    zeek = CORPUS / "zeek"
    return [
        (zeek / "traces" / trace, zeek / "baselines" / baseline)
        for trace, baseline in index_rows(CORPUS)
        if Path(baseline).name.startswith(tuple(kinds))
    ]


def row_id(baseline: Path, row: int) -> str:
    return f"{baseline.parent.name}/{baseline.name}#{row}"


def trace_id(trace: Path, baseline: Path) -> str:
    return f"{baseline.parent.name}:{trace.name}"


# --- Zeek ssl.log / quic.log: server_name per connection ---------------------------------------------


@dataclass(frozen=True)
class ZeekServerName:
    trace: Path
    log: str  # "ssl" or "quic"
    ends: tuple[tuple[str, int], ...] | None  # None: a .cut file without the 5-tuple columns
    server_name: str | None


def zeek_server_names() -> list[Any]:
    params = []
    for trace, baseline in baselines(("ssl.log", "quic.log")):
        log = read_zeek_log(baseline)
        for i, row in enumerate(log.rows):
            key = None
            if "id.orig_h" in log.fields:
                orig_p, resp_p = int(str(row["id.orig_p"])), int(str(row["id.resp_p"]))
                key = ends(str(row["id.orig_h"]), orig_p, str(row["id.resp_h"]), resp_p)
            name = row.get("server_name")
            expected = ZeekServerName(
                trace, baseline.name.split(".")[0], key, None if name is None else str(name)
            )
            params.append(pytest.param(expected, id=row_id(baseline, i)))
    return params


@pytest.mark.parametrize("expected", zeek_server_names())
def test_zeek_server_name(corpus: Path, expected: ZeekServerName) -> None:
    ours = corpus_scan(expected.trace)
    if expected.ends is None:  # zeek-cut kept no addresses: compare the trace's SNI names as a set
        sni_names = {f["host"] for f in ours.flows if f["host_source"] in SNI_SOURCES}
        assert sni_names == ({expected.server_name} if expected.server_name else set())
        return
    flows = ours.flows_with(expected.ends)
    assert len(flows) == 1, f"no single flow for {expected.ends}: {[flow_ends(f) for f in ours.flows]}"
    flow = flows[0]
    if expected.log == "quic":
        assert flow["proto"] == "udp"
    if expected.server_name is None:
        assert flow["host_source"] not in SNI_SOURCES, flow["host"]
    else:
        source = "quic-sni" if flow["proto"] == "udp" else "tls-sni"
        assert (flow["host"], flow["host_source"]) == (expected.server_name, source)


# --- Zeek .stdout prints: server_name and ECH extension events --------------------------------------

_SECTION = re.compile(r"^[\w.+-]+\.pcap$")
_SERVER_NAME = re.compile(r"^server_name, (\S+), (\S+), \[(.*)\]$")
_ECH = re.compile(r"^ssl_extension_encrypted_client_hello, (\S+), (\S+),")


def section_lines(baseline: Path, trace: Path) -> list[str]:
    """The print lines about ``trace``: btests that read several traces print each file's name first."""
    lines = baseline.read_text(encoding="utf-8").splitlines()
    if not any(_SECTION.match(line) for line in lines):
        return lines
    current, kept = None, []
    for line in lines:
        if _SECTION.match(line):
            current = line
        elif current == trace.name:
            kept.append(line)
    return kept


def stdout_matches(pattern: re.Pattern[str]) -> list[Any]:
    params = []
    for trace, baseline in baselines((".stdout", "output")):
        hits = [m.groups() for m in map(pattern.match, section_lines(baseline, trace)) if m]
        if hits:
            params.append(pytest.param(trace, hits, id=trace_id(trace, baseline)))
    return params


def flows_between_hosts(ours: Scanned, a: str, b: str) -> list[Record]:
    pair = {canonical_ip(a), canonical_ip(b)}
    return [f for f in ours.flows if {canonical_ip(f["device_ip"]), canonical_ip(f["remote_ip"])} == pair]


@pytest.mark.parametrize(("trace", "hits"), stdout_matches(_SERVER_NAME))
def test_zeek_printed_server_names(corpus: Path, trace: Path, hits: list[tuple[str, ...]]) -> None:
    ours = corpus_scan(trace)
    for orig, resp, names in hits:
        sni = {f["host"] for f in flows_between_hosts(ours, orig, resp) if f["host_source"] == "tls-sni"}
        assert sni == {names.split(", ")[0].lower()}, (orig, resp)


@pytest.mark.parametrize(("trace", "hits"), stdout_matches(_ECH))
def test_zeek_printed_ech_extensions(corpus: Path, trace: Path, hits: list[tuple[str, ...]]) -> None:
    ours = corpus_scan(trace)
    ech_flows = [f for f in ours.flows if f["host_ech"]]
    assert len(ech_flows) == len(hits), "one ECH ClientHello per printed event"
    for orig, resp in {hit[:2] for hit in hits}:
        expected = sum(hit[:2] == (orig, resp) for hit in hits)
        assert sum(f["host_ech"] for f in flows_between_hosts(ours, orig, resp)) == expected
    assert all(f["host_source"] in SNI_SOURCES for f in ech_flows)


# --- Zeek dns.log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZeekDns:
    trace: Path
    client: str
    server: str
    transport: str
    query: str
    qtype: int | None
    rcode: int | None  # None: Zeek saw no reply
    answers: tuple[str, ...]


def zeek_dns_rows() -> list[Any]:
    params = []
    for trace, baseline in baselines(("dns.log",)):
        for i, row in enumerate(read_zeek_log(baseline).rows):
            answers = row.get("answers")
            expected = ZeekDns(
                trace,
                canonical_ip(str(row["id.orig_h"])),
                canonical_ip(str(row["id.resp_h"])),
                str(row["proto"]),
                str(row["query"]).lower(),
                _optional_int(row.get("qtype")),
                _optional_int(row.get("rcode")),
                tuple(str(a) for a in answers) if isinstance(answers, tuple) else (),
            )
            params.append(pytest.param(expected, id=row_id(baseline, i), marks=_dns_marks(trace, expected)))
    return params


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _dns_marks(trace: Path, expected: ZeekDns) -> list[pytest.MarkDecorator]:
    if trace.parts[-2] == "tunnels":
        return [pytest.mark.xfail(strict=True, reason=TUNNEL_REASON)]
    return []


def zeek_answer_values(answers: Iterable[str]) -> list[str]:
    """Zeek's A/AAAA addresses and CNAME targets (other types print with spaces: 'TXT 33 ...')."""
    return [canonical_ip(a) if _is_ip(a) else a.lower() for a in answers if " " not in a]


def our_answer_values(record: Record) -> list[str]:
    values = [a.split(" ", 2)[2] for a in record["answers"]]
    return [canonical_ip(v) if _is_ip(v) else v for v in values]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("expected", zeek_dns_rows())
def test_zeek_dns_log(corpus: Path, expected: ZeekDns) -> None:
    records = [
        r
        for r in corpus_scan(expected.trace).dns
        if r["qname"] == expected.query
        and canonical_ip(r["client_ip"]) == expected.client
        and canonical_ip(r["server_ip"]) == expected.server
        and r["transport"] == expected.transport
        and expected.qtype in (None, r["qtype"])
    ]
    if expected.rcode is None:
        assert any(not r["is_response"] for r in records), "Zeek logged this query"
        return
    responses = [r for r in records if r["is_response"] and r["rcode"] == expected.rcode]
    assert responses, f"no response to {expected.query} in {records}"
    want = zeek_answer_values(expected.answers)
    assert want in [our_answer_values(r) for r in responses]


# --- Zeek http.log ------------------------------------------------------------------------------------


def zeek_http_rows() -> list[Any]:
    params, seen_uids = [], set()
    for trace, baseline in baselines(("http.log",)):
        for i, row in enumerate(read_zeek_log(baseline).rows):
            if row["uid"] in seen_uids:
                continue  # a later request on the same connection; the flow is named by its first
            seen_uids.add(row["uid"])
            key = ends(
                str(row["id.orig_h"]),
                int(str(row["id.orig_p"])),
                str(row["id.resp_h"]),
                int(str(row["id.resp_p"])),
            )
            host = row.get("host")
            inner = trace.parts[-2] == "tunnels" and ":" in str(row["id.orig_h"])
            marks = [pytest.mark.xfail(strict=True, reason=TUNNEL_REASON)] if inner else []
            params.append(pytest.param(trace, key, host, id=row_id(baseline, i), marks=marks))
    return params


@pytest.mark.parametrize(("trace", "key", "host"), zeek_http_rows())
def test_zeek_http_log(corpus: Path, trace: Path, key: tuple[tuple[str, int], ...], host: str | None) -> None:
    flows = corpus_scan(trace).flows_with(key)
    assert len(flows) == 1, key
    expected = http_name(host)
    if expected is None:
        assert flows[0]["host_source"] != "http-host", "an IP literal or missing Host names nothing"
    else:
        assert (flows[0]["host"], flows[0]["host_source"]) == (expected, "http-host")


# --- suricata-verify -------------------------------------------------------------------------------


def suricata(relative: str) -> Path:
    if CORPUS is None:
        pytest.skip("shared corpus not found")
    return CORPUS / "suricata-verify" / relative


def ja4_reference_streams(readme: Path) -> list[dict[str, str]]:
    """The '- stream:' blocks of the JA4 reference output quoted in ja4-quic/README.md."""
    streams: list[dict[str, str]] = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(-| ) (\w+): (.*)$", line)
        if match is None:
            continue
        if match[1] == "-":
            streams.append({})
        if streams:
            streams[-1][match[2]] = match[3].strip()
    return streams


def test_suricata_ja4_quic_server_names(corpus: Path) -> None:
    folder = suricata("ja4-quic")
    streams = ja4_reference_streams(folder / "README.md")
    assert len(streams) == 11, "test.yaml: count 11 quic events, all with SNI ('d' in the JA4)"
    ours = corpus_scan(folder / "input.pcap")
    for s in streams:
        key = ends(s["src"], int(s["src_port"]), s["dst"], int(s["dst_port"]))
        (flow,) = ours.flows_with(key)
        assert (flow["host"], flow["host_source"]) == (s["tls_server_name"], "quic-sni"), s


def test_suricata_tls13_draft28_sni(corpus: Path) -> None:
    # test.yaml: count 2 tls events with tls.sni "localhost".
    ours = corpus_scan(suricata("tls/tls13-draft28/tls13_draft28.pcap"))
    assert [(f["host"], f["host_source"]) for f in ours.flows] == [("localhost", "tls-sni")] * 2


def test_suricata_quic_v2_has_one_quic_flow_without_sni(corpus: Path, tshark: str) -> None:
    # test.yaml: one quic event (its extensions hold no server_name; tshark agrees, quic-go dialled an IP).
    path = suricata("quic-v2/input.pcap")
    hellos = corpus_views()[path].hellos
    assert [(h.sni, h.seen.transport) for h in hellos] == [(None, "udp")]
    ours = corpus_scan(path)
    assert [(f["proto"], f["remote_port"], f["host"]) for f in ours.flows] == [("udp", 443, None)]


def test_suricata_quic_frag_names_the_flow_from_two_packets(corpus: Path, tshark: str) -> None:
    # test.yaml: the quic event is logged at pcap_cnt 2, i.e. the hello needs packets 1 and 2.
    path = suricata("quic-frag/input.pcap")
    (hello,) = corpus_views()[path].hellos
    assert hello.seen.frame == 2 and hello.sni == "token.services.mozilla.com"
    (flow,) = corpus_scan(path).flows
    assert named(flow) == (hello.sni, "quic-sni", hello.ech)
    assert evidence(flow) <= {1, 2}


def test_suricata_dns_over_tcp(corpus: Path, tshark: str) -> None:
    # test.yaml: one request 10.16.1.11 -> 8.8.4.4 and one response 8.8.4.4 -> 10.16.1.11.
    path = suricata("dns/dns-tcp-www-google-com/dns.pcap")
    records = [
        r for r in corpus_scan(path).dns if (r["client_ip"], r["server_ip"]) == ("10.16.1.11", "8.8.4.4")
    ]
    assert sorted((r["transport"], r["is_response"]) for r in records) == [("tcp", False), ("tcp", True)]
    (answer,) = [m for m in corpus_views()[path].dns if m.response]
    (response,) = [r for r in records if r["is_response"]]
    assert (response["qname"], answer_values(response)) == (answer.qname, answer.addresses)
    assert len(answer.addresses) > 1


# --- tshark over every corpus trace that carries names ----------------------------------------------

#: Traces whose names no Zeek or suricata expectation above covers (or whose view those tests read);
#: the rest of the corpus's TLS/QUIC/DNS traces are checked there, and tshark costs ~0.3 s a file.
NAME_TRACES = (
    "zeek/traces/dns-https.pcap",
    "zeek/traces/dns/ech.pcap",
    "zeek/traces/dns/tm1t.pcap",
    "zeek/traces/http-qinq-0.pcap",
    "zeek/traces/http-vlan-0.pcap",
    "zeek/traces/ipv6-fragmented-dns.pcap",
    "zeek/traces/quic/quic-multiple-initial-fragmented-crypto.pcap",
    "zeek/traces/tls/hrr.pcap",
    "zeek/traces/tls/tls1.2.pcap",
    "zeek/traces/tls/tls13-ech.pcap",
    "zeek/traces/tunnels/Teredo.pcap",
    "zeek/traces/web.pcap",
    "suricata-verify/decode-sll2-01/input.pcap",
    "suricata-verify/dns/dns-tcp-www-google-com/dns.pcap",
    "suricata-verify/quic-frag/input.pcap",
    "suricata-verify/quic-v2/input.pcap",
)


@cache
def corpus_views() -> dict[Path, TsharkView]:
    assert CORPUS is not None
    return views([CORPUS / trace for trace in NAME_TRACES])


def http_disagreements(ours: Scanned, view: TsharkView) -> set[str]:
    """Flows whose first HTTP request (per tshark) names a host that the flow does not carry."""
    first: dict[tuple[tuple[str, int], ...], Request] = {}
    for request in sorted(view.requests, key=lambda r: r.seen.frame):
        first.setdefault(request.seen.endpoints(), request)
    wrong = set()
    for key, request in first.items():
        flows = ours.flows_with(key)
        expected = request_name(request)
        got = (flows[0]["host"], flows[0]["host_source"]) if len(flows) == 1 else None
        if (
            got is None
            or (expected and got != (expected, "http-host"))
            or (not expected and got[1] == "http-host")
        ):
            wrong.add(
                f"{request.seen.src}:{request.seen.sport}>{request.seen.dst}:{request.seen.dport} {expected}"
            )
    return wrong


@pytest.mark.parametrize("trace", NAME_TRACES)
def test_corpus_names_agree_with_tshark(corpus: Path, tshark: str, trace: str) -> None:
    path = corpus / trace
    view, ours = corpus_views()[path], corpus_scan(path)
    assert sni_disagreements(ours, view) == set()
    assert http_disagreements(ours, view) == set()
    assert dns_disagreements(ours, view) == set()
