"""TLS ClientHello parser: SNI, ECH and ALPN from records split any way a client or network splits them,
and no exception (and no name) from garbage or lying length fields.

Hellos are assembled here from RFC 8446 section 4.1.2 (or by ``droneaudit.synth.tls``), so the expected
SNI is the one the test wrote.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

import pytest

from droneaudit.readers.protocols import tls
from droneaudit.synth.tls import client_hello_handshake, tls_client_hello, tls_record

ECH_EXT, SNI_EXT, ALPN_EXT = 0xFE0D, 0x0000, 0x0010


def ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack(">HH", ext_type, len(body)) + body


def sni_ext(*entries: tuple[int, bytes]) -> bytes:
    listed = b"".join(struct.pack(">BH", kind, len(value)) + value for kind, value in entries)
    return ext(SNI_EXT, struct.pack(">H", len(listed)) + listed)


def alpn_ext(*protocols: bytes) -> bytes:
    listed = b"".join(bytes([len(p)]) + p for p in protocols)
    return ext(ALPN_EXT, struct.pack(">H", len(listed)) + listed)


def hello_body(extensions: bytes | None, *, session_id: bytes = b"\x11" * 32) -> bytes:
    """ClientHello body; ``extensions=None`` leaves the extensions block out (allowed before TLS 1.3)."""
    body = b"\x03\x03" + b"\x5a" * 32 + bytes([len(session_id)]) + session_id
    body += struct.pack(">HHH", 4, 0x1301, 0x002F) + b"\x01\x00"
    if extensions is not None:
        body += struct.pack(">H", len(extensions)) + extensions
    return body


def handshake_msg(body: bytes, msg_type: int = 1) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def records(handshake: bytes, sizes: Sequence[int] = ()) -> bytes:
    """``handshake`` in TLS records of the given sizes, the rest in one more record."""
    out, pos = b"", 0
    for size in [*sizes, len(handshake) - sum(sizes)]:
        if size:
            out += tls_record(22, handshake[pos : pos + size], version=0x0301)
        pos += size
    return out


def parse_done(stream: bytes) -> tls.ClientHello:
    status, hello = tls.from_records(stream)
    assert status is tls.Status.DONE, status
    assert hello is not None
    return hello


# --- well-formed hellos ---------------------------------------------------------------------------


def test_synth_hello_sni_and_alpn() -> None:
    hello = parse_done(tls_client_hello("telemetry.drone.example", alpn=("h2", "http/1.1")))
    assert hello == tls.ClientHello("telemetry.drone.example", False, ("h2", "http/1.1"))


def test_hello_without_extensions() -> None:
    assert parse_done(records(handshake_msg(hello_body(None)))) == tls.ClientHello(None, False, ())


def test_hello_with_empty_extensions_block() -> None:
    assert parse_done(records(handshake_msg(hello_body(b"")))) == tls.ClientHello(None, False, ())


def test_ech_outer_name_is_marked() -> None:
    exts = sni_ext((0, b"public.example")) + ext(ECH_EXT, b"\x00\x01\x02") + alpn_ext(b"h3")
    assert parse_done(records(handshake_msg(hello_body(exts)))) == tls.ClientHello(
        "public.example", True, ("h3",)
    )


def test_ech_without_sni() -> None:
    assert parse_done(records(handshake_msg(hello_body(ext(ECH_EXT, b""))))) == tls.ClientHello(
        None, True, ()
    )


def test_sni_is_lower_cased_without_trailing_dot() -> None:
    assert (
        parse_done(records(handshake_msg(hello_body(sni_ext((0, b"API.Example.COM.")))))).sni
        == "api.example.com"
    )


def test_sni_skips_unknown_name_types() -> None:
    exts = sni_ext((7, b"not-a-host"), (0, b"real.example"))
    assert parse_done(records(handshake_msg(hello_body(exts)))).sni == "real.example"


def test_empty_sni_is_no_name() -> None:
    assert parse_done(records(handshake_msg(hello_body(sni_ext((0, b"")))))).sni is None


def test_handshake_layer_directly() -> None:
    status, hello = tls.handshake(client_hello_handshake("quic.example", alpn=("h3",)))
    assert status is tls.Status.DONE and hello == tls.ClientHello("quic.example", False, ("h3",))


# --- hellos split over records and segments ---------------------------------------------------------


def test_every_two_record_split_finds_the_sni() -> None:
    handshake = client_hello_handshake("split.example")
    for first in range(1, len(handshake)):
        assert parse_done(records(handshake, [first])).sni == "split.example", first


def test_three_record_split_from_synth() -> None:
    assert parse_done(tls_client_hello("three.example", record_split=[40, 80])).sni == "three.example"


def test_one_byte_records() -> None:
    handshake = client_hello_handshake("tiny-records.example")
    assert parse_done(records(handshake, [1] * (len(handshake) - 1))).sni == "tiny-records.example"


def test_every_prefix_needs_more_until_complete() -> None:
    stream = tls_client_hello("prefix.example", record_split=[30, 90])
    for cut in range(1, len(stream)):
        status, hello = tls.from_records(stream[:cut])
        assert (status, hello) == (tls.Status.NEED_MORE, None), cut
    assert parse_done(stream).sni == "prefix.example"


def test_bytes_after_the_hello_do_not_matter() -> None:
    stream = tls_client_hello("trailing.example") + tls_record(20, b"\x01") + b"\x17\x03\x03\x00\x10"
    assert parse_done(stream).sni == "trailing.example"


# --- not TLS, garbage and lying lengths -----------------------------------------------------------


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", id="http"),
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", id="ssh"),
        pytest.param(tls_record(20, b"\x01"), id="change-cipher-spec-first"),
        pytest.param(tls_record(23, b"\x00" * 40), id="application-data"),
        pytest.param(records(handshake_msg(hello_body(None), msg_type=2)), id="server-hello"),
        pytest.param(b"\x16\x02\x00\x00\x05" + b"\x01\x00\x00\x01\x00", id="record-major-2"),
        pytest.param(b"\x80\x2e\x01\x03\x01", id="sslv2-hello"),
    ],
)
def test_not_a_client_hello(stream: bytes) -> None:
    assert tls.from_records(stream) == (tls.Status.NOT_TLS, None)


def test_handshake_record_then_non_handshake_record_before_the_hello_completes() -> None:
    handshake = client_hello_handshake("cut.example")
    stream = tls_record(22, handshake[:50]) + tls_record(21, b"\x02\x28")
    assert tls.from_records(stream) == (tls.Status.NOT_TLS, None)


def test_huge_handshake_length_is_refused_not_awaited() -> None:
    stream = tls_record(22, b"\x01\xff\xff\xff" + b"\x03\x03" + b"\x00" * 40)
    assert tls.from_records(stream) == (tls.Status.NOT_TLS, None)


def test_record_length_longer_than_the_data_waits() -> None:
    stream = b"\x16\x03\x01\xff\xff" + client_hello_handshake("wait.example")[:100]
    assert tls.from_records(stream) == (tls.Status.NEED_MORE, None)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\x03\x03" + b"\x00" * 32 + b"\xff", id="session-id-past-end"),
        pytest.param(b"\x03\x03" + b"\x00" * 32 + b"\x00\xff\xff\x13\x01", id="cipher-suites-past-end"),
        pytest.param(b"\x03\x03" + b"\x00" * 10, id="random-cut"),
        pytest.param(b"", id="empty-body"),
    ],
)
def test_lying_lengths_inside_the_hello(body: bytes) -> None:
    assert tls.from_records(records(handshake_msg(body))) == (tls.Status.NOT_TLS, None)


def test_extensions_length_longer_than_the_hello_keeps_what_is_there() -> None:
    exts = sni_ext((0, b"kept.example"))
    body = hello_body(None) + struct.pack(">H", 0xFFFF) + exts
    assert parse_done(records(handshake_msg(body))).sni == "kept.example"


def test_extension_length_longer_than_the_block_does_not_raise() -> None:
    exts = struct.pack(">HH", SNI_EXT, 0xFFFF) + b"\x00\x10\x00\x00\x0dlong.example"
    status, _hello = tls.from_records(records(handshake_msg(hello_body(exts))))
    assert status in (tls.Status.DONE, tls.Status.NOT_TLS)


def test_sni_name_length_past_the_extension() -> None:
    exts = ext(SNI_EXT, b"\x00\x20\x00\xff\xf0short")
    status, hello = tls.from_records(records(handshake_msg(hello_body(exts))))
    assert status is tls.Status.DONE and hello is not None
    assert hello.sni in (None, "short")


def test_alpn_lengths_past_the_end_do_not_raise() -> None:
    exts = ext(ALPN_EXT, b"\x00\x10\x40h2")
    assert parse_done(records(handshake_msg(hello_body(exts)))).alpn in ((), ("h2",))


def test_random_mutations_never_raise() -> None:
    rng = random.Random(8446)
    seed = tls_client_hello("fuzz.example", record_split=[20, 60])
    for _ in range(3000):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        status, hello = tls.from_records(bytes(data[: rng.randint(0, len(data))]))
        assert (hello is not None) == (status is tls.Status.DONE)
    for _ in range(500):
        tls.from_records(b"\x16\x03\x01" + rng.randbytes(rng.randint(0, 120)))
        tls.handshake(b"\x01" + rng.randbytes(rng.randint(0, 120)))
