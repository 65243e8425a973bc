"""TLS ClientHello: the server name (SNI) a client asked for, whether it is only the outer name of an
Encrypted ClientHello, and the ALPN list. The hello may be split over several TLS records and TCP
segments; ``from_records`` says when it needs more bytes."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import Enum

HANDSHAKE, CLIENT_HELLO = 22, 1
EXT_SNI, EXT_ALPN, EXT_ECH = 0x0000, 0x0010, 0xFE0D
#: A ClientHello larger than this is not worth waiting for (post-quantum hellos are ~2 kB).
MAX_HELLO = 1 << 16


class Status(Enum):
    DONE = "done"
    NEED_MORE = "need-more"
    NOT_TLS = "not-tls"


@dataclass(frozen=True)
class ClientHello:
    sni: str | None
    ech: bool  # an encrypted_client_hello extension is present: the SNI is the outer (public) name
    alpn: tuple[str, ...]


def from_records(stream: bytes) -> tuple[Status, ClientHello | None]:
    """Parse a client's first bytes on a TCP connection (TLS records carrying the handshake)."""
    body = bytearray()
    pos = 0
    while pos + 5 <= len(stream):
        ctype, major = stream[pos], stream[pos + 1]
        length = struct.unpack_from(">H", stream, pos + 3)[0]
        if ctype != HANDSHAKE or major != 3:
            return (Status.NOT_TLS, None) if pos == 0 else _finish(bytes(body))
        body += stream[pos + 5 : pos + 5 + length]
        if pos + 5 + length > len(stream):
            break
        pos += 5 + length
        status, hello = handshake(bytes(body))
        if status is not Status.NEED_MORE:
            return status, hello
    if not stream or (len(stream) >= 1 and stream[0] != HANDSHAKE):
        return Status.NOT_TLS, None
    return handshake(bytes(body))


def _finish(body: bytes) -> tuple[Status, ClientHello | None]:
    status, hello = handshake(body)
    return (Status.NOT_TLS, None) if status is Status.NEED_MORE else (status, hello)


def handshake(data: bytes) -> tuple[Status, ClientHello | None]:
    """Parse handshake-layer bytes (also what QUIC's CRYPTO frames carry)."""
    if len(data) < 4:
        return Status.NEED_MORE, None
    if data[0] != CLIENT_HELLO:
        return Status.NOT_TLS, None
    length = int.from_bytes(data[1:4], "big")
    if length > MAX_HELLO:
        return Status.NOT_TLS, None
    if len(data) < 4 + length:
        return Status.NEED_MORE, None
    hello = _client_hello(data[4 : 4 + length])
    return (Status.DONE, hello) if hello is not None else (Status.NOT_TLS, None)


def _client_hello(b: bytes) -> ClientHello | None:
    try:
        pos = 2 + 32
        pos += 1 + b[pos]  # session id
        pos += 2 + struct.unpack_from(">H", b, pos)[0]  # cipher suites
        pos += 1 + b[pos]  # compression methods
        if pos + 2 > len(b):
            return ClientHello(None, False, ())
        end = min(len(b), pos + 2 + struct.unpack_from(">H", b, pos)[0])
        return _extensions(b, pos + 2, end)
    except (IndexError, struct.error):
        return None


def _extensions(b: bytes, pos: int, end: int) -> ClientHello:
    sni: str | None = None
    ech = False
    alpn: tuple[str, ...] = ()
    while pos + 4 <= end:
        etype, elen = struct.unpack_from(">HH", b, pos)
        value = b[pos + 4 : pos + 4 + elen]
        if etype == EXT_SNI:
            sni = _server_name(value)
        elif etype == EXT_ECH:
            ech = True
        elif etype == EXT_ALPN:
            alpn = _alpn(value)
        pos += 4 + elen
    return ClientHello(sni, ech, alpn)


def _server_name(v: bytes) -> str | None:
    pos = 2
    while pos + 3 <= len(v):
        kind, length = v[pos], struct.unpack_from(">H", v, pos + 1)[0]
        if kind == 0:
            name = v[pos + 3 : pos + 3 + length].decode("utf-8", "replace").rstrip(".").lower()
            return name if name and not _is_ip_literal(name) else None
        pos += 3 + length
    return None


def _alpn(v: bytes) -> tuple[str, ...]:
    out, pos = [], 2
    while pos < len(v):
        length = v[pos]
        out.append(v[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    return tuple(out)


def _is_ip_literal(name: str) -> bool:
    """RFC 6066 forbids IP literals in SNI; a client that sends one has named no host."""
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False
