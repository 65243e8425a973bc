"""Oracle: Wireshark decrypts the same sessions, with the same key log, to the same bytes in the same frames.

Each session is written as an Ethernet/IPv4/TCP pcap (SYN, SYN-ACK, ACK, then one segment per recorded
write) and ``tshark -o tls.keylog_file:K -z follow,tls,yaml,0`` lists the decrypted application data
per frame and peer. Ours, cut at our chunk boundaries, must be identical: the same bytes, attributed
to the same frame (the one that completed each record), in the same direction.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from droneaudit.content.stream import HalfStream
from droneaudit.content.tls import Decrypted
from oracles.tshark import run_tshark

from ._tls_sessions import CLIENT, SERVER, Session, replace_streams, truncated, write_pcap
from .test_tls import CASE_PARAMS, run, session

Piece = tuple[int, bool, bytes]  #: (frame, from the client, plaintext)


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Join consecutive pieces of the same frame and direction (tshark lists one per record)."""
    merged: list[Piece] = []
    for frame, from_client, data in pieces:
        if merged and merged[-1][:2] == (frame, from_client):
            merged[-1] = (frame, from_client, merged[-1][2] + data)
        else:
            merged.append((frame, from_client, data))
    return merged


def ours(result: Decrypted) -> list[Piece]:
    pieces: list[Piece] = []
    for from_client, half in ((True, result.sent), (False, result.received)):
        pieces += _cut(half, from_client)
    return _merge(sorted(pieces, key=lambda piece: piece[0]))


def _cut(half: HalfStream, from_client: bool) -> list[Piece]:
    bounds = [c.offset for c in half.chunks[1:]] + [len(half.data)]
    return [
        (c.frame, from_client, half.data[c.offset : end]) for c, end in zip(half.chunks, bounds, strict=True)
    ]


_PEER = re.compile(r"^  - peer: (\d+)\n    host: ?(.*)$", re.M)
_PACKET = re.compile(
    r"^  - packet: (\d+)\n    peer: (\d+)\n.*\n    data: !!binary \|\n((?:      .*\n?)*)", re.M
)


def tshark_plaintext(pcap: Path, keylog: Path) -> list[Piece]:
    """tshark's YAML follow output as pieces. tshark 4.0 names only one peer (the other's host is
    empty, and which one is named varies), so the named one decides who is the client."""
    args = ["-n", "-r", str(pcap), "-o", f"tls.keylog_file:{keylog}", "-q", "-z", "follow,tls,yaml,0"]
    result = run_tshark(args)
    assert result.returncode == 0, result.stderr
    named = {int(peer): host.strip() for peer, host in _PEER.findall(result.stdout) if host.strip()}
    assert len(named) == 1 and set(named.values()) <= {CLIENT[0], SERVER[0]}, result.stdout[:300]
    ((named_peer, host),) = named.items()
    client_peer = named_peer if host == CLIENT[0] else 1 - named_peer
    pieces = [
        (int(frame), int(peer) == client_peer, base64.b64decode("".join(data.split())))
        for frame, peer, data in _PACKET.findall(result.stdout)
    ]
    return _merge(pieces)


def check_against_tshark(tmp_path: Path, s: Session, result: Decrypted) -> None:
    pcap, keylog = write_pcap(s, tmp_path / "session.pcap"), tmp_path / "keys.log"
    keylog.write_bytes(s.keylog)
    theirs = tshark_plaintext(pcap, keylog)
    assert theirs, "tshark decrypted nothing"
    assert ours(result) == theirs


@pytest.mark.parametrize(("version", "cipher", "iana", "etm"), CASE_PARAMS)
def test_same_plaintext_in_the_same_frames_as_tshark(
    tshark: str, tmp_path: Path, version: str, cipher: str, iana: str, etm: bool
) -> None:
    s = session(version, cipher, etm)
    result = run(s)
    assert result.session.status == "decrypted"
    check_against_tshark(tmp_path, s, result)


@pytest.mark.parametrize(
    ("version", "cipher", "options"),
    [
        ("TLSv1.3", None, {"hello_retry": True}),
        ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", {"key_update_after": 1}),
        ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", {"mss": 64}),
        ("TLSv1.3", None, {"mss": 65000}),
    ],
)
def test_handshake_variants_agree_with_tshark(
    tshark: str, tmp_path: Path, version: str, cipher: str | None, options: dict[str, object]
) -> None:
    s = session(version, cipher, **options)
    check_against_tshark(tmp_path, s, run(s))


def test_a_truncated_stream_agrees_with_tshark_up_to_the_cut(tshark: str, tmp_path: Path) -> None:
    """tshark sees the same cut capture (frames after the cut are left out) and decrypts the same prefix."""
    s = session("TLSv1.2", "ECDHE-RSA-AES256-SHA384")
    last_frame = s.conversation.sent.chunks[-4].frame
    cut_at = s.conversation.sent.chunks[-4].offset
    kept = [f for f in s.frames if f.number < last_frame]
    cut = Session(
        replace_streams(s.conversation, sent=truncated(s.conversation.sent, cut_at)),
        s.keylog,
        kept,
        s.version,
        s.cipher,
        s.sent,
        s.received,
    )
    cut.conversation.received = _until(s.conversation.received, last_frame)
    result = run(cut)
    assert result.session.status.startswith("partial")
    check_against_tshark(tmp_path, cut, result)


def _until(half: HalfStream, frame: int) -> HalfStream:
    end = next((c.offset for c in half.chunks if c.frame >= frame), len(half.data))
    return truncated(half, end)
