"""TLS decryption of damaged streams and of sessions no key log can open: the status says why, and
whatever plaintext comes out is a prefix of what was sent."""

from __future__ import annotations

import struct

import pytest

from droneaudit.content.stream import HalfStream

from ._tls_sessions import make_session, replace_streams, stream_of, truncated, with_gap
from .test_tls import assert_prefix, run, session


def record_starts(data: bytes) -> list[tuple[int, int]]:
    """(offset, content type) of each record, walked here independently of the code under test."""
    out, pos = [], 0
    while pos + 5 <= len(data):
        out.append((pos, data[pos]))
        pos += 5 + struct.unpack_from(">H", data, pos + 3)[0]
    return out


@pytest.mark.parametrize(("version", "cipher"), [("TLSv1.2", "ECDHE-RSA-AES256-SHA384"), ("TLSv1.3", None)])
def test_truncated_record_is_partial_with_the_plaintext_before_it(version: str, cipher: str | None) -> None:
    s = session(version, cipher)
    cut = len(s.conversation.sent.data) - 5000  # inside the 40 kB upload's last records
    conv = replace_streams(s.conversation, sent=truncated(s.conversation.sent, cut))
    result = run(s, conv)
    assert result.session.status.startswith("partial: truncated record"), result.session.status
    assert_prefix(result.sent, s.sent)
    assert len(result.sent.data) > 40000 - 16384 * 2
    assert result.received.data == s.received


@pytest.mark.parametrize(
    ("version", "cipher"), [("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.3", None)]
)
def test_gap_in_a_stream_is_partial_and_counts_what_was_lost(version: str, cipher: str | None) -> None:
    s = session(version, cipher)
    received = s.conversation.received
    start = len(received.data) // 2
    conv = replace_streams(s.conversation, received=with_gap(received, start, start + 1400))
    result = run(s, conv)
    assert result.session.status.startswith(f"partial: gap at offset {start}")
    assert_prefix(result.received, s.received)
    assert result.received.dropped > 1400
    assert result.sent.data == s.sent


@pytest.mark.parametrize(
    ("version", "cipher", "etm"),
    [
        ("TLSv1.2", "ECDHE-RSA-CHACHA20-POLY1305", True),
        ("TLSv1.2", "AES256-SHA", False),
        ("TLSv1.3", None, True),
    ],
)
def test_a_flipped_ciphertext_byte_is_a_bad_mac_at_that_record(
    version: str, cipher: str | None, etm: bool
) -> None:
    s = session(version, cipher, etm)
    received = s.conversation.received
    app_records = [offset for offset, ctype in record_starts(received.data) if ctype == 23]
    target = app_records[len(app_records) // 2]
    index = [offset for offset, _ in record_starts(received.data)].index(target) + 1
    data = bytearray(received.data)
    data[target + 30] ^= 0x01
    damaged = HalfStream(received.file, bytes(data), received.chunks)
    result = run(s, replace_streams(s.conversation, received=damaged))
    frame = received.frame_at(target)
    assert result.session.status == f"partial: bad record MAC at server record {index} (frame {frame})"
    assert_prefix(result.received, s.received)
    assert result.sent.data == s.sent


def test_record_length_beyond_the_rfc_limit_stops_the_walk() -> None:
    s = session("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    sent = s.conversation.sent
    target = [offset for offset, ctype in record_starts(sent.data) if ctype == 23][1]
    data = bytearray(sent.data)
    data[target + 3 : target + 5] = struct.pack(">H", (1 << 14) + 2049)
    result = run(s, replace_streams(s.conversation, sent=HalfStream(sent.file, bytes(data), sent.chunks)))
    assert result.session.status.startswith(f"partial: not a TLS record at offset {target}")
    assert_prefix(result.sent, s.sent)


# --- not decryptable whatever the key log says ----------------------------------------------------


def server_hello(version: int, cipher: int, extensions: bytes = b"") -> bytes:
    hello = struct.pack(">H", version) + bytes(32) + b"\x00" + struct.pack(">HB", cipher, 0)
    if extensions:
        hello += struct.pack(">H", len(extensions)) + extensions
    message = b"\x02" + len(hello).to_bytes(3, "big") + hello
    return struct.pack(">BHH", 22, 0x0303, len(message)) + message


@pytest.mark.parametrize(
    ("hello", "status"),
    [
        (server_hello(0x0300, 0x002F), "not decrypted: SSL 3.0 is not supported"),
        (server_hello(0x0303, 0x000A), "not decrypted: unsupported cipher 0x000A"),
        (
            server_hello(0x0303, 0x1301),
            "not decrypted: cipher TLS_AES_128_GCM_SHA256 is not valid in TLS 1.2",
        ),
        (
            server_hello(0x0301, 0xC02F),
            "not decrypted: cipher TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 is not valid in TLS 1.0",
        ),
        (
            server_hello(0x0303, 0x1301, b"\x00\x2b\x00\x02\x7f\x1c"),
            "not decrypted: TLS 1.3 draft 28 is not supported",
        ),
        (b"", "not decrypted: no ServerHello"),
        (b"\x15\x03\x03\x00\x02\x02\x28", "not decrypted: no ServerHello"),
    ],
)
def test_server_hellos_we_cannot_decrypt(hello: bytes, status: str) -> None:
    s = session("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    server = stream_of(hello) if hello else HalfStream("capture.pcap")
    result = run(s, replace_streams(s.conversation, received=server))
    assert result.session.status == status
    assert result.session.sni == "api.example.com"


def test_a_real_session_with_an_unsupported_cipher() -> None:
    s = make_session("TLSv1.2", "ECDHE-RSA-CAMELLIA128-SHA256")
    result = run(s)
    assert result.session.status == "not decrypted: unsupported cipher 0xC076"
    assert (result.sent.data, result.received.data) == (b"", b"")


@pytest.mark.parametrize(
    "payload",
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"", b"\x16\x03\x01", b"\x16\x03\x01\x40\x00\x01", bytes(200)],
)
def test_not_tls(payload: bytes) -> None:
    s = session("TLSv1.3", None)
    result = run(
        s, replace_streams(s.conversation, sent=stream_of(payload) if payload else HalfStream("capture.pcap"))
    )
    assert result.session.status == "not tls"
    assert (result.sent.data, result.received.data) == (b"", b"")


def test_a_capture_that_starts_after_the_handshake_has_no_client_hello() -> None:
    s = session("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    sent = s.conversation.sent
    start = next(offset for offset, ctype in record_starts(sent.data) if ctype == 23)
    late = HalfStream(sent.file, sent.data[start:], [c for c in sent.chunks if c.offset >= start])
    late.chunks = [type(c)(c.offset - start, c.frame, c.ts_ns) for c in late.chunks]
    result = run(s, replace_streams(s.conversation, sent=late))
    assert result.session.status.startswith("not decrypted: no ClientHello at the start of the client stream")
    assert result.session.sni is None


def test_a_client_that_opens_with_another_handshake_message_is_not_decrypted() -> None:
    s = session("TLSv1.3", None)
    odd = stream_of(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00")
    assert run(s, replace_streams(s.conversation, sent=odd)).session.status.startswith(
        "not decrypted: no ClientHello"
    )
