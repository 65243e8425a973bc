"""Finding classic pcap records in a chunk: the compiled walk (``_walk.c``) and its pure-Python twin.

Why two: record boundaries are a sequential scan (each record's position depends on the previous one's
captured length), ~0.7 µs per record in Python — more than all the vectorised work after it. The C
walk takes ~115 ns (memory latency) and gathers the header words in the same pass. The Python walk is the
reference: it runs when the extension was not built (no compiler at install time), and the tests run
both on the same inputs and require identical results.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

from droneaudit.readers.capture import gather
from droneaudit.readers.capture.batch import I64, U8


def _load() -> Callable[..., tuple[bytes, int, int]] | None:
    try:
        from droneaudit.readers.capture._walk import pcap_records
    except ImportError:  # pragma: no cover - depends on the build
        return None
    return pcap_records


_compiled = _load()

#: Columns of a record table: offset in the buffer, seconds, fraction, captured and wire length.
FIELDS = 5
COMPILED = _compiled is not None


def records(buf: U8, size: int, rec_hdr: int, big: bool, limit: int) -> tuple[I64, int, bool]:
    """Whole records in ``buf[:size]``: an (n, 5) int64 table, where the walk stopped (the first
    incomplete record, or the one that claims more than ``limit`` bytes), and whether one lied."""
    if _compiled is not None:
        return records_compiled(buf, size, rec_hdr, big, limit)
    return records_python(buf, size, rec_hdr, big, limit)


def records_compiled(buf: U8, size: int, rec_hdr: int, big: bool, limit: int) -> tuple[I64, int, bool]:
    assert _compiled is not None
    packed, stop, bad = _compiled(buf, 0, size, rec_hdr, big, limit)
    table: I64 = np.frombuffer(packed, dtype=np.int64).reshape(-1, FIELDS)
    return table, stop, bool(bad)


def records_python(buf: U8, size: int, rec_hdr: int, big: bool, limit: int) -> tuple[I64, int, bool]:
    unpack = struct.Struct(">I" if big else "<I").unpack_from
    data = buf.data
    pos = 0
    offsets: list[int] = []
    append = offsets.append
    bad = False
    while pos + rec_hdr <= size:
        incl = unpack(data, pos + 8)[0]
        if incl > limit:
            bad = True
            break
        end = pos + rec_hdr + incl
        if end > size:
            break
        append(pos)
        pos = end
    off = np.asarray(offsets, dtype=np.int64)
    fields = [gather.u32(buf, off + k, big) for k in (0, 4, 8, 12)]
    return np.stack([off, *fields], axis=1).reshape(-1, FIELDS), pos, bad
