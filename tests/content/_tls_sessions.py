"""Real TLS sessions for tests, made in memory with Python's ``ssl`` module (OpenSSL): no sockets.

A client and a server ``SSLObject`` talk over ``ssl.MemoryBIO`` pairs; every chunk one side's outgoing
BIO yields (cut to ``mss`` bytes) is recorded as one TCP "frame", so a test knows exactly which frame
carried what, and the client's ``keylog_filename`` writes the NSS key log OpenSSL itself produced. The
plaintext a test sends is the independent expectation for any decryption.

    session = make_session("TLSv1.3", "TLS_AES_128_GCM_SHA256", [(b"GET / ...", b"HTTP/1.1 200 ...")])
    session.conversation, session.keylog, session.frames   # Conversation, key log bytes, frames
    write_pcap(session, path)                               # the same frames as Ethernet/IPv4/TCP

Frame numbers are those of the pcap ``write_pcap`` writes: 1-3 are the TCP handshake, payload from 4.

OpenSSL knobs Python does not expose (TLS 1.3 cipher suites before Python 3.13, KeyUpdate) are reached
with ``ctypes`` on the very ``SSL_CTX`` / ``SSL`` objects, found through CPython's object layout and
checked against OpenSSL before use; where that check fails the test is skipped with the reason.
"""

from __future__ import annotations

import ctypes
import datetime
import ssl
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from droneaudit.content.stream import Chunk, Conversation, Endpoint, HalfStream
from droneaudit.synth.link import ETHERTYPE_IPV4, ethernet
from droneaudit.synth.packets import PROTO_TCP, ipv4, tcp, tcp_syn_options
from droneaudit.synth.writers import Frame as PcapFrame
from droneaudit.synth.writers import write_pcap as _write_pcap

CLIENT = ("10.0.0.2", 50123)
SERVER = ("93.184.216.34", 443)
FIRST_PAYLOAD_FRAME = 4  #: after SYN, SYN-ACK, ACK
_T0 = 1_700_000_000_000_000_000
_SSL_OP_NO_ENCRYPT_THEN_MAC = 1 << 19  # OpenSSL 3 SSL_OP_BIT(19)
_SSL_KEY_UPDATE_REQUESTED = 1


@dataclass(frozen=True, slots=True)
class Frame:
    number: int  #: 1-based, as in the pcap from ``write_pcap``
    from_client: bool
    data: bytes  #: TCP payload
    ts_ns: int


@dataclass(frozen=True, slots=True)
class Write:
    """One application-data write and the frames its TLS records went out in."""

    from_client: bool
    data: bytes
    first_frame: int
    last_frame: int


@dataclass(slots=True)
class Session:
    conversation: Conversation
    keylog: bytes
    frames: list[Frame]
    version: str  #: negotiated, as ``SSLObject.version()`` says ("TLSv1.2", "TLSv1.3")
    cipher: str  #: negotiated, OpenSSL or IANA (TLS 1.3) name
    sent: bytes  #: all application data the client sent
    received: bytes  #: all application data the server sent
    writes: list[Write] = field(default_factory=list)  #: every request and response, in order
    events: list[str] = field(default_factory=list)  #: e.g. "key update" where one was provoked


# --- certificates and OpenSSL knobs -------------------------------------------------------------------


