"""The capture reader: pcap and pcapng, plain or gzip'd, into the scan's flow builder.

``walk_stream`` is the same walk over a stream that only reads forward (a pipe such as
``tcpdump -w -``, or a file still being written): no seek, no tell, no second open.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from droneaudit.readers._api import ScanContext
from droneaudit.readers.capture import pcap, pcapng
from droneaudit.readers.capture.batch import FrameBatch, release_freed_memory
from droneaudit.readers.source import GZIP_MAGIC, ByteStream, SafeGzip, open_content


class CaptureReader:
    name = "capture"

    def sniff(self, head: bytes, path: Path) -> float:
        return 1.0 if pcap.is_pcap(head) or pcapng.is_pcapng(head) else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        """Read all frames; return (format name, sha256 of the stored bytes)."""
        raw, stream = open_content(path, display, ctx.problems)
        head = stream.read(4)
        fmt = "pcapng" if pcapng.is_pcapng(head) else "pcap"
        walker = pcapng.walk if fmt == "pcapng" else pcap.walk
        file_id = ctx.flows.file_id(display)
        frames = 0
        for batch in walker(_Prefixed(head, stream), display, ctx):
            frames += len(batch)
            ctx.flows.add_batch(batch, file_id)
            del batch  # free the chunk before the walker reads the next one
        ctx.frames_by_file[display] = frames
        release_freed_memory()
        gzipped = stream is not raw
        return (fmt + ".gz" if gzipped else fmt), raw.finish()


class _Prefixed:
    """Put back the bytes already read for sniffing."""

    def __init__(self, head: bytes, stream: ByteStream) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        head, self._head = self._head, b""
        if n >= 0 and len(head) >= n:
            self._head = head[n:]
            return head[:n]
        more = self._stream.read(-1 if n < 0 else n - len(head))
        return head + more

    def readinto(self, view: memoryview) -> int:
        """The bytes put back first, then straight from the stream (see batch.read_chunk)."""
        if self._head:
            take = min(len(self._head), len(view))
            view[:take] = self._head[:take]
            self._head = self._head[take:]
            return take
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            try:
                return int(readinto(view) or 0)
            except (NotImplementedError, io.UnsupportedOperation):
                pass  # an io base class that only implements read()
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


def walk_stream(stream: ByteStream, display: str, ctx: ScanContext) -> tuple[str, Iterator[FrameBatch]]:
    """Sniff a forward-only stream and walk it: (format, frame batches). The format is ``pcap``,
    ``pcapng`` (``.gz`` appended when the stream is gzip'd) or ``unknown`` (nothing to walk; the caller
    reports it). Short reads are fine: the walkers treat only an empty read as the end."""
    head = read_exactly(stream, 4)
    suffix = ""
    if head[:2] == GZIP_MAGIC:
        stream = SafeGzip(_Prefixed(head, stream), display, ctx.problems)
        head, suffix = read_exactly(stream, 4), ".gz"
    if pcapng.is_pcapng(head):
        return "pcapng" + suffix, pcapng.walk(_Prefixed(head, stream), display, ctx)
    if pcap.is_pcap(head):
        return "pcap" + suffix, pcap.walk(_Prefixed(head, stream), display, ctx)
    return "unknown", iter(())


def read_exactly(stream: ByteStream, n: int) -> bytes:
    """``n`` bytes, or fewer only at the end of the stream (a pipe may hand them over piecemeal)."""
    out = b""
    while len(out) < n:
        more = stream.read(n - len(out))
        if not more:
            break
        out += more
    return out
