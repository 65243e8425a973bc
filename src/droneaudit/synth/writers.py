"""Deterministic writers for classic pcap and pcapng files (optionally gzip-compressed).

Written from the file-format specifications (tcpdump.org pcap, IETF draft-ietf-opsawg-pcapng) with
the standard library, so the files that test the readers do not come from the same code the readers
trust. Every field a reader has to cope with can be chosen: byte order, micro/nanosecond and binary
timestamp resolution, snaplen truncation, several interfaces and sections, packet direction flags,
comments and interface statistics. The same inputs always give the same bytes (gzip ``mtime`` is 0).
"""

from __future__ import annotations

import gzip
import ipaddress
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "EPB_INBOUND",
    "EPB_OUTBOUND",
    "Frame",
    "IfaceSpec",
    "IfaceStats",
    "PcapngSection",
    "write_pcap",
    "write_pcapng",
]

#: epb_flags direction values (bits 0-1).
EPB_INBOUND = 1
EPB_OUTBOUND = 2

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_BLOCK_SHB = 0x0A0D0D0A
_BLOCK_IDB = 1
_BLOCK_ISB = 5
_BLOCK_EPB = 6
_BYTE_ORDER_MAGIC = 0x1A2B3C4D

#: Interface statistics for an ISB: (interface id, isb_ifrecv, isb_ifdrop); None leaves a counter out.
IfaceStats = tuple[int, int | None, int | None]
Target = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured packet as it goes into the file."""

    ts_ns: int  #: capture time, nanoseconds since the Unix epoch (UTC)
    data: bytes  #: the link-layer frame (cut to the snaplen on writing)
    orig_len: int | None = None  #: length on the wire; None = len(data)
    interface: int = 0  #: pcapng interface id (ignored by classic pcap)
    flags: int | None = None  #: pcapng epb_flags (direction in bits 0-1: 1 inbound, 2 outbound)
    comment: str | None = None  #: pcapng opt_comment


@dataclass(frozen=True, slots=True)
class IfaceSpec:
    """A pcapng Interface Description Block."""

    link_type: int  #: LINKTYPE_* number
    name: str | None = None  #: if_name
    tsresol_exp10: int = 6  #: timestamp units are 10**-tsresol_exp10 seconds
    tsresol_exp2: int | None = None  #: when set, units are 2**-tsresol_exp2 s (if_tsresol MSB set)
    write_tsresol: bool = True  #: False omits if_tsresol (only valid for the default microseconds)
    snaplen: int = 262144  #: 0 = no limit
    ipv4_addrs: Sequence[tuple[str, str]] = ()  #: if_IPv4addr: (address, netmask)
    ipv6_addrs: Sequence[tuple[str, int]] = ()  #: if_IPv6addr: (address, prefix length)
    description: str | None = None  #: if_description


@dataclass(frozen=True, slots=True)
class PcapngSection:
    """A further Section Header Block with its own interfaces, frames, statistics and byte order."""

    interfaces: Sequence[IfaceSpec]
    frames: Iterable[Frame]
    interface_stats: Sequence[IfaceStats] = ()
    big_endian: bool = False


def _emit(target: Target, chunks: Iterable[bytes]) -> None:
    """Write chunks to a file object, or to a path (gzip with mtime 0 when it ends in ``.gz``)."""
    if not isinstance(target, str | os.PathLike):
        for chunk in chunks:
            target.write(chunk)
        return
    path = Path(target)
    with path.open("wb") as raw:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
                for chunk in chunks:
                    zipped.write(chunk)
        else:
            for chunk in chunks:
                raw.write(chunk)


def _captured(frame: Frame, snaplen: int) -> tuple[bytes, int]:
    """The bytes kept in the file (cut to ``snaplen`` when it is positive) and the original length."""
    orig_len = len(frame.data) if frame.orig_len is None else frame.orig_len
    data = frame.data[:snaplen] if 0 < snaplen < len(frame.data) else frame.data
    return data, orig_len


# --- classic pcap --------------------------------------------------------------------------------------


def _pcap_chunks(
    frames: Iterable[Frame], link_type: int, nanosecond: bool, big_endian: bool, snaplen: int
) -> Iterator[bytes]:
    order = ">" if big_endian else "<"
    magic = _PCAP_MAGIC_NS if nanosecond else _PCAP_MAGIC_US
    yield struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link_type)
    divisor = 1 if nanosecond else 1000
    for frame in frames:
        data, orig_len = _captured(frame, snaplen)
        seconds, fraction = divmod(frame.ts_ns, 1_000_000_000)
        yield struct.pack(order + "IIII", seconds, fraction // divisor, len(data), orig_len) + data


def write_pcap(
    path_or_fileobj: Target,
    frames: Iterable[Frame],
    *,
    link_type: int,
    nanosecond: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
) -> None:
    """Write a classic pcap file (version 2.4, one link type, no interfaces or comments).

    Microsecond files truncate timestamps toward zero, as libpcap does. Frames longer than
    ``snaplen`` are cut to it while their original length is kept, like a ``tcpdump -s`` capture.
    """
    _emit(path_or_fileobj, _pcap_chunks(frames, link_type, nanosecond, big_endian, snaplen))


# --- pcapng --------------------------------------------------------------------------------------------


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _options(order: str, options: Sequence[tuple[int, bytes]]) -> bytes:
    """Option list, each value padded to 32 bits, ended by opt_endofopt; empty when there are none."""
    if not options:
        return b""
    body = b"".join(struct.pack(order + "HH", code, len(value)) + _pad4(value) for code, value in options)
    return body + struct.pack(order + "HH", 0, 0)


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


def _shb(order: str) -> bytes:
    options = _options(order, [(4, b"droneaudit.synth")])  # shb_userappl
    return _block(order, _BLOCK_SHB, struct.pack(order + "IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + options)


def _tsresol_byte(spec: IfaceSpec) -> int:
    return 0x80 | spec.tsresol_exp2 if spec.tsresol_exp2 is not None else spec.tsresol_exp10


def _idb(order: str, spec: IfaceSpec) -> bytes:
    options: list[tuple[int, bytes]] = []
    if spec.name is not None:
        options.append((2, spec.name.encode()))
    if spec.description is not None:
        options.append((3, spec.description.encode()))
    for addr, mask in spec.ipv4_addrs:
        options.append((4, ipaddress.IPv4Address(addr).packed + ipaddress.IPv4Address(mask).packed))
    for addr6, prefix in spec.ipv6_addrs:
        options.append((5, ipaddress.IPv6Address(addr6).packed + bytes([prefix])))
    if spec.write_tsresol:
        options.append((9, bytes([_tsresol_byte(spec)])))
    elif spec.tsresol_exp10 != 6 or spec.tsresol_exp2 is not None:
        raise ValueError("if_tsresol can only be left out for the default microsecond resolution")
    body = struct.pack(order + "HHI", spec.link_type, 0, spec.snaplen) + _options(order, options)
    return _block(order, _BLOCK_IDB, body)


def _ts_units(ts_ns: int, spec: IfaceSpec) -> int:
    """Nanoseconds → the interface's timestamp units (truncating), exact integer arithmetic."""
    if spec.tsresol_exp2 is not None:
        return ts_ns * (1 << spec.tsresol_exp2) // 1_000_000_000
    scale: int = 10 ** abs(9 - spec.tsresol_exp10)
    return ts_ns // scale if spec.tsresol_exp10 <= 9 else ts_ns * scale


