"""ClientHello and ServerHello fields that decryption needs: randoms, version, cipher suite, extensions.

The SNI and ALPN offer come from the inventory's own parser (``readers.protocols.tls``), so the content
audit names a server exactly as the flow table does. What that parser does not keep is read here: the
client random (the key log's index), supported_versions and early_data, and on the server side the
random, the selected suite and version, encrypt_then_mac and the selected ALPN. A HelloRetryRequest is a
ServerHello with a fixed random (RFC 8446 §4.1.3) and is recognised, so the real ServerHello after it
is the one used.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from droneaudit.content.stream import HalfStream
from droneaudit.content.tls_records import (
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    HandshakeReader,
    Record,
)
from droneaudit.readers.protocols import tls as hello_parser

CLIENT_HELLO, SERVER_HELLO = 1, 2
EXT_ALPN, EXT_ETM, EXT_EARLY_DATA, EXT_SUPPORTED_VERSIONS = 16, 22, 42, 43
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()


class Malformed(Exception):
    """A hello field ran past the end of its message."""


@dataclass(frozen=True, slots=True)
class ClientHelloInfo:
    random: bytes
    sni: str | None
    alpn: tuple[str, ...]
    early_data: bool  #: offers 0-RTT data (TLS 1.3)
    frame: int | None  #: frame that carried the hello's first byte


@dataclass(frozen=True, slots=True)
class ServerHelloInfo:
    random: bytes
    version: int  #: selected: supported_versions when present, else the legacy version field
    cipher: int
    alpn: str | None  #: TLS 1.2 (TLS 1.3 sends it encrypted, in EncryptedExtensions)
    encrypt_then_mac: bool
    retried: bool  #: a HelloRetryRequest came first


def _take(body: bytes, pos: int, size: int) -> bytes:
    if pos + size > len(body):
        raise Malformed
    return body[pos : pos + size]


def _vector(body: bytes, pos: int, width: int) -> tuple[bytes, int]:
    """A length-prefixed vector at ``pos``: (its bytes, the position after it)."""
    size = int.from_bytes(_take(body, pos, width), "big")
    return _take(body, pos + width, size), pos + width + size


def extensions(body: bytes, pos: int) -> dict[int, bytes]:
    """The extensions block at ``pos`` (absent is allowed) as type -> data; a later duplicate is ignored."""
    if pos >= len(body):
        return {}
    block, _ = _vector(body, pos, 2)
    found: dict[int, bytes] = {}
    at = 0
    while at + 4 <= len(block):
        etype, size = struct.unpack_from(">HH", block, at)
        found.setdefault(etype, _take(block, at + 4, size))
        at += 4 + size
    return found


def parse_client_hello(body: bytes, frame: int | None) -> ClientHelloInfo:
    random = _take(body, 2, 32)
    pos = _vector(body, 34, 1)[1]  # session id
    pos = _vector(body, pos, 2)[1]  # cipher suites
    pos = _vector(body, pos, 1)[1]  # compression methods
    exts = extensions(body, pos)
    message = bytes([CLIENT_HELLO]) + len(body).to_bytes(3, "big") + body
    _, named = hello_parser.handshake(message)
    sni, alpn = (named.sni, named.alpn) if named is not None else (None, ())
    return ClientHelloInfo(random, sni, alpn, EXT_EARLY_DATA in exts, frame)


def parse_server_hello(body: bytes, retried: bool) -> ServerHelloInfo:
    legacy = struct.unpack(">H", _take(body, 0, 2))[0]
    random = _take(body, 2, 32)
    pos = _vector(body, 34, 1)[1]  # session id echo
    cipher = struct.unpack(">H", _take(body, pos, 2))[0]
    exts = extensions(body, pos + 3)  # after the suite and the compression method
    selected = exts.get(EXT_SUPPORTED_VERSIONS, b"")
    version = struct.unpack(">H", selected)[0] if len(selected) == 2 else legacy
    return ServerHelloInfo(random, version, cipher, selected_alpn(exts), EXT_ETM in exts, retried)


def selected_alpn(exts: dict[int, bytes]) -> str | None:
    """The one protocol a server's ALPN extension selects (ServerHello or EncryptedExtensions)."""
    data = exts.get(EXT_ALPN)
    if data is None or len(data) < 3:
        return None
    return data[3 : 3 + data[2]].decode("ascii", "replace")


def find_client_hello(records: Iterable[Record], half: HalfStream) -> ClientHelloInfo | None:
    """The first ClientHello in the client's leading handshake records (None: not there or malformed)."""
    reader = HandshakeReader()
    for record in records:
        if record.ctype != HANDSHAKE:
            return None
        for mtype, body in reader.feed(record.payload):
            if mtype != CLIENT_HELLO:
                return None
            try:
                return parse_client_hello(body, half.frame_at(record.start))
            except Malformed:
                return None
    return None


def find_server_hello(records: Iterable[Record]) -> ServerHelloInfo | None:
    """The ServerHello in the server's cleartext handshake records, past any HelloRetryRequest."""
    reader = HandshakeReader()
    retried = False
    for record in records:
        if record.ctype == APPLICATION_DATA or (record.ctype == CHANGE_CIPHER_SPEC and not retried):
            return None  # encryption began without a ServerHello
        if record.ctype != HANDSHAKE:
            continue  # the compatibility ChangeCipherSpec after a HelloRetryRequest, or an alert
        for mtype, body in reader.feed(record.payload):
            if mtype != SERVER_HELLO:
                continue
            try:
                hello = parse_server_hello(body, retried)
            except Malformed:
                return None
            if hello.random != HRR_RANDOM:
                return hello
            retried = True
    return None