@cache
def _certificate() -> tuple[bytes, bytes]:
    """A throw-away self-signed RSA certificate and key (PEM), made once per test run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.example.com")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@cache
def _libssl() -> ctypes.CDLL:
    import _ssl

    if sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount"):
        pytest.skip("reaching OpenSSL through ctypes needs a release build of CPython")
    lib = ctypes.CDLL(_ssl.__file__)  # the libssl _ssl is linked against, through its dependencies
    lib.SSL_CTX_get_options.restype = ctypes.c_uint64
    lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.SSL_get_SSL_CTX.restype = ctypes.c_void_p
    lib.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
    lib.SSL_key_update.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _ctx_pointer(ctx: ssl.SSLContext) -> int:
    """``SSL_CTX *`` of a context: the first field after PyObject_HEAD, verified through its options."""
    pointer = ctypes.c_void_p.from_address(id(ctx) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    if not pointer or _libssl().SSL_CTX_get_options(pointer) != int(ctx.options):
        pytest.skip("cannot find the SSL_CTX behind ssl.SSLContext on this Python")
    return pointer


def _ssl_pointer(obj: ssl.SSLObject, ctx: ssl.SSLContext) -> int:
    """``SSL *`` of an SSLObject (after PyObject_HEAD and the socket weakref), verified via its SSL_CTX."""
    inner = obj._sslobj  # type: ignore[attr-defined]
    pointer = ctypes.c_void_p.from_address(id(inner) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    if not pointer or _libssl().SSL_get_SSL_CTX(pointer) != _ctx_pointer(ctx):
        pytest.skip("cannot find the SSL behind ssl.SSLObject on this Python")
    return pointer


def _set_tls13_suites(ctx: ssl.SSLContext, suites: str) -> None:
    if hasattr(ctx, "set_ciphersuites"):  # Python 3.13+
        ctx.set_ciphersuites(suites)
        return
    if _libssl().SSL_CTX_set_ciphersuites(_ctx_pointer(ctx), suites.encode()) != 1:
        pytest.skip(f"OpenSSL refuses TLS 1.3 cipher suites {suites}")


def _versions() -> dict[str, ssl.TLSVersion]:
    with warnings.catch_warnings():  # TLSv1 and TLSv1_1 are deprecated, which is why we test them
        warnings.simplefilter("ignore", DeprecationWarning)
        names = ("TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3")
        return {name.replace("_", "."): getattr(ssl.TLSVersion, name) for name in names}


_VERSIONS = _versions()


def _contexts(
    version: str, cipher: str | None, keylog: Path, folder: Path, etm: bool
) -> tuple[ssl.SSLContext, ...]:
    cert, key = _certificate()
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    client.keylog_filename = str(keylog)
    tls = _VERSIONS[version]
    if tls < ssl.TLSVersion.TLSv1_2:  # OpenSSL 3 allows TLS 1.0/1.1 only at security level 0
        cipher = f"{cipher or 'DEFAULT'}:@SECLEVEL=0"
    for ctx in (client, server):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = tls
        if not etm:
            ctx.options |= _SSL_OP_NO_ENCRYPT_THEN_MAC
        if cipher is not None and version == "TLSv1.3":
            _set_tls13_suites(ctx, cipher)
        elif cipher is not None:
            try:
                ctx.set_ciphers(cipher)
            except ssl.SSLError:
                pytest.skip(f"the local OpenSSL refuses cipher {cipher}")
    return client, server


# --- the conversation ---------------------------------------------------------------------------------


class _Wire:
    """Moves bytes between the two BIO pairs, recording each piece as a frame."""

    def __init__(self, mss: int) -> None:
        self.mss = mss
        self.frames: list[Frame] = []
        self.writes: list[Write] = []
        self.c_in, self.c_out, self.s_in, self.s_out = (ssl.MemoryBIO() for _ in range(4))

    def pump(self) -> None:
        while self.c_out.pending or self.s_out.pending:
            for source, target, from_client in (
                (self.c_out, self.s_in, True),
                (self.s_out, self.c_in, False),
            ):
                data = source.read()
                for start in range(0, len(data), self.mss):
                    piece = data[start : start + self.mss]
                    number = FIRST_PAYLOAD_FRAME + len(self.frames)
                    self.frames.append(Frame(number, from_client, piece, _T0 + number * 1_000_000))
                target.write(data)


def _step(obj: ssl.SSLObject, action: str) -> bool:
    try:
        getattr(obj, action)()
        return True
    except ssl.SSLWantReadError:
        return False


def _handshake(wire: _Wire, client: ssl.SSLObject, server: ssl.SSLObject) -> None:
    done = [False, False]
    for _ in range(20):
        for i, obj in enumerate((client, server)):
            done[i] = done[i] or _step(obj, "do_handshake")
        wire.pump()
        if all(done):
            return
    raise AssertionError("TLS handshake did not complete")


def _send(wire: _Wire, writer: ssl.SSLObject, reader: ssl.SSLObject, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[writer.write(view) :]
    before = len(wire.frames)
    wire.pump()
    frames = wire.frames[before:]
    wire.writes.append(Write(frames[0].from_client, data, frames[0].number, frames[-1].number))
    got = bytearray()
    while len(got) < len(data):
        try:
            got += reader.read(1 << 20)
        except ssl.SSLWantReadError:
            wire.pump()
            if not wire.s_in.pending and not wire.c_in.pending:
                break
    assert bytes(got) == data, "the TLS peer did not receive what was sent"
    wire.pump()


def make_session(
    version: str = "TLSv1.3",
    cipher: str | None = None,
    exchanges: Sequence[tuple[bytes, bytes]] = (
        (b"GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ),
    *,
    mss: int = 1400,
    etm: bool = True,
    key_update_after: int | None = None,
    hello_retry: bool = False,
    sni: str = "api.example.com",
    alpn: Sequence[str] = ("http/1.1",),
    file: str = "capture.pcap",
) -> Session:
    """A complete TLS connection: handshake, then each (request, response), then close_notify both ways.

    ``version``: "TLSv1", "TLSv1.1", "TLSv1.2" or "TLSv1.3" (the first two at OpenSSL security level 0).
    ``cipher``: an OpenSSL cipher string up to TLS 1.2, a TLS 1.3 suite name for TLS 1.3 (None: default).
    ``key_update_after``: the client sends a KeyUpdate (requesting one back) after that many exchanges.
    ``hello_retry``: the server only takes P-256, so a client offering X25519 first gets a HelloRetryRequest.
    """
    with tempfile.TemporaryDirectory() as folder:
        keylog = Path(folder) / "keys.log"
        client_ctx, server_ctx = _contexts(version, cipher, keylog, Path(folder), etm)
        if hello_retry:
            server_ctx.set_ecdh_curve("prime256v1")
        if alpn:
            client_ctx.set_alpn_protocols(list(alpn))
            server_ctx.set_alpn_protocols(list(alpn))
        wire = _Wire(mss)
        client = client_ctx.wrap_bio(wire.c_in, wire.c_out, server_hostname=sni or None)
        server = server_ctx.wrap_bio(wire.s_in, wire.s_out, server_side=True)
        _handshake(wire, client, server)
        events = _exchange(wire, client, server, client_ctx, exchanges, key_update_after)
        for obj in (client, server):
            _step(obj, "unwrap")
            wire.pump()
        negotiated = (client.version() or "", (client.cipher() or ("",))[0])
        keys = keylog.read_bytes()
    return _session(wire, keys, negotiated, exchanges, events, file)


def _exchange(
    wire: _Wire,
    client: ssl.SSLObject,
    server: ssl.SSLObject,
    client_ctx: ssl.SSLContext,
    exchanges: Sequence[tuple[bytes, bytes]],
    key_update_after: int | None,
) -> list[str]:
    events = []
    for done, (request, response) in enumerate(exchanges):
        if key_update_after == done:
            if _libssl().SSL_key_update(_ssl_pointer(client, client_ctx), _SSL_KEY_UPDATE_REQUESTED) != 1:
                pytest.skip("OpenSSL refused SSL_key_update")
            events.append(f"key update before exchange {done}")
        if request:
            _send(wire, client, server, request)
        if response:
            _send(wire, server, client, response)
    return events


def _session(
    wire: _Wire,
    keylog: bytes,
    negotiated: tuple[str, str],
    exchanges: Sequence[tuple[bytes, bytes]],
    events: list[str],
    file: str,
) -> Session:
    frames = wire.frames
    conversation = Conversation(
        Endpoint(*CLIENT),
        Endpoint(*SERVER),
        half_stream([f for f in frames if f.from_client], file),
        half_stream([f for f in frames if not f.from_client], file),
    )
    sent = b"".join(request for request, _ in exchanges)
    received = b"".join(response for _, response in exchanges)
    return Session(conversation, keylog, frames, *negotiated, sent, received, wire.writes, events)


def half_stream(frames: Sequence[Frame], file: str = "capture.pcap") -> HalfStream:
    """One direction's frames as the reassembler would give them: bytes in order, a chunk per frame."""
    chunks, offset = [], 0
    for frame in frames:
        chunks.append(Chunk(offset, frame.number, frame.ts_ns))
        offset += len(frame.data)
    return HalfStream(file, b"".join(frame.data for frame in frames), chunks)


