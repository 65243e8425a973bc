"""HTTP/2 messages out of one conversation (prior knowledge, h2c, or TLS with ALPN ``h2``; RFC 9113).

Frames are cut with ``hyperframe`` and header blocks decoded with ``hpack`` (one decoder per
direction: each side's encoder keeps its own dynamic table). Each direction is walked on its own, so
a decoding error stops only that direction: after a bad header block the HPACK state is unknowable, and
guessing would put wrong headers on later messages. Streams are then paired by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hpack
from hyperframe import frame as h2frame
from hyperframe.exceptions import HyperframeError

from droneaudit.content import http_body as caps
from droneaudit.content.http_body import (
    Locator,
    decode_body,
    hostname,
    media_type,
    text,
)
from droneaudit.content.model import RECEIVED, SENT, HttpMessage
from droneaudit.content.stream import HalfStream

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: The largest dynamic table an encoder may ask for here (the peer's SETTINGS are not replayed).
_TABLE_LIMIT = 1 << 20


@dataclass
class _Block:
    """One decoded header block: HEADERS (+ CONTINUATION) or a PUSH_PROMISE's request headers."""

    headers: list[tuple[str, str]]
    start: int
    end: int
    end_stream: bool


@dataclass
class _Stream:
    """What one direction carried on one stream, in order: header blocks and DATA."""

    blocks: list[_Block] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    start: int = -1
    end: int = 0
    ended: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    """A header block still waiting for CONTINUATION frames."""

    stream_id: int
    fragment: bytearray
    start: int
    end_stream: bool
    promised: int | None


@dataclass
class _Direction:
    """The walk of one half-stream."""

    half: HalfStream
    label: str
    decoder: hpack.Decoder
    streams: dict[int, _Stream] = field(default_factory=dict)
    promises: dict[int, _Block] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pending: _Pending | None = None


def parse_http2(
    conv_sent: HalfStream, conv_received: HalfStream, *, scheme: str, server: str
) -> tuple[list[HttpMessage], list[str]]:
    """Requests (client streams) and responses (server side), ordered by stream id; plus notes."""
    notes: list[str] = []
    start = len(PREFACE) if conv_sent.data.startswith(PREFACE) else 0
    if start == 0 and conv_sent.data:
        notes.append("no HTTP/2 client preface: frames read from the first byte")
    client, remote = _walk(conv_sent, start, "client"), _walk(conv_received, 0, "server")
    notes += client.notes + remote.notes
    client_at, remote_at = Locator(conv_sent), Locator(conv_received)
    messages: list[HttpMessage] = []
    for stream_id in sorted(set(client.streams) | set(remote.streams)):
        request = client.streams.get(stream_id)
        head = request.blocks[0] if request and request.blocks else remote.promises.get(stream_id)
        target = _Target(stream_id, *_target(head, scheme, server))
        if request is not None and request.blocks:
            messages.append(_request(target, request, client_at))
        if stream_id in remote.streams:
            messages += _responses(target, remote.streams[stream_id], remote_at)
    if len(messages) > caps.MAX_MESSAGES:
        notes.append(f"{len(messages)} messages: only the first {caps.MAX_MESSAGES} kept")
    return messages[: caps.MAX_MESSAGES], notes


