"""The few payloads that name a remote, picked out of the hot path without a per-packet Python loop.

Per chunk, vectorised masks select DNS (UDP and TCP port 53), QUIC Initials, and TCP segments with
payload; TCP and QUIC candidates are grouped by flow direction, and only directions still waiting for a
ClientHello or HTTP request get their first segments copied (bounded per direction). Parsing happens in
Python on those few packets; the results are name evidence and DNS events tied to frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from droneaudit.readers.capture.batch import FrameBatch
from droneaudit.readers.capture.directions import DoneSet
from droneaudit.readers.capture.fragments import Reassembled
from droneaudit.readers.capture.gather import u8, u32be
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.ip import TCP, UDP, Packets
from droneaudit.readers.capture.link import LinkResult
from droneaudit.readers.capture.rows import KEY_DTYPE, Oriented, group_ids
from droneaudit.readers.capture.table import address_text, iface_label
from droneaudit.readers.protocols import dns, http, quic, tls

#: Per flow direction: how many payload segments and bytes to keep while waiting for a name.
MAX_SEGMENTS = 12
#: DNS over TCP keeps whole connections (a resolver may reuse one for many lookups), within MAX_BYTES.
MAX_DNS_SEGMENTS = 1024
MAX_BYTES = 1 << 16
DNS_PORT = 53
#: Segments to wait for the stream's first segment before deciding a TCP direction carries no TLS/HTTP.
REORDER_WAIT = 4
_DIR_KEY = np.dtype([("k", KEY_DTYPE), ("d", "u1")])
#: First bytes that can open a TLS handshake record or an HTTP request (see _Direction.plausible).
_STREAM_STARTS = frozenset({bytes([tls.HANDSHAKE]), *(m[:1] for m in http.METHODS)})
_START_BYTES = np.array(sorted(b[0] for b in _STREAM_STARTS), dtype=np.int64)


@dataclass(frozen=True)
class Sender:
    """Who sent a packet to whom, as text, with the interface: enough to find its flow later."""

    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    vlan: int | None
    interface: str


@dataclass(frozen=True)
class FrameAt:
    file: str
    frame: int
    ts_ns: int


@dataclass(frozen=True)
class NameEvidence:
    """A name the client put on the wire: TLS SNI, QUIC SNI or HTTP Host (CONNECT authority)."""

    kind: str  # "tls-sni" | "quic-sni" | "http-host"
    name: str
    ech_outer: bool  # the SNI is the public name of an Encrypted ClientHello
    sender: Sender
    at: FrameAt


@dataclass(frozen=True)
class DnsEvent:
    transport: str  # "udp" | "tcp"
    message: dns.DnsMessage
    sender: Sender
    at: FrameAt


@dataclass
class _Direction:
    sender: Sender
    first: FrameAt
    segments: dict[int, bytes] = field(default_factory=dict)  # TCP seq -> payload
    frames: dict[int, FrameAt] = field(default_factory=dict)  # TCP seq -> the frame that carried it
    size: int = 0
    seen: int = 0  # segments looked at (retransmissions and duplicates included)
    quic: quic.InitialStream | None = None
    #: Some kept TCP segment starts like a TLS record or an HTTP request. While none does, the stream
    #: (which starts with one of them) can be neither, so it is not reassembled and parsed again.
    plausible: bool = False


@dataclass
class PayloadCollector:
    interfaces: InterfaceRegistry
    names: list[NameEvidence] = field(default_factory=list)
    name_keys: list[bytes] = field(default_factory=list)  #: the direction each name came from
    dns_events: list[DnsEvent] = field(default_factory=list)
    _open: dict[bytes, _Direction] = field(default_factory=dict)
    _done: DoneSet = field(default_factory=DoneSet)
    _dns_tcp: dict[bytes, _Direction] = field(default_factory=dict)
    _senders: dict[tuple[int, ...], Sender] = field(default_factory=dict)
    #: Drop a direction's kept segments once it is done. Only a builder that will never be absorbed
    #: (the local scan's) may: absorb.py replays a later file's finished segments into open ones.
    forget_done: bool = False

    def _finished(self, key: bytes) -> None:
        self._done.add(key)
        if self.forget_done:
            self._open.pop(key, None)  # memory stays near the open directions, not all ever seen

    def collect(self, batch: FrameBatch, lres: LinkResult, pk: Packets, ori: Oriented) -> None:
        """``ori`` must be the orientation of exactly ``pk``'s rows (same order)."""
        if len(pk) == 0:
            return
        buf = batch.buf
        has = pk.l4_len > 0
        dns_port = (pk.sport == DNS_PORT) | (pk.dport == DNS_PORT)
        udp, tcp_ = (pk.proto == UDP) & has, (pk.proto == TCP) & has
        initial = np.zeros(len(pk), dtype=bool)
        maybe = np.flatnonzero(udp & (pk.l4_len >= 20))  # only these can hold a QUIC long header
        at = pk.l4_off[maybe]
        version = u32be(buf, at + 1)
        initial[maybe] = ((u8(buf, at) & 0xC0) == 0xC0) & np.isin(version, (quic.V1, quic.V2))
        for i in np.flatnonzero(udp & dns_port):
            self._dns_udp(batch, lres, pk, int(i))
        self._streams(batch, lres, pk, ori, np.flatnonzero(tcp_ & dns_port), dns_stream=True)
        self._streams(batch, lres, pk, ori, np.flatnonzero((tcp_ & ~dns_port) | initial), dns_stream=False)

    def _sender(self, batch: FrameBatch, lres: LinkResult, pk: Packets, i: int) -> Sender:
        row = int(pk.idx[i])
        key = (
            int(pk.proto[i]),
            int(pk.src_hi[i]),
            int(pk.src_lo[i]),
            int(pk.sport[i]),
            int(pk.dst_hi[i]),
            int(pk.dst_lo[i]),
            int(pk.dport[i]),
            int(lres.vlan[row]),
            int(batch.iface[row]),
            int(lres.ifindex[row]),
        )
        sender = self._senders.get(key)
        if sender is None:
            sender = self._senders[key] = Sender(
                "tcp" if key[0] == TCP else "udp",
                address_text(key[1], key[2]),
                key[3],
                address_text(key[4], key[5]),
                key[6],
                None if key[7] < 0 else key[7],
                iface_label(self.interfaces, key[8], key[9]),
            )
        return sender

    @staticmethod
    def _at(batch: FrameBatch, pk: Packets, i: int) -> FrameAt:
        row = int(pk.idx[i])
        return FrameAt(batch.file, int(batch.frame[row]), int(batch.ts_ns[row]))

    @staticmethod
    def _payload(batch: FrameBatch, pk: Packets, i: int) -> bytes:
        start = int(pk.l4_off[i])
        return bytes(batch.buf[start : start + min(int(pk.l4_len[i]), MAX_BYTES)])

    def reassembled_dns(self, items: list[Reassembled], frames: list[str]) -> None:
        """DNS carried in fragmented UDP datagrams (large answers, EDNS0): parsed once reassembled."""
        for r in items:
            if r.proto != UDP or DNS_PORT not in (r.sport, r.dport) or not r.payload:
                continue
            message = dns.parse(r.payload)
            if message is None or not message.qname:
                continue
            ref = r.ref
            sender = Sender(
                "udp",
                address_text(*r.src),
                r.sport,
                address_text(*r.dst),
                r.dport,
                None if ref.vlan < 0 else ref.vlan,
                iface_label(self.interfaces, ref.iface, ref.ifindex),
            )
            self.dns_events.append(
                DnsEvent("udp", message, sender, FrameAt(frames[ref.file_id], ref.frame, ref.ts_ns))
            )

    def _dns_udp(self, batch: FrameBatch, lres: LinkResult, pk: Packets, i: int) -> None:
        message = dns.parse(self._payload(batch, pk, i))
        if message is not None and message.qname:
            self.dns_events.append(
                DnsEvent("udp", message, self._sender(batch, lres, pk, i), self._at(batch, pk, i))
            )

    def _streams(
        self,
        batch: FrameBatch,
        lres: LinkResult,
        pk: Packets,
        ori: Oriented,
        idx: np.ndarray,
        *,
        dns_stream: bool,
    ) -> None:
        if idx.shape[0] == 0:
            return
        keyed = np.empty(idx.shape[0], dtype=_DIR_KEY)
        keyed["k"], keyed["d"] = ori.keys[idx], ori.dir[idx]
        live = self._done.live(keyed)  # only directions still waiting for a name: few after the start
        idx, keyed = idx[live], keyed[live]
        if idx.shape[0] == 0:
            return
        gid = group_ids(keyed)
        order = np.argsort(gid, kind="stable")
        starts = np.flatnonzero(np.r_[True, gid[order][1:] != gid[order][:-1]])
        table = self._dns_tcp if dns_stream else self._open
        ends = np.r_[starts[1:], order.shape[0]]
        heads = keyed[order[starts]].view(f"V{_DIR_KEY.itemsize}")
        limit = MAX_DNS_SEGMENTS if dns_stream else MAX_SEGMENTS
        runs = (
            None
            if dns_stream or not self.forget_done
            else _hopeless_runs(batch, pk, idx[order], starts, ends)
        )
        for g in range(starts.shape[0]):
            key = heads[g].tobytes()
            if key in self._done:
                continue
            if runs is not None and _hopeless(table.get(key), int(runs[g])):
                self._finished(key)  # what feeding its segments one by one would end in, minus the work
                continue
            for j in order[starts[g] : ends[g]][:limit]:
                if self._add(table, key, batch, lres, pk, int(idx[j]), dns_stream):
                    break

    def _add(
        self,
        table: dict[bytes, _Direction],
        key: bytes,
        batch: FrameBatch,
        lres: LinkResult,
        pk: Packets,
        i: int,
        dns_stream: bool,
    ) -> bool:
        """Keep one segment; return True when this direction needs nothing more."""
        state = table.get(key)
        at = self._at(batch, pk, i)
        if state is None:
            state = table[key] = _Direction(self._sender(batch, lres, pk, i), at)
        udp = bool(pk.proto[i] == UDP)
        return self.feed(key, state, self._payload(batch, pk, i), udp, int(pk.seq[i]), at, dns_stream)

    def feed(
        self,
        key: bytes,
        state: _Direction,
        payload: bytes,
        udp: bool,
        seq: int,
        at: FrameAt,
        dns_stream: bool,
    ) -> bool:
        """One segment (or QUIC datagram) of a direction; True when it needs nothing more. Also how the
        Dask engine replays a later file's segments into the state an earlier file left open."""
        limit = MAX_DNS_SEGMENTS if dns_stream else MAX_SEGMENTS
        if state.seen >= limit or state.size >= MAX_BYTES:
            self._finished(key)
            return True
        state.size += len(payload)
        state.seen += 1
        if udp:
            state.segments[len(state.segments)] = payload
            state.quic = state.quic or quic.InitialStream()
            state.quic.add_datagram(payload)
        elif seq not in state.segments:
            state.segments[seq] = payload
            state.frames[seq] = at
            state.plausible = state.plausible or payload[:1] in _STREAM_STARTS
        if dns_stream:
            return False
        return self._try_name(key, state, at)

    def _try_name(self, key: bytes, state: _Direction, at: FrameAt) -> bool:
        if state.quic is not None:
            status, hello = state.quic.client_hello()
            kind = "quic-sni"
        elif not state.plausible:
            status, hello, kind = tls.Status.NOT_TLS, None, "tls-sni"
        else:
            stream = _contiguous(state.segments)
            if http.looks_like_request(stream[:8]):
                return self._http(key, state, stream, at)
            status, hello = tls.from_records(stream)
            kind = "tls-sni"
        if status is tls.Status.NEED_MORE:
            return False
        if status is tls.Status.NOT_TLS and state.quic is None and state.seen < REORDER_WAIT:
            return False  # the segment that starts the stream may still arrive out of order
        self._finished(key)
        if status is tls.Status.DONE and hello is not None and hello.sni:
            self.names.append(NameEvidence(kind, hello.sni, hello.ech, state.sender, state.first))
            self.name_keys.append(key)
        return True

    def _http(self, key: bytes, state: _Direction, stream: bytes, at: FrameAt) -> bool:
        if b"\r\n\r\n" not in stream and len(stream) < 8192:
            return False
        self._finished(key)
        request = http.parse(stream)
        if request is not None and request.host:
            self.names.append(NameEvidence("http-host", request.host, False, state.sender, state.first))
            self.name_keys.append(key)
        return True

    def finish(self) -> None:
        """DNS over TCP: parse the length-prefixed messages of each direction once all data is in."""
        for state in self._dns_tcp.values():
            end = 0
            for message_bytes in dns.split_tcp_stream(_contiguous(state.segments)):
                end += 2 + len(message_bytes)
                message = dns.parse(message_bytes)
                if message is not None and message.qname:
                    at = _frame_at(state.segments, state.frames, end, state.first)
                    self.dns_events.append(DnsEvent("tcp", message, state.sender, at))
        self._dns_tcp.clear()
        self._open.clear()


