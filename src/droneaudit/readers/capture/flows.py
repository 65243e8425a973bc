"""The flow builder: frame batches in, one bidirectional flow table out.

Per batch: link layer → IP → rows → segments (all vectorised); fragments go through the reassembler.
At the end: segments are merged across chunks and files, each flow gets its device side, and duplicate
sightings of one connection on several interfaces are folded (see table.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from droneaudit.model import CaptureStats, Identity, TrackPoint
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.capture import ip as ipdec
from droneaudit.readers.capture import link
from droneaudit.readers.capture.absorb import Renumber, absorb_fragments, absorb_payloads
from droneaudit.readers.capture.aggregate import Partials, merge, segment_rows
from droneaudit.readers.capture.batch import FrameBatch, release_freed_memory
from droneaudit.readers.capture.content_tap import ContentTap
from droneaudit.readers.capture.device import IPNet
from droneaudit.readers.capture.fragments import Reassembled, Reassembler
from droneaudit.readers.capture.gather import u32be
from droneaudit.readers.capture.interfaces import InterfaceRegistry, link_type_name
from droneaudit.readers.capture.packet_rows import reassemble, rows_from_packets, rows_from_reassembled
from droneaudit.readers.capture.payloads import PayloadCollector
from droneaudit.readers.capture.rows import Rows, orient
from droneaudit.readers.capture.table import build_table
from droneaudit.readers.protocols import remoteid

#: PCAPdroid's "PCAPdroid trailer" option (its tools/pcapdroid.lua dissector documents the layout).
PCAPDROID_MAGIC = 0x01072021
PCAPDROID_TRAILER = 28

#: Segment rows held before they are merged (see FlowBuilder._compact). Each row is ~200 bytes and a
#: merge briefly needs ~3 copies: 50,000 keeps that under 30 MB while merges stay rare.
COMPACT_ROWS = 50_000

#: Link types that can carry Remote ID: 802.11 (plain, radiotap) and Bluetooth LE sniffer formats.
REMOTE_ID_LINK_TYPES = (105, 127, 251, 256, 272)

PROBLEM_TEXT = {
    "truncated-ip-header": "frame too short for its IP header; not counted",
    "bad-ip-length": "IP header length or total length is impossible; not counted",
    "truncated-ipv6-extension-header": "IPv6 extension headers run past the captured bytes; not counted",
    "truncated-transport-header": "frame cut before the TCP/UDP ports or ICMP type; not counted",
    "snaplen-cut-payload": "payload cut by the capture's snaplen; counted at its IP length",
}


@dataclass
class FlowBuilder:
    interfaces: InterfaceRegistry
    problems: ProblemLog
    files: list[str] = field(default_factory=list)
    _partials: list[Partials] = field(default_factory=list)
    _reasm: Reassembler = field(default_factory=Reassembler)
    _counts: dict[str, int] = field(default_factory=dict)
    payloads: PayloadCollector = field(init=False)
    app_names: dict[int, str] = field(default_factory=dict)
    remote_id_tracks: list[TrackPoint] = field(default_factory=list)
    remote_id_identities: dict[Identity, None] = field(default_factory=dict)
    _by_link: dict[str, int] = field(default_factory=dict)
    #: Whole TCP payloads for the content audit; None (the default) keeps the scan lean.
    content: ContentTap | None = None

    def __post_init__(self) -> None:
        self.payloads = PayloadCollector(self.interfaces)

    def file_id(self, display: str) -> int:
        self.files.append(display)
        return len(self.files) - 1

    def add_batch(self, batch: FrameBatch, file_id: int) -> None:
        n = len(batch)
        if n == 0:
            return
        self._count("frames", n)
        link_types = np.asarray(
            [self.interfaces.get(int(i)).link_type for i in range(len(self.interfaces.all()))], dtype=np.int64
        )[batch.iface]
        self._link_stats(link_types)
        lres = link.decode(batch, link_types)
        self._unknown_links(batch, lres, link_types)
        ipres = ipdec.decode(batch, lres.l3)
        self._ip_problems(batch, ipres.problems)
        identity = self._identities(batch.iface)
        app = self._apps(batch, link_types)
        packet_rows = rows_from_packets(batch, file_id, lres, ipres.packets, identity, app)
        packet_ori = orient(packet_rows)
        self.payloads.collect(batch, lres, ipres.packets, packet_ori)
        if self.content is not None:
            self.content.collect(batch, lres, ipres.packets)
        rows = [packet_rows]
        reassembled = self._fragments(batch, file_id, lres, ipres.fragments, identity)
        self.payloads.reassembled_dns(reassembled, self.files)
        if reassembled:
            rows.append(rows_from_reassembled(reassembled, self.interfaces))
        all_rows = Rows.concat(rows) if len(rows) > 1 else packet_rows
        self._count("ip_packets", len(all_rows))
        non_ip = (lres.l3 < 0) & ~lres.unknown_link & ~lres.truncated
        self._count("non_ip", int(non_ip.sum()))
        self._remote_id(batch, link_types, non_ip)
        if len(all_rows):
            ori = packet_ori if all_rows is packet_rows else orient(all_rows)
            self._partials.append(segment_rows(all_rows, ori))
            self._compact()

    def absorb(self, other: FlowBuilder) -> None:
        """Take over what another builder gathered from the next capture file(s), as if this builder
        had read them itself (the Dask engine's merge; see absorb.py)."""
        ren = Renumber(self, other)
        self._partials.extend(ren.partials(p) for p in other._partials)
        absorb_payloads(self.payloads, other.payloads, ren)
        done = absorb_fragments(self._reasm, other._reasm, ren)
        if done:
            self.payloads.reassembled_dns(done, self.files)
            rows = rows_from_reassembled(done, self.interfaces)
            self._partials.append(segment_rows(rows, orient(rows)))
            self._count("ip_packets", len(done))
        self._compact()
        for key, n in other._counts.items():
            self._count(key, n)
        for name, n in other._by_link.items():
            self._by_link[name] = self._by_link.get(name, 0) + n
        for uid, app in other.app_names.items():
            self.app_names.setdefault(uid, app)
        self.remote_id_tracks.extend(other.remote_id_tracks)
        self.remote_id_identities.update(other.remote_id_identities)

    def _compact(self) -> None:
        """Merge the segments gathered so far once they pile up: every chunk adds one segment per active
        flow, so a long capture with many flows would otherwise hold chunks x flows rows. Merging is the
        same operation as at the end, so the result does not change; memory stays near one row per flow."""
        pending = sum(len(p) for p in self._partials)
        if pending > COMPACT_ROWS and len(self._partials) > 1:
            self._partials = [merge(Partials.concat(self._partials))]

    def _count(self, key: str, n: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + n

    def _apps(self, batch: FrameBatch, link_types: np.ndarray) -> np.ndarray:
        """PCAPdroid's per-packet trailer (Ethernet frames): magic, app UID and a 16-byte app name, then
        a 4-byte FCS. Names are kept per UID for the flow table's ``app`` column."""
        uid = np.full(len(batch), -1, dtype=np.int64)
        at = batch.data_off + batch.caplen - PCAPDROID_TRAILER
        ok = (link_types == 1) & (batch.caplen >= 14 + PCAPDROID_TRAILER)
        ok &= u32be(batch.buf, np.where(ok, at, 0)) == PCAPDROID_MAGIC
        if not ok.any():
            return uid
        uid[ok] = u32be(batch.buf, at[ok] + 4)
        for i in np.flatnonzero(ok)[np.unique(uid[ok], return_index=True)[1]]:
            start = int(at[i]) + 8
            name = bytes(batch.buf[start : start + 16]).split(b"\0", 1)[0].decode("utf-8", "replace")
            self.app_names.setdefault(int(uid[i]), name)
        return uid

    def _remote_id(self, batch: FrameBatch, link_types: np.ndarray, non_ip: np.ndarray) -> None:
        """Remote ID broadcasts (ASTM F3411) in Wi-Fi management frames and Bluetooth advertising: what
        the aircraft tells anyone nearby. A cheap per-frame test first; decoding only on a hit."""
        for i in np.flatnonzero(non_ip & np.isin(link_types, REMOTE_ID_LINK_TYPES)):
            lt, start = int(link_types[i]), int(batch.data_off[i])
            frame = bytes(batch.buf[start : start + int(batch.caplen[i])])
            if not remoteid.frames_of_interest(lt, frame):
                continue
            messages = remoteid.decode(lt, frame)
            if messages:
                tracks, idents = remoteid.to_records(
                    messages, batch.file, int(batch.frame[i]), int(batch.ts_ns[i])
                )
                self.remote_id_tracks.extend(tracks)
                self.remote_id_identities.update(dict.fromkeys(idents))

    def _link_stats(self, link_types: np.ndarray) -> None:
        values, counts = np.unique(link_types, return_counts=True)
        for lt, c in zip(values.tolist(), counts.tolist(), strict=True):
            name = link_type_name(int(lt))
            self._by_link[name] = self._by_link.get(name, 0) + int(c)

    def _identities(self, iface: np.ndarray) -> np.ndarray:
        table = np.asarray(
            [self.interfaces.identity(i) for i in range(len(self.interfaces.all()))], dtype=np.int64
        )
        out: np.ndarray = table[iface]
        return out

    def _unknown_links(self, batch: FrameBatch, lres: link.LinkResult, link_types: np.ndarray) -> None:
        short = np.flatnonzero(lres.truncated)
        if short.shape[0]:
            first = int(short[0])
            self._count("undecodable", int(short.shape[0]))
            self.problems.add(
                batch.file,
                "truncated-link-header",
                "frame shorter than its link-layer header; not counted",
                offset=int(batch.rec_off[first]),
                frame=int(batch.frame[first]),
                count=int(short.shape[0]),
            )
        idx = np.flatnonzero(lres.unknown_link)
        if idx.shape[0]:
            first = int(idx[0])
            self._count("undecodable", int(idx.shape[0]))
            self.problems.add(
                batch.file,
                "unknown-link-type",
                f"link type {int(link_types[first])} is not supported; its frames are not counted",
                offset=int(batch.rec_off[first]),
                frame=int(batch.frame[first]),
                count=int(idx.shape[0]),
            )

    def _ip_problems(self, batch: FrameBatch, problems: dict[str, np.ndarray]) -> None:
        for code, idx in problems.items():
            first = int(idx.min())
            if code != "snaplen-cut-payload":
                self._count("undecodable", int(idx.shape[0]))
            self.problems.add(
                batch.file,
                code,
                PROBLEM_TEXT[code],
                offset=int(batch.rec_off[first]),
                frame=int(batch.frame[first]),
                count=int(idx.shape[0]),
            )

    def _fragments(
        self,
        batch: FrameBatch,
        file_id: int,
        lres: link.LinkResult,
        frags: ipdec.Fragments,
        identity: np.ndarray,
    ) -> list[Reassembled]:
        if frags.idx.shape[0] == 0:
            return []
        self._count("fragments", int(frags.idx.shape[0]))
        return reassemble(self._reasm, batch, file_id, lres, frags, identity)

    def finish(self, devices: Sequence[IPNet]) -> tuple[pa.Table, CaptureStats]:
        self.payloads.finish()
        leftovers = self._reasm.flush()
        for ref, why in self._reasm.lost:
            self.problems.add(
                self.files[ref.file_id],
                "incomplete-fragmented-datagram",
                why,
                offset=ref.rec_off,
                frame=ref.frame,
            )
        self.payloads.reassembled_dns(leftovers, self.files)
        if leftovers:
            rows = rows_from_reassembled(leftovers, self.interfaces)
            self._partials.append(segment_rows(rows, orient(rows)))
        merged = merge(Partials.concat(self._partials)) if self._partials else None
        table = build_table(merged, self.files, self.interfaces, devices, self.problems, self.app_names)
        del merged
        release_freed_memory()  # the merge's and the table's temporaries: see batch.release_freed_memory
        return table, self._stats()

    def _stats(self) -> CaptureStats:
        c = self._counts
        dropped = sum(i.dropped or 0 for i in self.interfaces.all())
        return CaptureStats(
            frames=c.get("frames", 0),
            ip_packets=c.get("ip_packets", 0),
            non_ip_frames=c.get("non_ip", 0),
            undecodable_frames=c.get("undecodable", 0),
            fragments=c.get("fragments", 0),
            dropped_by_capture=dropped,
            extra=dict(self._by_link),
        )
