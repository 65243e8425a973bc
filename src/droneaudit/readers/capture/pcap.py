"""Classic libpcap files (µs and ns, either byte order, Kuznetzov's modified format), walked in chunks.

Records are variable-length, so finding them is the one sequential step: walk.py does it (compiled, with
a pure-Python fallback) and hands back each record's header words; everything else is NumPy per chunk.
Chunks are read straight into the batch's array (batch.read_chunk), so each byte is copied once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from droneaudit.model import Interface
from droneaudit.readers._api import ScanContext
from droneaudit.readers.capture import gather
from droneaudit.readers.capture.batch import I64, PAD, U8, FrameBatch, read_chunk
from droneaudit.readers.capture.walk import records
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
    while 0 < len(head) < 24 and (more := stream.read(24 - len(head))):
        head += more  # a pipe may hand the header over in pieces
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
        carry: U8 = np.zeros(0, dtype=np.uint8)
        while True:
            buf, got = read_chunk(stream, carry, CHUNK_BYTES)
            size = len(buf) - PAD
            if not size:
                return
            table, end, bad = records(buf, size, self.hdr.record_header, self.hdr.big_endian, self.limit)
            if bad:
                self._lied(buf, end, len(table))
            if len(table):
                yield self._batch(buf, table)
            if self.ctx.progress is not None:
                self.ctx.progress.advance(got)
            if bad:
                return
            carry = buf[end:size].copy()  # a view would keep the whole chunk alive
            del buf
            self.base += end
            if not got:
                self._truncated(carry)
                return

    def _lied(self, buf: U8, pos: int, before: int) -> None:
        """A record that claims more captured bytes than any capture holds: the rest is unreadable."""
        off = np.asarray([pos + 8], dtype=np.int64)
        incl = int(gather.u32(buf, off, self.hdr.big_endian)[0])
        self.ctx.problems.add(
            self.display,
            "bad-record-length",
            f"record claims {incl} captured bytes (limit {self.limit}); the rest is unreadable",
            offset=self.base + pos,
            frame=self.frame + before + 1,
        )

    def _truncated(self, carry: U8) -> None:
        if len(carry):
            self.ctx.problems.add(
                self.display,
                "truncated-record",
                f"the file ends inside a record ({len(carry)} bytes of it present)",
                offset=self.base,
                frame=self.frame + 1,
            )

    def _batch(self, buf: U8, table: I64) -> FrameBatch:
        pos = table[:, 0].copy()
        sec, frac = table[:, 1], table[:, 2]
        n = pos.shape[0]
        frames = np.arange(self.frame + 1, self.frame + 1 + n, dtype=np.int64)
        self.frame += n
        return FrameBatch(
            file=self.display,
            buf=buf,
            data_off=pos + self.hdr.record_header,
            caplen=table[:, 3].copy(),
            wirelen=table[:, 4].copy(),
            ts_ns=sec * 1_000_000_000 + frac * self.hdr.ns_per_tick,
            iface=np.full(n, self.iface, dtype=np.int64),
            frame=frames,
            rec_off=pos + self.base,
            direction=np.zeros(n, dtype=np.int8),
        )
