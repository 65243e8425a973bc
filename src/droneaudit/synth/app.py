"""Application payloads a flow audit reads in clear: DNS messages and HTTP/1.1 requests and responses.

The DNS builder compresses names (RFC 1035 section 4.1.4) by default, as real resolvers do, so readers
are tested against pointers into the question and into earlier RDATA (CNAME chains); ``compress=False``
gives the plain form. TLS ClientHello lives in ``tls``.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

#: DNS RR types by name (RFC 1035, 3596, 9460).
DNS_TYPES = {
    "A": 1,
    "NS": 2,
    "CNAME": 5,
    "SOA": 6,
    "PTR": 12,
    "MX": 15,
    "TXT": 16,
    "AAAA": 28,
    "SRV": 33,
    "HTTPS": 65,
    "ANY": 255,
}
_NAME_TYPES = {"CNAME", "NS", "PTR"}

#: One answer record for ``dns_response``: (type name, value as text, TTL seconds).
DnsAnswer = tuple[str, str, int]


def dns_type(qtype: str | int) -> int:
    """Number of a DNS type given by name (``"AAAA"``) or already as a number."""
    return qtype if isinstance(qtype, int) else DNS_TYPES[qtype.upper()]


def _encode_name(name: str, offset: int, table: dict[str, int] | None) -> bytes:
    """Wire form of ``name`` placed at ``offset`` in the message.

    With a ``table`` (suffix → offset of its first occurrence), the longest suffix already written is
    replaced by a 2-byte pointer and new suffixes are recorded; with ``None`` nothing is compressed.
    """
    labels = [label for label in name.rstrip(".").split(".") if label]
    out = b""
    for i, label in enumerate(labels):
        suffix = ".".join(labels[i:]).lower()
        if table is not None and suffix in table:
            return out + struct.pack("!H", 0xC000 | table[suffix])
        if table is not None and offset + len(out) < 0x4000:
            table[suffix] = offset + len(out)
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise ValueError(f"DNS label longer than 63 bytes in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def _rdata(rtype: str, value: str, offset: int, table: dict[str, int] | None) -> bytes:
    if rtype in ("A", "AAAA"):
        packed = ipaddress.ip_address(value).packed
        if len(packed) != (4 if rtype == "A" else 16):
            raise ValueError(f"{value!r} is not a valid {rtype} value")
        return packed
    if rtype in _NAME_TYPES:
        return _encode_name(value, offset, table)
    if rtype == "TXT":
        raw = value.encode()
        return b"".join(
            bytes([len(raw[i : i + 255])]) + raw[i : i + 255] for i in range(0, len(raw) or 1, 255)
        )
    raise ValueError(f"no RDATA builder for DNS type {rtype!r}")


def _question(name: str, qtype: str | int, table: dict[str, int] | None) -> bytes:
    return _encode_name(name, 12, table) + struct.pack("!HH", dns_type(qtype), 1)


def dns_query(
    name: str, qtype: str | int = "A", txid: int = 0x2A7E, *, recursion_desired: bool = True
) -> bytes:
    """A standard query (one question, class IN) as a stub resolver sends it."""
    flags = 0x0100 if recursion_desired else 0
    return struct.pack("!HHHHHH", txid, flags, 1, 0, 0, 0) + _question(name, qtype, None)


def dns_response(
    name: str,
    answers: Sequence[DnsAnswer],
    *,
    qtype: str | int = "A",
    txid: int = 0x2A7E,
    rcode: int = 0,
    compress: bool = True,
) -> bytes:
    """A recursive resolver's answer to ``name``/``qtype``, class IN.

    ``answers`` are written in order; the first record's owner is ``name`` and every CNAME makes its
    target the owner of the records that follow, so ``[("CNAME", "b.example", 60), ("A", "192.0.2.1",
    60)]`` is the chain name → b.example → 192.0.2.1. ``rcode`` 3 with no answers is NXDOMAIN.
    """
    table: dict[str, int] | None = {} if compress else None
    msg = bytearray(struct.pack("!HHHHHH", txid, 0x8180 | (rcode & 0xF), 1, len(answers), 0, 0))
    msg += _question(name, qtype, table)
    owner = name
    for rtype, value, ttl in answers:
        rtype = rtype.upper()
        msg += _encode_name(owner, len(msg), table)
        rdata = _rdata(rtype, value, len(msg) + 10, table)
        msg += struct.pack("!HHIH", dns_type(rtype), 1, ttl, len(rdata)) + rdata
        if rtype == "CNAME":
            owner = value
    return bytes(msg)


def http_request(
    method: str,
    path: str,
    host: str,
    body: bytes = b"",
    *,
    headers: Sequence[tuple[str, str]] = (),
    user_agent: str = "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 6 Build/TQ3A.230901.001)",
) -> bytes:
    """HTTP/1.1 request with Host first (as most clients send it), Content-Length when there is a body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {user_agent}"]
    lines += [f"{key}: {value}" for key, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


def http_response(
    status: int, reason: str, body: bytes = b"", *, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """HTTP/1.1 response with Content-Length, so the body's end is known without closing."""
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{key}: {value}" for key, value in headers)]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
