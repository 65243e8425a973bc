"""pcapng option lists: interface descriptions (name, timestamp resolution, own addresses), interface
statistics (drop counters) and the packet direction flag. Damaged option lists end early, silently: the
packets themselves are still good.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from droneaudit.model import Interface

#: if_tsoffset beyond +-2^32 s (136 years) is damage; it is ignored rather than overflow the clock.
MAX_TSOFFSET_S = 1 << 32


@dataclass(frozen=True)
class IfaceClock:
    """Turns raw timestamp ticks into nanoseconds (if_tsresol: 10^-k or 2^-k; if_tsoffset seconds)."""

    exponent: int = 6
    binary: bool = False
    offset_s: int = 0

    def to_ns(self, ticks: np.ndarray) -> np.ndarray:
        """Nanoseconds; a resolution finer than 10^-27 s turns every tick count into 0 (a damaged option
        must not overflow the int64 divisor)."""
        if self.binary:
            ns = (ticks.astype(np.float64) / float(2**self.exponent) * 1e9).astype(np.int64)
        elif self.exponent <= 9:
            ns = ticks * (10 ** (9 - self.exponent))
        elif self.exponent - 9 <= 18:
            ns = ticks // (10 ** (self.exponent - 9))
        else:
            ns = np.zeros_like(ticks)
        return ns + self.offset_s * 1_000_000_000


def iter_options(data: bytes, start: int, end: int, big: bool) -> Iterator[tuple[int, bytes]]:
    fmt = ">HH" if big else "<HH"
    pos = start
    while pos + 4 <= end:
        code, length = struct.unpack_from(fmt, data, pos)
        if code == 0:
            return
        value_end = pos + 4 + length
        if value_end > end:
            return
        yield code, data[pos + 4 : value_end]
        pos = value_end + (-length % 4)


def parse_idb(
    data: bytes, pos: int, blen: int, big: bool, file: str, local: int
) -> tuple[Interface, IfaceClock]:
    link_type = struct.unpack_from(">H" if big else "<H", data, pos + 8)[0]
    name, addrs = f"if{local}", []
    exponent, binary, offset = 6, False, 0
    for code, value in iter_options(data, pos + 16, pos + blen - 4, big):
        if code == 2 and value:
            name = value.split(b"\0", 1)[0].decode("utf-8", "replace") or name
        elif code == 4 and len(value) >= 8:
            addrs.append(str(ipaddress.IPv4Address(value[:4])))
        elif code == 5 and len(value) >= 17:
            addrs.append(str(ipaddress.IPv6Address(value[:16])))
        elif code == 9 and value:
            exponent, binary = value[0] & 0x7F, bool(value[0] & 0x80)
        elif code == 14 and len(value) >= 8:
            offset = struct.unpack_from(">q" if big else "<q", value)[0]
            offset = offset if abs(offset) <= MAX_TSOFFSET_S else 0  # else ns would overflow int64
    iface = Interface(file, local, link_type, name, tuple(addrs))
    return iface, IfaceClock(exponent, binary, offset)


def parse_isb(data: bytes, pos: int, blen: int, big: bool) -> tuple[int, int | None, int | None]:
    """Interface id, packets received, packets dropped (interface + OS) from a statistics block."""
    local = struct.unpack_from(">I" if big else "<I", data, pos + 8)[0]
    q = ">Q" if big else "<Q"
    received: int | None = None
    dropped: int | None = None
    for code, value in iter_options(data, pos + 20, pos + blen - 4, big):
        if len(value) < 8:
            continue
        if code == 4:
            received = struct.unpack_from(q, value)[0]
        elif code in (5, 7):
            dropped = (dropped or 0) + struct.unpack_from(q, value)[0]
    return local, received, dropped


def packet_flags(data: bytes, pos: int, blen: int, big: bool) -> int:
    """Direction from an EPB's epb_flags option: 0 unknown, 1 inbound, 2 outbound."""
    caplen = struct.unpack_from(">I" if big else "<I", data, pos + 20)[0]
    start = pos + 28 + caplen + (-caplen % 4)
    if start + 4 > pos + blen - 4:
        return 0
    for code, value in iter_options(data, start, pos + blen - 4, big):
        if code == 2 and len(value) >= 4:
            return int(struct.unpack_from(">I" if big else "<I", value)[0] & 3)
    return 0
