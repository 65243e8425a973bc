"""TLS 1.3 0-RTT: early data the client sent on a resumed session, accepted or refused by the server.

Python's ssl has no early-data API, so the client writes it with ``SSL_write_early_data`` and the
server (when it accepts) reads it with ``SSL_read_early_data``, reached through ctypes as in
``_tls_sessions``. Either way the bytes left the device, so they count as sent: the expectation is the
early data followed by the requests. A server that refuses early data just skips those records, and so
must we when the key log lacks CLIENT_EARLY_TRAFFIC_SECRET.
"""

from __future__ import annotations

import ctypes
import dataclasses
import tempfile
from functools import cache
from pathlib import Path

import pytest

from droneaudit.content.tls import decrypt

from ._tls_sessions import (
    Session,
    _contexts,
    _ctx_pointer,
    _handshake,
    _libssl,
    _send,
    _session,
    _ssl_pointer,
    _step,
    _Wire,
)
from .test_tls import EXCHANGES, keylog_of, run
from .test_tls_tshark import check_against_tshark

EARLY = b"POST /telemetry HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 12\r\n\r\nlat=22.54321"
_SSL_OP_NO_ANTI_REPLAY = 1 << 24  # OpenSSL 3 SSL_OP_BIT(24): lets a resumed ticket carry 0-RTT again
_READ_EARLY_FINISH, _WANT_READ = 2, 2


def _early_lib() -> ctypes.CDLL:
    lib = _libssl()
    size_p = ctypes.POINTER(ctypes.c_size_t)
    lib.SSL_CTX_set_max_early_data.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.SSL_write_early_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, size_p]
    lib.SSL_read_early_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, size_p]
    lib.SSL_get_early_data_status.argtypes = [ctypes.c_void_p]
    lib.SSL_get_error.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _read_early(lib: ctypes.CDLL, wire: _Wire, client: object, server_ssl: int) -> bytes:
    """Server side: read 0-RTT data until EndOfEarlyData, letting the client's handshake move on."""
    buffer, size, got = ctypes.create_string_buffer(1 << 16), ctypes.c_size_t(), b""
    for _ in range(20):
        result = lib.SSL_read_early_data(server_ssl, buffer, len(buffer), ctypes.byref(size))
        if result == 1:
            got += buffer.raw[: size.value]
        elif result == _READ_EARLY_FINISH or lib.SSL_get_error(server_ssl, result) != _WANT_READ:
            return got
        wire.pump()
        _step(client, "do_handshake")  # type: ignore[arg-type]
        wire.pump()
    return got


@cache
def early_session(accept: bool) -> Session:
    lib = _early_lib()
    with tempfile.TemporaryDirectory() as folder:
        keylog = Path(folder) / "keys.log"
        client_ctx, server_ctx = _contexts("TLSv1.3", None, keylog, Path(folder), True)
        for ctx in (client_ctx, server_ctx):
            lib.SSL_CTX_set_max_early_data(_ctx_pointer(ctx), 16384)
        if accept:
            server_ctx.options |= _SSL_OP_NO_ANTI_REPLAY
        first = _Wire(1400)
        client = client_ctx.wrap_bio(first.c_in, first.c_out, server_hostname="api.example.com")
        server = server_ctx.wrap_bio(first.s_in, first.s_out, server_side=True)
        _handshake(first, client, server)
        _send(first, server, client, b"ticket, please")  # the client reads the NewSessionTicket
        wire = _Wire(1400)
        client = client_ctx.wrap_bio(
            wire.c_in, wire.c_out, server_hostname="api.example.com", session=client.session
        )
        server = server_ctx.wrap_bio(wire.s_in, wire.s_out, server_side=True)
        client_ssl, server_ssl = _ssl_pointer(client, client_ctx), _ssl_pointer(server, server_ctx)
        written = ctypes.c_size_t()
        if lib.SSL_write_early_data(client_ssl, EARLY, len(EARLY), ctypes.byref(written)) != 1:
            pytest.skip("OpenSSL did not send early data on the resumed session")
        wire.pump()
        if accept:
            assert _read_early(lib, wire, client, server_ssl) == EARLY
        _handshake(wire, client, server)
        status = lib.SSL_get_early_data_status(server_ssl)
        assert status == (2 if accept else 1), f"early data status {status}"  # ACCEPTED / REJECTED
        for request, response in EXCHANGES:
            _send(wire, client, server, request)
            _send(wire, server, client, response)
        keys = keylog.read_bytes()
    made = _session(wire, keys, (client.version() or "", ""), EXCHANGES, [], "capture.pcap")
    return dataclasses.replace(made, sent=EARLY + made.sent)


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "refused"])
def test_early_data_is_decrypted_as_sent(accept: bool) -> None:
    s = early_session(accept)
    result = run(s)
    assert result.session.status == "decrypted", result.notes
    assert result.sent.data == s.sent
    assert result.received.data == s.received
    assert result.events[0].startswith("0-RTT early data: ")


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "refused"])
def test_early_data_without_its_secret_is_skipped_and_reported(accept: bool) -> None:
    s = early_session(accept)
    keys = b"\n".join(line for line in s.keylog.splitlines() if not line.startswith(b"CLIENT_EARLY"))
    result = decrypt(s.conversation, keylog_of(keys))
    assert result.session.status.startswith("partial: 0-RTT early data not decrypted (")
    assert result.received.data == s.received
    assert result.sent.data == s.sent.removeprefix(EARLY)  # the rest decrypts as usual


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "refused"])
def test_early_data_agrees_with_tshark(tshark: str, tmp_path: Path, accept: bool) -> None:
    s = early_session(accept)
    check_against_tshark(tmp_path, s, run(s))
