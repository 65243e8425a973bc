"""Classic libpcap files (µs and ns, either byte order, Kuznetzov's modified format), walked in chunks.

Records are variable-length, so finding them is the one sequential step: a tight loop that only reads
each record's captured length. Everything else (timestamps, lengths) is gathered with NumPy afterwards.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from droneaudit.model import Interface
from droneaudit.readers._api import ScanContext
from droneaudit.readers.capture import gather
from droneaudit.readers.capture.batch import FrameBatch, padded_buffer
from droneaudit.readers.source import ByteStream

CHUNK_BYTES = 16 << 20
#: libpcap refuses records larger than this unless the snaplen says otherwise.
MAX_RECORD = 262144


@dataclass(frozen=True)
class PcapHeader:
    big_endian: bool
    ns_per_tick: int
    record_header: int
    snaplen: int
    link_type: int


_MAGICS: dict[bytes, tuple[bool, int, int]] = {
    b"\xd4\xc3\xb2\xa1": (False, 1000, 16),
    b"\xa1\xb2\xc3\xd4": (True, 1000, 16),
    b"\x4d\x3c\xb2\xa1": (False, 1, 16),
    b"\xa1\xb2\x3c\x4d": (True, 1, 16),
    b"\x34\xcd\xb2\xa1": (False, 1000, 24),
    b"\xa1\xb2\xcd\x34": (True, 1000, 24),
}


def is_pcap(head: bytes) -> bool:
    return head[:4] in _MAGICS


def parse_header(head: bytes) -> PcapHeader | None:
    """The 24-byte global header, or None when it is cut short."""
    if len(head) < 24 or head[:4] not in _MAGICS:
        return None
    big, ns_per_tick, rec_hdr = _MAGICS[head[:4]]
    snaplen, network = struct.unpack_from(">II" if big else "<II", head, 16)
    return PcapHeader(big, ns_per_tick, rec_hdr, snaplen, network & 0x0FFFFFFF)


def walk(stream: ByteStream, display: str, ctx: ScanContext) -> Iterator[FrameBatch]:
    """Yield frame batches; damaged records become problems and end the file (no resync in pcap)."""
    head = stream.read(24)
    hdr = parse_header(head)
    if hdr is None:
        ctx.problems.add(display, "truncated-file-header", "the pcap file header is cut short", offset=0)
        return
    iface = ctx.interfaces.add(Interface(display, 0, hdr.link_type, "if0"))
    walker = _RecordWalker(hdr, display, ctx, iface)
    yield from walker.run(stream)


class _RecordWalker:
    def __init__(self, hdr: PcapHeader, display: str, ctx: ScanContext, iface: int) -> None:
        self.hdr = hdr
        self.display = display
        self.ctx = ctx
        self.iface = iface
        self.limit = max(hdr.snaplen, MAX_RECORD)
        self.frame = 0
        self.base = 24  # file offset of the current chunk's first byte

    def run(self, stream: ByteStream) -> Iterator[FrameBatch]:
        carry = b""
        while True:
            data = stream.read(CHUNK_BYTES)
            chunk = carry + data if carry else data
            if not chunk:
                return
            offsets, end, bad = self._scan(chunk)
            if offsets:
                yield self._batch(chunk, offsets)
            if self.ctx.progress is not None:
                self.ctx.progress.advance(len(data))
            if bad:
                return
            carry = chunk[end:]
            self.base += end
            if not data:
                self._truncated(carry)
                return

    def _scan(self, chunk: bytes) -> tuple[list[int], int, bool]:
        """Find whole records in the chunk: their offsets, where the last one ends, and whether one lied."""
        rec = self.hdr.record_header
        unpack = struct.Struct(">I" if self.hdr.big_endian else "<I").unpack_from
        limit, n, pos = self.limit, len(chunk), 0
        offsets: list[int] = []
        append = offsets.append
        while pos + rec <= n:
            incl = unpack(chunk, pos + 8)[0]
            if incl > limit:
                self.ctx.problems.add(
                    self.display,
                    "bad-record-length",
                    f"record claims {incl} captured bytes (limit {limit}); the rest is unreadable",
                    offset=self.base + pos,
                    frame=self.frame + len(offsets) + 1,
                )
                return offsets, pos, True
            end = pos + rec + incl
            if end > n:
                break
            append(pos)
            pos = end
        return offsets, pos, False

    def _truncated(self, carry: bytes) -> None:
        if carry:
            self.ctx.problems.add(
                self.display,
                "truncated-record",
                f"the file ends inside a record ({len(carry)} bytes of it present)",
                offset=self.base,
                frame=self.frame + 1,
            )

    def _batch(self, chunk: bytes, offsets: list[int]) -> FrameBatch:
        buf = padded_buffer(chunk)
        pos = np.asarray(offsets, dtype=np.int64)
        big = self.hdr.big_endian
        sec = gather.u32(buf, pos, big)
        frac = gather.u32(buf, pos + 4, big)
        caplen = gather.u32(buf, pos + 8, big)
        wirelen = gather.u32(buf, pos + 12, big)
        n = pos.shape[0]
        frames = np.arange(self.frame + 1, self.frame + 1 + n, dtype=np.int64)
        self.frame += n
        return FrameBatch(
            file=self.display,
            buf=buf,
            data_off=pos + self.hdr.record_header,
            caplen=caplen,
            wirelen=wirelen,
            ts_ns=sec * 1_000_000_000 + frac * self.hdr.ns_per_tick,
            iface=np.full(n, self.iface, dtype=np.int64),
            frame=frames,
            rec_off=pos + self.base,
            direction=np.zeros(n, dtype=np.int8),
        )
