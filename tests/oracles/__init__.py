"""Independent oracles for the capture reader: Zeek's stored baselines and a live tshark run.

Nothing in this package imports droneaudit. Expectations must come from tools that were written by
other people, so a bug in our reader cannot leak into the answer key.

The shared vocabulary lives here: a direction-free flow key (Zeek's orig/resp may be our device/remote
or remote/device) and per-direction counts that can be read from either end.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

#: The repository root (tests/oracles/__init__.py is two levels below it).
REPO = Path(__file__).resolve().parents[2]
#: Where the read-only shared corpus lives when DRONEAUDIT_CORPUS is not set: beside the repository.
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"

#: IP protocol numbers by the names Zeek and droneaudit use in their ``proto`` columns.
PROTO_NUMBERS: dict[str, int] = {"icmp": 1, "tcp": 6, "udp": 17, "icmp6": 58}


def find_corpus() -> Path | None:
    """Return the corpus directory, or None when it is absent (tests then skip, never fail)."""
    configured = os.environ.get("DRONEAUDIT_CORPUS")
    path = Path(configured) if configured else DEFAULT_CORPUS
    return path if path.is_dir() else None


def corpus_hint() -> str:
    """The skip reason used everywhere, so a missing corpus reads the same in every report."""
    configured = os.environ.get("DRONEAUDIT_CORPUS")
    path = Path(configured) if configured else DEFAULT_CORPUS
    return f"shared corpus not found at {path}; set DRONEAUDIT_CORPUS"


def canonical_ip(text: str) -> str:
    """One spelling per address, because Zeek, tshark and Python each print IPv6 a little differently."""
    return str(ipaddress.ip_address(text.strip()))


def _sort_key(endpoint: Endpoint) -> tuple[int, int, int]:
    address = ipaddress.ip_address(endpoint.ip)
    return (address.version, int(address), endpoint.port)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a flow: address plus port (ICMP: type or code/counterpart type, as Zeek does)."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class FlowKey:
    """An unordered 5-tuple. ``a`` sorts before ``b``, so both directions of a flow share one key."""

    ip_proto: int
    a: Endpoint
    b: Endpoint

    @classmethod
    def of(
        cls, ip_proto: int, src_ip: str, src_port: int | None, dst_ip: str, dst_port: int | None
    ) -> FlowKey:
        """Build the key from one packet's (or one log row's) view; missing ports count as 0, like Zeek."""
        src = Endpoint(canonical_ip(src_ip), src_port or 0)
        dst = Endpoint(canonical_ip(dst_ip), dst_port or 0)
        first, second = sorted((src, dst), key=_sort_key)
        return cls(ip_proto, first, second)

    def is_a(self, ip: str, port: int | None) -> bool:
        """Whether (ip, port) is the ``a`` end; raises if it is neither end, which would be a key mix-up."""
        endpoint = Endpoint(canonical_ip(ip), port or 0)
        if endpoint == self.a:
            return True
        if endpoint == self.b:
            return False
        raise ValueError(f"{endpoint} is not an end of {self}")

    def __str__(self) -> str:
        return f"{proto_name(self.ip_proto)} {self.a} <-> {self.b}"


def proto_name(ip_proto: int) -> str:
    """droneaudit's names for the ``proto`` column: tcp, udp, icmp, icmp6, else ip-<number>."""
    for name, number in PROTO_NUMBERS.items():
        if number == ip_proto:
            return name
    return f"ip-{ip_proto}"


@dataclass(frozen=True, slots=True)
class Counts:
    """Packets and IP-layer bytes in each direction of a :class:`FlowKey` (a→b and b→a)."""

    packets_ab: int = 0
    bytes_ab: int = 0
    packets_ba: int = 0
    bytes_ba: int = 0

    @classmethod
    def one_way(cls, key: FlowKey, src_ip: str, src_port: int | None, packets: int, size: int) -> Counts:
        """Counts for traffic sent by (src_ip, src_port), placed on the right side of ``key``."""
        if key.is_a(src_ip, src_port):
            return cls(packets, size, 0, 0)
        return cls(0, 0, packets, size)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.packets_ab + other.packets_ab,
            self.bytes_ab + other.bytes_ab,
            self.packets_ba + other.packets_ba,
            self.bytes_ba + other.bytes_ba,
        )

    def seen_from(self, key: FlowKey, ip: str, port: int | None) -> tuple[int, int, int, int]:
        """(packets out, bytes out, packets in, bytes in) as seen from the (ip, port) end of ``key``."""
        if key.is_a(ip, port):
            return (self.packets_ab, self.bytes_ab, self.packets_ba, self.bytes_ba)
        return (self.packets_ba, self.bytes_ba, self.packets_ab, self.bytes_ab)


# --- pcapng-test-generator answer keys -------------------------------------------------------------

#: pcapng block types that carry one packet each (Enhanced, Simple and the obsolete Packet Block).
PACKET_BLOCKS = ("EPB", "SPB", "PB")


@dataclass(frozen=True, slots=True)
class GeneratorDescription:
    """The ``.txt`` file hadrielk/pcapng-test-generator wrote beside each ``.pcapng`` it generated.

    Format: ``Description:``/``Category:`` lines, a ``Block counts:`` section of tab-indented
    ``NAME: n`` lines, and ``Block sequence: SHB, IDB, EPB, ...``.
    """

    path: Path
    description: str
    block_counts: dict[str, int]
    block_sequence: tuple[str, ...]

    @property
    def packets(self) -> int:
        """Packet records in the file: custom, statistics and name-resolution blocks are not packets."""
        return sum(self.block_counts.get(name, 0) for name in PACKET_BLOCKS)

    @property
    def interfaces(self) -> int:
        """Interface Description Blocks, over all sections (a new SHB starts new interface ids)."""
        return self.block_counts.get("IDB", 0)


def read_generator_description(path: Path) -> GeneratorDescription:
    """Parse one generator ``.txt``; raises ValueError if the counts and the sequence disagree."""
    description = ""
    counts: dict[str, int] = {}
    sequence: tuple[str, ...] = ()
    in_counts = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Description:"):
            description = line.split(":", 1)[1].strip()
        elif line.startswith("Block counts:"):
            in_counts = True
        elif line.startswith("Block sequence:"):
            sequence = tuple(item.strip() for item in line.split(":", 1)[1].split(",") if item.strip())
            in_counts = False
        elif in_counts and line.startswith("\t") and ":" in line:
            name, number = line.strip().split(":", 1)
            counts[name.strip()] = int(number)
    tallied = {name: sequence.count(name) for name in set(sequence)}
    if tallied != counts:
        raise ValueError(f"{path}: block counts {counts} disagree with the block sequence {tallied}")
    return GeneratorDescription(path, description, counts, sequence)
