"""pcapng files: several sections (each with its own byte order), interfaces with their own link types and
timestamp resolutions, packet blocks (EPB, SPB, obsolete PB) and interface statistics (drop counters).

Blocks are walked sequentially in bounded chunks; packet fields are then gathered with NumPy per batch.
A batch never spans two sections, so one byte order holds for all its frames.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import numpy as np

from droneaudit.readers._api import ScanContext
from droneaudit.readers.capture import gather
from droneaudit.readers.capture.batch import FrameBatch, padded_buffer
from droneaudit.readers.capture.pcapng_options import IfaceClock, packet_flags, parse_idb, parse_isb
from droneaudit.readers.source import ByteStream

SHB, IDB, PB, SPB, ISB, EPB, DSB = 0x0A0D0D0A, 1, 2, 3, 5, 6, 10
#: Decryption Secrets Block secrets type for an NSS (SSLKEYLOGFILE) TLS key log.
TLS_KEY_LOG = 0x544C534B
CHUNK_BYTES = 16 << 20
#: No sane block is larger than this; a bigger length is a lie, not a packet.
MAX_BLOCK = 64 << 20
_BOM = 0x1A2B3C4D
_KIND = {EPB: 0, SPB: 1, PB: 2}


def is_pcapng(head: bytes) -> bool:
    return head[:4] == b"\x0a\x0d\x0d\x0a"


@dataclass
class _Section:
    big: bool
    ifaces: list[int] = field(default_factory=list)  # local id -> global interface number
    clocks: list[IfaceClock] = field(default_factory=list)


@dataclass
class _Pending:
    """Packet blocks found in the current chunk, not yet turned into a batch."""

    pos: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    blen: list[int] = field(default_factory=list)
    direction: list[int] = field(default_factory=list)


def walk(stream: ByteStream, display: str, ctx: ScanContext) -> Iterator[FrameBatch]:
    yield from _Walker(display, ctx).run(stream)


class _Walker:
    def __init__(self, display: str, ctx: ScanContext) -> None:
        self.display = display
        self.ctx = ctx
        self.section: _Section | None = None
        self.frame = 0
        self.base = 0
        self.stop = False
        self.pending = 0  #: packet blocks of the current chunk not yet numbered (for problem frames)

    def run(self, stream: ByteStream) -> Iterator[FrameBatch]:
        carry = b""
        want = CHUNK_BYTES
        while not self.stop:
            data = stream.read(want)
            chunk = carry + data if carry else data
            if not chunk:
                return
            end = yield from self._chunk(chunk)
            if self.ctx.progress is not None:
                self.ctx.progress.advance(len(data))
            carry = chunk[end:]
            self.base += end
            if not data:
                self._truncated(carry)
                return
            # A block bigger than the chunk: read enough to hold it next time.
            want = max(CHUNK_BYTES, self._need(carry) - len(carry))

    def _need(self, carry: bytes) -> int:
        """Length of the block that starts the carried-over bytes (0 when unknown)."""
        if len(carry) < 12:
            return 0
        big = self.section.big if self.section is not None else False
        if carry[:4] == b"\x0a\x0d\x0d\x0a":
            big = struct.unpack_from("<I", carry, 8)[0] != _BOM
        return int(struct.unpack_from(">I" if big else "<I", carry, 4)[0])

    def _truncated(self, carry: bytes) -> None:
        if carry and not self.stop:
            self.ctx.problems.add(
                self.display,
                "truncated-block",
                f"the file ends inside a block ({len(carry)} bytes of it present)",
                offset=self.base,
                frame=self.frame + 1,
            )

    def _chunk(self, chunk: bytes) -> Generator[FrameBatch, None, int]:
        """Walk whole blocks in ``chunk``; yield batches; return the offset where unread bytes start."""
        pending = _Pending()
        pos, n = 0, len(chunk)
        while pos + 12 <= n and not self.stop:
            self.pending = len(pending.pos)
            btype, blen, section_big = self._block_header(chunk, pos)
            if blen is None or pos + blen > n:
                break
            if section_big is not None:
                if pending.pos:
                    yield self._batch(chunk, pending)
                    pending = _Pending()
                self.section = _Section(big=section_big)
            self._block(chunk, pos, btype, blen, pending)
            pos += blen
        if pending.pos:
            yield self._batch(chunk, pending)
        return pos

    def _block_header(self, chunk: bytes, pos: int) -> tuple[int, int | None, bool | None]:
        """Type and checked length of the block at ``pos`` (length None: stop or wait for more bytes),
        and for a section header the new section's byte order."""
        if chunk[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            bom = struct.unpack_from("<I", chunk, pos + 8)[0]
            if bom not in (_BOM, 0x4D3C2B1A):
                return self._bad(pos, "bad-byte-order-magic", f"section header byte-order magic {bom:#x}")
            big = bom != _BOM
            blen = struct.unpack_from(">I" if big else "<I", chunk, pos + 4)[0]
            return (SHB, blen, big) if self._length_ok(pos, blen) else (SHB, None, None)
        if self.section is None:
            return self._bad(pos, "missing-section-header", "block before any section header block")
        btype, blen = struct.unpack_from(">II" if self.section.big else "<II", chunk, pos)
        return (btype, blen, None) if self._length_ok(pos, blen) else (btype, None, None)

    def _length_ok(self, pos: int, blen: int) -> bool:
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            self._bad(pos, "bad-block-length", f"block length {blen} is impossible")
            return False
        return True

    def _bad(self, pos: int, code: str, detail: str) -> tuple[int, None, None]:
        self.ctx.problems.add(
            self.display,
            code,
            detail + "; the rest of the file is unreadable",
            offset=self.base + pos,
            frame=self.frame + self.pending + 1,
        )
        self.stop = True
        return 0, None, None

    def _block(self, chunk: bytes, pos: int, btype: int, blen: int, pending: _Pending) -> None:
        sec = self.section
        assert sec is not None
        end = ">I" if sec.big else "<I"
        if struct.unpack_from(end, chunk, pos + blen - 4)[0] != blen:
            self.ctx.problems.add(
                self.display,
                "block-length-mismatch",
                "a block's trailing length differs from its leading length",
                offset=self.base + pos,
                frame=self.frame + len(pending.pos) + 1,
            )
        kind = _KIND.get(btype)
        if kind is not None:
            pending.pos.append(pos)
            pending.kind.append(kind)
            pending.blen.append(blen)
            pending.direction.append(packet_flags(chunk, pos, blen, sec.big) if kind == 0 else 0)
        elif btype == IDB:
            local = len(sec.ifaces)
            iface, clock = parse_idb(chunk, pos, blen, sec.big, self.display, local)
            sec.ifaces.append(self.ctx.interfaces.add(iface))
            sec.clocks.append(clock)
        elif btype == ISB:
            self._stats(chunk, pos, blen)
        elif btype == DSB:
            self._secrets(chunk, pos, blen)

    def _secrets(self, chunk: bytes, pos: int, blen: int) -> None:
        """A Decryption Secrets Block (Wireshark's ``editcap --inject-secrets``, PCAPdroid): TLS key log
        text kept for the content audit; other secret types (WireGuard, ZigBee, …) are counted."""
        sec = self.section
        assert sec is not None
        if blen < 20:
            return
        stype, slen = struct.unpack_from(">II" if sec.big else "<II", chunk, pos + 8)
        if stype == TLS_KEY_LOG and 16 + slen <= blen:
            self.ctx.secrets.append((self.display, bytes(chunk[pos + 16 : pos + 16 + slen])))
            return
        self.ctx.problems.add(
            self.display,
            "unsupported-secrets",
            f"Decryption Secrets Block of type 0x{stype:08x} is not used",
            offset=self.base + pos,
        )

    def _stats(self, chunk: bytes, pos: int, blen: int) -> None:
        sec = self.section
        assert sec is not None
        local, received, dropped = parse_isb(chunk, pos, blen, sec.big)
        if local < len(sec.ifaces):
            self.ctx.interfaces.update_stats(sec.ifaces[local], received, dropped)

    def _batch(self, chunk: bytes, pending: _Pending) -> FrameBatch:
        sec = self.section
        assert sec is not None
        buf = padded_buffer(chunk)
        pos = np.asarray(pending.pos, dtype=np.int64)
        kind = np.asarray(pending.kind, dtype=np.int64)
        blen = np.asarray(pending.blen, dtype=np.int64)
        big = sec.big
        is_spb, is_pb = kind == 1, kind == 2
        local = np.where(is_pb, gather.u16(buf, pos + 8, big), gather.u32(buf, pos + 8, big))
        local = np.where(is_spb, 0, local)
        wirelen = np.where(is_spb, gather.u32(buf, pos + 8, big), gather.u32(buf, pos + 24, big))
        caplen = np.where(is_spb, np.minimum(wirelen, blen - 16), gather.u32(buf, pos + 20, big))
        ticks = (gather.u32(buf, pos + 12, big) << 32) | gather.u32(buf, pos + 16, big)
        n = pos.shape[0]
        frames = np.arange(self.frame + 1, self.frame + 1 + n, dtype=np.int64)
        self.frame += n
        caplen = self._fit(caplen, np.maximum(blen - np.where(is_spb, 16, 32), 0), pos, frames)
        return self._finish(buf, pos, local, caplen, wirelen, ticks, is_spb, frames, pending)

    def _fit(self, caplen: np.ndarray, room: np.ndarray, pos: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """A captured length that claims more bytes than its block holds is a lie: the packet is cut to
        the block (never read past it into the next block or beyond the buffer) and reported."""
        over = caplen > room
        if over.any():
            first = int(np.flatnonzero(over)[0])
            self.ctx.problems.add(
                self.display,
                "caplen-exceeds-block",
                "packet block's captured length is larger than the block; cut to the block",
                offset=self.base + int(pos[first]),
                frame=int(frames[first]),
                count=int(over.sum()),
            )
        fitted: np.ndarray = np.minimum(caplen, room)
        return fitted

    def _finish(
        self,
        buf: np.ndarray,
        pos: np.ndarray,
        local: np.ndarray,
        caplen: np.ndarray,
        wirelen: np.ndarray,
        ticks: np.ndarray,
        is_spb: np.ndarray,
        frames: np.ndarray,
        pending: _Pending,
    ) -> FrameBatch:
        sec = self.section
        assert sec is not None
        unknown = local >= len(sec.ifaces)
        if unknown.any():
            first = int(np.flatnonzero(unknown)[0])
            self.ctx.problems.add(
                self.display,
                "unknown-interface",
                "packet block names an interface that was never declared",
                offset=self.base + int(pos[first]),
                frame=int(frames[first]),
                count=int(unknown.sum()),
            )
        keep = ~unknown
        ts = _to_ns(ticks, local, sec.clocks)
        ts = _fill_spb_times(ts, is_spb)
        glob = np.asarray([*sec.ifaces, -1], dtype=np.int64)[np.where(unknown, len(sec.ifaces), local)]
        return FrameBatch(
            file=self.display,
            buf=buf,
            data_off=(pos + np.where(is_spb, 12, 28))[keep],
            caplen=caplen[keep],
            wirelen=wirelen[keep],
            ts_ns=ts[keep],
            iface=glob[keep],
            frame=frames[keep],
            rec_off=(pos + self.base)[keep],
            direction=np.asarray(pending.direction, dtype=np.int8)[keep],
        )


def _to_ns(ticks: np.ndarray, local: np.ndarray, clocks: list[IfaceClock]) -> np.ndarray:
    out = np.zeros(ticks.shape[0], dtype=np.int64)
    for idx, clock in enumerate(clocks):
        sel = local == idx
        if sel.any():
            out[sel] = clock.to_ns(ticks[sel])
    return out


def _fill_spb_times(ts: np.ndarray, is_spb: np.ndarray) -> np.ndarray:
    """Simple packet blocks carry no time: give each the time of the packet before it (0 if none)."""
    if not is_spb.any():
        return ts
    idx = np.where(is_spb, 0, np.arange(ts.shape[0]))
    np.maximum.accumulate(idx, out=idx)
    filled = ts[idx]
    return np.where(is_spb & (idx == 0) & is_spb[0], 0, filled)
