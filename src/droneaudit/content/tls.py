"""Decrypt one TLS connection with a key log: ``decrypt(conversation, keylog) -> Decrypted``.

The steps, each its own module so each can be read against its RFC:

1. ``tls_records``: both half-streams split into whole TLS records (stopping at a gap, a truncated
   record or bytes that are not TLS, with the reason);
2. ``tls_hello``: ClientHello (client random, SNI, ALPN offer, 0-RTT) and ServerHello (server random,
   suite, version from supported_versions, encrypt_then_mac, past a HelloRetryRequest);
3. ``tls_suites`` / ``tls_crypto``: keys from the key log's secrets and a record opener per direction;
4. ``tls12`` (also TLS 1.0 and 1.1, AES-CBC suites) / ``tls13``: each direction's records decrypted in
   order.

The result is the plaintext application data (content type 23) of each direction as a ``HalfStream``
whose chunks point at the frame that carried the end of each record, so every later finding still names
its frame; and a ``TlsSession`` whose ``status`` says how far decryption got:

* ``decrypted``: every record of both directions authenticated;
* ``encrypted, no key``: the key log has no secret for this client random;
* ``not decrypted: <reason>``: nothing could be decrypted (unsupported cipher 0x...., SSL 3.0,
  no ClientHello or no ServerHello, wrong key: bad record MAC at the first record, ...);
* ``partial: <reason>``: some records decrypted, then a gap, a truncated record, a bad record MAC,
  a renegotiation, unreadable 0-RTT data or a missing secret stopped one direction;
* ``not tls``: the client's bytes do not start with a TLS record at all.

Hostile bytes never raise: record lengths are checked against the stream and the RFC maximum, hello
parsing is bounds-checked, and a record that does not authenticate just stops its direction.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from droneaudit.content.keylog import KeyLog
from droneaudit.content.model import TlsSession, Where
from droneaudit.content.stream import Conversation, Endpoint, HalfStream
from droneaudit.content.tls12 import Tls12Direction
from droneaudit.content.tls13 import Tls13Direction, side_secrets
from droneaudit.content.tls_crypto import tls12_openers
from droneaudit.content.tls_hello import (
    ClientHelloInfo,
    ServerHelloInfo,
    find_client_hello,
    find_server_hello,
)
from droneaudit.content.tls_records import Direction, Plaintext, RecordWalk, walk_records
from droneaudit.content.tls_suites import CBC, SUITES, Suite, suite_label

__all__ = ["Decrypted", "decrypt", "version_label"]

TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304
_VERSIONS = {0x0300: "SSL 3.0", TLS10: "TLS 1.0", TLS11: "TLS 1.1", TLS12: "TLS 1.2", TLS13: "TLS 1.3"}
_TLS13_SECRETS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)


@dataclass(slots=True)
class Decrypted:
    """What ``decrypt`` made of one conversation.

    ``sent`` / ``received`` hold plaintext application data only (empty unless something decrypted);
    when decryption of a direction stopped early its ``gap_at`` is where, and ``dropped`` counts the
    ciphertext bytes not decrypted. ``notes`` lists what is worth a problem record, in the order found
    (why each direction stopped, alerts other than close_notify); ``events`` what went as expected but
    is worth knowing (TLS 1.3 key updates followed, 0-RTT early data read).
    """

    session: TlsSession
    sent: HalfStream
    received: HalfStream
    client_random: bytes | None = None
    version: int | None = None  #: wire version selected by the server (0x0303, 0x0304, ...)
    cipher_suite: int | None = None  #: IANA code point
    alpn_offer: tuple[str, ...] = ()
    records: tuple[int, int] = (0, 0)  #: records that authenticated (client → server, server → client)
    notes: tuple[str, ...] = ()
    hello_retry: bool = False  #: the server sent a HelloRetryRequest first (TLS 1.3)
    encrypt_then_mac: bool = False  #: RFC 7366 negotiated for a CBC suite (TLS 1.0 - 1.2)
    events: tuple[str, ...] = ()


def version_label(version: int) -> str:
    if version in _VERSIONS:
        return _VERSIONS[version]
    if version >> 8 == 0x7F:
        return f"TLS 1.3 draft {version & 0xFF}"
    return f"0x{version:04X}"


def decrypt(conv: Conversation, keys: KeyLog) -> Decrypted:
    """Decrypt a TCP conversation's TLS records with the key log (see the module docstring)."""
    client_walk, server_walk = walk_records(conv.sent), walk_records(conv.received)
    hello = find_client_hello(client_walk, conv.sent)
    if hello is None:
        return _undecrypted(conv, _no_hello(client_walk))
    server = find_server_hello(server_walk)
    reason = _unsupported(server, server_walk)
    if reason is not None or server is None:
        return _undecrypted(conv, f"not decrypted: {reason}", hello, server)
    suite = SUITES[server.cipher]
    secrets = keys.secrets(hello.random)
    if not _has_key(server.version, secrets):
        return _undecrypted(conv, "encrypted, no key", hello, server)
    client_out, server_out = Plaintext(conv.sent), Plaintext(conv.received)
    notes: list[str] = []
    client, peer = _directions(hello, server, suite, secrets, (client_out, server_out), notes)
    stops = [_run(client, client_walk, notes), _run(peer, server_walk, notes)]
    return _result(conv, hello, server, (client_out, server_out), stops, (client, peer), notes)


def _no_hello(walk: RecordWalk) -> str:
    """TLS records without a ClientHello first: a capture that began mid-connection, or garbage."""
    if next(iter(walk), None) is None:
        return "not tls"
    return "not decrypted: no ClientHello at the start of the client stream (capture began mid-connection?)"


