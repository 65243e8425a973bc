"""What HTTP/1 and HTTP/2 share: undoing Content-Encoding within caps, URLs, and ``Where`` of a byte range.

Bodies come from hostile or broken apps, so every decoder is streamed with an output limit
(``max_length`` / ``output_buffer_limit``) and a ratio check: a 10 KiB gzip bomb must cost at most the
cap, never gigabytes. A damaged body keeps what decoded before the damage and says where it broke.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import brotli

from droneaudit.content.model import Where
from droneaudit.content.stream import HalfStream

MiB = 1 << 20
#: Largest decoded body kept per message; the rest is cut with a note.
MAX_BODY = 64 * MiB
#: Largest header block (HTTP/1 head, HTTP/2 HEADERS + CONTINUATION) parsed.
MAX_HEADER_BLOCK = 64 * 1024
#: Most messages (requests + responses) taken from one conversation.
MAX_MESSAGES = 10_000
#: A decoder producing more than MAX_RATIO times its input (past RATIO_FLOOR bytes) is a bomb.
MAX_RATIO = 1_000
RATIO_FLOOR = 1 * MiB
#: Input fed to a decompressor at a time; output is pulled in pieces of at most _PIECE.
_STEP = 16 * 1024
_PIECE = 1 * MiB


@dataclass
class Decoded:
    """One decoding stage's output and what went wrong on the way."""

    data: bytes
    notes: list[str] = field(default_factory=list)


class _Stage:
    """A streaming decompressor behind one interface: ``zlib`` objects and brotli's Decompressor."""

    def __init__(self, name: str, wbits: int | None) -> None:
        self.name = name
        self.wbits = wbits
        self._z = zlib.decompressobj(wbits) if wbits is not None else None
        self._b = brotli.Decompressor() if wbits is None else None

    def feed(self, data: bytes, room: int) -> bytes:
        if self._z is not None:
            return self._z.decompress(data, room)
        assert self._b is not None
        return bytes(self._b.process(data, output_buffer_limit=room))

    def pending(self) -> bytes:
        """Input the decompressor holds back because ``room`` ran out (zlib only; brotli keeps it)."""
        return self._z.unconsumed_tail if self._z is not None else b""

    def more(self) -> bool:
        """Output is waiting even without new input (brotli after a limited call)."""
        return self._b is not None and not self._b.can_accept_more_data()

    def finished(self) -> bool:
        return self._z.eof if self._z is not None else bool(self._b and self._b.is_finished())

    def leftover(self) -> bytes:
        return self._z.unused_data if self._z is not None else b""

    def snapshot(self) -> Any:
        """A copy of the zlib state before a feed, to replay it byte by byte if the feed fails."""
        return self._z.copy() if self._z is not None else None


def _salvage(probe: Any, data: bytes) -> tuple[bytes, int]:
    """Output of ``data`` up to the first bad byte, replayed on a copy of the decompressor taken before
    the failing call (zlib discards that call's output); (bytes, index of the bad byte)."""
    if probe is None:
        return b"", 0
    out = bytearray()
    for i in range(len(data)):
        try:
            out += probe.decompress(data[i : i + 1])
        except zlib.error:
            return bytes(out), i
    return bytes(out), len(data)


def _next_piece(stage: _Stage, data: bytes, pos: int) -> tuple[bytes, int] | None:
    """What to feed next and how many new input bytes it holds: held-back input first, then data."""
    if stage.pending():
        return stage.pending(), 0
    if stage.more():
        return b"", 0
    if pos < len(data):
        piece = data[pos : pos + _STEP]
        return piece, len(piece)
    return None


def _run(stage: _Stage, data: bytes, limit: int) -> Decoded:
    """Stream ``data`` through ``stage``; stop at the limit, a bomb, damage or the end of stream."""
    out, notes, pos = bytearray(), [], 0
    while not stage.finished() and (step := _next_piece(stage, data, pos)) is not None:
        piece, new = step
        backup = stage.snapshot()
        try:
            out += stage.feed(piece, min(_PIECE, limit + 1 - len(out)))
        except (zlib.error, brotli.error) as exc:
            good, bad = _salvage(backup, piece)
            at = pos + bad if new else pos - len(piece) + bad
            notes.append(f"{stage.name} body corrupt at byte {at} of {len(data)}: {exc}")
            return Decoded(bytes(out[:limit]) + good[: max(0, limit - len(out))], notes)
        pos += new
        if len(out) > limit:
            notes.append(f"body truncated at {size_text(limit)} (decoded {stage.name} exceeds the cap)")
            return Decoded(bytes(out[:limit]), notes)
        if len(out) > RATIO_FLOOR and len(out) > MAX_RATIO * max(pos - len(stage.pending()), 1):
            notes.append(
                f"decompression bomb: {stage.name} over {MAX_RATIO}:1, stopped at {size_text(len(out))}"
            )
            return Decoded(bytes(out), notes)
    if not stage.finished():
        notes.append(f"{stage.name} body truncated: the data ends before the end of the stream")
    return Decoded(bytes(out), notes)


