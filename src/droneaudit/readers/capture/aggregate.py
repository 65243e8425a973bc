"""Group oriented rows into flow segments and merge segments across chunks and files.

Session rules (Zeek-like, see model.SESSION_TIMEOUTS_S): the same key starts a new flow after an idle
gap longer than its protocol's timeout, or when a TCP SYN (without ACK) follows a FIN or RST.
Each chunk is reduced to segments ("partials"); at the end all partials are sorted by key and time
and merged with the same rules, so memory holds partials, never packets of more than one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from droneaudit.model import SESSION_TIMEOUTS_S
from droneaudit.readers.capture.batch import I64
from droneaudit.readers.capture.ip import ICMP, ICMP6, TCP, UDP
from droneaudit.readers.capture.rows import Oriented, Rows, group_ids

_SYN, _FIN, _RST, _ACK = 0x02, 0x01, 0x04, 0x10
_NS = 1_000_000_000


def timeouts_ns(proto: I64) -> I64:
    t = SESSION_TIMEOUTS_S
    table = np.full(256, int(t["other"] * _NS), dtype=np.int64)
    table[TCP], table[UDP] = int(t["tcp"] * _NS), int(t["udp"] * _NS)
    table[ICMP], table[ICMP6] = int(t["icmp"] * _NS), int(t["icmp6"] * _NS)
    out: I64 = table[proto & 0xFF]
    return out


@dataclass
class Partials:
    """Flow segments. Two-column arrays are indexed [:, 0] = A→B, [:, 1] = B→A."""

    keys: np.ndarray
    first_ts: I64
    last_ts: I64
    packets: np.ndarray
    nbytes: np.ndarray
    flags: np.ndarray
    outbound: np.ndarray
    inbound: np.ndarray
    first_file: I64
    first_frame: I64
    first_iface: I64
    first_dir: I64
    syn_dir: I64  # direction of the first SYN without ACK, -1 if none
    starts_syn: np.ndarray
    closed: np.ndarray
    app: I64  # PCAPdroid app UID seen in the segment (largest), -1 none

    @classmethod
    def concat(cls, parts: list[Partials]) -> Partials:
        names = tuple(cls.__dataclass_fields__)
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in names))

    def take(self, sel: np.ndarray) -> Partials:
        return Partials(*(getattr(self, f)[sel] for f in self.__dataclass_fields__))

    def __len__(self) -> int:
        return int(self.first_ts.shape[0])


def _prev(a: np.ndarray, fill: int) -> np.ndarray:
    out = np.empty_like(a)
    if a.shape[0]:
        out[0] = fill
        out[1:] = a[:-1]
    return out


def segment_rows(rows: Rows, ori: Oriented) -> Partials:
    """One chunk's rows into flow segments."""
    gid = group_ids(ori.keys)
    order = np.lexsort((rows.ts, gid))
    g, ts = gid[order], rows.ts[order]
    flags = rows.flags[order]
    is_tcp = rows.proto[order] == TCP
    syn_only = is_tcp & ((flags & (_SYN | _ACK)) == _SYN)
    finrst = is_tcp & ((flags & (_FIN | _RST)) != 0)
    new_group = g != _prev(g, -1)
    gap = (ts - _prev(ts, 0)) > timeouts_ns(rows.proto[order])
    boundary = new_group | gap | _syn_after_close(syn_only, finrst, new_group)
    starts = np.flatnonzero(boundary)
    d = ori.dir[order]
    both = np.stack([d == 0, d == 1], axis=1)

    def per_dir(values: np.ndarray, reducer: np.ufunc = np.add) -> np.ndarray:
        return np.stack([reducer.reduceat(np.where(both[:, k], values, 0), starts) for k in (0, 1)], axis=1)

    direction = rows.direction[order]
    pos = np.arange(g.shape[0])
    first_syn = np.minimum.reduceat(np.where(syn_only, pos, g.shape[0]), starts)
    return Partials(
        keys=ori.keys[order][starts],
        first_ts=ts[starts],
        last_ts=np.maximum.reduceat(ts, starts),
        packets=per_dir(np.ones(g.shape[0], dtype=np.int64)),
        nbytes=per_dir(rows.ip_bytes[order]),
        flags=per_dir(flags, np.bitwise_or),
        outbound=per_dir((direction == 2).astype(np.int64)),
        inbound=per_dir((direction == 1).astype(np.int64)),
        first_file=rows.file_id[order][starts],
        first_frame=rows.frame[order][starts],
        first_iface=rows.iface[order][starts],
        first_dir=d[starts],
        syn_dir=np.where(first_syn < g.shape[0], d[np.minimum(first_syn, g.shape[0] - 1)], -1),
        starts_syn=syn_only[starts],
        closed=np.logical_or.reduceat(finrst, starts),
        app=np.maximum.reduceat(rows.app[order], starts),
    )


