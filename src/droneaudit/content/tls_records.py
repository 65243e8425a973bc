"""The TLS record layer of one half-stream, the handshake messages inside it, and the plaintext out.

Record headers are walked without trusting them: a record that claims more than the RFC maximum
(2^14 + 2048 bytes of ciphertext), an unknown content type or a major version other than 3 ends the
walk with a reason instead of an exception, and so do the end of the stream inside a record (truncated)
and the hole a lost segment left (``gap_at``). Decryption then only sees whole records.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from droneaudit.content.stream import Chunk, HalfStream

CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT = 20, 21, 22, 23, 24
CONTENT_TYPES = frozenset({CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT})
#: RFC 5246 §6.2.3: TLSCiphertext.length must not exceed 2^14 + 2048.
MAX_RECORD = (1 << 14) + 2048
#: A handshake message larger than this is not waited for (certificate chains are a few kB).
MAX_HANDSHAKE_MESSAGE = 1 << 20


@dataclass(frozen=True, slots=True)
class Record:
    """One TLS record as it sits in the stream (``start`` is the offset of its 5-byte header)."""

    index: int  #: 1-based within its direction
    ctype: int
    version: int
    start: int
    payload: bytes

    @property
    def end(self) -> int:
        return self.start + 5 + len(self.payload)

    @property
    def header(self) -> bytes:
        """The record header as sent (TLS 1.3 authenticates it as additional data)."""
        return struct.pack(">BHH", self.ctype, self.version, len(self.payload))


class RecordWalk:
    """The whole records of a half-stream, produced lazily each time it is iterated (so a long upload
    is never held twice), up to the first thing that is not a whole, plausible record.

    After an iteration that ran to the end, ``stop`` says why the records ended early (None: the
    stream ended cleanly on a record boundary) and ``stop_offset`` is the first byte not in a record.
    """

    def __init__(self, half: HalfStream) -> None:
        self.half = half
        self.stop: str | None = None
        self.stop_offset: int | None = None

    def __iter__(self) -> Iterator[Record]:
        data, pos, index = self.half.data, 0, 1
        while pos + 5 <= len(data):
            ctype, version, length = struct.unpack_from(">BHH", data, pos)
            if ctype not in CONTENT_TYPES or version >> 8 != 3 or length > MAX_RECORD:
                frame = self.half.frame_at(pos)
                self.stop, self.stop_offset = f"not a TLS record at offset {pos} (frame {frame})", pos
                return
            if pos + 5 + length > len(data):
                break
            yield Record(index, ctype, version, pos, data[pos + 5 : pos + 5 + length])
            pos, index = pos + 5 + length, index + 1
        if pos < len(data) or self.half.gap_at is not None:
            self.stop, self.stop_offset = _end_reason(self.half, pos, index), pos


def walk_records(half: HalfStream) -> RecordWalk:
    return RecordWalk(half)


def _end_reason(half: HalfStream, pos: int, index: int) -> str:
    if half.gap_at is not None:
        inside = f" inside record {index}" if pos < len(half.data) else ""
        return f"gap at offset {half.gap_at}{inside} ({half.dropped} bytes after it not captured)"
    return f"truncated record {index} at offset {pos} (stream ends after {len(half.data) - pos} bytes)"


class HandshakeReader:
    """Reassembles handshake messages (type, body) that may span records or share one."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.oversized = False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        messages: list[tuple[int, bytes]] = []
        while len(self._buffer) >= 4 and not self.oversized:
            length = int.from_bytes(self._buffer[1:4], "big")
            if length > MAX_HANDSHAKE_MESSAGE:
                self.oversized = True
                self._buffer.clear()
                break
            if len(self._buffer) < 4 + length:
                break
            messages.append((self._buffer[0], bytes(self._buffer[4 : 4 + length])))
            del self._buffer[: 4 + length]
        return messages


@dataclass(slots=True)
class Plaintext:
    """Application data of one direction as it is decrypted, each piece tied to its record's last frame."""

    cipher: HalfStream
    data: bytearray = field(default_factory=bytearray)
    chunks: list[Chunk] = field(default_factory=list)
    records: int = 0  #: records that authenticated (any content type)
    _offsets: list[int] | None = None

    def emit(self, content: bytes, record: Record) -> None:
        if not content:
            return
        carrier = self._carrier(record.end - 1)
        if carrier is not None and (not self.chunks or self.chunks[-1].frame != carrier.frame):
            self.chunks.append(Chunk(len(self.data), carrier.frame, carrier.ts_ns))
        self.data += content

    def _carrier(self, offset: int) -> Chunk | None:
        """``cipher.chunk_at(offset)`` with the offsets list built once, not once per record (a long
        upload has tens of thousands of frames and records)."""
        if self._offsets is None:
            self._offsets = [chunk.offset for chunk in self.cipher.chunks]
        if not self._offsets:
            return None
        return self.cipher.chunks[max(bisect_right(self._offsets, offset) - 1, 0)]

    def half_stream(self, stopped_at: int | None) -> HalfStream:
        """The plaintext as a HalfStream; ``stopped_at`` is the ciphertext offset decryption ended at.

        When decryption stopped early, ``gap_at`` is the plaintext length and ``dropped`` counts the
        ciphertext bytes (from ``stopped_at`` on, plus those lost after a capture gap) not decrypted.
        """
        out = HalfStream(self.cipher.file, bytes(self.data), list(self.chunks))
        if stopped_at is not None:
            out.gap_at = len(self.data)
            out.dropped = len(self.cipher.data) - stopped_at + self.cipher.dropped
        return out


#: RFC 8446 §6 alert descriptions worth naming in a note (others are shown by number).
ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    46: "certificate_unknown",
    48: "unknown_ca",
    80: "internal_error",
    90: "user_canceled",
    112: "unrecognized_name",
}


class Direction:
    """What decrypting one direction needs in both TLS versions: its name, its plaintext, the notes.

    Subclasses implement ``feed``: take the next record, return None to go on or the reason to stop.
    """

    def __init__(self, side: str, out: Plaintext, notes: list[str]) -> None:
        self.side, self.out, self.notes = side, out, notes

    def feed(self, record: Record) -> str | None:
        raise NotImplementedError

    def run(self, walk: RecordWalk) -> tuple[str | None, int | None]:
        """Feed every record; (why decryption stopped, ciphertext offset where) or (None, None)."""
        for record in walk:
            problem = self.feed(record)
            if problem is not None:
                return problem, record.start
        return walk.stop, walk.stop_offset

    def where(self, record: Record) -> str:
        return f"{self.side} record {record.index} (frame {self.out.cipher.frame_at(record.start)})"

    def bad_mac(self, record: Record) -> str:
        return f"bad record MAC at {self.where(record)}"

    def alert(self, content: bytes, record: Record) -> None:
        """Note alerts other than close_notify (a fatal alert explains why a session ended)."""
        if len(content) >= 2 and content[1] != 0:
            level = {1: "warning", 2: "fatal"}.get(content[0], str(content[0]))
            name = ALERT_NAMES.get(content[1], str(content[1]))
            self.notes.append(f"{level} alert {name} at {self.where(record)}")
