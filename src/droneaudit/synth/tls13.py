"""SYNTHETIC TLS 1.3 sessions whose records really are encrypted, with the key log that opens them.

The demo needs a session the content audit can decrypt, byte-identical on every run. A real handshake
(Python's ``ssl``) draws fresh ECDHE keys, so instead the traffic secrets are drawn from the scenario's
seeded random generator and the records are built the way RFC 8446 §5.2 and §7.3 say: keys and IVs by
HKDF-Expand-Label, per-record nonce = IV xor sequence number, AES-128-GCM over the inner plaintext plus
its content type, the record header as additional data. There is no key exchange behind the secrets
(nothing here could be verified by a real peer); the key log is what an auditor would export from the
phone (``SSLKEYLOGFILE`` format), so the decryption path is exactly the one real captures take.
"""

from __future__ import annotations

import random
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from droneaudit.synth.tls import (
    CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC,
    CONTENT_HANDSHAKE,
    client_hello_handshake,
    tls_record,
)

TLS_AES_128_GCM_SHA256 = 0x1301
_MAX_PLAINTEXT = 0x4000
_LABELS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)


def hkdf_expand_label(secret: bytes, label: str, length: int) -> bytes:
    """RFC 8446 §7.1 with an empty context, SHA-256 (one or two HMAC blocks suffice here)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    full = b"tls13 " + label.encode("ascii")
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


class _Direction:
    """One side's record protection: key, IV and the record sequence number."""

    def __init__(self, secret: bytes) -> None:
        self.aead = AESGCM(hkdf_expand_label(secret, "key", 16))
        self.iv = hkdf_expand_label(secret, "iv", 12)
        self.seq = 0

    def seal(self, content_type: int, plaintext: bytes) -> bytes:
        inner = plaintext + bytes([content_type])
        header = struct.pack("!BHH", CONTENT_APPLICATION_DATA, 0x0303, len(inner) + 16)
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        return header + self.aead.encrypt(nonce, inner, header)


class Tls13Session:
    """A client's session with ``sni``: the clear ClientHello/ServerHello, then protected records."""

    def __init__(self, rng: random.Random, sni: str | None, alpn: str = "http/1.1") -> None:
        hello = client_hello_handshake(sni, alpn=(alpn,))
        self.client_random = hello[6:38]
        self._session_id = hello[39 : 39 + hello[38]]
        self.alpn = alpn
        self.secrets = {label: rng.randbytes(32) for label in _LABELS}
        self.server_random = rng.randbytes(32)
        self._key_share = rng.randbytes(32)
        self._hello = hello
        self._client = _Direction(self.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
        self._server = _Direction(self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])

    def keylog(self) -> str:
        """The NSS key log lines for this session (what SSLKEYLOGFILE would hold)."""
        cr = self.client_random.hex()
        return "".join(f"{label} {cr} {self.secrets[label].hex()}\n" for label in _LABELS)

    def client_hello(self) -> bytes:
        return tls_record(CONTENT_HANDSHAKE, self._hello, version=0x0301)

    def server_flight(self) -> bytes:
        """ServerHello, the compatibility ChangeCipherSpec, then EncryptedExtensions and Finished under
        the server's handshake keys; the server then switches to its application keys."""
        flight = tls_record(CONTENT_HANDSHAKE, self._server_hello()) + tls_record(
            CONTENT_CHANGE_CIPHER_SPEC, b"\x01"
        )
        alpn = bytes([len(self.alpn)]) + self.alpn.encode("ascii")
        alpn_ext = struct.pack("!HHH", 16, len(alpn) + 2, len(alpn)) + alpn
        extensions = _handshake(8, struct.pack("!H", len(alpn_ext)) + alpn_ext)
        finished = _handshake(20, self.server_random)  # verify_data: 32 bytes, never checked by readers
        flight += self._server.seal(CONTENT_HANDSHAKE, extensions + finished)
        self._server = _Direction(self.secrets["SERVER_TRAFFIC_SECRET_0"])
        return flight

    def client_finished(self) -> bytes:
        out = tls_record(CONTENT_CHANGE_CIPHER_SPEC, b"\x01")
        out += self._client.seal(CONTENT_HANDSHAKE, _handshake(20, self.client_random))
        self._client = _Direction(self.secrets["CLIENT_TRAFFIC_SECRET_0"])
        return out

    def client_data(self, plaintext: bytes) -> bytes:
        return _records(self._client, plaintext)

    def server_data(self, plaintext: bytes) -> bytes:
        return _records(self._server, plaintext)

    def _server_hello(self) -> bytes:
        share = struct.pack("!HH", 0x001D, 32) + self._key_share
        exts = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HH", 51, len(share)) + share
        body = (
            struct.pack("!H", 0x0303)
            + self.server_random
            + bytes([len(self._session_id)])
            + self._session_id
            + struct.pack("!HB", TLS_AES_128_GCM_SHA256, 0)
            + struct.pack("!H", len(exts))
            + exts
        )
        return _handshake(2, body)


def _handshake(msg_type: int, body: bytes) -> bytes:
    return struct.pack("!I", (msg_type << 24) | len(body)) + body


def _records(direction: _Direction, plaintext: bytes) -> bytes:
    chunks = [plaintext[i : i + _MAX_PLAINTEXT] for i in range(0, len(plaintext), _MAX_PLAINTEXT)]
    return b"".join(direction.seal(CONTENT_APPLICATION_DATA, chunk) for chunk in chunks)
