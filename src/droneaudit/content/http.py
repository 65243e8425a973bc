"""Which HTTP a conversation speaks: HTTP/2 (client preface, or ALPN ``h2``) or HTTP/1.x, else none."""

from __future__ import annotations

from droneaudit.content.http1 import looks_like_http1, parse_http1
from droneaudit.content.http2 import PREFACE, parse_http2
from droneaudit.content.model import HttpMessage
from droneaudit.content.stream import HalfStream


def parse_http(
    conv_sent: HalfStream,
    conv_received: HalfStream,
    *,
    scheme: str,
    server: str,
    alpn: str | None = None,
) -> tuple[list[HttpMessage], list[str]]:
    """The conversation's HTTP messages and notes; ``([], ["not HTTP"])`` when it is neither version.

    ``alpn`` is what TLS negotiated: ``h2`` means HTTP/2 even when the client preface was not captured.
    """
    if conv_sent.data.startswith(PREFACE) or alpn == "h2":
        return parse_http2(conv_sent, conv_received, scheme=scheme, server=server)
    if looks_like_http1(conv_sent.data[:70_000], conv_received.data[:70_000]):
        return parse_http1(conv_sent, conv_received, scheme=scheme, server=server)
    return [], ["not HTTP"]
