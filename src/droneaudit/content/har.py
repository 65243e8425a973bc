"""HTTP messages out of HAR 1.2 files (mitmproxy, Charles, browsers' "Save all as HAR").

Each entry becomes a request (SENT) and, when the client got one, a response (RECEIVED), both located
by ``Where(file, entry=i)``. Exporters disagree on details, so every field is optional: a missing
header list is empty, a missing body is empty, a body marked ``encoding: base64`` is decoded. Bodies
in HAR are already decoded by the exporter; only a body that still starts like gzip is inflated.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from droneaudit.content import http_body as caps
from droneaudit.content.http_body import decode_body, hostname, media_type
from droneaudit.content.model import RECEIVED, SENT, HttpMessage, Where

#: Largest HAR file parsed (JSON is parsed whole; above this, refuse with a note).
MAX_HAR = 512 * (1 << 20)
_SNIFF = 8192
_STARTS_WITH_LOG = re.compile(rb'^\s*\{\s*"log"\s*:\s*\{')


def sniff_har(head: bytes) -> bool:
    """A JSON object whose first key is "log" and, within the first few KiB, "entries" (or the
    "creator"/"version" pair that HAR writers put first when a long "pages" list comes before)."""
    head = head[:_SNIFF].removeprefix(b"\xef\xbb\xbf")
    if not _STARTS_WITH_LOG.match(head):
        return False
    return b'"entries"' in head or (b'"creator"' in head and b'"version"' in head)


def parse_har(data: bytes, file: str) -> tuple[list[HttpMessage], list[str]]:
    """Every entry's request and response; notes for what could not be read."""
    if len(data) > MAX_HAR:
        return [], [f"HAR file of {len(data)} bytes is over the {caps.size_text(MAX_HAR)} limit: not read"]
    try:
        document = json.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except (ValueError, RecursionError) as exc:
        return [], [f"not valid JSON: {exc}"]
    entries = _get(_get(document, "log", {}), "entries", [])
    if not isinstance(entries, list):
        return [], ['no "log.entries" list: not a HAR file']
    messages: list[HttpMessage] = []
    notes: list[str] = []
    for i, entry in enumerate(entries):
        if len(messages) >= caps.MAX_MESSAGES:
            notes.append(f"{len(entries)} entries: only the first {i} read")
            break
        if not isinstance(entry, dict):
            notes.append(f"entry {i} is not an object: skipped")
            continue
        messages += _entry(entry, Where(file, entry=i))
    return messages, notes


def _get(obj: Any, key: str, default: Any) -> Any:
    """``obj[key]`` when ``obj`` is an object holding a non-null ``key``, else ``default``."""
    if isinstance(obj, dict):
        value = obj.get(key)
        return default if value is None else value
    return default


def _entry(entry: dict[str, Any], where: Where) -> list[HttpMessage]:
    request, response = _get(entry, "request", {}), _get(entry, "response", {})
    url = str(_get(request, "url", ""))
    headers = _headers(request)
    host = _host(url, headers)
    out = [_request(request, url, host, headers, where)]
    status = _get(response, "status", 0)
    status = int(status) if isinstance(status, str) and status.isdigit() else status
    if isinstance(status, int) and status > 0:
        out.append(_response(response, url, host, status, where))
    return out


def _headers(part: Any) -> tuple[tuple[str, str], ...]:
    """Name/value pairs in file order, names lower-cased; HTTP/2 pseudo-headers left out (they are
    the method, url and status already)."""
    headers = _get(part, "headers", [])
    out: list[tuple[str, str]] = []
    for header in headers if isinstance(headers, list) else []:
        name, value = str(_get(header, "name", "")).strip().lower(), str(_get(header, "value", ""))
        if name and not name.startswith(":"):
            out.append((name, value))
    return tuple(out)


def _host(url: str, headers: tuple[tuple[str, str], ...]) -> str:
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    authority = netloc or next((v for k, v in headers if k == "host"), "")
    return hostname(authority) if authority else ""


def _protocol(part: Any) -> str:
    version = str(_get(part, "httpVersion", "")).strip().upper()
    if version in ("HTTP/2", "HTTP/2.0", "H2"):
        return "HTTP/2"
    if version in ("HTTP/3", "HTTP/3.0", "H3"):
        return "HTTP/3"
    return version if version.startswith("HTTP/1.") else "HTTP/1.1"


def _request(
    request: Any, url: str, host: str, headers: tuple[tuple[str, str], ...], where: Where
) -> HttpMessage:
    post = _get(request, "postData", {})
    body, notes = _post_body(post)
    mime = _get(post, "mimeType", "") or next((v for k, v in headers if k == "content-type"), "")
    return HttpMessage(
        direction=SENT,
        host=host,
        method=str(_get(request, "method", "")) or None,
        url=url,
        status=None,
        headers=headers,
        body=body,
        where=where,
        protocol=_protocol(request),
        content_type=media_type(str(mime)),
        notes=tuple(notes),
    )


def _post_body(post: Any) -> tuple[bytes, list[str]]:
    """postData.text (base64 when marked so), else the form built back from postData.params."""
    if _get(post, "text", ""):
        return _text(post)
    params = _get(post, "params", [])
    if not isinstance(params, list) or not params:
        return b"", []
    pairs = [(str(_get(p, "name", "")), str(_get(p, "value", ""))) for p in params]
    return urlencode(pairs).encode(), ["body rebuilt from postData.params"]


def _text(part: Any) -> tuple[bytes, list[str]]:
    """A HAR body's bytes: text encoded as UTF-8, or base64-decoded; cut at MAX_BODY."""
    value = str(_get(part, "text", ""))
    notes: list[str] = []
    if str(_get(part, "encoding", "")).lower() == "base64":
        try:
            raw = base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError) as exc:
            raw, notes = value.encode("utf-8", "surrogatepass"), [f"base64 body does not decode: {exc}"]
    else:
        raw = value.encode("utf-8", "surrogatepass")
    if len(raw) > caps.MAX_BODY:
        raw, notes = raw[: caps.MAX_BODY], [*notes, f"body cut at {caps.size_text(caps.MAX_BODY)}"]
    return raw, notes


def _response(response: Any, url: str, host: str, status: int, where: Where) -> HttpMessage:
    headers = _headers(response)
    content = _get(response, "content", {})
    body, notes = _text(content)
    encoding = next((v for k, v in headers if k == "content-encoding"), None)
    if body.startswith(b"\x1f\x8b") and encoding and "gzip" in encoding.lower():
        decoded = decode_body(body, "gzip")
        body, notes = decoded.data, notes + decoded.notes
    mime = _get(content, "mimeType", "") or next((v for k, v in headers if k == "content-type"), "")
    return HttpMessage(
        direction=RECEIVED,
        host=host,
        method=None,
        url=url,
        status=status,
        headers=headers,
        body=body,
        where=where,
        protocol=_protocol(response),
        content_type=media_type(str(mime)),
        notes=tuple(notes),
    )