def _walk(half: HalfStream, pos: int, label: str) -> _Direction:
    """Every frame of one direction until the end, a cut frame, or a decoding error."""
    decoder = hpack.Decoder(max_header_list_size=caps.MAX_HEADER_BLOCK)
    decoder.max_allowed_table_size = _TABLE_LIMIT
    walk, data = _Direction(half, label, decoder), half.data
    while pos + 9 <= len(data):
        try:
            frame, length = h2frame.Frame.parse_frame_header(memoryview(data[pos : pos + 9]))
            if pos + 9 + length > len(data):
                break
            frame.parse_body(memoryview(data[pos + 9 : pos + 9 + length]))
            _frame(walk, frame, pos, pos + 9 + length)
        except (HyperframeError, hpack.HPACKError, ValueError, UnicodeError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            walk.notes.append(
                f"HTTP/2 {label} frame at offset {pos}: {error}; the rest of this direction lost"
            )
            return walk
        pos += 9 + length
    if pos < len(data):
        walk.notes.append(f"HTTP/2 {label} frame at offset {pos} cut by the end of the stream" + _gap(half))
    return walk


def _gap(half: HalfStream) -> str:
    return "" if half.gap_at is None else f" (capture hole at offset {half.gap_at})"


def _frame(walk: _Direction, frame: h2frame.Frame, start: int, end: int) -> None:
    """Apply one frame; header blocks are decoded as soon as they are complete."""
    if walk.pending is not None and not isinstance(frame, h2frame.ContinuationFrame):
        raise ValueError(f"{type(frame).__name__} inside a header block (CONTINUATION expected)")
    if isinstance(frame, h2frame.HeadersFrame | h2frame.PushPromiseFrame):
        promised = frame.promised_stream_id if isinstance(frame, h2frame.PushPromiseFrame) else None
        end_stream = "END_STREAM" in frame.flags
        walk.pending = _Pending(frame.stream_id, bytearray(frame.data), start, end_stream, promised)
        _continue(walk, frame, end)
    elif isinstance(frame, h2frame.ContinuationFrame):
        if walk.pending is None or walk.pending.stream_id != frame.stream_id:
            raise ValueError("CONTINUATION without a header block on that stream")
        walk.pending.fragment += frame.data
        _continue(walk, frame, end)
    elif isinstance(frame, h2frame.DataFrame):
        _data(walk, frame, start, end)
    else:
        _control(walk, frame, start, end)


def _continue(walk: _Direction, frame: h2frame.Frame, end: int) -> None:
    pending = walk.pending
    assert pending is not None
    if len(pending.fragment) > caps.MAX_HEADER_BLOCK:
        raise ValueError(f"header block over {caps.MAX_HEADER_BLOCK // 1024} KiB")
    if "END_HEADERS" not in frame.flags:
        return
    walk.pending = None
    headers = [(text(k), text(v)) for k, v in walk.decoder.decode(bytes(pending.fragment), raw=True)]
    block = _Block(headers, pending.start, end, pending.end_stream)
    if pending.promised is not None:
        walk.promises[pending.promised] = block
        walk.notes.append(f"server push: stream {pending.promised} promised on {pending.stream_id}")
        return
    stream = _stream(walk, pending.stream_id, pending.start, end)
    stream.blocks.append(block)
    stream.ended = stream.ended or pending.end_stream


def _stream(walk: _Direction, stream_id: int, start: int, end: int) -> _Stream:
    """The stream's record, created on first sight; its byte range stretched to cover this frame."""
    stream = walk.streams.get(stream_id)
    if stream is None:
        if len(walk.streams) >= caps.MAX_MESSAGES:
            raise ValueError(f"more than {caps.MAX_MESSAGES} streams")
        stream = walk.streams[stream_id] = _Stream(start=start)
    stream.end = max(stream.end, end)
    return stream


def _data(walk: _Direction, frame: h2frame.DataFrame, start: int, end: int) -> None:
    stream = _stream(walk, frame.stream_id, start, end)
    room = caps.MAX_BODY - len(stream.body)
    if len(frame.data) > room and not any("cut at" in n for n in stream.notes):
        stream.notes.append(f"body cut at {caps.size_text(caps.MAX_BODY)}")
    stream.body += frame.data[: max(room, 0)]
    stream.ended = stream.ended or "END_STREAM" in frame.flags


def _control(walk: _Direction, frame: h2frame.Frame, start: int, end: int) -> None:
    """RST_STREAM and GOAWAY are noted (and tolerated); SETTINGS, PING, PRIORITY... carry no content."""
    if isinstance(frame, h2frame.RstStreamFrame):
        stream = _stream(walk, frame.stream_id, start, end)
        stream.notes.append(f"stream reset by the {walk.label} (error {frame.error_code})")
    elif isinstance(frame, h2frame.GoAwayFrame):
        walk.notes.append(
            f"GOAWAY from the {walk.label} at offset {start} "
            f"(last stream {frame.last_stream_id}, error {frame.error_code})"
        )


def _pseudo(block: _Block | None, name: str) -> str | None:
    if block is None:
        return None
    return next((v for k, v in block.headers if k == name), None)


def _target(head: _Block | None, scheme: str, server: str) -> tuple[str, str]:
    """(url, host) of a request from its pseudo-headers, Host, or the server address."""
    authority = _pseudo(head, ":authority") or _pseudo(head, "host") or server
    path = "" if _pseudo(head, ":method") == "CONNECT" else _pseudo(head, ":path") or "/"
    if path and not path.startswith("/"):
        path = "" if path == "*" else "/" + path
    return f"{_pseudo(head, ':scheme') or scheme}://{authority}{path}", hostname(authority)


@dataclass(frozen=True)
class _Target:
    """Who a stream's messages are about: its number, the request's url and host."""

    stream_id: int
    url: str
    host: str


def _message(
    target: _Target,
    stream: _Stream,
    half: Locator,
    block: _Block,
    trailers: list[tuple[str, str]],
    *,
    direction: str,
    body: bytes = b"",
) -> HttpMessage:
    headers = tuple((k.lower(), v) for k, v in block.headers + trailers if not k.startswith(":"))
    decoded = decode_body(body, ", ".join(v for k, v in headers if k == "content-encoding") or None)
    notes = [*stream.notes, *decoded.notes]
    if not stream.ended:
        notes.append("stream not ended in the capture (no END_STREAM)")
    status = _pseudo(block, ":status")
    return HttpMessage(
        direction=direction,
        host=target.host,
        method=_pseudo(block, ":method") if direction == SENT else None,
        url=target.url,
        status=int(status) if status is not None and status.isdigit() else None,
        headers=headers,
        body=decoded.data,
        where=half(block.start, stream.end),
        protocol="HTTP/2",
        stream_id=target.stream_id,
        content_type=media_type(next((v for k, v in headers if k == "content-type"), None)),
        notes=tuple(notes),
    )


def _request(target: _Target, stream: _Stream, half: Locator) -> HttpMessage:
    trailers = stream.blocks[-1].headers if len(stream.blocks) > 1 else []
    return _message(target, stream, half, stream.blocks[0], trailers, direction=SENT, body=bytes(stream.body))


def _responses(target: _Target, stream: _Stream, half: Locator) -> list[HttpMessage]:
    """Interim (1xx) responses, then the final one with the body and any trailers."""
    out: list[HttpMessage] = []
    final: _Block | None = None
    trailers: list[tuple[str, str]] = []
    for block in stream.blocks:
        if final is not None:
            trailers += block.headers
        elif (_pseudo(block, ":status") or "").startswith("1"):
            interim = _Stream(start=block.start, end=block.end, ended=True)
            out.append(_message(target, interim, half, block, [], direction=RECEIVED))
        else:
            final = block
    if final is not None:
        body = bytes(stream.body)
        out.append(_message(target, stream, half, final, trailers, direction=RECEIVED, body=body))
    return out
