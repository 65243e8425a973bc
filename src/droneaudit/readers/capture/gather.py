"""Vectorised fixed-offset reads from a uint8 buffer: the per-packet cost is a few array operations.

Each read is one pass of the compiled ``_walk.gather`` when the extension is built (one loop over the
offsets, no temporaries), else the NumPy form below it (one fancy index per byte, shifts, ors). Both give
the same values; an offset NumPy would wrap or refuse is handed to the NumPy form, so even the errors
match (tests/readers/capture/test_walk.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from droneaudit.readers.capture.batch import I64, U8


def _load() -> Callable[[U8, I64, int, bool], bytearray] | None:
    try:
        from droneaudit.readers.capture._walk import gather
    except ImportError:  # pragma: no cover - depends on the build
        return None
    return gather


_compiled = _load()


def _fast(buf: U8, off: I64, width: int, big: bool) -> np.ndarray | None:
    """The compiled read, or None when it is not built or an offset needs NumPy's own rules."""
    if _compiled is None or not isinstance(off, np.ndarray) or off.dtype != np.int64:
        return None
    try:
        packed = _compiled(buf, np.ascontiguousarray(off), width, big)
    except IndexError:
        return None
    out: np.ndarray = np.frombuffer(packed, dtype=np.uint64 if width == 8 else np.int64).reshape(off.shape)
    return out


def u8(buf: U8, off: I64) -> I64:
    fast = _fast(buf, off, 1, True)
    return fast if fast is not None else buf[off].astype(np.int64)


def _u16be(buf: U8, off: I64) -> I64:
    return (buf[off].astype(np.int64) << 8) | buf[off + 1]


def _u16le(buf: U8, off: I64) -> I64:
    return (buf[off + 1].astype(np.int64) << 8) | buf[off]


def u16be(buf: U8, off: I64) -> I64:
    fast = _fast(buf, off, 2, True)
    return fast if fast is not None else _u16be(buf, off)


def u16le(buf: U8, off: I64) -> I64:
    fast = _fast(buf, off, 2, False)
    return fast if fast is not None else _u16le(buf, off)


def u32be(buf: U8, off: I64) -> I64:
    fast = _fast(buf, off, 4, True)
    return fast if fast is not None else (_u16be(buf, off) << 16) | _u16be(buf, off + 2)


def u32le(buf: U8, off: I64) -> I64:
    fast = _fast(buf, off, 4, False)
    return fast if fast is not None else (_u16le(buf, off + 2) << 16) | _u16le(buf, off)


def u16(buf: U8, off: I64, big_endian: bool) -> I64:
    return u16be(buf, off) if big_endian else u16le(buf, off)


def u32(buf: U8, off: I64, big_endian: bool) -> I64:
    return u32be(buf, off) if big_endian else u32le(buf, off)


def u64be(buf: U8, off: I64) -> np.ndarray:
    """Eight bytes as unsigned big-endian integers (for IPv6 address halves)."""
    fast = _fast(buf, off, 8, True)
    if fast is not None:
        return fast
    idx = off[:, None] + np.arange(8, dtype=np.int64)
    out: np.ndarray = buf[idx].view(">u8").reshape(-1).astype(np.uint64)
    return out