def _unsupported(server: ServerHelloInfo | None, walk: RecordWalk) -> str | None:
    """Why a session cannot be decrypted whatever the key log says (None: it can be tried)."""
    if server is None:
        return f"no ServerHello ({walk.stop})" if walk.stop else "no ServerHello"
    if server.version not in (TLS10, TLS11, TLS12, TLS13):
        return f"{version_label(server.version)} is not supported"
    suite = SUITES.get(server.cipher)
    if suite is None:
        return f"unsupported cipher 0x{server.cipher:04X}"
    legacy = server.version < TLS12 and (suite.cipher != CBC or suite.mac != "sha1")
    if suite.tls13 != (server.version == TLS13) or legacy:
        return f"cipher {suite.name} is not valid in {version_label(server.version)}"
    return None


def _has_key(version: int, secrets: dict[str, bytes]) -> bool:
    if version != TLS13:
        return "CLIENT_RANDOM" in secrets
    return any(label in secrets for label in _TLS13_SECRETS)


def _directions(
    hello: ClientHelloInfo,
    server: ServerHelloInfo,
    suite: Suite,
    secrets: dict[str, bytes],
    outs: tuple[Plaintext, Plaintext],
    notes: list[str],
) -> tuple[Direction, Direction]:
    """The (client, server) direction decrypters for the negotiated version."""
    if server.version != TLS13:
        etm = server.encrypt_then_mac and suite.mac is not None
        randoms = (hello.random, server.random)
        c_open, s_open = tls12_openers(suite, secrets["CLIENT_RANDOM"], randoms, etm, server.version)
        return Tls12Direction("client", c_open, outs[0], notes), Tls12Direction(
            "server", s_open, outs[1], notes
        )
    client_secrets, server_secrets = side_secrets("client", secrets), side_secrets("server", secrets)
    return (
        Tls13Direction("client", suite, client_secrets, outs[0], notes, hello.early_data),
        Tls13Direction("server", suite, server_secrets, outs[1], notes, False),
    )


def _run(direction: Direction, walk: RecordWalk, notes: list[str]) -> tuple[str | None, int | None]:
    problem, offset = direction.run(walk)
    skipped = direction.skipped_note() if isinstance(direction, Tls13Direction) else None
    if skipped is not None and problem is None:
        problem = skipped
    if problem is not None:
        notes.append(problem)
    return problem, offset


def _result(
    conv: Conversation,
    hello: ClientHelloInfo,
    server: ServerHelloInfo,
    outs: tuple[Plaintext, Plaintext],
    stops: list[tuple[str | None, int | None]],
    directions: tuple[Direction, Direction],
    notes: list[str],
) -> Decrypted:
    client, peer = directions
    problems = [problem for problem, _ in stops if problem is not None]
    records = (outs[0].records, outs[1].records)
    if not problems:
        status = "decrypted"
    else:
        status = ("partial: " if sum(records) else "not decrypted: ") + "; ".join(problems)
    alpn = peer.alpn if isinstance(peer, Tls13Direction) else server.alpn
    session = _session(conv, status, hello, server, alpn)
    sent, received = outs[0].half_stream(stops[0][1]), outs[1].half_stream(stops[1][1])
    etm = server.encrypt_then_mac and server.version != TLS13 and SUITES[server.cipher].mac is not None
    return Decrypted(
        session,
        sent,
        received,
        hello.random,
        server.version,
        server.cipher,
        hello.alpn,
        records,
        tuple(notes),
        server.retried,
        etm,
        _events(client, peer),
    )


def _events(*directions: Direction) -> tuple[str, ...]:
    return tuple(e for d in directions if isinstance(d, Tls13Direction) for e in d.events())


def _undecrypted(
    conv: Conversation,
    status: str,
    hello: ClientHelloInfo | None = None,
    server: ServerHelloInfo | None = None,
) -> Decrypted:
    """A result without plaintext: both streams empty, stopped at 0 when there was ciphertext."""
    alpn = server.alpn if server is not None else None
    return Decrypted(
        _session(conv, status, hello, server, alpn),
        Plaintext(conv.sent).half_stream(0 if conv.sent.data else None),
        Plaintext(conv.received).half_stream(0 if conv.received.data else None),
        hello.random if hello else None,
        server.version if server else None,
        server.cipher if server else None,
        hello.alpn if hello else (),
        hello_retry=server.retried if server else False,
    )


def _session(
    conv: Conversation,
    status: str,
    hello: ClientHelloInfo | None,
    server: ServerHelloInfo | None,
    alpn: str | None,
) -> TlsSession:
    version = version_label(server.version) if server else None
    cipher = suite_label(server.cipher) if server else None
    sni = hello.sni if hello else None
    client, peer = _address(conv.client), _address(conv.server)
    return TlsSession(status, version, cipher, sni, alpn, client, peer, _where(conv))


def _address(endpoint: Endpoint) -> str:
    try:
        is_v6 = ipaddress.ip_address(endpoint.ip).version == 6
    except ValueError:
        is_v6 = False
    return f"[{endpoint.ip}]:{endpoint.port}" if is_v6 else f"{endpoint.ip}:{endpoint.port}"


def _where(conv: Conversation) -> Where:
    """The conversation's first and last frame over both directions."""
    frames = [
        frame
        for half in (conv.sent, conv.received)
        if half.data
        for frame in (half.frame_at(0), half.frame_at(len(half.data) - 1))
        if frame is not None
    ]
    return Where(conv.sent.file, min(frames, default=None), max(frames, default=None))
