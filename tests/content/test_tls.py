"""TLS decryption against real OpenSSL sessions: the plaintext each test sent is the expectation.

Sessions come from ``_tls_sessions.make_session`` (Python's ssl over memory BIOs, the key log OpenSSL
wrote). ``test_tls_tshark.py`` checks the same sessions against Wireshark's decryption.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest

from droneaudit.content.keylog import KeyLog
from droneaudit.content.stream import Conversation, HalfStream
from droneaudit.content.tls import Decrypted, decrypt

from ._tls_sessions import (
    FIRST_PAYLOAD_FRAME,
    Session,
    make_session,
)


def body(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


#: Requests and responses of several sizes: tiny, one record, just over one record, several records.
EXCHANGES = (
    (
        b"GET /api/v1/flight HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    ),
    (
        b"POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 40000\r\n\r\n" + body(1, 40000),
        b"HTTP/1.1 200 OK\r\nContent-Length: 16384\r\n\r\n" + body(2, 16384 - 41),
    ),
    (b"X", b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + body(3, 70000)),
)

#: (id, version, OpenSSL cipher / TLS 1.3 suite, IANA name, encrypt_then_mac asked for)
CASES = [
    (
        "1.2-ecdhe-aes128-gcm",
        "TLSv1.2",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        True,
    ),
    (
        "1.2-ecdhe-aes256-gcm",
        "TLSv1.2",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        True,
    ),
    (
        "1.2-ecdhe-chacha20",
        "TLSv1.2",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        True,
    ),
    (
        "1.2-cbc-sha256-etm",
        "TLSv1.2",
        "ECDHE-RSA-AES128-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        True,
    ),
    (
        "1.2-cbc-sha256-mte",
        "TLSv1.2",
        "ECDHE-RSA-AES128-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        False,
    ),
    (
        "1.2-cbc-sha384-mte",
        "TLSv1.2",
        "ECDHE-RSA-AES256-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        False,
    ),
    ("1.2-cbc-sha1-etm", "TLSv1.2", "ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True),
    ("1.2-rsa-aes128-gcm", "TLSv1.2", "AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", True),
    ("1.2-rsa-aes256-cbc", "TLSv1.2", "AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", False),
    ("1.2-rsa-aes128-ccm", "TLSv1.2", "AES128-CCM", "TLS_RSA_WITH_AES_128_CCM", True),
    ("1.2-rsa-aes256-ccm8", "TLSv1.2", "AES256-CCM8", "TLS_RSA_WITH_AES_256_CCM_8", True),
    ("1.1-cbc-mte", "TLSv1.1", "AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", False),
    ("1.0-cbc-mte", "TLSv1", "ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", False),
    ("1.0-cbc-etm", "TLSv1", "ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True),
    ("1.3-aes128-gcm", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", True),
    ("1.3-aes256-gcm", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", True),
    ("1.3-chacha20", "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", True),
    ("1.3-aes128-ccm", "TLSv1.3", "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_SHA256", True),
    ("1.3-aes128-ccm8", "TLSv1.3", "TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256", True),
]
CASE_PARAMS = [pytest.param(*case[1:], id=case[0]) for case in CASES]
VERSION_LABELS = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}


@cache
def session(version: str, cipher: str | None, etm: bool = True, mss: int = 1400, **kw: Any) -> Session:
    """One session per parameter set for the whole run (tests only read it)."""
    return make_session(version, cipher, EXCHANGES, etm=etm, mss=mss, **kw)


def keylog_of(*texts: bytes) -> KeyLog:
    keys = KeyLog()
    for number, text in enumerate(texts):
        keys.add_text(text, f"keys-{number}")
    return keys


def run(s: Session, conv: Conversation | None = None, keys: bytes | None = None) -> Decrypted:
    return decrypt(conv or s.conversation, keylog_of(s.keylog if keys is None else keys))


def assert_prefix(half: HalfStream, full: bytes) -> None:
    assert full.startswith(half.data)
    assert len(half.data) < len(full)
    assert half.gap_at == len(half.data)


# --- what was sent comes back ----------------------------------------------------------------------


@pytest.mark.parametrize(("version", "cipher", "iana", "etm"), CASE_PARAMS)
def test_decrypts_exactly_what_was_sent(version: str, cipher: str, iana: str, etm: bool) -> None:
    s = session(version, cipher, etm)
    result = run(s)
    assert result.session.status == "decrypted", result.notes
    assert (result.session.version, result.session.cipher) == (VERSION_LABELS[version], iana)
    assert (result.session.sni, result.session.alpn, result.alpn_offer) == (
        "api.example.com",
        "http/1.1",
        ("http/1.1",),
    )
    assert result.sent.data == s.sent
    assert result.received.data == s.received
    assert result.sent.gap_at is None and result.received.gap_at is None
    assert result.notes == ()
    assert result.encrypt_then_mac == (etm and "CBC" in iana)
    assert (result.sent.file, result.received.file) == ("capture.pcap", "capture.pcap")
    where = result.session.where
    assert (where.first_frame, where.last_frame) == (FIRST_PAYLOAD_FRAME, s.frames[-1].number)
    assert (result.session.client, result.session.server) == ("10.0.0.2:50123", "93.184.216.34:443")


def test_negotiated_suites_are_the_ones_asked_for() -> None:
    """Guards the test itself: OpenSSL really used each suite (TLS 1.3 suites are set via ctypes)."""
    for _, version, cipher, _, etm in CASES:
        assert (session(version, cipher, etm).version, session(version, cipher, etm).cipher) == (
            version,
            cipher,
        )


@pytest.mark.parametrize("mss", [64, 1400, 65000])
@pytest.mark.parametrize(
    ("version", "cipher"),
    [("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.2", "ECDHE-RSA-AES256-SHA384"), ("TLSv1.3", None)],
)
def test_each_plaintext_byte_points_at_the_frame_that_ended_its_record(
    version: str, cipher: str | None, mss: int
) -> None:
    """Records spanning many frames (mss 64) and many records in one frame (mss 65000)."""
    s = session(version, cipher, True, mss)
    result = run(s)
    assert result.session.status == "decrypted"
    streams = {True: result.sent, False: result.received}
    frames_of = {flag: {f.number for f in s.frames if f.from_client == flag} for flag in streams}
    offsets = {True: 0, False: 0}
    for write in s.writes:
        plain, start = streams[write.from_client], offsets[write.from_client]
        offsets[write.from_client] += len(write.data)
        first, last = plain.frames(start, start + len(write.data)) or (0, 0)
        assert write.first_frame <= first <= last == write.last_frame
    for flag, plain in streams.items():
        assert plain.chunks[0].offset == 0
        assert {c.frame for c in plain.chunks} <= frames_of[flag]
        assert [c.offset for c in plain.chunks] == sorted({c.offset for c in plain.chunks})


def test_hello_retry_request_is_followed() -> None:
    s = session("TLSv1.3", None, hello_retry=True)
    result = run(s)
    assert result.hello_retry
    assert result.session.status == "decrypted"
    assert (result.sent.data, result.received.data) == (s.sent, s.received)


def test_key_update_is_followed_in_both_directions() -> None:
    s = session("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", key_update_after=1)
    result = run(s)
    assert result.session.status == "decrypted", result.notes
    assert (result.sent.data, result.received.data) == (s.sent, s.received)
    assert [e.split(" record")[0] for e in result.events] == ["key update at client", "key update at server"]


def test_an_empty_exchange_and_a_bare_handshake_decrypt_to_nothing() -> None:
    s = make_session("TLSv1.3", None, [])
    result = run(s)
    assert (result.session.status, result.sent.data, result.received.data) == ("decrypted", b"", b"")


# --- key log problems ------------------------------------------------------------------------------


def wrong_secrets(keylog: bytes) -> bytes:
    """Every secret with its first hex digit changed: right client randoms, wrong keys."""
    out = []
    for line in keylog.splitlines():
        if line.startswith(b"#"):
            continue
        label, random_hex, secret = line.split()
        out.append(b" ".join([label, random_hex, (b"0" if secret[:1] != b"0" else b"1") + secret[1:]]))
    return b"\n".join(out)


def only_labels(keylog: bytes, *dropped: str) -> bytes:
    return b"\n".join(line for line in keylog.splitlines() if line.split()[0].decode() not in dropped)


@pytest.mark.parametrize(
    ("version", "cipher"), [("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.3", None)]
)
def test_no_key_log_entry_means_encrypted_no_key(version: str, cipher: str | None) -> None:
    s = session(version, cipher)
    result = run(s, keys=b"# nothing here\n")
    assert result.session.status == "encrypted, no key"
    assert result.session.version == VERSION_LABELS[version]
    assert (result.sent.data, result.sent.gap_at, result.received.gap_at) == (b"", 0, 0)
    assert result.sent.dropped == len(s.conversation.sent.data)


@pytest.mark.parametrize(
    ("version", "cipher"),
    [("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.2", "AES256-SHA"), ("TLSv1.3", None)],
)
def test_wrong_secrets_fail_the_first_record_mac(version: str, cipher: str | None) -> None:
    s = session(version, cipher, False)
    result = run(s, keys=wrong_secrets(s.keylog))
    status = result.session.status
    assert status.startswith("not decrypted: bad record MAC at client record"), status
    assert "; bad record MAC at server record" in status
    assert (result.sent.data, result.received.data, result.records) == (b"", b"", (0, 0))


def test_one_key_log_two_sessions_only_one_known() -> None:
    first, second = session("TLSv1.3", None), session("TLSv1.2", "ECDHE-RSA-CHACHA20-POLY1305")
    keys = keylog_of(first.keylog)
    assert decrypt(first.conversation, keys).session.status == "decrypted"
    assert decrypt(second.conversation, keys).session.status == "encrypted, no key"
    both = keylog_of(first.keylog, second.keylog)
    assert decrypt(second.conversation, both).received.data == second.received


def test_tls13_missing_client_application_secret_is_partial() -> None:
    s = session("TLSv1.3", None)
    result = run(s, keys=only_labels(s.keylog, "CLIENT_TRAFFIC_SECRET_0"))
    assert result.session.status.startswith(
        "partial: no CLIENT_TRAFFIC_SECRET_0 in the key log for client record"
    )
    assert result.received.data == s.received and result.received.gap_at is None
    assert (result.sent.data, result.sent.gap_at) == (b"", 0)
    assert result.session.alpn == "http/1.1"  # EncryptedExtensions still decrypted with the handshake key


def test_tls13_without_handshake_secrets_is_not_decrypted() -> None:
    s = session("TLSv1.3", None)
    keys = only_labels(s.keylog, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    result = run(s, keys=keys)
    assert result.session.status.startswith("not decrypted: no CLIENT_HANDSHAKE_TRAFFIC_SECRET")
    assert result.session.alpn is None
