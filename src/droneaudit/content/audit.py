"""The content audit end to end: conversations and HAR messages in; TLS sessions, HTTP messages,
detector hits and carved files out. Pure over its inputs except ``store``, which writes carved files
to the extraction folder (new files only, named by sha256).

Why here and not in the capture reader: naming a conversation, decrypting it and parsing HTTP need the
whole connection and the key log, which are only complete once every input has been read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from droneaudit.content import carve as carving
from droneaudit.content import detect as detectors
from droneaudit.content import tls
from droneaudit.content.http import parse_http
from droneaudit.content.keylog import KeyLog
from droneaudit.content.model import CarvedFile, ContentHit, HttpMessage, TlsSession
from droneaudit.content.stream import Conversation, HalfStream
from droneaudit.readers._api import ProblemLog

_TLS_RECORD_TYPES = (0x14, 0x15, 0x16, 0x17)


@dataclass
class ContentResult:
    sessions: list[TlsSession] = field(default_factory=list)
    messages: list[HttpMessage] = field(default_factory=list)
    hits: list[ContentHit] = field(default_factory=list)
    carved: list[tuple[CarvedFile, Path]] = field(default_factory=list)  #: each with where it was stored


def looks_like_tls(data: bytes) -> bool:
    """A TLS record header: content type, major version 3, a plausible length."""
    return len(data) >= 5 and data[0] in _TLS_RECORD_TYPES and data[1] == 3 and data[2] <= 4


def messages_of(
    conv: Conversation, keys: KeyLog, problems: ProblemLog
) -> tuple[TlsSession | None, list[HttpMessage]]:
    """One conversation's HTTP messages (decrypting first when it is TLS)."""
    if looks_like_tls(conv.sent.data[:5]):
        done = tls.decrypt(conv, keys)
        for note in done.notes:
            problems.add(conv.sent.file, "tls-content", note, frame=conv.sent.frame_at(0))
        if not (done.sent.data or done.received.data):
            return done.session, []
        server = done.session.sni or conv.name or conv.server.ip
        return done.session, _http(done.sent, done.received, "https", server, done.session.alpn, problems)
    if not conv.sent.data:
        return None, []
    server = conv.name or conv.server.ip
    return None, _http(conv.sent, conv.received, "http", server, None, problems)


def _http(
    sent: HalfStream, received: HalfStream, scheme: str, server: str, alpn: str | None, problems: ProblemLog
) -> list[HttpMessage]:
    messages, notes = parse_http(sent, received, scheme=scheme, server=server, alpn=alpn)
    if messages:  # a stream that is not HTTP at all is no problem worth a record
        for note in notes:
            problems.add(sent.file, "http-content", note, frame=sent.frame_at(0))
    return messages


def audit(
    conversations: Iterable[Conversation],
    keys: KeyLog,
    har_messages: Sequence[HttpMessage],
    problems: ProblemLog,
    extract: Path,
) -> ContentResult:
    """Everything the content audit finds, in evidence order. ``extract``: where carved files are stored
    (the scan passes a private temporary folder when the user asked for none; see pipeline.py)."""
    result = ContentResult()
    for conv in conversations:
        session, messages = messages_of(conv, keys, problems)
        if session is not None:
            result.sessions.append(session)
        result.messages.extend(messages)
    result.messages.extend(har_messages)
    for message in result.messages:
        result.hits.extend(detectors.detect(message))
        for item in carving.carve(message):
            stored = _store(item, extract, problems)
            if stored is not None:
                result.carved.append((item, stored))
    return result


def _store(item: CarvedFile, extract: Path, problems: ProblemLog) -> Path | None:
    """Write a carved file (never over another file); None when the name is taken by something else."""
    try:
        return carving.store(item, extract)
    except OSError as exc:  # FileExistsError: a different file or a symlink already has that name
        problems.add(item.where.file, "carve-not-stored", f"carved {item.kind} not stored: {exc}")
        return None
