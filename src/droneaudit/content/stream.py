"""One direction of a TCP conversation as bytes in stream order, with the frame behind every byte.

Every later layer (TLS decryption, HTTP parsing, detectors, carving) reports *where* in the capture its
result came from; a ``HalfStream`` is how that stays possible after reassembly and decryption: each
``Chunk`` says at which stream offset the payload of one frame begins. Decryption builds new
half-streams whose chunks point at the frames of the records they came from.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Chunk:
    """The bytes from ``offset`` up to the next chunk's offset came from ``frame`` (1-based)."""

    offset: int
    frame: int
    ts_ns: int


@dataclass(slots=True)
class HalfStream:
    """Bytes one side sent, in order, from the start of the connection up to the first hole.

    ``gap_at`` is the offset where a missing segment stopped the stream (None: complete as captured);
    ``dropped`` counts payload bytes seen after the hole, which are not in ``data``.
    """

    file: str
    data: bytes = b""
    chunks: list[Chunk] = field(default_factory=list)  #: sorted by offset; chunks[0].offset == 0
    gap_at: int | None = None
    dropped: int = 0

    def frame_at(self, offset: int) -> int | None:
        """The frame that carried stream byte ``offset`` (None for an empty stream)."""
        chunk = self.chunk_at(offset)
        return None if chunk is None else chunk.frame

    def chunk_at(self, offset: int) -> Chunk | None:
        if not self.chunks:
            return None
        i = bisect_right(self.chunks, offset, key=lambda c: c.offset) - 1
        return self.chunks[max(i, 0)]

    def frames(self, start: int, end: int) -> tuple[int, int] | None:
        """(first, last) frame carrying bytes ``start`` … ``end - 1``."""
        first, last = self.frame_at(start), self.frame_at(max(start, end - 1))
        return None if first is None or last is None else (first, last)


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int


@dataclass(slots=True)
class Conversation:
    """A TCP connection: what the client (the side that opened it, or sent first) and the server sent."""

    client: Endpoint
    server: Endpoint
    sent: HalfStream  #: client → server
    received: HalfStream  #: server → client
    interface: str = ""
    name: str | None = None  #: the remote's name when the scan knows it (SNI, Host, DNS)