def _syn_after_close(syn_only: np.ndarray, finrst: np.ndarray, new_group: np.ndarray) -> np.ndarray:
    """A SYN without ACK with a FIN or RST in its group since the previous such SYN (or group start)."""
    out = np.zeros(syn_only.shape[0], dtype=bool)
    syn_pos = np.flatnonzero(syn_only)
    if syn_pos.shape[0] == 0:
        return out
    cf_before = np.cumsum(finrst) - finrst
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(new_group.shape[0]), 0))
    prev_syn = _prev(syn_pos, -1)
    same_group = (prev_syn >= 0) & (prev_syn >= group_start[syn_pos])
    since = np.where(same_group, prev_syn, group_start[syn_pos])
    out[syn_pos] = (cf_before[syn_pos] - cf_before[since]) > 0
    return out


def merge(parts: Partials) -> Partials:
    """Join segments of one key that belong to one session (across chunks and rotated files)."""
    if len(parts) == 0:
        return parts
    gid = group_ids(parts.keys)
    order = np.lexsort((parts.first_frame, parts.first_file, parts.first_ts, gid))
    p = parts.take(order)
    g = gid[order]
    new_group = g != _prev(g, -1)
    prev_last = _prev(_running_max(p.last_ts, new_group), 0)
    gap = (p.first_ts - prev_last) > timeouts_ns(p.keys["proto"].astype(np.int64))
    reopened = p.starts_syn & _prev(p.closed, 0).astype(bool) & ~new_group
    starts = np.flatnonzero(new_group | gap | reopened)
    return _reduce(p, starts)


def _running_max(values: I64, new_group: np.ndarray) -> I64:
    """Max of values since the start of each group (so overlapping segments are judged fairly).

    Vectorised: each value is replaced by its global rank plus ``group * n``, so one cumulative max runs
    over all groups at once and never carries a value across a group boundary."""
    n = values.shape[0]
    if n == 0:
        return values.copy()
    order = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    group = np.cumsum(new_group.astype(np.int64)) - 1
    best = np.maximum.accumulate(group * n + rank) - group * n
    out: I64 = values[order][best]
    return out


def _reduce(p: Partials, starts: np.ndarray) -> Partials:
    n = len(p)
    pos = np.arange(n)
    first_syn = np.minimum.reduceat(np.where(p.syn_dir >= 0, pos, n), starts)
    return Partials(
        keys=p.keys[starts],
        first_ts=p.first_ts[starts],
        last_ts=np.maximum.reduceat(p.last_ts, starts),
        packets=np.add.reduceat(p.packets, starts, axis=0),
        nbytes=np.add.reduceat(p.nbytes, starts, axis=0),
        flags=np.bitwise_or.reduceat(p.flags, starts, axis=0),
        outbound=np.add.reduceat(p.outbound, starts, axis=0),
        inbound=np.add.reduceat(p.inbound, starts, axis=0),
        first_file=p.first_file[starts],
        first_frame=p.first_frame[starts],
        first_iface=p.first_iface[starts],
        first_dir=p.first_dir[starts],
        syn_dir=np.where(first_syn < n, p.syn_dir[np.minimum(first_syn, n - 1)], -1),
        starts_syn=p.starts_syn[starts],
        closed=np.logical_or.reduceat(p.closed, starts),
        app=np.maximum.reduceat(p.app, starts),
    )
