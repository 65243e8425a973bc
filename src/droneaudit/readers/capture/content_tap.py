"""Whole TCP payloads for the content audit (opt-in: ``scan --content`` or ``--keylog``).

The flow table needs only counts; the content audit needs every byte each side sent, in order, tied to
its frame. The tap keeps TCP segments per connection (a new SYN on a known 5-tuple starts a new one),
bounded per direction and in total, and turns them into ``content.stream.Conversation``s at the end:
retransmissions are kept once (the longest copy of a sequence number wins), overlaps are trimmed, and a
missing segment stops that direction with ``gap_at`` set, since nothing after a hole can be parsed
reliably.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from droneaudit.content.stream import Chunk, Conversation, Endpoint, HalfStream
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.capture.batch import FrameBatch
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.ip import TCP, Packets
from droneaudit.readers.capture.link import LinkResult
from droneaudit.readers.capture.table import address_text, iface_label

#: Payload kept per direction of one connection, and for the whole scan.
MAX_DIRECTION_BYTES = 64 << 20
MAX_TOTAL_BYTES = 1 << 30
_SYN, _ACK = 0x02, 0x10
_WRAP = 1 << 32


@dataclass
class _Half:
    isn: int | None = None  #: the SYN's sequence number: data starts at isn + 1
    segments: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)  #: seq -> payload, frame, ts
    size: int = 0
    capped: bool = False


@dataclass
class _Connection:
    file: str
    interface: str
    ends: tuple[Endpoint, Endpoint]  #: (first sender, its peer)
    client: int = 0  #: index into ends of the side that opened the connection
    halves: tuple[_Half, _Half] = field(default_factory=lambda: (_Half(), _Half()))


@dataclass
class ContentTap:
    interfaces: InterfaceRegistry
    problems: ProblemLog
    _open: dict[tuple[object, ...], _Connection] = field(default_factory=dict)
    _all: list[_Connection] = field(default_factory=list)
    _total: int = 0

    def collect(self, batch: FrameBatch, lres: LinkResult, pk: Packets) -> None:
        """Keep the TCP segments of one batch that carry payload or open a connection."""
        keep = (pk.proto == TCP) & ((pk.l4_len > 0) | ((pk.flags & _SYN) != 0))
        for i in np.flatnonzero(keep).tolist():
            self._segment(batch, lres, pk, i)

    def _segment(self, batch: FrameBatch, lres: LinkResult, pk: Packets, i: int) -> None:
        row = int(pk.idx[i])
        src = Endpoint(address_text(int(pk.src_hi[i]), int(pk.src_lo[i])), int(pk.sport[i]))
        dst = Endpoint(address_text(int(pk.dst_hi[i]), int(pk.dst_lo[i])), int(pk.dport[i]))
        iface = iface_label(self.interfaces, int(batch.iface[row]), int(lres.ifindex[row]))
        # Per file: frames are numbered per file, so a connection continuing into the next file is
        # audited there as its own (mid-stream) conversation rather than citing the wrong file.
        key = (batch.file, iface, int(lres.vlan[row]), *sorted(((src.ip, src.port), (dst.ip, dst.port))))
        flags, seq = int(pk.flags[i]), int(pk.seq[i])
        conn = self._open.get(key)
        syn_only = flags & (_SYN | _ACK) == _SYN
        if conn is None or (syn_only and _is_new(conn, src, seq)):
            conn = self._open[key] = _Connection(batch.file, iface, (src, dst))
            self._all.append(conn)
        side = 0 if conn.ends[0] == src else 1
        half = conn.halves[side]
        if flags & _SYN:
            half.isn = seq
            if syn_only:
                conn.client = side
            seq = (seq + 1) % _WRAP
        start, length = int(pk.l4_off[i]), int(pk.l4_len[i])
        if length:
            self._keep(half, seq, bytes(batch.buf[start : start + length]), int(batch.frame[row]), batch, row)

    def _keep(self, half: _Half, seq: int, payload: bytes, frame: int, batch: FrameBatch, row: int) -> None:
        old = half.segments.get(seq)
        if old is not None and len(old[0]) >= len(payload):
            return  # a retransmission: the first copy (or a longer one) is already kept
        grow = len(payload) - (len(old[0]) if old else 0)
        if half.size + grow > MAX_DIRECTION_BYTES or self._total + grow > MAX_TOTAL_BYTES:
            if not half.capped:
                half.capped = True
                self.problems.add(
                    batch.file,
                    "content-cap",
                    f"content audit keeps at most {MAX_DIRECTION_BYTES >> 20} MiB per connection direction "
                    f"and {MAX_TOTAL_BYTES >> 20} MiB per scan; later payload is not audited",
                    offset=int(batch.rec_off[row]),
                    frame=frame,
                )
            return
        half.segments[seq] = (payload, frame, int(batch.ts_ns[row]))
        half.size += grow
        self._total += grow

    def conversations(self) -> list[Conversation]:
        """Every connection that carried payload, in order of its first packet."""
        out = []
        for conn in self._all:
            if not (conn.halves[0].segments or conn.halves[1].segments):
                continue
            c, s = conn.client, 1 - conn.client
            out.append(
                Conversation(
                    conn.ends[c],
                    conn.ends[s],
                    reassemble(conn.halves[c], conn.file),
                    reassemble(conn.halves[s], conn.file),
                    conn.interface,
                )
            )
        return out


def _is_new(conn: _Connection, src: Endpoint, seq: int) -> bool:
    """A SYN opens a new connection unless it repeats the SYN already seen (a retransmitted SYN)."""
    half = conn.halves[0 if conn.ends[0] == src else 1]
    return half.isn != seq and (half.isn is not None or bool(half.segments))


def reassemble(half: _Half, file: str) -> HalfStream:
    """Segments in stream order into one byte string, up to the first hole."""
    if not half.segments:
        return HalfStream(file)
    base = (half.isn + 1) % _WRAP if half.isn is not None else _earliest(half.segments)
    ordered = sorted((((seq - base) % _WRAP), seq) for seq in half.segments)
    data, chunks = bytearray(), list[Chunk]()
    for n, (offset, seq) in enumerate(ordered):
        if offset >= _WRAP // 2:
            continue  # before the stream's start (bytes from an earlier connection, or junk)
        payload, frame, ts = half.segments[seq]
        if offset > len(data):
            dropped = sum(len(half.segments[s][0]) for _, s in ordered[n:])
            return HalfStream(file, bytes(data), chunks, gap_at=len(data), dropped=dropped)
        tail = payload[len(data) - offset :]
        if tail:
            chunks.append(Chunk(len(data), frame, ts))
            data += tail
    return HalfStream(file, bytes(data), chunks)


def _earliest(segments: dict[int, tuple[bytes, int, int]]) -> int:
    """Without a SYN: the sequence number that is earliest in signed 32-bit distance from the first."""
    ref = next(iter(segments))
    return min(segments, key=lambda seq: ((seq - ref + (1 << 31)) % _WRAP) - (1 << 31))
