"""DNS messages (RFC 1035): the question and the A/AAAA/CNAME answers, enough to map addresses to the
names a client asked for. Compression pointers are followed with a hop limit, so hostile messages
cannot loop."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

A, CNAME, AAAA, HTTPS = 1, 5, 28, 65
_MAX_HOPS = 32


@dataclass(frozen=True)
class DnsRecord:
    name: str
    rtype: int
    ttl: int
    value: str  # address text for A/AAAA, target name for CNAME


@dataclass(frozen=True)
class DnsMessage:
    txid: int
    is_response: bool
    rcode: int
    qname: str | None
    qtype: int | None
    answers: tuple[DnsRecord, ...]
    truncated: bool  # the TC bit: the client should retry over TCP


def read_name(msg: bytes, pos: int) -> tuple[str, int] | None:
    """Name at ``pos``; returns (name, offset after the name in the original position) or None."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(_MAX_HOPS * 4):
        if pos >= len(msg):
            return None
        length = msg[pos]
        if length == 0:
            return ".".join(labels).lower(), (end if end is not None else pos + 1)
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(msg):
                return None
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if length & 0xC0 or pos + 1 + length > len(msg):
            return None
        labels.append(msg[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    return None


def parse(msg: bytes) -> DnsMessage | None:
    if len(msg) < 12:
        return None
    txid, flags, qd, an = struct.unpack_from(">HHHH", msg)
    pos = 12
    qname = qtype = None
    for i in range(qd):
        got = read_name(msg, pos)
        if got is None or got[1] + 4 > len(msg):
            return None
        if i == 0:
            qname, qtype = got[0], struct.unpack_from(">H", msg, got[1])[0]
        pos = got[1] + 4
    answers = _records(msg, pos, an)
    return DnsMessage(txid, bool(flags & 0x8000), flags & 0x0F, qname, qtype, answers, bool(flags & 0x0200))


def _records(msg: bytes, pos: int, count: int) -> tuple[DnsRecord, ...]:
    out: list[DnsRecord] = []
    for _ in range(count):
        got = read_name(msg, pos)
        if got is None or got[1] + 10 > len(msg):
            break
        name, pos = got
        rtype, _cls, ttl, rdlen = struct.unpack_from(">HHIH", msg, pos)
        rdata_at = pos + 10
        pos = rdata_at + rdlen
        if pos > len(msg):
            break
        value = _rdata(msg, rtype, rdata_at, rdlen)
        if value is not None:
            out.append(DnsRecord(name, rtype, ttl, value))
    return tuple(out)


def _rdata(msg: bytes, rtype: int, at: int, length: int) -> str | None:
    if rtype == A and length == 4:
        return str(ipaddress.IPv4Address(msg[at : at + 4]))
    if rtype == AAAA and length == 16:
        return str(ipaddress.IPv6Address(msg[at : at + 16]))
    if rtype == CNAME:
        got = read_name(msg, at)
        return got[0] if got is not None else None
    return None


def split_tcp_stream(stream: bytes) -> list[bytes]:
    """DNS over TCP: two-byte length prefixes (RFC 1035 §4.2.2); a cut-off last message is dropped."""
    out, pos = [], 0
    while pos + 2 <= len(stream):
        length = struct.unpack_from(">H", stream, pos)[0]
        if pos + 2 + length > len(stream):
            break
        out.append(stream[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return out
