"""IPv4/IPv6 and TCP/UDP/ICMP headers, vectorised, with the byte-accounting rules of docs/byte-accounting.md:

* IP-layer bytes are the IP header's total length (IPv6: 40 + payload length), even when the snaplen cut
  the frame; a payload cut that way is a problem record, not silence;
* the payload ends at the IP length, never at the frame end (Ethernet padding is not data);
* a TSO/GRO packet whose length field is 0 uses the frame's own length from the IP header on;
* fragments are handed to the reassembler (fragments.py) so that a datagram counts once.

Addresses become two uint64 halves each (IPv4 as ::ffff:a.b.c.d) so both families share one key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from droneaudit.readers.capture.batch import I64, PAD, U8, FrameBatch
from droneaudit.readers.capture.gather import u8, u16be, u32be, u64be

TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58
V4_MAPPED = np.uint64(0x0000FFFF00000000)
_V6_EXT_LEN8 = (0, 43, 60, 135, 139, 140, 253, 254)  # (len + 1) * 8 bytes
_AH = 51
_FRAG6 = 44
#: ICMP request/reply counterparts (Zeek's convention: both directions share one flow).
ICMP_PAIRS: dict[bool, dict[int, int]] = {
    False: {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 9: 10, 10: 9},
    True: {
        128: 129,
        129: 128,
        130: 131,
        131: 130,
        133: 134,
        134: 133,
        135: 136,
        136: 135,
        139: 140,
        140: 139,
    },
}


@dataclass
class Packets:
    """Decoded IP packets (one row per datagram), in batch order. ``idx`` points back into the batch."""

    idx: I64
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    proto: I64
    sport: I64
    dport: I64
    flags: I64
    ip_bytes: I64
    l4_off: I64  # where the transport payload starts in the batch buffer
    l4_len: I64  # transport payload bytes present (cut at the IP length and at the frame end)
    seq: I64  # TCP sequence number (0 for other protocols)

    @classmethod
    def concat(cls, parts: list[Packets]) -> Packets:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def take(self, sel: np.ndarray) -> Packets:
        return Packets(*(getattr(self, f)[sel] for f in _FIELDS))

    def __len__(self) -> int:
        return int(self.idx.shape[0])


_FIELDS = tuple(Packets.__dataclass_fields__)


@dataclass
class Fragments:
    """IP fragments (not atomic ones), for reassembly. ``offset``/``length`` are of the fragmentable part."""

    idx: I64
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    proto: I64
    ident: I64
    offset: I64
    length: I64
    more: np.ndarray
    header_len: I64
    l4_off: I64
    l4_avail: I64


@dataclass
class IpResult:
    packets: Packets
    fragments: Fragments
    problems: dict[str, np.ndarray]  # code -> batch indices


def decode(batch: FrameBatch, l3: I64) -> IpResult:
    """Decode every frame with an IP header at ``l3`` (>= 0)."""
    buf = batch.buf
    has_ip = l3 >= 0
    version = np.where(has_ip, u8(buf, np.maximum(l3, 0)) >> 4, 0)
    problems: dict[str, list[np.ndarray]] = {}
    pk4, fr4 = _ipv4(batch, np.flatnonzero(version == 4), l3, problems)
    pk6, fr6 = _ipv6(batch, np.flatnonzero(version == 6), l3, problems)
    frags = Fragments(
        *(np.concatenate([getattr(fr4, f), getattr(fr6, f)]) for f in Fragments.__dataclass_fields__)
    )
    packets = Packets.concat([pk4, pk6])
    order = np.argsort(packets.idx, kind="stable")
    merged = {code: np.concatenate(parts) for code, parts in problems.items()}
    return IpResult(packets.take(order), frags, merged)


def _note(problems: dict[str, list[np.ndarray]], code: str, idx: I64) -> None:
    if idx.shape[0]:
        problems.setdefault(code, []).append(idx)


@dataclass
class _Headers:
    """One family's decoded network headers, before splitting into whole datagrams and fragments."""

    idx: I64
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    proto: I64  # transport protocol (IPv6: after extension headers)
    total: I64  # IP-layer bytes of this packet
    hdr: I64  # bytes before the transport header (or the fragment data)
    l4_avail: I64  # captured bytes from there, cut at the IP length
    is_frag: np.ndarray
    ident: I64
    foff: I64
    more: np.ndarray
    frag_hdr_len: I64  # bytes of the header that a reassembled datagram keeps once
    l3: I64


