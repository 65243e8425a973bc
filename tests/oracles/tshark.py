"""tshark as a runtime oracle: frame counts and per-flow packets/IP-layer bytes.

Why not ``tshark -z conv``: it counts frame bytes (link header included) where Zeek and droneaudit count
IP-layer bytes, and it counts every fragment as a packet. Here each frame's fields are printed and
aggregated the way the droneaudit contract defines a flow:

* bytes are IP-layer bytes: IPv4 total length, IPv6 40 + payload length;
* a fragmented datagram counts once, at its reassembled length. tshark (default reassembly, two passes
  with ``-2``) puts the transport fields on the frame that completes the datagram and marks the other
  fragments with ``ip.reassembled_in``; fragments that never complete are listed, not counted;
* tunnels and ICMP errors make tshark print every layer's value comma-separated (``ip.src`` =
  "outer,inner"); the OUTER (first) network header is what is counted, with the transport that
  directly follows it (GRE and 6in4 become ``ip-47``/``ip-41`` flows between the tunnel endpoints);
* ICMP flows use Zeek's key: type as the sender's port, and the counterpart type (echo request/reply
  and similar pairs) or else the code as the other port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from oracles import Counts, FlowKey, canonical_ip

#: The fields printed per frame; :func:`_packet` reads them by these names.
FIELDS: tuple[str, ...] = (
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "vlan.id",
    "ip.src",
    "ip.dst",
    "ip.hdr_len",
    "ip.len",
    "ip.proto",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.reassembled_in",
    "ip.reassembled.length",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.dstopts.nxt",
    "ipv6.routing.nxt",
    "ipv6.fraghdr.nxt",
    "ipv6.reassembled.in",
    "ipv6.reassembled.length",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
)

#: Zeek's ICMP4_counterpart / ICMP6_counterpart (src/packet_analysis/protocol/icmp/ICMP.cc): request and
#: reply types that form one two-way flow. Any other type is one-way and uses its code as "port".
ICMP4_COUNTERPART: dict[int, int] = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_COUNTERPART: dict[int, int] = {
    128: 129,
    129: 128,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    130: 131,
    131: 130,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
}

#: IPv6 extension headers and the tshark field holding the header that follows each.
_IPV6_EXTENSIONS: dict[int, str] = {
    0: "ipv6.hopopts.nxt",
    60: "ipv6.dstopts.nxt",
    43: "ipv6.routing.nxt",
    44: "ipv6.fraghdr.nxt",
}

_ERROR_MARKERS = (
    "appears to have been cut short",
    "appears to be damaged or corrupt",
    "isn't a capture file",
)


def tshark_path() -> str | None:
    """The tshark binary, or None; callers skip rather than fail when it is missing."""
    return shutil.which("tshark")


def run_tshark(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run tshark with TZ=UTC and the C locale, so times and number formats never depend on the host."""
    binary = tshark_path()
    if binary is None:
        raise FileNotFoundError("tshark is not installed")
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, check=False, timeout=300)


def _error_text(stderr: str) -> str | None:
    """tshark's complaint about the file itself, without the harmless 'running as root' notice."""
    lines = [line for line in stderr.splitlines() if line.strip() and "Running as user" not in line]
    text = " ".join(lines)
    return text or None


@dataclass(frozen=True, slots=True)
class FrameCount:
    """How many frames tshark read, and the error it reported when it stopped early."""

    frames: int
    error: str | None  #: e.g. "... appears to have been cut short in the middle of a packet."
    returncode: int

    @property
    def clean(self) -> bool:
        return self.error is None and self.returncode == 0

    @property
    def damaged(self) -> bool:
        """tshark read part of the file and then gave up on a broken or truncated record."""
        return self.error is not None and any(marker in self.error for marker in _ERROR_MARKERS)


def tshark_frame_count(file: Path) -> FrameCount:
    """Frames as ``tshark -r F -T fields -e frame.number | wc -l`` counts them.

    Quirk: tshark 4.0 also shows pcapng Custom Blocks (CB/DCB) as frames, so for pcapng files that
    contain them this is more than the number of packet blocks; capinfos does not count them.
    """
    result = run_tshark(["-n", "-r", str(file), "-T", "fields", "-e", "frame.number"])
    frames = sum(1 for line in result.stdout.splitlines() if line.strip())
    return FrameCount(frames, _error_text(result.stderr), result.returncode)


@dataclass(frozen=True, slots=True)
class CapinfosSummary:
    """capinfos' file type name ("pcap", "nsecpcap", "pcapng") and packet count (blocks with packets)."""

    file_type: str | None
    packets: int | None
    error: str | None