def _hopeless_runs(
    batch: FrameBatch, pk: Packets, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Per direction group (``rows``: packet indices in group order): how many of its first REORDER_WAIT
    segments, in capture order, are TCP segments whose first byte cannot start a TLS record or an HTTP
    request, counted up to the first one that could."""
    bad = (pk.proto[rows] == TCP) & ~np.isin(u8(batch.buf, pk.l4_off[rows]), _START_BYTES)
    run = np.zeros(starts.shape[0], dtype=np.int64)
    alive = np.ones(starts.shape[0], dtype=bool)
    for j in range(REORDER_WAIT):
        at = starts + j
        alive &= (at < ends) & bad[np.minimum(at, bad.shape[0] - 1)]
        run += alive
    return run


def _hopeless(state: _Direction | None, run: int) -> bool:
    """Would feeding this TCP direction's segments in this chunk finish it without a name? Yes when the
    segments that take it to REORDER_WAIT all fail the first-byte test and none before did (``feed`` and
    ``_try_name`` then answer NOT_TLS each time and give up at the last). Only for a collector that
    forgets finished directions: one that keeps them (absorb.py) must keep their segments too."""
    if state is None:
        return run >= REORDER_WAIT
    need = REORDER_WAIT - state.seen
    return state.quic is None and not state.plausible and 1 <= need <= run


def _ordered(segments: dict[int, bytes]) -> list[tuple[int, int]]:
    """(stream offset, seq) pairs in stream order. Offsets are relative to the first segment kept,
    as signed 32-bit distances, so a stream whose sequence numbers wrap past 2**32 stays in order."""
    if not segments:
        return []
    ref = next(iter(segments))
    rel = [(((seq - ref + (1 << 31)) & 0xFFFFFFFF) - (1 << 31), seq) for seq in segments]
    base = min(r for r, _ in rel)
    return sorted((r - base, seq) for r, seq in rel)


def _contiguous(segments: dict[int, bytes]) -> bytes:
    """TCP payload in stream order from the earliest segment kept, up to the first gap."""
    out = bytearray()
    for offset, seq in _ordered(segments):
        if offset > len(out):
            break
        out += segments[seq][len(out) - offset :]
    return bytes(out)


def _frame_at(segments: dict[int, bytes], frames: dict[int, FrameAt], end: int, default: FrameAt) -> FrameAt:
    """The frame holding stream byte ``end - 1``: where a message carried over TCP is complete."""
    for offset, seq in _ordered(segments):
        if offset < end <= offset + len(segments[seq]):
            return frames.get(seq, default)
    return default