def _split(
    buf: U8, h: _Headers, v6: bool, problems: dict[str, list[np.ndarray]]
) -> tuple[Packets, Fragments]:
    f, w = h.is_frag, ~h.is_frag
    l4 = h.l3 + h.hdr
    frags = Fragments(
        h.idx[f],
        h.src_hi[f],
        h.src_lo[f],
        h.dst_hi[f],
        h.dst_lo[f],
        h.proto[f],
        h.ident[f],
        h.foff[f],
        (h.total - h.hdr)[f],
        h.more[f],
        h.frag_hdr_len[f],
        l4[f],
        h.l4_avail[f],
    )
    pk = _transport(
        buf,
        h.idx[w],
        h.src_hi[w],
        h.src_lo[w],
        h.dst_hi[w],
        h.dst_lo[w],
        h.proto[w],
        h.total[w],
        l4[w],
        h.l4_avail[w],
        v6,
        problems,
    )
    return pk, frags


def _ipv4(
    batch: FrameBatch, idx: I64, l3all: I64, problems: dict[str, list[np.ndarray]]
) -> tuple[Packets, Fragments]:
    buf = batch.buf
    l3 = l3all[idx]
    avail = batch.data_off[idx] + batch.caplen[idx] - l3
    ihl = (u8(buf, l3) & 0x0F) * 4
    total = u16be(buf, l3 + 2)
    total = np.where(total == 0, batch.wirelen[idx] - (l3 - batch.data_off[idx]), total)  # TSO/GRO
    ok_hdr = (avail >= 20) & (ihl >= 20) & (avail >= ihl)
    _note(problems, "truncated-ip-header", idx[(avail < 20) | ((ihl >= 20) & (avail < ihl))])
    bad_len = ok_hdr & (total < ihl)
    _note(problems, "bad-ip-length", idx[bad_len | ((avail >= 20) & (ihl < 20))])
    ok = ok_hdr & ~bad_len
    idx, l3, avail, ihl, total = idx[ok], l3[ok], avail[ok], ihl[ok], total[ok]
    _note(problems, "snaplen-cut-payload", idx[avail < total])
    frag_field = u16be(buf, l3 + 6)
    more, foff = (frag_field & 0x2000) != 0, (frag_field & 0x1FFF) * 8
    zero = np.zeros(idx.shape[0], dtype=np.uint64)
    h = _Headers(
        idx,
        zero,
        u32be(buf, l3 + 12).astype(np.uint64) | V4_MAPPED,
        zero,
        u32be(buf, l3 + 16).astype(np.uint64) | V4_MAPPED,
        u8(buf, l3 + 9),
        total,
        ihl,
        np.minimum(avail, total) - ihl,
        more | (foff > 0),
        u16be(buf, l3 + 4),
        foff,
        more,
        ihl,
        l3,
    )
    return _split(buf, h, False, problems)


def _ipv6(
    batch: FrameBatch, idx: I64, l3all: I64, problems: dict[str, list[np.ndarray]]
) -> tuple[Packets, Fragments]:
    buf = batch.buf
    l3 = l3all[idx]
    avail = batch.data_off[idx] + batch.caplen[idx] - l3
    _note(problems, "truncated-ip-header", idx[avail < 40])
    keep = avail >= 40
    idx, l3, avail = idx[keep], l3[keep], avail[keep]
    plen = u16be(buf, l3 + 4)
    total = np.where(plen == 0, batch.wirelen[idx] - (l3 - batch.data_off[idx]), plen + 40)
    _note(problems, "snaplen-cut-payload", idx[avail < total])
    nh, off, frag_at = _walk_ext(buf, l3, np.minimum(avail, total))
    bad = off < 0
    _note(problems, "truncated-ipv6-extension-header", idx[bad])
    idx, l3, avail, total, nh, off, frag_at = (a[~bad] for a in (idx, l3, avail, total, nh, off, frag_at))
    fo = np.maximum(frag_at, 0)
    frag_word = u16be(buf, fo + 2)
    foff, more = (frag_word >> 3) * 8, (frag_word & 1) == 1
    hdr = off - l3
    h = _Headers(
        idx,
        u64be(buf, l3 + 8),
        u64be(buf, l3 + 16),
        u64be(buf, l3 + 24),
        u64be(buf, l3 + 32),
        nh,
        total,
        hdr,
        np.minimum(avail, total) - hdr,
        (frag_at >= 0) & ((foff > 0) | more),
        u32be(buf, fo + 4),
        foff,
        more,
        fo - l3,
        l3,
    )
    return _split(buf, h, True, problems)


