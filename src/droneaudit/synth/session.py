"""Conversation builders: turn "the phone talked to X" into packets and keep the ground truth.

A ``Capture`` stands for one Ethernet interface on the audited device. ``TcpConversation`` and
``UdpFlow`` emit packets into it with consistent sequence/acknowledgement numbers and checksums, and the
capture counts, per flow, the packets and IP-layer bytes (IP total length) in each direction as it
writes them. That count is the truth the flow readers are checked against, so it is taken from the
packets produced here, never from parsing them back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from droneaudit.synth.link import ETHERTYPE_IPV4, ethernet
from droneaudit.synth.packets import PROTO_TCP, PROTO_UDP, ipv4, tcp, tcp_syn_options, udp
from droneaudit.synth.tls import CONTENT_APPLICATION_DATA, tls_record
from droneaudit.synth.tls13 import Tls13Session
from droneaudit.synth.writers import EPB_INBOUND, EPB_OUTBOUND, Frame

#: (proto, device port, remote ip, remote port): flows never reuse a 5-tuple in the demo.
FlowKey = tuple[str, int, str, int]

_MS = 1_000_000
_US = 1_000


@dataclass(frozen=True, slots=True)
class FlowTruth:
    """Expected values for one bidirectional flow, seen from the device ("up" = device → remote)."""

    proto: str  #: "tcp" or "udp"
    device_ip: str
    device_port: int
    remote_ip: str
    remote_port: int
    packets_up: int
    packets_down: int
    bytes_up: int  #: sum of IP total lengths, device → remote
    bytes_down: int  #: sum of IP total lengths, remote → device
    first_frame: int  #: 1-based frame number of the flow's first packet
    label: str  #: what the flow models, for people reading test failures
    server_name: str | None = None  #: TLS SNI or HTTP Host the device sent, if any


@dataclass(slots=True)
class _Counter:
    label: str
    server_name: str | None
    ttl: int
    packets_up: int = 0
    packets_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class Capture:
    """Frames of one device interface plus per-flow counters; frames are time-sorted on output."""

    def __init__(self, device_ip: str, device_mac: str, peer_mac: str, *, seed: int) -> None:
        self.device_ip = device_ip
        self.device_mac = device_mac
        self.peer_mac = peer_mac
        self.rng = random.Random(seed)
        self._next_port = 38_000 + self.rng.randrange(2_000)
        self._pending: list[tuple[int, int, FlowKey, Frame]] = []
        self._flows: dict[FlowKey, _Counter] = {}
        self._ident: dict[tuple[str, str], int] = {}

    def ephemeral_port(self) -> int:
        """Next client port, walking up from a seeded start like Linux's port allocator roughly does."""
        self._next_port += 1 + self.rng.randrange(40)
        return self._next_port

    def open_flow(
        self, key: FlowKey, label: str, server_name: str | None = None, *, ttl: int = 52
    ) -> FlowKey:
        """Register a flow before its first packet; ``ttl`` is what the remote side's packets carry."""
        if key in self._flows:
            raise ValueError(f"flow {key} already exists; the demo does not reuse 5-tuples")
        self._flows[key] = _Counter(label, server_name, ttl)
        return key

    def _ip_out(self, key: FlowKey, ts_ns: int, up: bool, proto: int, segment: bytes) -> None:
        ts_ns -= ts_ns % _US  # the interface records microseconds: keep the truth equal to the file
        src, dst = (self.device_ip, key[2]) if up else (key[2], self.device_ip)
        if (src, dst) not in self._ident:
            self._ident[(src, dst)] = self.rng.randrange(0x10000)
        ident = self._ident[(src, dst)]
        self._ident[(src, dst)] = (ident + 1) & 0xFFFF
        counter = self._flows[key]
        ttl = 64 if up else counter.ttl
        packet = ipv4(src, dst, proto, segment, ident=ident, ttl=ttl, dont_fragment=proto == PROTO_TCP)
        macs = (self.device_mac, self.peer_mac) if up else (self.peer_mac, self.device_mac)
        data = ethernet(packet, src_mac=macs[0], dst_mac=macs[1], ethertype=ETHERTYPE_IPV4)
        frame = Frame(ts_ns=ts_ns, data=data, flags=EPB_OUTBOUND if up else EPB_INBOUND)
        self._pending.append((ts_ns, len(self._pending), key, frame))
        if up:
            counter.packets_up += 1
            counter.bytes_up += len(packet)
        else:
            counter.packets_down += 1
            counter.bytes_down += len(packet)

    def tcp_packet(
        self,
        key: FlowKey,
        ts_ns: int,
        up: bool,
        payload: bytes,
        *,
        seq: int,
        ack: int,
        flags: str,
        options: bytes = b"",
    ) -> None:
        """One TCP segment of flow ``key`` in the given direction, checksummed."""
        src, dst = (self.device_ip, key[2]) if up else (key[2], self.device_ip)
        sport, dport = (key[1], key[3]) if up else (key[3], key[1])
        window = 65535 if "S" in flags else 2048  # scaled by the window-scale option after SYN
        segment = tcp(
            sport,
            dport,
            payload,
            seq=seq,
            ack=ack,
            flags=flags,
            window=window,
            options=options,
            src_ip=src,
            dst_ip=dst,
        )
        self._ip_out(key, ts_ns, up, PROTO_TCP, segment)

    def udp_packet(self, key: FlowKey, ts_ns: int, up: bool, payload: bytes) -> None:
        """One UDP datagram of flow ``key`` in the given direction, checksummed."""
        src, dst = (self.device_ip, key[2]) if up else (key[2], self.device_ip)
        sport, dport = (key[1], key[3]) if up else (key[3], key[1])
        self._ip_out(key, ts_ns, up, PROTO_UDP, udp(sport, dport, payload, src_ip=src, dst_ip=dst))

    def frames(self) -> list[Frame]:
        """All frames in capture order (by time; ties keep the order they were made in)."""
        return [frame for _, _, _, frame in sorted(self._pending, key=lambda item: item[:2])]

    def truth(self) -> tuple[FlowTruth, ...]:
        """Per-flow expectations, ordered by first frame."""
        first: dict[FlowKey, int] = {}
        for number, (_, _, key, _) in enumerate(sorted(self._pending, key=lambda item: item[:2]), start=1):
            first.setdefault(key, number)
        flows = [
            FlowTruth(
                key[0],
                self.device_ip,
                key[1],
                key[2],
                key[3],
                c.packets_up,
                c.packets_down,
                c.bytes_up,
                c.bytes_down,
                first[key],
                c.label,
                c.server_name,
            )
            for key, c in self._flows.items()
            if key in first
        ]
        return tuple(sorted(flows, key=lambda flow: flow.first_frame))


