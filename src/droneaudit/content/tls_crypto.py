"""Record protection: keys from the key log's secrets, and opening (authenticating + decrypting) records.

Every primitive comes from ``cryptography`` (AES-GCM, AES-CCM, ChaCha20-Poly1305, AES-CBC, HMAC,
HKDF-Expand); this module only arranges nonces, additional data, padding and MACs the way RFC 5246
(TLS 1.2), RFC 7905 (ChaCha20 in TLS 1.2), RFC 7366 (encrypt_then_mac) and RFC 8446 (TLS 1.3) say.
An opener returns None when a record does not authenticate: offline, nothing can be learned from *why*
(bad MAC, bad padding, wrong key), and a wrong key is the common case.
"""

from __future__ import annotations

import hmac as std_hmac
import struct
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from droneaudit.content.tls_records import Record
from droneaudit.content.tls_suites import CBC, CCM, CHACHA, GCM, Suite

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
}
_Aead = AESGCM | AESCCM | ChaCha20Poly1305


class Opener(Protocol):
    """Opens the records of one direction in order (the sequence number is its state)."""

    def open(self, record: Record) -> tuple[int, bytes] | None:
        """(content type, plaintext), or None when the record does not authenticate."""
        ...


def _hmac(name: str, key: bytes, data: bytes) -> bytes:
    mac = HMAC(key, _HASHES[name]())
    mac.update(data)
    return mac.finalize()


def _p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """RFC 5246 §5 P_hash: HMAC chained over A(i), cut to ``length`` bytes."""
    out, a = bytearray(), seed
    while len(out) < length:
        a = _hmac(hash_name, secret, a)
        out += _hmac(hash_name, secret, a + seed)
    return bytes(out[:length])


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """The TLS PRF: P_<hash> in TLS 1.2; with ``hash_name="md5+sha1"`` the TLS 1.0/1.1 PRF (RFC 2246
    §5: P_MD5 over the secret's first half XOR P_SHA1 over its second half)."""
    if hash_name != "md5+sha1":
        return _p_hash(hash_name, secret, label + seed, length)
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha1 = _p_hash("sha1", secret[len(secret) - half :], label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha1, strict=True))


def hkdf_expand_label(hash_name: str, secret: bytes, label: str, context: bytes, length: int) -> bytes:
    """RFC 8446 §7.1 HKDF-Expand-Label."""
    full = b"tls13 " + label.encode("ascii")
    info = struct.pack(">HB", length, len(full)) + full + bytes([len(context)]) + context
    return HKDFExpand(_HASHES[hash_name](), length, info).derive(secret)


def _aead(suite: Suite, key: bytes) -> _Aead:
    if suite.cipher == GCM:
        return AESGCM(key)
    if suite.cipher == CCM:
        return AESCCM(key, tag_length=suite.tag_len)
    return ChaCha20Poly1305(key)


def _xor_nonce(iv: bytes, seq: int) -> bytes:
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(len(iv), "big")


def tls12_openers(
    suite: Suite, master: bytes, randoms: tuple[bytes, bytes], etm: bool, version: int = 0x0303
) -> tuple[Opener, Opener]:
    """(client→server, server→client) openers from the key block (RFC 5246 §6.3; RFC 2246 for
    TLS 1.0/1.1, whose PRF differs and whose TLS 1.0 CBC IV chains from record to record)."""
    client_random, server_random = randoms
    mac, key, iv = suite.mac_len, suite.key_len, suite.iv_len
    hash_name = suite.hash if version >= 0x0303 else "md5+sha1"
    block = prf(hash_name, master, b"key expansion", server_random + client_random, 2 * (mac + key + iv))
    parts, at = [], 0
    for size in (mac, mac, key, key, iv, iv):
        parts.append(block[at : at + size])
        at += size
    c_mac, s_mac, c_key, s_key, c_iv, s_iv = parts
    if suite.cipher == CBC:
        chained = version == 0x0301
        return (
            Tls12Cbc(suite, c_mac, c_key, etm, c_iv if chained else None),
            Tls12Cbc(suite, s_mac, s_key, etm, s_iv if chained else None),
        )
    return Tls12Aead(suite, c_key, c_iv), Tls12Aead(suite, s_key, s_iv)


