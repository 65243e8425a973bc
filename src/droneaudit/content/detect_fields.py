"""A message flattened into ``Leaf`` values for the detectors: URL path, query, headers, cookies, and
bodies (form, JSON, multipart fields, key=value text, XML elements).

Detectors judge a value by the key it sits under far more than by its shape ("sn" vs. a random
14-character code), so every leaf keeps its key and the group of its siblings (the same JSON object,
query string or form), which is how a latitude finds its longitude.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from droneaudit.content.http_multipart import split_multipart
from droneaudit.content.model import HttpMessage

#: Bytes of a body the detectors look at (the first 8 MiB: metadata sits up front, and a bigger body
#: is a file for carving, not a form).
DETECT_LIMIT = 8 << 20
_MAX_LEAVES = 50_000
_MAX_VALUE = 4096
_JSON_TYPES = ("application/json", "text/json", "application/x-json")
_TEXT_PAIR = re.compile(
    r'"([A-Za-z_][\w.\-]{0,63})"\s*:\s*(?:"([^"\\\r\n]{0,512})"|(-?\d+(?:\.\d+)?))'
    r"|(?<![\w.\-])([A-Za-z_][\w.\-]{0,63})\s*=\s*([^&\s;,\"'<>]{1,512})"
)
_XML_ELEMENT = re.compile(r"<(?:[\w.\-]+:)?([A-Za-z_][\w.\-]{0,63})(?:\s[^<>]*)?>([^<>]{1,512})</")
_XML_ATTRIBUTE = re.compile(r'\s(?:[\w.\-]+:)?([A-Za-z_][\w.\-]{0,63})="([^"<>]{1,512})"')


class Num(str):
    """A JSON number, kept as written (``22.543210`` keeps its six decimals)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One value and where it sat."""

    field: str  #: "url.path", "query:lat", "header:x-sn", "cookie:sid", "json:$.a.b[0]", "text:key"
    key: str  #: the name it sat under ("" for free text and the URL path)
    value: str
    group: str  #: leaves of one object / query / form share a group: siblings for pairing
    keyed: bool = True
    number: bool = False  #: a JSON number (not a string)


def leaves(message: HttpMessage) -> list[Leaf]:
    """Every leaf of ``message`` in a fixed order: URL path, query, headers and cookies, body."""
    out: list[Leaf] = []
    try:
        for leaf in _all(message):
            out.append(leaf)
            if len(out) >= _MAX_LEAVES:
                break
    except RecursionError:  # JSON nested deeper than the walk can follow: keep what came before
        pass
    return out


def _all(message: HttpMessage) -> Iterator[Leaf]:
    parts = urlsplit(message.url) if "://" in message.url else urlsplit("x://h/" + message.url)
    yield Leaf("url.path", "", unquote(parts.path), "url.path", keyed=False)
    yield from _pairs("query", parse_qsl(parts.query, keep_blank_values=True))
    yield from _headers(message.headers)
    body = message.body[:DETECT_LIMIT]
    if body:
        yield from body_leaves(body, message.content_type, message.header("content-type"), "")


def _pairs(kind: str, pairs: list[tuple[str, str]], prefix: str = "") -> Iterator[Leaf]:
    for name, value in pairs:
        yield from value_leaves(f"{prefix}{kind}:{name}", name, value, prefix + kind)


def value_leaves(field: str, key: str, value: str, group: str) -> Iterator[Leaf]:
    """A keyed value; one that holds a JSON object or array is walked too (``field>json:$...``)."""
    yield Leaf(field, key, value[:_MAX_VALUE], group)
    stripped = value.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        parsed = _json(stripped.encode())
        if parsed is not None:
            yield from _walk(parsed, f"{field}>json:$", key, f"{field}>")


def _headers(headers: tuple[tuple[str, str], ...]) -> Iterator[Leaf]:
    for name, value in headers:
        if name == "cookie":
            yield from _pairs("cookie", _cookie_pairs(value))
        elif name == "set-cookie":
            yield from _pairs("set-cookie", _cookie_pairs(value.split(";", 1)[0]))
        else:
            yield Leaf(f"header:{name}", name, value[:_MAX_VALUE], "headers")


def _cookie_pairs(value: str) -> list[tuple[str, str]]:
    pairs = []
    for item in value.split(";"):
        name, sep, val = item.strip().partition("=")
        if sep and name:
            pairs.append((name.strip(), val.strip().strip('"')))
    return pairs


def body_leaves(body: bytes, kind: str | None, content_type: str | None, prefix: str) -> Iterator[Leaf]:
    """Leaves of a body by its type; JSON is recognised by content too (apps mislabel it often)."""
    kind = kind or ""
    if kind.startswith("multipart/"):
        yield from _multipart(body, content_type, prefix)
        return
    parsed = (
        _json(body) if kind in _JSON_TYPES or kind.endswith("+json") or body.lstrip()[:1] in b"{[" else None
    )
    if parsed is not None:
        yield from _walk(parsed, f"{prefix}json:$", "", f"{prefix}json:")
    elif kind == "application/x-www-form-urlencoded" and b"=" in body[:4096]:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        yield from _pairs("form", pairs, prefix)
    elif (text := _as_text(body, kind)) is not None:
        yield from _text(text, prefix)


def _json(data: bytes) -> object | None:
    try:
        parsed: object = json.loads(data, parse_float=Num, parse_int=Num)
        return parsed
    except (ValueError, RecursionError):
        return None


def _walk(node: object, path: str, key: str, group: str) -> Iterator[Leaf]:
    """Depth-first over a parsed JSON value; lists of 2-3 numbers also yield one "a,b[,c]" leaf so
    coordinate arrays can be judged whole."""
    if isinstance(node, dict):
        for name, child in node.items():
            yield from _walk(child, f"{path}.{name}", str(name), path)
    elif isinstance(node, list):
        if 2 <= len(node) <= 3 and all(isinstance(x, Num) for x in node):
            yield Leaf(path, key, ",".join(node), group, number=True)
        for i, child in enumerate(node):
            yield from _walk(child, f"{path}[{i}]", key, path)
    elif isinstance(node, str):
        if isinstance(node, Num):
            yield Leaf(path, key, str(node), group, number=True)
        else:
            yield from value_leaves(path, key, node, group)
    elif node is not None:
        yield Leaf(path, key, json.dumps(node), group)


def _multipart(body: bytes, content_type: str | None, prefix: str) -> Iterator[Leaf]:
    """Form fields; file parts only when they are text (a JSON or CSV summary), never binary files."""
    parts, _ = split_multipart(body, content_type)
    for part in parts:
        name = part.name or part.filename or ""
        inner = f"{prefix}multipart:{name}"
        if part.filename is None and part.content_type in (None, "text/plain"):
            yield from value_leaves(inner, name, part.data[:_MAX_VALUE].decode("utf-8", "replace"), inner)
        elif _as_text(part.data, part.content_type or "") is not None or part.content_type in _JSON_TYPES:
            yield from body_leaves(
                part.data[:DETECT_LIMIT], part.content_type, part.header("content-type"), inner + ">"
            )


def _as_text(body: bytes, kind: str) -> str | None:
    """The body as text when it is text: declared so, or UTF-8 without control characters."""
    sample = body[:4096]
    if kind.startswith("text/") or "xml" in kind or "javascript" in kind:
        return body.decode("utf-8", "replace")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:
            return None
    if any(b < 9 or 13 < b < 32 for b in sample):
        return None
    return body.decode("utf-8", "replace")


def _text(text: str, prefix: str) -> Iterator[Leaf]:
    """key=value, "key": value, <key>value</key> and key="value" pairs, then the text itself (unkeyed,
    for e-mail addresses, phone numbers, JWTs and serials in free text)."""
    group = f"{prefix}text"
    for match in _TEXT_PAIR.finditer(text):
        key = match[1] or match[4]
        value = match[2] if match[1] and match[2] is not None else match[3] or match[5] or ""
        yield Leaf(f"{prefix}text:{key}", key, value, group, number=bool(match[3]))
    if "<" in text:
        found = [m for pattern in (_XML_ELEMENT, _XML_ATTRIBUTE) for m in pattern.finditer(text)]
        for match in sorted(found, key=lambda m: m.start()):
            yield Leaf(f"{prefix}xml:{match[1]}", match[1], match[2].strip(), group)
    yield Leaf(f"{prefix}body", "", text, group, keyed=False)