def _epb(order: str, frame: Frame, spec: IfaceSpec) -> bytes:
    data, orig_len = _captured(frame, spec.snaplen)
    ts = _ts_units(frame.ts_ns, spec)
    options: list[tuple[int, bytes]] = []
    if frame.comment is not None:
        options.append((1, frame.comment.encode()))
    if frame.flags is not None:
        options.append((2, struct.pack(order + "I", frame.flags)))
    head = struct.pack(order + "IIIII", frame.interface, ts >> 32, ts & 0xFFFFFFFF, len(data), orig_len)
    return _block(order, _BLOCK_EPB, head + _pad4(data) + _options(order, options))


def _isb(order: str, stats: IfaceStats, ts: int) -> bytes:
    iface, received, dropped = stats
    options = [
        (code, struct.pack(order + "Q", value))
        for code, value in ((4, received), (5, dropped))
        if value is not None
    ]
    body = struct.pack(order + "III", iface, ts >> 32, ts & 0xFFFFFFFF) + _options(order, options)
    return _block(order, _BLOCK_ISB, body)


def _section_chunks(section: PcapngSection) -> Iterator[bytes]:
    """SHB, then every IDB, the frames as EPBs, and finally one ISB per statistics entry."""
    order = ">" if section.big_endian else "<"
    specs = list(section.interfaces)
    yield _shb(order)
    for spec in specs:
        yield _idb(order, spec)
    last_ts = [0] * len(specs)
    for frame in section.frames:
        if not 0 <= frame.interface < len(specs):
            raise ValueError(f"frame refers to interface {frame.interface}, the section has {len(specs)}")
        spec = specs[frame.interface]
        last_ts[frame.interface] = _ts_units(frame.ts_ns, spec)
        yield _epb(order, frame, spec)
    for stats in section.interface_stats:
        yield _isb(order, stats, last_ts[stats[0]] if stats[0] < len(specs) else 0)


def write_pcapng(
    path_or_fileobj: Target,
    interfaces: Sequence[IfaceSpec],
    frames: Iterable[Frame],
    *,
    big_endian: bool = False,
    interface_stats: Sequence[IfaceStats] = (),
    extra_sections: Sequence[PcapngSection] = (),
) -> None:
    """Write a pcapng file: one section (SHB, IDBs, EPBs, ISBs), then any ``extra_sections``.

    ISB timestamps are those of the last frame on that interface. Frames longer than their interface's
    snaplen are cut to it, keeping the original length.
    """
    first = PcapngSection(interfaces, frames, interface_stats, big_endian)
    _emit(
        path_or_fileobj, (chunk for section in (first, *extra_sections) for chunk in _section_chunks(section))
    )