class Tls12Aead:
    """AES-GCM / AES-CCM (4-byte implicit + 8-byte explicit nonce) and ChaCha20-Poly1305 (RFC 7905)."""

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self.aead, self.iv, self.tag = _aead(suite, key), iv, suite.tag_len
        self.explicit = suite.cipher != CHACHA
        self.seq = 0

    def open(self, record: Record) -> tuple[int, bytes] | None:
        payload = record.payload
        if self.explicit:
            nonce, payload = self.iv + payload[:8], payload[8:]
            if len(nonce) != 12:
                return None
        else:
            nonce = _xor_nonce(self.iv, self.seq)
        if len(payload) < self.tag:
            return None
        aad = struct.pack(">QBHH", self.seq, record.ctype, record.version, len(payload) - self.tag)
        try:
            plain = self.aead.decrypt(nonce, payload, aad)
        except InvalidTag:
            return None
        self.seq += 1
        return record.ctype, plain


class Tls12Cbc:
    """AES-CBC with HMAC: MAC-then-encrypt (RFC 5246 §6.2.3.2) or encrypt_then_mac (RFC 7366).

    TLS 1.1 and 1.2 send each record's IV as its first block; TLS 1.0 (``chained_iv`` set) starts with
    the key block's IV and then uses the last ciphertext block of the previous record.
    """

    def __init__(self, suite: Suite, mac_key: bytes, key: bytes, etm: bool, chained_iv: bytes | None) -> None:
        self.hash, self.mac_key, self.mac_len = suite.mac or "sha1", mac_key, suite.mac_len
        self.key, self.etm, self.chained_iv = key, etm, chained_iv
        self.min_body = 16 if chained_iv is not None else 32
        self.seq = 0

    def open(self, record: Record) -> tuple[int, bytes] | None:
        content = self._open_etm(record) if self.etm else self._open_mte(record)
        if content is None:
            return None
        self.seq += 1
        if self.chained_iv is not None:
            body = record.payload[: -self.mac_len] if self.etm else record.payload
            self.chained_iv = body[-16:]
        return record.ctype, content

    def _mac(self, record: Record, data: bytes) -> bytes:
        head = struct.pack(">QBHH", self.seq, record.ctype, record.version, len(data))
        return _hmac(self.hash, self.mac_key, head + data)

    def _open_etm(self, record: Record) -> bytes | None:
        body, tag = record.payload[: -self.mac_len], record.payload[-self.mac_len :]
        if (
            len(body) < self.min_body
            or len(body) % 16
            or not std_hmac.compare_digest(self._mac(record, body), tag)
        ):
            return None
        return _unpad(self._decrypt(body))

    def _open_mte(self, record: Record) -> bytes | None:
        body = record.payload
        if len(body) < self.min_body or len(body) % 16:
            return None
        plain = _unpad(self._decrypt(body))
        if plain is None or len(plain) < self.mac_len:
            return None
        content, tag = plain[: len(plain) - self.mac_len], plain[len(plain) - self.mac_len :]
        return content if std_hmac.compare_digest(self._mac(record, content), tag) else None

    def _decrypt(self, body: bytes) -> bytes:
        iv, body = (self.chained_iv, body) if self.chained_iv is not None else (body[:16], body[16:])
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(iv)).decryptor()
        return decryptor.update(body) + decryptor.finalize()


def _unpad(plain: bytes) -> bytes | None:
    """Strip TLS CBC padding: ``n + 1`` bytes, each of value ``n``."""
    if not plain:
        return None
    n = plain[-1]
    if n + 1 > len(plain) or any(b != n for b in plain[-n - 1 :]):
        return None
    return plain[: -n - 1]


class Tls13Aead:
    """One TLS 1.3 traffic secret's key and IV (RFC 8446 §7.3), with its own sequence number."""

    def __init__(self, suite: Suite, secret: bytes) -> None:
        self.suite, self.secret = suite, secret
        self.aead = _aead(suite, hkdf_expand_label(suite.hash, secret, "key", b"", suite.key_len))
        self.iv = hkdf_expand_label(suite.hash, secret, "iv", b"", 12)
        self.seq = 0

    def open(self, record: Record) -> tuple[int, bytes] | None:
        """Decrypt, then strip the zero padding; the last non-zero byte is the real content type."""
        if len(record.payload) < self.suite.tag_len:
            return None
        try:
            inner = self.aead.decrypt(_xor_nonce(self.iv, self.seq), record.payload, record.header)
        except InvalidTag:
            return None
        self.seq += 1
        content = inner.rstrip(b"\x00")
        if not content:
            return 0, b""  # no content type: the caller reports it as a protocol error
        return content[-1], content[:-1]

    def updated(self) -> Tls13Aead:
        """The next generation after a KeyUpdate (RFC 8446 §7.2, "traffic upd")."""
        size = _HASHES[self.suite.hash]().digest_size
        return Tls13Aead(
            self.suite, hkdf_expand_label(self.suite.hash, self.secret, "traffic upd", b"", size)
        )
