"""One frame batch of a live capture into flow segments, with the same vectorised decoders the scan uses
(link layers, IP, fragments, the payload collector for names) and no state of its own beyond what the
caller passes in.

The scan's FlowBuilder keeps every segment until the end; ``watch`` cannot, so it reduces each batch to
segments here (``aggregate.segment_rows``) and folds them into its bounded tables (watch_state.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from droneaudit.readers._api import ProblemLog
from droneaudit.readers.capture import ip as ipdec
from droneaudit.readers.capture import link
from droneaudit.readers.capture.aggregate import segment_rows
from droneaudit.readers.capture.batch import FrameBatch
from droneaudit.readers.capture.flows import PROBLEM_TEXT
from droneaudit.readers.capture.fragments import Reassembled, Reassembler
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.packet_rows import reassemble, rows_from_packets, rows_from_reassembled
from droneaudit.readers.capture.payloads import PayloadCollector
from droneaudit.readers.capture.rows import Rows, orient
from droneaudit.readers.capture.table import address_text, iface_label

_PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}
#: Fragmented datagrams awaiting their pieces; the oldest are given up beyond this.
MAX_FRAGMENTED = 1024


@dataclass(frozen=True, slots=True)
class Segment:
    """Packets of one connection within one batch; side A/B as in the canonical key."""

    proto: str
    a: str
    a_port: int
    b: str
    b_port: int
    vlan: int | None
    interface: str
    iface_addresses: frozenset[str]
    first_ts: int
    last_ts: int
    packets: tuple[int, int]  # A→B, B→A
    nbytes: tuple[int, int]
    outbound: tuple[int, int]  # packets the link layer marks outgoing, sent by A / by B
    initiator_is_a: bool
    starts_syn: bool
    closed: bool
    file: str
    frame: int


@dataclass
class Decoded:
    """What one batch gave: its segments in time order, and its IP payload bytes (for recycling)."""

    segments: list[Segment]
    payload_bytes: int
    ip_packets: int


class Decoder:
    """Link → IP → rows → segments for one batch; names and DNS go to ``collector``."""

    def __init__(self, interfaces: InterfaceRegistry, problems: ProblemLog) -> None:
        self.interfaces = interfaces
        self.problems = problems
        self.files: list[str] = []
        self.reassembler = Reassembler()
        self.non_ip = 0
        self.undecodable = 0
        self.fragments = 0

    def file_id(self, display: str) -> int:
        self.files.append(display)
        return len(self.files) - 1

    def decode(self, batch: FrameBatch, file_id: int, collector: PayloadCollector) -> Decoded:
        ifaces = self.interfaces.all()
        link_types = np.asarray([i.link_type for i in ifaces], dtype=np.int64)[batch.iface]
        ident = np.asarray([self.interfaces.identity(i) for i in range(len(ifaces))], dtype=np.int64)
        lres = link.decode(batch, link_types)
        self._link_problems(batch, lres, link_types)
        ipres = ipdec.decode(batch, lres.l3)
        self._ip_problems(batch, ipres.problems)
        rows = rows_from_packets(batch, file_id, lres, ipres.packets, ident[batch.iface], _no_app(batch))
        collector.collect(batch, lres, ipres.packets, orient(rows))
        parts = [rows]
        done = self._fragments(batch, file_id, lres, ipres.fragments, ident[batch.iface])
        if done:
            collector.reassembled_dns(done, self.files)
            parts.append(rows_from_reassembled(done, self.interfaces))
        self.non_ip += int(((lres.l3 < 0) & ~lres.unknown_link & ~lres.truncated).sum())
        all_rows = Rows.concat(parts)
        segments = self._segments(all_rows) if len(all_rows) else []
        return Decoded(segments, int(ipres.packets.l4_len.sum()), len(all_rows))

    def _segments(self, rows: Rows) -> list[Segment]:
        p = segment_rows(rows, orient(rows))
        keys = p.keys
        out = []
        for i in np.lexsort((p.first_frame, p.first_ts)).tolist():
            iface = int(p.first_iface[i])
            initiator = int(p.syn_dir[i]) if p.syn_dir[i] >= 0 else int(p.first_dir[i])
            out.append(
                Segment(
                    _PROTO_NAMES.get(int(keys["proto"][i]), f"ip-{int(keys['proto'][i])}"),
                    address_text(int(keys["a_hi"][i]), int(keys["a_lo"][i])),
                    int(keys["a_port"][i]),
                    address_text(int(keys["b_hi"][i]), int(keys["b_lo"][i])),
                    int(keys["b_port"][i]),
                    None if keys["vlan"][i] < 0 else int(keys["vlan"][i]),
                    iface_label(self.interfaces, iface, int(keys["ifindex"][i])),
                    frozenset(self.interfaces.get(iface).addresses),
                    int(p.first_ts[i]),
                    int(p.last_ts[i]),
                    (int(p.packets[i, 0]), int(p.packets[i, 1])),
                    (int(p.nbytes[i, 0]), int(p.nbytes[i, 1])),
                    (int(p.outbound[i, 0]), int(p.outbound[i, 1])),
                    initiator == 0,
                    bool(p.starts_syn[i]),
                    bool(p.closed[i]),
                    self.files[int(p.first_file[i])],
                    int(p.first_frame[i]),
                )
            )
        return out

    def _fragments(
        self,
        batch: FrameBatch,
        file_id: int,
        lres: link.LinkResult,
        frags: ipdec.Fragments,
        ident: np.ndarray,
    ) -> list[Reassembled]:
        if frags.idx.shape[0] == 0:
            return []
        self.fragments += int(frags.idx.shape[0])
        done = reassemble(self.reassembler, batch, file_id, lres, frags, ident)
        pending = self.reassembler.pending
        while len(pending) > MAX_FRAGMENTED:
            ref = pending.pop(next(iter(pending))).first
            if ref is not None:
                self.reassembler.lost.append((ref, "too many incomplete fragmented datagrams at once"))
        for ref, why in self.reassembler.lost:
            where = self.files[ref.file_id]
            self.problems.add(
                where, "incomplete-fragmented-datagram", why, offset=ref.rec_off, frame=ref.frame
            )
        self.reassembler.lost.clear()
        return done

    def _link_problems(self, batch: FrameBatch, lres: link.LinkResult, link_types: np.ndarray) -> None:
        for mask, code, detail in (
            (
                lres.truncated,
                "truncated-link-header",
                "frame shorter than its link-layer header; not counted",
            ),
            (lres.unknown_link, "unknown-link-type", "link type {lt} is not supported; not counted"),
        ):
            idx = np.flatnonzero(mask)
            if idx.shape[0]:
                first = int(idx[0])
                self.undecodable += int(idx.shape[0])
                self.problems.add(
                    batch.file,
                    code,
                    detail.format(lt=int(link_types[first])),
                    offset=int(batch.rec_off[first]),
                    frame=int(batch.frame[first]),
                    count=int(idx.shape[0]),
                )

    def _ip_problems(self, batch: FrameBatch, problems: dict[str, np.ndarray]) -> None:
        for code, idx in problems.items():
            first = int(idx.min())
            if code != "snaplen-cut-payload":
                self.undecodable += int(idx.shape[0])
            self.problems.add(
                batch.file,
                code,
                PROBLEM_TEXT.get(code, code),
                offset=int(batch.rec_off[first]),
                frame=int(batch.frame[first]),
                count=int(idx.shape[0]),
            )


def _no_app(batch: FrameBatch) -> np.ndarray:
    """The watch keeps no PCAPdroid app labels: every frame is "no app"."""
    return np.full(len(batch), -1, dtype=np.int64)