def capinfos_summary(file: Path) -> CapinfosSummary:
    """Ask capinfos (shipped with tshark) for the file type and the number of packet records."""
    binary = shutil.which("capinfos")
    if binary is None:
        raise FileNotFoundError("capinfos is not installed")
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    result = subprocess.run(
        [binary, "-T", "-r", "-t", "-c", str(file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    error = _error_text(result.stderr)
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            return CapinfosSummary(parts[1], int(parts[2]), error)
    return CapinfosSummary(None, None, error or f"capinfos printed nothing (rc={result.returncode})")


# --- per-packet view ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TsharkPacket:
    """One IP datagram as counted for flows: the outer header, its transport, its IP-layer size."""

    frame: int
    time: Decimal
    ip_proto: int
    src: str
    dst: str
    src_port: int | None
    dst_port: int | None
    ip_bytes: int
    vlan: int | None
    reassembled: bool  #: True when this frame completed a fragmented datagram

    def key(self) -> FlowKey:
        return FlowKey.of(self.ip_proto, self.src, self.src_port, self.dst, self.dst_port)


@dataclass(slots=True)
class TsharkFlow:
    """Per-flow totals built from tshark's per-frame fields."""

    key: FlowKey
    counts: Counts
    first_frame: int
    first_time: Decimal
    last_time: Decimal
    initiator: str  #: "a" or "b": which end of ``key`` sent the first packet
    vlan: int | None  #: outer VLAN id of the first packet

    def seen_from(self, ip: str, port: int | None) -> tuple[int, int, int, int]:
        """(packets out, bytes out, packets in, bytes in) from the (ip, port) end."""
        return self.counts.seen_from(self.key, ip, port)


@dataclass(slots=True)
class TsharkFlows:
    """Everything :func:`tshark_flows` learned about one file."""

    flows: dict[FlowKey, TsharkFlow] = field(default_factory=dict)
    frames: int = 0
    non_ip_frames: list[int] = field(default_factory=list)  #: ARP, 802.11 management, BLE, ...
    fragment_frames: list[int] = field(default_factory=list)  #: fragments folded into a later frame
    unreassembled_frames: list[int] = field(default_factory=list)  #: fragments of datagrams never completed
    undecodable_frames: list[int] = field(default_factory=list)  #: IP header or transport header unusable
    error: str | None = None

    def add(self, packet: TsharkPacket) -> None:
        key = packet.key()
        sent = Counts.one_way(key, packet.src, packet.src_port, 1, packet.ip_bytes)
        flow = self.flows.get(key)
        if flow is None:
            initiator = "a" if key.is_a(packet.src, packet.src_port) else "b"
            self.flows[key] = TsharkFlow(
                key, sent, packet.frame, packet.time, packet.time, initiator, packet.vlan
            )
            return
        flow.counts = flow.counts + sent
        flow.first_time = min(flow.first_time, packet.time)
        flow.last_time = max(flow.last_time, packet.time)


def tshark_flows(file: Path) -> TsharkFlows:
    """Aggregate a capture into bidirectional flows keyed by unordered 5-tuple (see module docstring)."""
    args = ["-n", "-2", "-r", str(file), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]
    args += ["-E", "aggregator=,", "-E", "quote=n"]
    for name in FIELDS:
        args += ["-e", name]
    result = run_tshark(args)
    flows = TsharkFlows(error=_error_text(result.stderr) if result.returncode != 0 else None)
    for line in result.stdout.splitlines():
        values = line.split("\t")
        if len(values) != len(FIELDS):
            continue
        flows.frames += 1
        _classify(dict(zip(FIELDS, values, strict=True)), flows)
    return flows


def _first(row: dict[str, str], name: str) -> str | None:
    """The first (outermost) value of a field that tshark printed once per layer, comma-separated."""
    value = row.get(name, "").split(",", 1)[0].strip()
    return value or None


def _first_int(row: dict[str, str], name: str) -> int | None:
    value = _first(row, name)
    if value is None:
        return None
    return int(value, 16) if value.lower().startswith("0x") else int(value)


def _outer_family(protocols: str) -> str | None:
    """'ip' or 'ipv6', whichever network layer comes first in frame.protocols (the outer one)."""
    for layer in protocols.split(":"):
        if layer in ("ip", "ipv6"):
            return layer
    return None


def _classify(row: dict[str, str], flows: TsharkFlows) -> None:
    frame = int(row["frame.number"])
    family = _outer_family(row["frame.protocols"])
    if family is None:
        flows.non_ip_frames.append(frame)
        return
    datagram = _ipv4(row) if family == "ip" else _ipv6(row)
    if datagram is None:
        flows.undecodable_frames.append(frame)
        return
    src, dst, ip_proto, ip_bytes, fragment_state = datagram
    if fragment_state == "folded":
        flows.fragment_frames.append(frame)
        return
    if fragment_state == "orphan":
        flows.unreassembled_frames.append(frame)
        return
    ports = _ports(row, ip_proto)
    if ports is None:
        flows.undecodable_frames.append(frame)
        return
    time = Decimal(row["frame.time_epoch"] or "0")
    vlan = _first_int(row, "vlan.id")
    reassembled = fragment_state == "reassembled"
    flows.add(TsharkPacket(frame, time, ip_proto, src, dst, *ports, ip_bytes, vlan, reassembled))


_Datagram = tuple[str, str, int, int, str]


def _ipv4(row: dict[str, str]) -> _Datagram | None:
    """Outer IPv4 header: (src, dst, proto, IP bytes, fragment state) or None if tshark could not read it."""
    src, dst = _first(row, "ip.src"), _first(row, "ip.dst")
    proto, total, header = (
        _first_int(row, "ip.proto"),
        _first_int(row, "ip.len"),
        _first_int(row, "ip.hdr_len"),
    )
    if src is None or dst is None or proto is None or total is None or header is None:
        return None
    is_fragment = _first(row, "ip.flags.mf") in ("1", "True") or (_first_int(row, "ip.frag_offset") or 0) > 0
    reassembled_length = _first_int(row, "ip.reassembled.length")
    if reassembled_length is not None:
        return canonical_ip(src), canonical_ip(dst), proto, header + reassembled_length, "reassembled"
    if is_fragment:
        state = "folded" if _first(row, "ip.reassembled_in") else "orphan"
        return canonical_ip(src), canonical_ip(dst), proto, total, state
    return canonical_ip(src), canonical_ip(dst), proto, total, "whole"


def _ipv6(row: dict[str, str]) -> _Datagram | None:
    """Outer IPv6 header; the transport is found by walking the extension-header chain."""
    src, dst, payload = _first(row, "ipv6.src"), _first(row, "ipv6.dst"), _first_int(row, "ipv6.plen")
    proto = _ipv6_transport(row)
    if src is None or dst is None or payload is None or proto is None:
        return None
    reassembled_length = _first_int(row, "ipv6.reassembled.length")
    if reassembled_length is not None:
        return canonical_ip(src), canonical_ip(dst), proto, 40 + reassembled_length, "reassembled"
    if "ipv6.fraghdr" in row["frame.protocols"].split(":"):
        state = "folded" if _first(row, "ipv6.reassembled.in") else "orphan"
        return canonical_ip(src), canonical_ip(dst), proto, 40 + payload, state
    return canonical_ip(src), canonical_ip(dst), proto, 40 + payload, "whole"


def _ipv6_transport(row: dict[str, str]) -> int | None:
    """Follow ipv6.nxt through hop-by-hop/routing/fragment/destination headers to the transport."""
    next_header = _first_int(row, "ipv6.nxt")
    for _ in range(len(_IPV6_EXTENSIONS) + 1):
        if next_header not in _IPV6_EXTENSIONS:
            return next_header
        next_header = _first_int(row, _IPV6_EXTENSIONS[next_header])
    return None  # a chain that repeats a header (malformed, e.g. tcpdump's ipv6hdr-heapoverflow.pcap)


def _ports(row: dict[str, str], ip_proto: int) -> tuple[int, int] | None:
    """The transport directly after the outer header gives the ports; None if tshark could not read them."""
    if ip_proto in (6, 17):
        prefix = "tcp" if ip_proto == 6 else "udp"
        src_port, dst_port = _first_int(row, f"{prefix}.srcport"), _first_int(row, f"{prefix}.dstport")
        return None if src_port is None or dst_port is None else (src_port, dst_port)
    if ip_proto in (1, 58):
        prefix, pairs = ("icmp", ICMP4_COUNTERPART) if ip_proto == 1 else ("icmpv6", ICMP6_COUNTERPART)
        icmp_type, code = _first_int(row, f"{prefix}.type"), _first_int(row, f"{prefix}.code")
        if icmp_type is None or code is None:
            return None
        return icmp_type, pairs.get(icmp_type, code)
    return 0, 0
