"""The TLS cipher suites we can decrypt, with what record protection needs to know about each.

Only the record layer matters here: the key exchange (ECDHE, DHE, RSA, PSK) is irrelevant because the
key log already holds the master secret (TLS 1.2) or the traffic secrets (TLS 1.3). So one table row per
suite gives the bulk cipher, its key length, the MAC (CBC suites) and the PRF / HKDF hash. A suite not
listed here (3DES, RC4, CAMELLIA, ARIA, NULL, export grades) is reported as "unsupported cipher 0x....".
Names are the IANA registry's (tls-parameters-4).
"""

from __future__ import annotations

from dataclasses import dataclass

GCM, CHACHA, CCM, CBC = "aes-gcm", "chacha20-poly1305", "aes-ccm", "aes-cbc"


@dataclass(frozen=True, slots=True)
class Suite:
    code: int
    name: str
    cipher: str  #: GCM | CHACHA | CCM | CBC
    key_len: int  #: bytes of the bulk cipher key
    hash: str  #: PRF (TLS 1.2) or HKDF (TLS 1.3) hash: "sha256" | "sha384"
    mac: str | None = None  #: CBC suites: "sha1" | "sha256" | "sha384"
    tag_len: int = 16  #: AEAD tag (8 for the CCM_8 suites)
    tls13: bool = False

    @property
    def mac_len(self) -> int:
        return {"sha1": 20, "sha256": 32, "sha384": 48}.get(self.mac or "", 0)

    @property
    def iv_len(self) -> int:
        """Bytes of write IV in the TLS 1.2 key block (the fixed part of the nonce for GCM/CCM)."""
        if self.tls13 or self.cipher == CHACHA:
            return 12
        return 16 if self.cipher == CBC else 4


def _aead12(code: int, name: str, cipher: str, key_len: int, hash_: str, tag: int = 16) -> Suite:
    return Suite(code, name, cipher, key_len, hash_, None, tag)


def _cbc(code: int, name: str, key_len: int, mac: str) -> Suite:
    return Suite(code, name, CBC, key_len, "sha384" if mac == "sha384" else "sha256", mac)


def _tls13(code: int, name: str, cipher: str, key_len: int, hash_: str, tag: int = 16) -> Suite:
    return Suite(code, name, cipher, key_len, hash_, None, tag, tls13=True)


_SUITES = [
    _tls13(0x1301, "TLS_AES_128_GCM_SHA256", GCM, 16, "sha256"),
    _tls13(0x1302, "TLS_AES_256_GCM_SHA384", GCM, 32, "sha384"),
    _tls13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", CHACHA, 32, "sha256"),
    _tls13(0x1304, "TLS_AES_128_CCM_SHA256", CCM, 16, "sha256"),
    _tls13(0x1305, "TLS_AES_128_CCM_8_SHA256", CCM, 16, "sha256", 8),
    _aead12(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", GCM, 16, "sha256"),
    _aead12(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", GCM, 32, "sha384"),
    _aead12(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", GCM, 16, "sha256"),
    _aead12(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", GCM, 32, "sha384"),
    _aead12(0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", GCM, 16, "sha256"),
    _aead12(0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", GCM, 32, "sha384"),
    _aead12(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", GCM, 16, "sha256"),
    _aead12(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", GCM, 32, "sha384"),
    _aead12(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", GCM, 16, "sha256"),
    _aead12(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", GCM, 32, "sha384"),
    _aead12(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, 32, "sha256"),
    _aead12(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, 32, "sha256"),
    _aead12(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, 32, "sha256"),
    _aead12(0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA, 32, "sha256"),
    _aead12(0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA, 32, "sha256"),
    _aead12(0xC09C, "TLS_RSA_WITH_AES_128_CCM", CCM, 16, "sha256"),
    _aead12(0xC09D, "TLS_RSA_WITH_AES_256_CCM", CCM, 32, "sha256"),
    _aead12(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", CCM, 16, "sha256", 8),
    _aead12(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", CCM, 32, "sha256", 8),
    _aead12(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", CCM, 16, "sha256"),
    _aead12(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", CCM, 32, "sha256"),
    _aead12(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", CCM, 16, "sha256", 8),
    _aead12(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", CCM, 32, "sha256", 8),
    _cbc(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
    _cbc(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
    _cbc(0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    _cbc(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    _cbc(0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", 32, "sha1"),
]

SUITES: dict[int, Suite] = {suite.code: suite for suite in _SUITES}


def suite_label(code: int) -> str:
    """The IANA name when we know the suite, else its code point as "0x...."."""
    suite = SUITES.get(code)
    return suite.name if suite is not None else f"0x{code:04X}"
