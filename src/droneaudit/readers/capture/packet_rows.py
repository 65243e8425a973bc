"""Rows for flow grouping, built from a batch's decoded packets or from reassembled datagrams, and the
frame reference a fragment carries. Shared by the scan's flow builder and ``droneaudit watch``.
"""

from __future__ import annotations

import numpy as np

from droneaudit.readers.capture import ip as ipdec
from droneaudit.readers.capture import link
from droneaudit.readers.capture.batch import FrameBatch
from droneaudit.readers.capture.fragments import FrameRef, Reassembled, Reassembler
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.rows import Rows


def frame_ref(batch: FrameBatch, file_id: int, lres: link.LinkResult, i: int) -> FrameRef:
    return FrameRef(
        file_id,
        int(batch.frame[i]),
        int(batch.ts_ns[i]),
        int(batch.iface[i]),
        int(lres.vlan[i]),
        int(lres.ifindex[i]),
        int(lres.direction[i]),
        int(batch.rec_off[i]),
    )


def rows_from_packets(
    batch: FrameBatch,
    file_id: int,
    lres: link.LinkResult,
    pk: ipdec.Packets,
    identity: np.ndarray,
    app: np.ndarray,
) -> Rows:
    i = pk.idx
    return Rows(
        file_id=np.full(i.shape[0], file_id, dtype=np.int64),
        frame=batch.frame[i],
        rec_off=batch.rec_off[i],
        ts=batch.ts_ns[i],
        iface=batch.iface[i],
        ident=identity[i],
        vlan=lres.vlan[i],
        ifindex=lres.ifindex[i],
        direction=lres.direction[i],
        src_hi=pk.src_hi,
        src_lo=pk.src_lo,
        dst_hi=pk.dst_hi,
        dst_lo=pk.dst_lo,
        proto=pk.proto,
        sport=pk.sport,
        dport=pk.dport,
        flags=pk.flags,
        ip_bytes=pk.ip_bytes,
        app=app[i],
    )


def rows_from_reassembled(items: list[Reassembled], interfaces: InterfaceRegistry) -> Rows:
    def col(values: list[int], dtype: type = np.int64) -> np.ndarray:
        return np.asarray(values, dtype=dtype)

    refs = [r.ref for r in items]
    return Rows(
        file_id=col([r.file_id for r in refs]),
        frame=col([r.frame for r in refs]),
        rec_off=col([r.rec_off for r in refs]),
        ts=col([r.ts_ns for r in refs]),
        iface=col([r.iface for r in refs]),
        ident=col([interfaces.identity(r.iface) for r in refs]),
        vlan=col([r.vlan for r in refs]),
        ifindex=col([r.ifindex for r in refs]),
        direction=col([r.direction for r in refs], np.int8),
        src_hi=col([r.src[0] for r in items], np.uint64),
        src_lo=col([r.src[1] for r in items], np.uint64),
        dst_hi=col([r.dst[0] for r in items], np.uint64),
        dst_lo=col([r.dst[1] for r in items], np.uint64),
        proto=col([r.proto for r in items]),
        sport=col([r.sport for r in items]),
        dport=col([r.dport for r in items]),
        flags=col([r.flags for r in items]),
        ip_bytes=col([r.ip_bytes for r in items]),
        app=np.full(len(items), -1, dtype=np.int64),
    )


def reassemble(
    reasm: Reassembler,
    batch: FrameBatch,
    file_id: int,
    lres: link.LinkResult,
    frags: ipdec.Fragments,
    identity: np.ndarray,
) -> list[Reassembled]:
    """Feed one batch's fragments to ``reasm`` in frame order; return the datagrams they complete."""
    order = np.argsort(frags.idx, kind="stable")
    frags = ipdec.Fragments(*(getattr(frags, f)[order] for f in ipdec.Fragments.__dataclass_fields__))
    refs = [frame_ref(batch, file_id, lres, int(i)) for i in frags.idx]
    return reasm.add(frags, batch.buf, refs, [int(identity[i]) for i in frags.idx])
