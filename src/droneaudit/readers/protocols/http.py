"""The first line and Host header of an HTTP/1.x request: the name a plain-HTTP client asked for."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    host: str | None  # Host header (or CONNECT authority), port and brackets removed, lower case


def looks_like_request(data: bytes) -> bool:
    return data.startswith(METHODS)


def parse(data: bytes) -> HttpRequest | None:
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) < 3 or not looks_like_request(lines[0] + b" "):
        return None
    method, target = parts[0].decode("ascii", "replace"), parts[1].decode("latin-1")
    host = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            host = value.strip().decode("latin-1")
            break
    if method == "CONNECT":
        host = target
    elif "://" in target:  # absolute-form (proxies): the target's authority wins over Host (RFC 9112 §3.2.2)
        host = target.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1] or host
    return HttpRequest(method, target, _hostname(host))


def _hostname(value: str | None) -> str | None:
    """Strip the port; IP literals are not names (None)."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):
        return None
    host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        return host.lower().rstrip(".") or None
