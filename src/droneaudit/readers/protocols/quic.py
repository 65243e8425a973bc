"""QUIC v1 (RFC 9000/9001) and v2 (RFC 9369) client Initial packets: remove header protection, decrypt
with the keys every observer can derive from the Destination Connection ID, and reassemble the CRYPTO
frames (by offset, across coalesced packets and several Initials) into the TLS ClientHello.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from droneaudit.readers.protocols import tls

V1, V2 = 0x00000001, 0x6B3343CF


@dataclass(frozen=True)
class _Version:
    salt: bytes
    prefix: str  # label prefix: "quic" or "quicv2"
    initial_type: int  # long-header packet type bits of an Initial


VERSIONS = {
    V1: _Version(bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), "quic", 0),
    V2: _Version(bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), "quicv2", 1),
}


def is_initial(datagram: bytes) -> bool:
    if len(datagram) < 7 or datagram[0] & 0xC0 != 0xC0:
        return False
    version = VERSIONS.get(struct.unpack_from(">I", datagram, 1)[0])
    return version is not None and (datagram[0] >> 4) & 3 == version.initial_type


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack(">H", length) + bytes([len(full)]) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def client_keys(version: int, dcid: bytes) -> tuple[bytes, bytes, bytes]:
    """(key, iv, header-protection key) of the client's Initial packets."""
    v = VERSIONS[version]
    initial = hmac.new(v.salt, dcid, hashlib.sha256).digest()
    client = _expand_label(initial, "client in", 32)
    return (
        _expand_label(client, f"{v.prefix} key", 16),
        _expand_label(client, f"{v.prefix} iv", 12),
        _expand_label(client, f"{v.prefix} hp", 16),
    )


def _varint(b: bytes, pos: int) -> tuple[int, int]:
    first = b[pos]
    size = 1 << (first >> 6)
    if pos + size > len(b):
        raise IndexError("varint")
    value = first & 0x3F
    for i in range(1, size):
        value = (value << 8) | b[pos + i]
    return value, pos + size


@dataclass
class InitialStream:
    """CRYPTO data of one client's Initials, gathered until the ClientHello is complete."""

    first_dcid: bytes | None = None
    chunks: dict[int, bytes] = field(default_factory=dict)

    def add_datagram(self, datagram: bytes) -> None:
        pos = 0
        while pos < len(datagram) and is_initial(datagram[pos:]):
            end = self._packet(datagram, pos)
            if end is None:
                return
            pos = end

    def _packet(self, d: bytes, start: int) -> int | None:
        try:
            version = struct.unpack_from(">I", d, start + 1)[0]
            pos = start + 5
            dcid = d[pos + 1 : pos + 1 + d[pos]]
            pos += 1 + d[pos]
            pos += 1 + d[pos]  # source connection id
            token_len, pos = _varint(d, pos)
            length, pn_offset = _varint(d, pos + token_len)
        except IndexError:
            return None
        end = pn_offset + length
        if end > len(d) or length < 20:
            return None
        if self.first_dcid is None:
            self.first_dcid = dcid
        for candidate in dict.fromkeys((dcid, self.first_dcid)):
            plain = _decrypt(version, candidate, d[start:end], pn_offset - start)
            if plain is not None:
                self._frames(plain)
                break
        return end

    def _frames(self, plain: bytes) -> None:
        pos = 0
        try:
            while pos < len(plain):
                ftype = plain[pos]
                if ftype == 0x00:  # PADDING: a client pads its Initial to 1200 bytes with ~1000 of them
                    more = _NOT_PADDING.search(plain, pos)
                    pos = more.start() if more else len(plain)
                elif ftype == 0x01:
                    pos += 1
                elif ftype == 0x06:
                    offset, pos = _varint(plain, pos + 1)
                    length, pos = _varint(plain, pos)
                    data = plain[pos : pos + length]
                    if len(data) > len(self.chunks.get(offset, b"")):
                        self.chunks[offset] = data  # a retransmission may carry more from the same offset
                    pos += length
                elif ftype in (0x02, 0x03):
                    pos = _skip_ack(plain, pos, ftype == 0x03)
                else:
                    return
        except IndexError:
            return

    def crypto(self) -> bytes:
        """The contiguous CRYPTO bytes from offset 0."""
        out = bytearray()
        for offset in sorted(self.chunks):
            data = self.chunks[offset]
            if offset > len(out):
                break
            out += data[len(out) - offset :]
        return bytes(out)

    def client_hello(self) -> tuple[tls.Status, tls.ClientHello | None]:
        return tls.handshake(self.crypto())


_NOT_PADDING = re.compile(rb"[^\x00]")


def _skip_ack(b: bytes, pos: int, ecn: bool) -> int:
    _, pos = _varint(b, pos + 1)  # largest acknowledged
    _, pos = _varint(b, pos)  # delay
    count, pos = _varint(b, pos)
    _, pos = _varint(b, pos)  # first range
    for _ in range(count * 2):
        _, pos = _varint(b, pos)
    if ecn:
        for _ in range(3):
            _, pos = _varint(b, pos)
    return pos


def _decrypt(version: int, dcid: bytes, packet: bytes, pn_offset: int) -> bytes | None:
    key, iv, hp = client_keys(version, dcid)
    sample = packet[pn_offset + 4 : pn_offset + 20]
    if len(sample) < 16:
        return None
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    first = packet[0] ^ (mask[0] & 0x0F)
    pn_len = (first & 3) + 1
    pn_bytes = bytes(packet[pn_offset + i] ^ mask[1 + i] for i in range(pn_len))
    header = bytes([first]) + packet[1:pn_offset] + pn_bytes
    nonce = bytes(a ^ b for a, b in zip(iv, int.from_bytes(pn_bytes, "big").to_bytes(12, "big"), strict=True))
    try:
        return AESGCM(key).decrypt(nonce, packet[pn_offset + pn_len :], header)
    except (InvalidTag, ValueError):
        return None
