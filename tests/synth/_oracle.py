"""Independent checks for the synthetic captures: a tshark runner and a tiny pcapng block parser.

tshark (Wireshark's dissectors) is the oracle wherever it can show a field; the parser below only
covers what tshark does not print (if_IPv4addr / if_IPv6addr values, ISB counters). It is written
from the pcapng draft separately from ``droneaudit.synth.writers`` and shares no code with it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar, cast

import pytest

TSHARK = shutil.which("tshark")
F = TypeVar("F", bound=Callable[..., object])

_CHECKSUM_PREFS = ("ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE")


def needs_tshark(func: F) -> F:
    """Mark a test as using tshark and skip it, saying why, where tshark is not installed."""
    skip = pytest.mark.skipif(
        TSHARK is None, reason="tshark not installed; it is the independent oracle here"
    )
    return cast(F, pytest.mark.tshark(skip(func)))


def tshark(path: Path, *args: str) -> str:
    """Run tshark on ``path`` with no name resolution, UTC, checksum validation on; return stdout."""
    assert TSHARK is not None
    prefs = [arg for pref in _CHECKSUM_PREFS for arg in ("-o", pref)]
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), *prefs, *args],
        env={**os.environ, "TZ": "UTC"},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def fields(
    path: Path, names: Sequence[str], *, two_pass: bool = False, display_filter: str = ""
) -> list[dict[str, str]]:
    """One dict per frame (or per frame matching ``display_filter``), field name → tshark's text."""
    args = ["-T", "fields", "-E", "separator=\t", "-E", "aggregator=,", "-E", "occurrence=a"]
    args += [arg for name in names for arg in ("-e", name)]
    if two_pass:
        args.insert(0, "-2")
    if display_filter:
        args += ["-Y", display_filter]
    return [dict(zip(names, line.split("\t"), strict=True)) for line in tshark(path, *args).splitlines()]


def pcapng_blocks(data: bytes) -> list[tuple[int, str, bytes]]:
    """(block type, byte order, body) for every block; checks both length fields agree."""
    blocks: list[tuple[int, str, bytes]] = []
    order, pos = "<", 0
    while pos < len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            order = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        block_type, length = struct.unpack(order + "II", data[pos : pos + 8])
        assert length % 4 == 0, f"block at {pos} not 32-bit aligned"
        assert struct.unpack(order + "I", data[pos + length - 4 : pos + length])[0] == length
        blocks.append((block_type, order, data[pos + 8 : pos + length - 4]))
        pos += length
    return blocks


def pcapng_options(order: str, raw: bytes) -> list[tuple[int, bytes]]:
    """Options up to opt_endofopt, which must be present; values without their padding."""
    options: list[tuple[int, bytes]] = []
    while True:
        code, length = struct.unpack(order + "HH", raw[:4])
        if code == 0:
            assert length == 0
            return options
        options.append((code, raw[4 : 4 + length]))
        raw = raw[4 + length + (-length % 4) :]