def tls_blob(rng: random.Random, size: int) -> bytes:
    """``size`` bytes of back-to-back TLS application-data records with random (cipher-like) bodies."""
    out = b""
    while size - len(out) > 5:
        body = min(0x4000, size - len(out) - 5)
        out += tls_record(CONTENT_APPLICATION_DATA, rng.randbytes(body))
    return out


class UdpFlow:
    """A UDP flow between the device (ephemeral or given port) and a remote endpoint."""

    def __init__(
        self,
        cap: Capture,
        remote_ip: str,
        remote_port: int,
        *,
        label: str,
        device_port: int | None = None,
        ttl: int = 52,
    ) -> None:
        self.cap = cap
        port = cap.ephemeral_port() if device_port is None else device_port
        self.key = cap.open_flow(("udp", port, remote_ip, remote_port), label, ttl=ttl)

    def up(self, ts_ns: int, payload: bytes) -> None:
        self.cap.udp_packet(self.key, ts_ns, True, payload)

    def down(self, ts_ns: int, payload: bytes) -> None:
        self.cap.udp_packet(self.key, ts_ns, False, payload)


class TcpConversation:
    """A client TCP connection from the device, with seq/ack kept consistent in both directions.

    Each method takes the time it starts at and returns the time of its last packet, so a scenario
    reads as a timeline. The receiver acknowledges every second segment and the last one; the device's
    ACKs follow 0.1 ms after what they acknowledge, the remote's arrive one round trip after sending.
    """

    def __init__(
        self,
        cap: Capture,
        remote_ip: str,
        remote_port: int,
        *,
        label: str,
        server_name: str | None = None,
        rtt_ns: int = 40 * _MS,
        ttl: int = 52,
    ) -> None:
        self.cap = cap
        self.rtt_ns = rtt_ns
        key = ("tcp", cap.ephemeral_port(), remote_ip, remote_port)
        self.key = cap.open_flow(key, label, server_name, ttl=ttl)
        self.seq = {True: cap.rng.getrandbits(32), False: cap.rng.getrandbits(32)}

    def segment(
        self, ts_ns: int, up: bool, payload: bytes = b"", flags: str = "A", options: bytes = b""
    ) -> None:
        """Send one segment and advance that side's sequence number (SYN and FIN count as one)."""
        ack = 0 if flags == "S" else self.seq[not up]
        self.cap.tcp_packet(
            self.key, ts_ns, up, payload, seq=self.seq[up], ack=ack, flags=flags, options=options
        )
        self.seq[up] = (self.seq[up] + len(payload) + ("S" in flags) + ("F" in flags)) & 0xFFFFFFFF

    def handshake(self, t: int) -> int:
        self.segment(t, True, flags="S", options=tcp_syn_options(1460, 8))
        self.segment(t + self.rtt_ns, False, flags="SA", options=tcp_syn_options(1400, 7))
        self.segment(t + self.rtt_ns + 100 * _US, True)
        return t + self.rtt_ns + 100 * _US

    def send(self, t: int, up: bool, payload: bytes, *, mss: int = 1400, gap_ns: int = 200 * _US) -> int:
        """Send ``payload`` in ``mss``-byte segments ``gap_ns`` apart, acknowledged by the other side."""
        ack_delay = self.rtt_ns if up else 100 * _US
        chunks = [payload[i : i + mss] for i in range(0, len(payload), mss)]
        end = t
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            ts = t + index * gap_ns
            self.segment(ts, up, chunk, "PA" if last else "A")
            if last or index % 2 == 1:
                self.segment(ts + ack_delay, not up)
                end = ts + ack_delay
        return end

    def tls_setup(self, t: int, sni: str | None) -> int:
        """A TLS 1.3 handshake as the wire shows it: ClientHello, the server's first flight (ServerHello,
        CCS, encrypted extensions and a certificate-sized encrypted blob), the client's Finished. Its
        secrets are not logged anywhere: without a key log it stays "encrypted, no key"."""
        rng = self.cap.rng
        tls = Tls13Session(rng, sni)
        t = self.send(t + 200 * _US, True, tls.client_hello())
        t = self.send(t + 5 * _MS, False, tls.server_flight() + tls_blob(rng, 2_400 + rng.randrange(1_800)))
        return self.send(t + 2 * _MS, True, tls.client_finished())

    def exchange(self, t: int, up_bytes: int, down_bytes: int, *, think_ns: int = 30 * _MS) -> int:
        """A request of ``up_bytes`` then a response of ``down_bytes``, both as TLS application data."""
        rng = self.cap.rng
        t = self.send(t, True, tls_blob(rng, up_bytes))
        return self.send(t + think_ns, False, tls_blob(rng, down_bytes))

    def close(self, t: int) -> int:
        """The device closes: FIN from it, FIN back one round trip later, final ACK."""
        self.segment(t, True, flags="FA")
        self.segment(t + self.rtt_ns, False, flags="FA")
        self.segment(t + self.rtt_ns + 100 * _US, True)
        return t + self.rtt_ns + 100 * _US
