"""Hostile bytes never raise, and authenticated decryption never yields bytes that were not sent.

The second property is the strong one: whatever is damaged (a flipped bit, a cut, inserted junk, a
lying length), what comes out of a direction is a prefix of what the test sent in it, because every
record that contributes has authenticated.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from droneaudit.content.stream import HalfStream
from droneaudit.content.tls import decrypt

from ._tls_sessions import replace_streams, stream_of
from .test_tls import keylog_of, session

STATUSES = ("decrypted", "encrypted, no key", "not decrypted: ", "partial: ", "not tls")
SESSIONS = [
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", True),
    ("TLSv1.2", "ECDHE-RSA-AES128-SHA256", False),
    ("TLSv1.0", "ECDHE-RSA-AES128-SHA", True),
    ("TLSv1.3", None, True),
]
_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _session(index: int):  # type: ignore[no-untyped-def]
    version, cipher, etm = SESSIONS[index]
    return session("TLSv1" if version == "TLSv1.0" else version, cipher, etm)


def _damage(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, junk in edits:
        at = where % (len(out) + 1)
        if kind == "flip" and at < len(out):
            out[at] ^= junk[0] if junk and junk[0] else 0x80
        elif kind == "insert":
            out[at:at] = junk
        elif kind == "cut":
            del out[at:]
        elif kind == "length" and at + 2 <= len(out):
            out[at : at + 2] = (junk + b"\xff\xff")[:2]
    return bytes(out)


_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "cut", "length"]), st.integers(0, 1 << 20), st.binary(max_size=12)
    ),
    min_size=1,
    max_size=4,
)


@_SETTINGS
@given(st.integers(0, len(SESSIONS) - 1), st.booleans(), _EDITS)
def test_damaged_sessions_give_a_prefix_of_the_truth(index: int, client_side: bool, edits: list) -> None:  # type: ignore[type-arg]
    s = _session(index)
    half = s.conversation.sent if client_side else s.conversation.received
    damaged = HalfStream(half.file, _damage(half.data, edits), half.chunks)
    conv = replace_streams(s.conversation, **{"sent" if client_side else "received": damaged})
    result = decrypt(conv, keylog_of(s.keylog))
    assert result.session.status.startswith(STATUSES)
    assert s.sent.startswith(result.sent.data)
    assert s.received.startswith(result.received.data)


def _records(records: list[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack(">BHH", ctype, 0x0303, len(body)) + body for ctype, body in records)


_RECORDS = st.lists(st.tuples(st.sampled_from([20, 21, 22, 23, 24]), st.binary(max_size=200)), max_size=8)


@_SETTINGS
@given(st.integers(0, len(SESSIONS) - 1), _RECORDS, _RECORDS, st.binary(max_size=80))
def test_plausible_records_with_garbage_inside(index: int, client: list, server: list, hello: bytes) -> None:  # type: ignore[type-arg]
    """The real ClientHello (so the key log matches and decryption is attempted), then junk records;
    the server side opens with a ServerHello-shaped message of junk."""
    s = _session(index)
    first = s.conversation.sent.data[: 5 + struct.unpack_from(">H", s.conversation.sent.data, 3)[0]]
    server_hello = b"\x02" + len(hello).to_bytes(3, "big") + hello
    conv = replace_streams(
        s.conversation,
        sent=stream_of(first + _records(client)),
        received=stream_of(_records([(22, server_hello), *server])),
    )
    result = decrypt(conv, keylog_of(s.keylog))
    assert result.session.status.startswith(STATUSES)
    assert result.session.sni == "api.example.com"


@_SETTINGS
@given(st.binary(max_size=600), st.binary(max_size=600))
def test_random_bytes_on_both_sides(sent: bytes, received: bytes) -> None:
    s = _session(3)
    conv = replace_streams(s.conversation, sent=stream_of(sent), received=stream_of(received))
    result = decrypt(conv, keylog_of(s.keylog))
    assert result.session.status.startswith(STATUSES)
    assert (result.sent.data, result.received.data) == (b"", b"")