# --- damaged copies -----------------------------------------------------------------------------------


def stream_of(*payloads: bytes, first: int = FIRST_PAYLOAD_FRAME, file: str = "capture.pcap") -> HalfStream:
    """A half-stream of hand-made payloads, one frame each, numbered from ``first``."""
    return half_stream([Frame(first + i, True, p, _T0 + i) for i, p in enumerate(payloads)], file)


def truncated(half: HalfStream, length: int) -> HalfStream:
    """The first ``length`` bytes only, as if the capture (or the connection) ended there."""
    chunks = [c for c in half.chunks if c.offset < length]
    return HalfStream(half.file, half.data[:length], chunks)


def with_gap(half: HalfStream, start: int, end: int) -> HalfStream:
    """Bytes ``start`` … ``end - 1`` lost: data stops at ``start`` and the rest counts as dropped."""
    chunks = [c for c in half.chunks if c.offset < start]
    return HalfStream(half.file, half.data[:start], chunks, gap_at=start, dropped=len(half.data) - end)


def replace_streams(
    conv: Conversation, sent: HalfStream | None = None, received: HalfStream | None = None
) -> Conversation:
    return Conversation(conv.client, conv.server, sent or conv.sent, received or conv.received)


# --- pcap ---------------------------------------------------------------------------------------------


def write_pcap(session: Session, path: Path) -> Path:
    """Ethernet/IPv4/TCP pcap of the session: SYN, SYN-ACK, ACK, one segment per frame, correct seq/ack."""
    seq = {True: 1000, False: 5000}

    def segment(from_client: bool, payload: bytes, flags: str, options: bytes = b"") -> bytes:
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        ack = seq[not from_client] if "A" in flags else 0
        at = {"seq": seq[from_client], "ack": ack, "src_ip": src[0], "dst_ip": dst[0]}
        seg = tcp(src[1], dst[1], payload, flags=flags, options=options, **at)  # type: ignore[arg-type]
        seq[from_client] += len(payload) + (1 if "S" in flags else 0)
        return ethernet(ipv4(src[0], dst[0], PROTO_TCP, seg, dont_fragment=True), ethertype=ETHERTYPE_IPV4)

    out = [
        PcapFrame(_T0 + 1_000_000, segment(True, b"", "S", tcp_syn_options())),
        PcapFrame(_T0 + 2_000_000, segment(False, b"", "SA", tcp_syn_options())),
        PcapFrame(_T0 + 3_000_000, segment(True, b"", "A")),
    ]
    out += [PcapFrame(f.ts_ns, segment(f.from_client, f.data, "PA")) for f in session.frames]
    assert all(f.ts_ns == _T0 + n * 1_000_000 for n, f in enumerate(out, start=1))
    _write_pcap(path, out, link_type=1)
    return path
