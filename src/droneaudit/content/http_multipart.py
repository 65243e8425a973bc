"""multipart/* bodies (RFC 7578 form-data, RFC 2046 mixed) split into parts, for detectors and carving.

Written here because ``email``'s parser wants a whole MIME message, decodes leniently in ways that lose
bytes, and has no part limit; uploads of photos and flight logs must come out byte-identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from droneaudit.content.http_body import MAX_HEADER_BLOCK, media_type, text

#: Most parts read from one multipart body.
MAX_PARTS = 1_000
_PARAM = re.compile(r';\s*([A-Za-z0-9_.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True, slots=True)
class Part:
    """One part: its headers (names lower-cased), form field name, file name, media type and bytes."""

    headers: tuple[tuple[str, str], ...]
    name: str | None
    filename: str | None
    content_type: str | None  #: media type without parameters, lower case
    data: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


def params(value: str) -> dict[str, str]:
    """Parameters of a header value (``type; a="b"; c=d``), names lower-cased; RFC 8187 ``name*``
    values (``UTF-8''...``) decoded and preferred over the plain ones."""
    out: dict[str, str] = {}
    for name, raw in _PARAM.findall(";" + value.split(";", 1)[1] if ";" in value else ""):
        unquoted = raw.strip()
        if unquoted.startswith('"') and unquoted.endswith('"') and len(unquoted) >= 2:
            unquoted = re.sub(r"\\(.)", r"\1", unquoted[1:-1])
        key = name.lower()
        if key.endswith("*"):
            out[key[:-1]] = unquote(unquoted.split("'", 2)[-1], errors="replace")
        else:
            out.setdefault(key, unquoted)
    return out


def boundary(content_type: str | None) -> str | None:
    """The boundary of a ``multipart/*`` Content-Type value, or None."""
    if not content_type or not (media_type(content_type) or "").startswith("multipart/"):
        return None
    value = params(content_type).get("boundary")
    return value if value and len(value) <= 200 else None


def split_multipart(body: bytes, content_type: str | None) -> tuple[list[Part], list[str]]:
    """The parts of ``body`` and notes (no boundary, cut body, too many parts)."""
    mark = boundary(content_type)
    if mark is None:
        return [], ["multipart body without a usable boundary"]
    delimiter = b"--" + mark.encode("latin-1", "replace")
    start = body.find(delimiter)
    if start < 0 or (start > 0 and body[start - 1 : start] != b"\n"):
        return [], ["multipart boundary not found in the body"]
    parts, notes, pos = list[Part](), list[str](), start + len(delimiter)
    while not body.startswith(b"--", pos):
        if len(parts) >= MAX_PARTS:
            notes.append(f"more than {MAX_PARTS} parts: the rest not read")
            break
        part_start = body.find(b"\n", pos) + 1
        if part_start == 0:
            notes.append("multipart body cut after a boundary")
            break
        end = body.find(b"\r\n" + delimiter, part_start)
        end = end if end >= 0 else body.find(b"\n" + delimiter, part_start)
        if end < 0:
            notes.append(f"multipart part {len(parts) + 1} cut by the end of the body")
            parts.append(_part(body[part_start:]))
            break
        parts.append(_part(body[part_start:end]))
        pos = body.index(delimiter, end) + len(delimiter)
    return parts, notes


def _part(raw: bytes) -> Part:
    """One part's headers and bytes (a part without a blank line after its headers is all headers)."""
    split = re.search(rb"\r?\n\r?\n", raw[: MAX_HEADER_BLOCK + 4])
    if raw.startswith((b"\r\n", b"\n")):
        head, data = b"", raw[2 if raw.startswith(b"\r\n") else 1 :]
    elif split is None:
        head, data = raw, b""
    else:
        head, data = raw[: split.start()], raw[split.end() :]
    headers = []
    for line in head.split(b"\n"):
        name, sep, value = line.rstrip(b"\r").partition(b":")
        if sep:
            headers.append((text(name.strip()).lower(), text(value.strip())))
    disposition = params(next((v for k, v in headers if k == "content-disposition"), ""))
    kind = media_type(next((v for k, v in headers if k == "content-type"), None))
    return Part(tuple(headers), disposition.get("name"), disposition.get("filename"), kind, data)
