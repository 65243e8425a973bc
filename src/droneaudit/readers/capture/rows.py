"""Per-packet rows ready for flow grouping, and their canonical bidirectional key.

A row is one IP datagram with its frame reference. Rows are oriented canonically: side A is the smaller
(address, port), so both directions of a conversation share one key; ``dir`` says which way it went.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from droneaudit.readers.capture.batch import I64

KEY_DTYPE = np.dtype(
    [
        ("a_hi", ">u8"),
        ("a_lo", ">u8"),
        ("b_hi", ">u8"),
        ("b_lo", ">u8"),
        ("a_port", ">u2"),
        ("b_port", ">u2"),
        ("proto", ">u2"),
        ("vlan", ">i4"),
        ("ident", ">i4"),
        ("ifindex", ">i8"),
    ]
)


@dataclass
class Rows:
    file_id: I64
    frame: I64
    rec_off: I64
    ts: I64
    iface: I64
    ident: I64
    vlan: I64
    ifindex: I64
    direction: np.ndarray  # link-stated: 0 unknown, 1 inbound, 2 outbound
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    proto: I64
    sport: I64
    dport: I64
    flags: I64
    ip_bytes: I64
    app: I64  # PCAPdroid trailer app UID, -1 when the frame carries none

    @classmethod
    def concat(cls, parts: list[Rows]) -> Rows:
        names = tuple(cls.__dataclass_fields__)
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in names))

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass
class Oriented:
    """Rows in canonical orientation: A/B addresses and ports, and dir (0 = A→B, 1 = B→A)."""

    keys: np.ndarray  # structured KEY_DTYPE
    dir: I64


def orient(rows: Rows) -> Oriented:
    swap = (rows.src_hi > rows.dst_hi) | (
        (rows.src_hi == rows.dst_hi)
        & ((rows.src_lo > rows.dst_lo) | ((rows.src_lo == rows.dst_lo) & (rows.sport > rows.dport)))
    )
    keys = np.empty(len(rows), dtype=KEY_DTYPE)
    keys["a_hi"] = np.where(swap, rows.dst_hi, rows.src_hi)
    keys["a_lo"] = np.where(swap, rows.dst_lo, rows.src_lo)
    keys["b_hi"] = np.where(swap, rows.src_hi, rows.dst_hi)
    keys["b_lo"] = np.where(swap, rows.src_lo, rows.dst_lo)
    keys["a_port"] = np.where(swap, rows.dport, rows.sport)
    keys["b_port"] = np.where(swap, rows.sport, rows.dport)
    keys["proto"] = rows.proto
    keys["vlan"] = rows.vlan
    keys["ident"] = rows.ident
    keys["ifindex"] = rows.ifindex
    return Oriented(keys, swap.astype(np.int64))


def _load() -> Callable[[np.ndarray, int], bytearray] | None:
    try:
        from droneaudit.readers.capture._walk import group_ids as compiled
    except ImportError:  # pragma: no cover - depends on the build
        return None
    return compiled


_compiled = _load()


def group_ids(keys: np.ndarray) -> I64:
    """Dense group numbers for identical keys (hash-based, in order of first appearance). The compiled
    hash table (_walk.c) when built: faster, and it keeps the per-chunk grouping out of pyarrow's memory
    pool, which holds on to ~20 MB it no longer needs; else pyarrow's ``dictionary_encode``."""
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    width = keys.dtype.itemsize
    if _compiled is not None:
        flat = np.ascontiguousarray(keys).view(np.uint8)
        return np.frombuffer(_compiled(flat, width), dtype=np.int64)
    arr = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), keys.shape[0], [None, pa.py_buffer(keys.tobytes())]
    )
    encoded = pc.dictionary_encode(arr)
    return np.asarray(encoded.indices, dtype=np.int64)
