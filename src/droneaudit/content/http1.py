"""HTTP/1.0 and 1.1 messages out of one conversation's two half-streams (RFC 9112).

Requests are read from what the client sent, responses from what it received, and paired in order
(keep-alive and pipelining both keep order in HTTP/1). Written here rather than taken from a library
because the libraries that parse HTTP/1 (h11, httptools) are connection state machines that reject
the broken, cut and bomb-laden streams a forensic tool must read anyway, and they do not tell where in
the stream each message sat. Body framing follows RFC 9112 §6.3; every size is capped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from droneaudit.content import http_body as caps
from droneaudit.content.http_body import (
    Locator,
    build_url,
    decode_body,
    hostname,
    media_type,
    text,
)
from droneaudit.content.model import RECEIVED, SENT, HttpMessage
from droneaudit.content.stream import HalfStream

_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) +(\S{1,65536}) +(HTTP/1\.[01])\r?\n")
_STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) +(\d{3})(?: [^\r\n]*)?\r?\n")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


@dataclass
class _Parsed:
    """One message as framed on the wire, before its body is decoded."""

    start: int
    end: int
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    method: str | None = None
    target: str = ""
    status: int | None = None
    notes: list[str] = field(default_factory=list)
    answers: int | None = None  #: responses: index of the request answered


def parse_http1(
    conv_sent: HalfStream, conv_received: HalfStream, *, scheme: str, server: str
) -> tuple[list[HttpMessage], list[str]]:
    """Requests from ``conv_sent`` and responses from ``conv_received``, in request order (each request
    followed by its responses); plus notes on the conversation (not HTTP, caps, tunnels, gaps)."""
    notes: list[str] = []
    requests = _requests(conv_sent, notes)
    answers: dict[int | None, list[_Parsed]] = {}
    for response in _responses(conv_received, requests, notes):
        answers.setdefault(response.answers, []).append(response)
    order: list[tuple[_Parsed, Locator, str, str, str]] = []
    client, remote = Locator(conv_sent), Locator(conv_received)
    for i, request in enumerate(requests):
        url, host = _url(request, scheme, server), _host(request, server)
        order.append((request, client, SENT, url, host))
        order += [(r, remote, RECEIVED, url, host) for r in answers.get(i, [])]
    url = build_url(scheme, server, "/")
    order += [(r, remote, RECEIVED, url, hostname(server)) for r in answers.get(None, [])]
    if len(order) > caps.MAX_MESSAGES:
        notes.append(f"{len(order)} messages: only the first {caps.MAX_MESSAGES} kept")
    return [_message(*item) for item in order[: caps.MAX_MESSAGES]], notes


def looks_like_http1(sent: bytes, received: bytes) -> bool:
    """A request line at the start of what the client sent, or a status line from the server."""
    return bool(_REQUEST_LINE.match(sent.lstrip(b"\r\n")) or _STATUS_LINE.match(received.lstrip(b"\r\n")))


def _host(request: _Parsed, server: str) -> str:
    authority = _authority(request)
    return hostname(authority) if authority else hostname(server)


def _authority(request: _Parsed) -> str | None:
    if request.method == "CONNECT":
        return request.target
    if "://" in request.target[:16]:
        return request.target.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    return next((v for k, v in request.headers if k == "host" and v.strip()), None)


def _url(request: _Parsed, scheme: str, server: str) -> str:
    authority = (_authority(request) or server).strip()
    if request.method == "CONNECT":
        return f"{scheme}://{authority}"
    return build_url(scheme, authority, request.target)


def _message(parsed: _Parsed, where: Locator, direction: str, url: str, host: str) -> HttpMessage:
    headers = tuple(parsed.headers)
    encoding = ", ".join(v for k, v in headers if k == "content-encoding") or None
    decoded = decode_body(parsed.body, encoding)
    content_type = next((v for k, v in headers if k == "content-type"), None)
    return HttpMessage(
        direction=direction,
        host=host,
        method=parsed.method,
        url=url,
        status=parsed.status,
        headers=headers,
        body=decoded.data,
        where=where(parsed.start, parsed.end),
        protocol=parsed.version,
        content_type=media_type(content_type),
        notes=tuple(parsed.notes + decoded.notes),
    )


def _skip_blank(data: bytes, pos: int) -> int:
    """RFC 9112 §2.2: a recipient should ignore empty lines before a request line."""
    while data.startswith(b"\r\n", pos) or data.startswith(b"\n", pos):
        pos += 2 if data[pos] == 13 else 1
    return pos


def _head(data: bytes, pos: int, stream: HalfStream, what: str) -> tuple[int, list[bytes]] | str:
    """(offset after the head, its lines) or a note saying why there is no complete head at ``pos``."""
    end = _HEAD_END.search(data, pos, pos + caps.MAX_HEADER_BLOCK + 4)
    if end is None:
        if len(data) - pos > caps.MAX_HEADER_BLOCK:
            return f"{what} head at offset {pos} over {caps.MAX_HEADER_BLOCK // 1024} KiB: not parsed"
        return f"{what} head at offset {pos} cut by the end of the stream" + _gap(stream)
    lines = data[pos : end.start()].split(b"\n")
    return end.end(), [line.rstrip(b"\r") for line in lines]


def _headers(lines: list[bytes]) -> list[tuple[str, str]]:
    """Name/value pairs, names lower-cased; obsolete line folding joined to the previous value."""
    out: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], f"{out[-1][1]} {text(line.strip())}")
        elif b":" in line:
            raw_name, _, raw_value = line.partition(b":")
            out.append((text(raw_name.strip()).lower(), text(raw_value.strip())))
    return out


def _gap(stream: HalfStream) -> str:
    if stream.gap_at is None:
        return ""
    return f" (capture hole at offset {stream.gap_at}, {stream.dropped} bytes after it lost)"


def _requests(stream: HalfStream, notes: list[str]) -> list[_Parsed]:
    data, pos, out = stream.data, 0, list[_Parsed]()
    while (pos := _skip_blank(data, pos)) < len(data):
        if len(out) >= caps.MAX_MESSAGES:
            notes.append(f"more than {caps.MAX_MESSAGES} requests: the rest not parsed")
            break
        line = _REQUEST_LINE.match(data, pos)
        if line is None:
            notes.append(_not_http(data, pos, "request", bool(out)))
            break
        head = _head(data, pos, stream, "request")
        if isinstance(head, str):
            notes.append(head)
            break
        request = _request(line, head[1][1:], pos)
        _body(data, head[0], _request_framing(request), stream, request)
        out.append(request)
        pos = request.end
        switching = request.method == "CONNECT" or _header(request, "upgrade")
        if switching and pos < len(data) and not _REQUEST_LINE.match(data, _skip_blank(data, pos)):
            notes.append(f"client bytes after a {request.method} / Upgrade request at {pos}: not HTTP")
            break
    return out


def _request(line: re.Match[bytes], lines: list[bytes], start: int) -> _Parsed:
    method, target, version = (text(g) for g in line.groups())
    return _Parsed(start, start, version, _headers(lines), method=method, target=target)


def _not_http(data: bytes, pos: int, what: str, after_messages: bool) -> str:
    if not after_messages and pos == _skip_blank(data, 0):
        return f"not HTTP: no {what} line at the start of the stream"
    return f"bytes at offset {pos} are not an HTTP/1 {what}: the rest of that direction not parsed"


def _header(parsed: _Parsed, name: str) -> str | None:
    return next((v for k, v in parsed.headers if k == name), None)


def _request_framing(request: _Parsed) -> str | int:
    """ "chunked", a Content-Length, or 0 (RFC 9112 §6.3: a request without either has no body)."""
    framing = _framing(request)
    return 0 if framing == "close" else framing


def _framing(parsed: _Parsed) -> str | int:
    """ "chunked", a byte count, or "close" (read until the connection closes)."""
    coding = ",".join(v for k, v in parsed.headers if k == "transfer-encoding").lower()
    if coding.strip():
        return "chunked" if coding.rsplit(",", 1)[-1].strip() == "chunked" else "close"
    lengths = {v.strip() for k, v in parsed.headers if k == "content-length" for v in v.split(",")}
    if len(lengths) == 1 and (value := lengths.pop()).isdigit():
        return int(value)
    if lengths:
        parsed.notes.append(f"invalid Content-Length {sorted(lengths)}: body read until close")
    return "close"


def _responses(stream: HalfStream, requests: list[_Parsed], notes: list[str]) -> list[_Parsed]:
    data, pos, out, index = stream.data, 0, list[_Parsed](), 0
    while (pos := _skip_blank(data, pos)) < len(data) and len(out) < caps.MAX_MESSAGES:
        line = _STATUS_LINE.match(data, pos)
        if line is None:
            notes.append(_not_http(data, pos, "status", bool(out)))
            break
        head = _head(data, pos, stream, "response")
        if isinstance(head, str):
            notes.append(head)
            break
        request = requests[index] if index < len(requests) else None
        response = _Parsed(pos, pos, text(line[1]), _headers(head[1][1:]), status=int(line[2]))
        response.answers = index if request is not None else None
        framing = _response_framing(response, request)
        _body(data, head[0], framing, stream, response)
        out.append(response)
        pos = response.end
        if response.answers is None:
            response.notes.append("response without a request in this conversation")
        if (stop := _switched(response, request)) is not None:
            notes.append(stop)
            break
        status = int(line[2])
        index += 0 if 100 <= status < 200 and status != 101 else 1
    return out


def _response_framing(response: _Parsed, request: _Parsed | None) -> str | int:
    status = response.status or 0
    if (request is not None and request.method == "HEAD") or status < 200 or status in (204, 304):
        return 0
    if request is not None and request.method == "CONNECT" and status < 300:
        return 0
    return _framing(response)


def _switched(response: _Parsed, request: _Parsed | None) -> str | None:
    """A note when the rest of the connection is no longer HTTP/1 (tunnel or protocol switch)."""
    if response.status == 101:
        return f"switched protocols to {_header(response, 'upgrade') or '?'}: the rest not parsed"
    if request is not None and request.method == "CONNECT" and 200 <= (response.status or 0) < 300:
        return f"CONNECT tunnel to {request.target}: the rest not parsed"
    return None


def _body(data: bytes, pos: int, framing: str | int, stream: HalfStream, parsed: _Parsed) -> None:
    """Set ``parsed.end`` and ``parsed.body`` (as sent, cut at MAX_BODY); damage and cuts become notes."""
    if framing == "chunked":
        _chunked(data, pos, stream, parsed)
        return
    length = len(data) - pos if framing == "close" else int(framing)
    if framing == "close" and stream.gap_at is not None:
        parsed.notes.append("body read until close is incomplete" + _gap(stream))
    if pos + length > len(data):
        have = len(data) - pos
        parsed.notes.append(f"body truncated: {have} of {length} bytes in the stream" + _gap(stream))
    parsed.end = min(pos + length, len(data))
    if parsed.end - pos > caps.MAX_BODY:
        parsed.notes.append(f"body of {parsed.end - pos} bytes cut at {caps.size_text(caps.MAX_BODY)}")
    parsed.body = data[pos : min(parsed.end, pos + caps.MAX_BODY)]


def _chunked(data: bytes, pos: int, stream: HalfStream, parsed: _Parsed) -> None:
    """De-chunk (RFC 9112 §7.1); trailer fields are appended to the headers, after the body's."""
    body = bytearray()
    while (size := _CHUNK_SIZE.match(data, pos)) is not None and (length := int(size[1], 16)) > 0:
        pos = size.end()
        if len(body) + length > caps.MAX_BODY and len(body) <= caps.MAX_BODY:
            parsed.notes.append(f"chunked body cut at {caps.size_text(caps.MAX_BODY)}")
        body += data[pos : pos + max(0, min(length, caps.MAX_BODY - len(body)))]
        if pos + length > len(data):
            parsed.notes.append(f"chunked body truncated inside a chunk at offset {pos}" + _gap(stream))
            parsed.end, parsed.body = len(data), bytes(body[: caps.MAX_BODY])
            return
        pos += length
        pos += 2 if data.startswith(b"\r\n", pos) else 1 if data.startswith(b"\n", pos) else 0
    parsed.body = bytes(body[: caps.MAX_BODY])
    if size is None:
        what = "cut by the end of the stream" + _gap(stream) if pos >= len(data) else "damaged"
        parsed.notes.append(f"chunked body {what} at offset {pos}")
        parsed.end = min(pos, len(data))
        return
    parsed.end = _trailers(data, size.end(), parsed)


def _trailers(data: bytes, pos: int, parsed: _Parsed) -> int:
    """Offset after the trailer section (usually empty) that ends a chunked body."""
    if data.startswith(b"\r\n", pos) or data.startswith(b"\n", pos):
        return pos + (2 if data[pos] == 13 else 1)
    end = _HEAD_END.search(data, pos, pos + caps.MAX_HEADER_BLOCK)
    if end is None:
        parsed.notes.append(f"chunked trailer at offset {pos} incomplete")
        return len(data)
    trailers = _headers(data[pos : end.start()].split(b"\n"))
    parsed.headers.extend((name, value.rstrip("\r")) for name, value in trailers)
    parsed.notes.append(f"{len(trailers)} trailer field(s) after the chunked body")
    return end.end()
