"""Half-streams built from bytes a test writes: one chunk per "frame", frame numbers chosen by the test."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from droneaudit.content.stream import Chunk, HalfStream
from oracles.tshark import run_tshark


def half(
    parts: Sequence[bytes], frames: Sequence[int] | None = None, *, file: str = "test.pcap"
) -> HalfStream:
    """A HalfStream whose i-th part came in frame ``frames[i]`` (default 1, 2, 3…)."""
    numbers = list(frames) if frames is not None else list(range(1, len(parts) + 1))
    data, chunks = b"", []
    for part, frame in zip(parts, numbers, strict=True):
        chunks.append(Chunk(len(data), frame, frame * 1_000_000))
        data += part
    return HalfStream(file, data, chunks)


def alternate(sent: Sequence[bytes], received: Sequence[bytes]) -> tuple[HalfStream, HalfStream]:
    """Client parts in odd frames (1, 3, 5…), server parts in even frames (2, 4, 6…)."""
    return half(sent, [1 + 2 * i for i in range(len(sent))]), half(
        received, [2 + 2 * i for i in range(len(received))]
    )


def follow(pcap: Path, stream: int) -> tuple[HalfStream, HalfStream]:
    """tshark's own reassembly of one TCP stream (``follow,tcp,raw``) as two half-streams; each
    segment's frame comes from tshark's list of payload frames of that direction, in order."""
    text = run_tshark(["-r", str(pcap), "-q", "-z", f"follow,tcp,raw,{stream}"]).stdout
    client_port = int(re.search(r"Node 0: .*:(\d+)", text)[1])  # type: ignore[index]
    segments: dict[bool, list[bytes]] = {True: [], False: []}
    body = text.split("Node 1:", 1)[1].split("\n", 1)[1].split("\n===", 1)[0]
    for line in body.splitlines():
        if re.fullmatch(r"\t?[0-9a-f]+", line):
            segments[not line.startswith("\t")].append(bytes.fromhex(line.strip()))
    rows = run_tshark(
        [
            "-r",
            str(pcap),
            "-Y",
            f"tcp.stream=={stream} && tcp.len>0",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "tcp.srcport",
        ]
    ).stdout.split()
    frames: dict[bool, list[int]] = {True: [], False: []}
    for number, port in zip(rows[::2], rows[1::2], strict=True):
        frames[int(port) == client_port].append(int(number))
    halves = []
    for side in (True, False):
        numbers = frames[side] if len(frames[side]) == len(segments[side]) else None
        halves.append(half(segments[side], numbers, file=pcap.name))
    if re.match(rb"[A-Z]+ \S+ HTTP/", halves[1].data):  # node 0 answered the SYN: node 1 is the client
        halves.reverse()
    return halves[0], halves[1]