def _walk_ext(buf: U8, l3: I64, present: I64) -> tuple[I64, I64, I64]:
    """Follow IPv6 extension headers: final next header, transport offset (-1 if cut), fragment header."""
    nh = u8(buf, l3 + 6)
    off = l3 + 40
    frag_at = np.full(l3.shape[0], -1, dtype=np.int64)
    end = l3 + present
    for _ in range(12):
        plain = np.isin(nh, _V6_EXT_LEN8)
        ah, frag = nh == _AH, nh == _FRAG6
        active = (plain | ah | frag) & (off >= 0)
        if not active.any():
            break
        cut = active & (off + 8 > end)
        size = np.where(plain, (u8(buf, off + 1) + 1) * 8, np.where(ah, (u8(buf, off + 1) + 2) * 4, 8))
        frag_at = np.where(frag & ~cut & (frag_at < 0), off, frag_at)
        new_nh = np.where(active, u8(buf, off), nh)
        off = np.where(cut, -1, np.where(active, off + size, off))
        nh = new_nh
    return nh, off, frag_at


def _transport(
    buf: U8,
    idx: I64,
    src_hi: np.ndarray,
    src_lo: np.ndarray,
    dst_hi: np.ndarray,
    dst_lo: np.ndarray,
    proto: I64,
    total: I64,
    l4: I64,
    l4_avail: I64,
    v6: bool,
    problems: dict[str, list[np.ndarray]],
) -> Packets:
    """Ports, TCP flags and ICMP type/code. Packets whose ports were cut off are dropped with a problem."""
    is_tcp, is_udp = proto == TCP, proto == UDP
    is_icmp = proto == (ICMP6 if v6 else ICMP)
    need = np.where(is_tcp | is_udp, 4, np.where(is_icmp, 2, 0))
    short = l4_avail < need
    _note(problems, "truncated-transport-header", idx[short])
    at = np.clip(l4, 0, len(buf) - PAD)  # extension headers can point far past the frame: read in bounds
    sport, dport = ports_and_types(buf, at, is_tcp | is_udp, is_icmp, v6)
    flags = np.where(is_tcp & (l4_avail >= 14), u8(buf, at + 13), 0)
    tcp_hdr = np.where(is_tcp & (l4_avail >= 13), (u8(buf, at + 12) >> 4) * 4, 0)
    hdr = np.where(is_tcp, tcp_hdr, np.where(is_udp, 8, np.where(is_icmp, 4, 0)))
    k = ~short
    return Packets(
        idx[k],
        src_hi[k],
        src_lo[k],
        dst_hi[k],
        dst_lo[k],
        proto[k],
        sport[k],
        dport[k],
        flags[k],
        total[k],
        (l4 + hdr)[k],
        np.maximum(l4_avail - hdr, 0)[k],
        np.where(is_tcp & (l4_avail >= 8), u32be(buf, at + 4), 0)[k],
    )


def ports_and_types(
    buf: U8, l4: I64, has_ports: np.ndarray, is_icmp: np.ndarray, v6: bool
) -> tuple[I64, I64]:
    """Ports for TCP/UDP; for ICMP the Zeek convention: type, and the counterpart type or the code."""
    sport = np.where(has_ports, u16be(buf, l4), 0)
    dport = np.where(has_ports, u16be(buf, l4 + 2), 0)
    if is_icmp.any():
        itype, code = u8(buf, l4), u8(buf, l4 + 1)
        pairs = ICMP_PAIRS[v6]
        table = np.full(256, -1, dtype=np.int64)
        for a, b in pairs.items():
            table[a] = b
        counterpart = table[itype]
        sport = np.where(is_icmp, itype, sport)
        dport = np.where(is_icmp, np.where(counterpart >= 0, counterpart, code), dport)
    return sport, dport
