"""Vectorised fixed-offset reads from a uint8 buffer: the per-packet cost is a few array operations."""

from __future__ import annotations

import numpy as np

from droneaudit.readers.capture.batch import I64, U8


def u8(buf: U8, off: I64) -> I64:
    return buf[off].astype(np.int64)


def u16be(buf: U8, off: I64) -> I64:
    return (buf[off].astype(np.int64) << 8) | buf[off + 1]


def u16le(buf: U8, off: I64) -> I64:
    return (buf[off + 1].astype(np.int64) << 8) | buf[off]


def u32be(buf: U8, off: I64) -> I64:
    return (u16be(buf, off) << 16) | u16be(buf, off + 2)


def u32le(buf: U8, off: I64) -> I64:
    return (u16le(buf, off + 2) << 16) | u16le(buf, off)


def u16(buf: U8, off: I64, big_endian: bool) -> I64:
    return u16be(buf, off) if big_endian else u16le(buf, off)


def u32(buf: U8, off: I64, big_endian: bool) -> I64:
    return u32be(buf, off) if big_endian else u32le(buf, off)


def u64be(buf: U8, off: I64) -> np.ndarray:
    """Eight bytes as unsigned big-endian integers (for IPv6 address halves)."""
    idx = off[:, None] + np.arange(8, dtype=np.int64)
    out: np.ndarray = buf[idx].view(">u8").reshape(-1).astype(np.uint64)
    return out
