"""The records the content audit produces: HTTP messages, detector hits, carved files, TLS sessions.

All are plain frozen dataclasses with a deterministic ``to_dict`` (sorted keys at the JSON edge), so a
content audit of the same evidence is byte-identical between runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: What the app sent (requests: counts as a leak) versus what it received (responses: context only).
SENT = "sent"
RECEIVED = "received"


@dataclass(frozen=True, slots=True)
class Where:
    """Where a message or hit sits in the evidence: the input file and its frames (captures), or the
    HAR entry index (``entry``) for HAR files."""

    file: str
    first_frame: int | None = None
    last_frame: int | None = None
    entry: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "entry": self.entry,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str) -> Where:
        """The inverse of ``to_dict`` (tables keep it as JSON text)."""
        data = json.loads(d) if isinstance(d, str) else d
        return cls(data["file"], data.get("first_frame"), data.get("last_frame"), data.get("entry"))


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """One HTTP request or response, with its body decoded (Content-Encoding undone, within caps)."""

    direction: str  #: SENT (request) | RECEIVED (response)
    host: str  #: Host / :authority (or the server address when there is none)
    method: str | None  #: requests only
    url: str  #: scheme://host/path?query of the request (responses: of the request they answer)
    status: int | None  #: responses only
    headers: tuple[tuple[str, str], ...]  #: in wire order, names lower-cased
    body: bytes  #: decoded body (may be cut at the cap: see ``notes``)
    where: Where
    protocol: str = "HTTP/1.1"  #: "HTTP/1.0" | "HTTP/1.1" | "HTTP/2"
    stream_id: int | None = None  #: HTTP/2 stream
    content_type: str | None = None
    notes: tuple[str, ...] = ()  #: e.g. "body truncated at 64 MiB", "gzip body corrupt at 1234"
    #: size and SHA-256 of the body when the body itself is not held (a message read back from a case)
    stored_body: tuple[int, str | None] | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k == lowered), None)

    def to_dict(self) -> dict[str, Any]:
        """The message for the case: everything but the body, which is summarised by size and hash
        (bodies can be large and may hold secrets; carved files keep what matters)."""
        return {
            "direction": self.direction,
            "host": self.host,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "protocol": self.protocol,
            "stream_id": self.stream_id,
            "content_type": self.content_type,
            "body_bytes": self.stored_body[0] if self.stored_body else len(self.body),
            "body_sha256": self.stored_body[1] if self.stored_body else _digest(self.body),
            "where": self.where.to_dict(),
            "notes": list(self.notes),
        }


def _digest(body: bytes) -> str | None:
    return hashlib.sha256(body).hexdigest() if body else None


def message_from_dict(d: dict[str, Any]) -> HttpMessage:
    """A message as a case stores it (no headers, no body: their size and hash are kept)."""
    return HttpMessage(
        d["direction"],
        d["host"],
        d.get("method"),
        d["url"],
        d.get("status"),
        (),
        b"",
        Where.from_dict(d["where"]),
        d.get("protocol") or "HTTP/1.1",
        d.get("stream_id"),
        d.get("content_type"),
        tuple(_list(d.get("notes"))),
        (int(d.get("body_bytes") or 0), d.get("body_sha256")),
    )


def _list(value: Any) -> list[Any]:
    return list(json.loads(value)) if isinstance(value, str) else list(value or [])


@dataclass(frozen=True, slots=True)
class ContentHit:
    """A detector's finding in one message: a position, serial, phone, e-mail, device id or token."""

    kind: str  #: "position" | "serial" | "phone" | "email" | "device-id" | "token"
    value: str  #: as found; masked for secrets (tokens: first 4 and last 4 characters)
    field: str  #: where in the message: "url.path", "query:lat,lon", "header:authorization", "json:$.a.b"
    direction: str  #: SENT | RECEIVED
    host: str
    url: str
    where: Where
    detail: str = ""  #: e.g. "lat=22.543210 lon=113.958870", "DJI aircraft serial (14 chars)"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContentHit:
        where = Where.from_dict(d["where"])
        return cls(
            d["kind"],
            d["value"],
            d["field"],
            d["direction"],
            d["host"],
            d["url"],
            where,
            d.get("detail") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "field": self.field,
            "direction": self.direction,
            "host": self.host,
            "url": self.url,
            "where": self.where.to_dict(),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class CarvedFile:
    """A file found inside a body: a multipart part, a whole raw body, or a ZIP member."""

    data: bytes
    kind: str  #: sniffed content type, e.g. "jpeg", "mp4", "zip", "dji-flight-record", "json"
    name: str | None  #: the file name the app gave it (multipart filename, ZIP member name)
    origin: str  #: "multipart" | "body" | "zip" | "gzip" (the contents of a .gz file)
    direction: str
    host: str
    url: str
    where: Where
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class TlsSession:
    """What the content audit could do with one TLS connection."""

    status: str  #: "decrypted" | "encrypted, no key" | "not decrypted: <reason>" | "partial: <reason>"
    version: str | None  #: "TLS 1.2" | "TLS 1.3"
    cipher: str | None  #: IANA name, e.g. "TLS_AES_128_GCM_SHA256"
    sni: str | None
    alpn: str | None
    client: str  #: "ip:port"
    server: str
    where: Where

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TlsSession:
        get = d.get
        where = Where.from_dict(d["where"])
        return cls(
            d["status"],
            get("version"),
            get("cipher"),
            get("sni"),
            get("alpn"),
            d["client"],
            d["server"],
            where,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "version": self.version,
            "cipher": self.cipher,
            "sni": self.sni,
            "alpn": self.alpn,
            "client": self.client,
            "server": self.server,
            "where": self.where.to_dict(),
        }
