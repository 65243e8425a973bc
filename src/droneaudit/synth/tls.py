"""TLS records and a realistic ClientHello, the one clear-text message that names the server (SNI).

The extension list mirrors what Android's BoringSSL/OkHttp sends (GREASE left out so the bytes stay
stable): server_name, extended_master_secret, renegotiation_info, supported_groups, ec_point_formats,
session_ticket, ALPN, status_request, signature_algorithms, SCT, key_share, psk_key_exchange_modes and
supported_versions. Random values are derived from the SNI by hashing, so the output is deterministic.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

CONTENT_CHANGE_CIPHER_SPEC = 20
CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
CONTENT_APPLICATION_DATA = 23

_CIPHERS_13 = (0x1301, 0x1302, 0x1303)
_CIPHERS_12 = (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
_SIG_ALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
_GROUPS = (0x001D, 0x0017, 0x0018)  # x25519, secp256r1, secp384r1


def tls_record(content_type: int, fragment: bytes, *, version: int = 0x0303) -> bytes:
    """One TLS record: type, legacy version, 16-bit length, fragment (at most 2**14 bytes)."""
    if len(fragment) > 0x4000:
        raise ValueError("a TLS record fragment holds at most 16384 bytes")
    return struct.pack("!BHH", content_type, version, len(fragment)) + fragment


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(body)) + body


def _u16_list(values: Sequence[int]) -> bytes:
    return struct.pack(f"!H{len(values)}H", 2 * len(values), *values)


def _sni_ext(sni: str) -> bytes:
    name = sni.encode("ascii")
    entry = struct.pack("!BH", 0, len(name)) + name
    return _ext(0, struct.pack("!H", len(entry)) + entry)


def _alpn_ext(alpn: Sequence[str]) -> bytes:
    protocols = b"".join(bytes([len(p)]) + p.encode("ascii") for p in alpn)
    return _ext(16, struct.pack("!H", len(protocols)) + protocols)


def _extensions(sni: str | None, alpn: Sequence[str], tls13: bool, seed: bytes) -> bytes:
    exts = [_sni_ext(sni)] if sni is not None else []
    exts += [
        _ext(23, b""),
        _ext(0xFF01, b"\x00"),
        _ext(10, _u16_list(_GROUPS)),
        _ext(11, b"\x01\x00"),
        _ext(35, b""),
    ]
    if alpn:
        exts.append(_alpn_ext(alpn))
    exts += [_ext(5, b"\x01\x00\x00\x00\x00"), _ext(13, _u16_list(_SIG_ALGS)), _ext(18, b"")]
    if tls13:
        key = hashlib.sha256(b"key_share" + seed).digest()
        share = struct.pack("!HH", 0x001D, len(key)) + key
        exts += [
            _ext(51, struct.pack("!H", len(share)) + share),
            _ext(45, b"\x01\x01"),
            _ext(43, b"\x04\x03\x04\x03\x03"),
        ]
    return b"".join(exts)


def client_hello_handshake(
    sni: str | None, *, alpn: Sequence[str] = ("h2", "http/1.1"), tls13: bool = True
) -> bytes:
    """The ClientHello handshake message (type 1 + 24-bit length + body), without record framing."""
    seed = (sni or "").encode("ascii")
    random = hashlib.sha256(b"random" + seed).digest()
    session_id = hashlib.sha256(b"session" + seed).digest()
    ciphers = (_CIPHERS_13 if tls13 else ()) + _CIPHERS_12
    exts = _extensions(sni, alpn, tls13, seed)
    body = (
        struct.pack("!H", 0x0303)
        + random
        + bytes([len(session_id)])
        + session_id
        + _u16_list(ciphers)
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    return struct.pack("!I", (1 << 24) | len(body)) + body


def tls_client_hello(
    sni: str | None,
    *,
    record_split: Sequence[int] | None = None,
    alpn: Sequence[str] = ("h2", "http/1.1"),
    tls13: bool = True,
    record_version: int = 0x0301,
) -> bytes:
    """ClientHello in one or more handshake records, ready to be a TCP payload.

    ``record_split`` gives the sizes of the leading record fragments (the remainder, if any, goes into
    one more record), e.g. ``[5]`` puts the first 5 handshake bytes alone in a record: readers that
    look only at the first record then miss the SNI, which is what the tests check. The record layer
    version is 0x0301, as TLS 1.3 clients send it for compatibility.
    """
    handshake = client_hello_handshake(sni, alpn=alpn, tls13=tls13)
    sizes = list(record_split or [])
    if any(size <= 0 for size in sizes) or sum(sizes) > len(handshake):
        raise ValueError(f"record_split {sizes} does not fit a {len(handshake)}-byte handshake")
    if sum(sizes) < len(handshake):
        sizes.append(len(handshake) - sum(sizes))
    records, pos = b"", 0
    for size in sizes:
        records += tls_record(CONTENT_HANDSHAKE, handshake[pos : pos + size], version=record_version)
        pos += size
    return records
