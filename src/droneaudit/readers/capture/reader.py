"""The capture reader: pcap and pcapng, plain or gzip'd, into the scan's flow builder."""

from __future__ import annotations

from pathlib import Path

from droneaudit.readers._api import ScanContext
from droneaudit.readers.capture import pcap, pcapng
from droneaudit.readers.source import ByteStream, open_content


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
        ctx.frames_by_file[display] = frames
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