def _gzip(data: bytes, limit: int) -> Decoded:
    """gzip, including several concatenated members (RFC 1952 allows it, some servers do it)."""
    result = Decoded(b"")
    while True:
        stage = _Stage("gzip", 16 + zlib.MAX_WBITS)
        part = _run(stage, data, limit - len(result.data))
        result = Decoded(result.data + part.data, result.notes + part.notes)
        data = stage.leftover()
        if part.notes or not data.strip(b"\x00"):
            return result
        if not data.startswith(b"\x1f\x8b"):
            result.notes.append(f"{len(data)} bytes of trailing garbage after the gzip stream ignored")
            return result


def _deflate(data: bytes, limit: int) -> Decoded:
    """HTTP "deflate" is meant to be zlib-wrapped, but servers send raw DEFLATE too: accept both."""
    if len(data) >= 2 and (data[0] & 0x0F) == 8 and int.from_bytes(data[:2], "big") % 31 == 0:
        wrapped = _run(_Stage("deflate", zlib.MAX_WBITS), data, limit)
        if wrapped.data or not wrapped.notes:
            return wrapped
    return _run(_Stage("deflate", -zlib.MAX_WBITS), data, limit)


_DECODERS: dict[str, Callable[[bytes, int], Decoded]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": lambda data, limit: _run(_Stage("br", None), data, limit),
}


def decode_body(body: bytes, content_encoding: str | None, *, limit: int | None = None) -> Decoded:
    """Undo ``Content-Encoding`` (a comma list, applied left to right, so undone right to left).

    An unknown coding stops decoding and keeps the bytes as they are, with a note. ``limit``: the
    decoded size cap (default: ``MAX_BODY`` as it is when called, so tests and callers can lower it).
    """
    limit = MAX_BODY if limit is None else limit
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    result = Decoded(body)
    if not body:
        return result
    for coding in reversed(codings):
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            result.notes.append(f"content-encoding {coding!r} not decoded")
            break
        step = decoder(result.data, limit)
        result = Decoded(step.data, result.notes + step.notes)
        if step.notes and not step.data:
            break
    if len(result.data) > limit:
        result = Decoded(result.data[:limit], [*result.notes, f"body truncated at {size_text(limit)}"])
    return result


def size_text(n: int) -> str:
    """``64 MiB`` for whole mebibytes, else ``1234 bytes``: sizes in notes."""
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n} bytes"


def media_type(value: str | None) -> str | None:
    """``text/html; charset=utf-8`` → ``text/html`` (lower case); None when absent or empty."""
    if not value:
        return None
    kind = value.split(";", 1)[0].strip().lower()
    return kind or None


def hostname(authority: str) -> str:
    """The host part of an authority (``[v6]:port``, ``name:port``, ``user@name``), lower case."""
    host = authority.strip().rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0].lower()
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.lower().rstrip(".")


def build_url(scheme: str, authority: str, target: str) -> str:
    """scheme://authority/path?query from a request target (origin, absolute or asterisk form)."""
    if "://" in target[:16]:
        return target
    if not target.startswith("/"):
        return f"{scheme}://{authority}" + ("" if target == "*" else "/" + target)
    return f"{scheme}://{authority}{target}"


class Locator:
    """Where byte ranges of one half-stream came from, as ``Where`` records (``HalfStream.frames``)."""

    def __init__(self, stream: HalfStream) -> None:
        self.stream = stream

    def __call__(self, start: int, end: int) -> Where:
        """The input file and the frames that carried stream bytes ``start`` … ``end - 1``."""
        frames = self.stream.frames(start, end)
        if frames is None:
            return Where(self.stream.file)
        return Where(self.stream.file, frames[0], frames[1])


def text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 when valid (modern apps), else Latin-1 (RFC 9110's historic rule)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
