"""IP fragment reassembly, so that a fragmented datagram counts once, at its reassembled length.

Fragments are rare, so this runs in Python over the few rows ip.py hands over. A datagram is emitted at
the frame that completes it (as Wireshark's "reassembled in"); datagrams still incomplete when the scan
ends are emitted if their first fragment (the one with the ports) was seen, else reported as problems.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from droneaudit.readers.capture.ip import ICMP, ICMP6, ICMP_PAIRS, TCP, UDP, V4_MAPPED, Fragments

#: Bound on datagrams awaiting their missing pieces; the oldest is given up when exceeded.
MAX_PENDING = 65536
#: Bytes of UDP fragment data kept per datagram (enough for any DNS message) so names inside fragmented
#: DNS answers are read too.
MAX_KEPT = 65536


@dataclass
class FrameRef:
    """Where one fragment came from, enough to emit a flow row for the datagram it completes."""

    file_id: int
    frame: int
    ts_ns: int
    iface: int
    vlan: int
    ifindex: int
    direction: int
    rec_off: int


@dataclass
class _Datagram:
    header_len: int = 0
    head: bytes | None = None  # first bytes of the transport header, from the offset-0 fragment
    pieces: list[tuple[int, int]] = field(default_factory=list)
    data: dict[int, bytes] = field(default_factory=dict)  # UDP only: offset -> bytes, for DNS payloads
    kept: int = 0
    end: int | None = None  # fragmentable length, known from the last fragment
    first: FrameRef | None = None
    last: FrameRef | None = None  # the latest fragment's frame

    def complete(self) -> bool:
        if self.head is None or self.end is None:
            return False
        covered = 0
        for start, length in sorted(self.pieces):
            if start > covered:
                return False
            covered = max(covered, start + length)
        return covered >= self.end

    def ip_bytes(self) -> int:
        end = self.end if self.end is not None else max(s + n for s, n in self.pieces)
        return self.header_len + end


@dataclass
class Reassembled:
    """One datagram ready for the flow table."""

    ref: FrameRef
    src: tuple[int, int]
    dst: tuple[int, int]
    proto: int
    sport: int
    dport: int
    flags: int
    ip_bytes: int
    payload: bytes = b""  # UDP payload (after the 8-byte header) when it was kept and is contiguous


Key = tuple[int, int, int, int, int, int, int, int]


class Reassembler:
    def __init__(self) -> None:
        self.pending: dict[Key, _Datagram] = {}
        self.fragments_seen = 0
        self.lost: list[tuple[FrameRef, str]] = []

    def add(
        self, frags: Fragments, buf: np.ndarray, refs: list[FrameRef], identity: list[int]
    ) -> list[Reassembled]:
        """Feed one batch's fragments (in frame order); return the datagrams they complete."""
        out: list[Reassembled] = []
        for i in range(frags.idx.shape[0]):
            self.fragments_seen += 1
            key: Key = (
                int(frags.src_hi[i]),
                int(frags.src_lo[i]),
                int(frags.dst_hi[i]),
                int(frags.dst_lo[i]),
                int(frags.proto[i]),
                int(frags.ident[i]),
                identity[i],
                refs[i].vlan,
            )
            dgram = self.pending.get(key)
            if dgram is None:
                dgram = self.pending[key] = _Datagram(first=refs[i])
                self._bound()
            dgram.last = refs[i]
            self._piece(dgram, frags, buf, i)
            if dgram.complete():
                del self.pending[key]
                out.append(_emit(key, dgram, refs[i]))
        return out

    def _piece(self, dgram: _Datagram, frags: Fragments, buf: np.ndarray, i: int) -> None:
        offset, length = int(frags.offset[i]), int(frags.length[i])
        dgram.pieces.append((offset, max(length, 0)))
        if not frags.more[i]:
            dgram.end = offset + max(length, 0)
        if int(frags.proto[i]) == UDP and dgram.kept < MAX_KEPT:
            start = int(frags.l4_off[i])
            chunk = bytes(buf[start : start + max(0, min(int(frags.l4_avail[i]), length))])
            dgram.data.setdefault(offset, chunk)
            dgram.kept += len(chunk)
        if offset == 0:
            dgram.header_len = int(frags.header_len[i])
            start = int(frags.l4_off[i])
            dgram.head = bytes(buf[start : start + max(0, min(int(frags.l4_avail[i]), 20))])

    def _bound(self) -> None:
        if len(self.pending) > MAX_PENDING:
            key = next(iter(self.pending))
            dgram = self.pending.pop(key)
            if dgram.first is not None:
                self.lost.append((dgram.first, "too many incomplete fragmented datagrams at once"))

    def flush(self) -> list[Reassembled]:
        """End of scan: emit what can be emitted; the rest is lost (see ``lost``)."""
        out: list[Reassembled] = []
        for key, dgram in self.pending.items():
            assert dgram.first is not None
            if dgram.head is not None and len(dgram.head) >= 4:
                out.append(_emit(key, dgram, dgram.first))
                self.lost.append((dgram.first, "datagram incomplete at end of capture; counted as seen"))
            else:
                self.lost.append((dgram.first, "first fragment never seen: ports unknown, not counted"))
        self.pending.clear()
        return out


def _emit(key: Key, dgram: _Datagram, ref: FrameRef) -> Reassembled:
    proto = key[4]
    head = dgram.head or b""
    v6 = key[1] & 0xFFFFFFFF00000000 != int(V4_MAPPED) or key[0] != 0
    sport = dport = flags = 0
    if proto in (TCP, UDP) and len(head) >= 4:
        sport, dport = struct.unpack_from(">HH", head)
        if proto == TCP and len(head) >= 14:
            flags = head[13]
    elif proto in (ICMP, ICMP6) and len(head) >= 2:
        sport = head[0]
        dport = ICMP_PAIRS[v6].get(head[0], head[1])
    payload = _contiguous(dgram.data)[8:] if proto == UDP else b""
    return Reassembled(
        ref, (key[0], key[1]), (key[2], key[3]), proto, sport, dport, flags, dgram.ip_bytes(), payload
    )


def _contiguous(data: dict[int, bytes]) -> bytes:
    out = bytearray()
    for offset in sorted(data):
        if offset > len(out):
            break
        out += data[offset][len(out) - offset :]
    return bytes(out)
