"""The bounded tables behind ``droneaudit watch``.

Everything a long watch keeps is in one of these, each with a cap (``Caps``); nothing grows with the
number of packets:

* ``flows``      live connections (per 5-tuple, VLAN, interface): folded into their endpoint when idle
                 for the protocol's session timeout (10 s after a FIN/RST), or least recently active
                 first when over the cap;
* ``endpoints``  per remote, by name when known else by address, like the scan's endpoints: the
                 least recently active are folded into one overflow record when over the cap (with
                 their live flows);
* ``names``      (client, address) → the last two DNS answers naming it, least recently used dropped;
* ``queries``    names looked up and not (yet) contacted, for the lookup-without-connection finding;
* ``notable``    flows that looked like uploads when folded (for the upload-heavy finding).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from droneaudit.enrich.catalog import CatalogEntry
from droneaudit.enrich.ipdata import IpInfo
from droneaudit.readers.capture.device import IPNet, scope_rank
from droneaudit.watch_decode import Segment

#: (proto, device_ip, device_port, remote_ip, remote_port, vlan, interface)
FlowKey = tuple[str, str, int, str, int, int | None, str]
#: ("host", name) or ("ip", address)
EndpointKey = tuple[str, str]

K = TypeVar("K")
V = TypeVar("V")

MAX_IPS = 16
MAX_EVIDENCE = 20
CLOSED_LINGER_NS = 10_000_000_000


@dataclass(frozen=True)
class Event:
    """Something a watch reports as it happens (see watch.py for the kinds)."""

    kind: str  #: input | endpoint | name | problem | verdict
    ts_ns: int | None  #: packet time the event is about (None: not tied to a packet)
    data: dict[str, Any]


@dataclass(frozen=True)
class Caps:
    """Upper bounds on what a watch holds (entries per table)."""

    flows: int = 16_384
    endpoints: int = 4_096
    names: int = 16_384
    queries: int = 1_024
    notable: int = 1_024
    learned: int = 1_024
    ipinfo: int = 16_384


@dataclass
class FlowState:
    key: FlowKey
    endpoint: EndpointKey
    first_ts: int
    last_ts: int
    file: str
    first_frame: int
    host: str | None = None
    host_source: str | None = None
    packets_up: int = 0
    packets_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    closed: bool = False
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def timeout_ns(self, timeouts_s: dict[str, float]) -> int:
        if self.closed:
            return CLOSED_LINGER_NS
        return int(timeouts_s.get(self.key[0], timeouts_s["other"]) * 1e9)


@dataclass
class EndpointState:
    key: EndpointKey
    device_ip: str
    proto: str
    remote_port: int
    infos: dict[str, IpInfo] = field(default_factory=dict)
    ip_bytes: dict[str, int] = field(default_factory=dict)
    entry: CatalogEntry | None = None
    flows: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    packets_up: int = 0
    packets_down: int = 0
    first_seen: int = 0
    last_seen: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)
    live: set[FlowKey] = field(default_factory=set)
    announced: bool = False
    reported_name: str | None = None  #: the name an update line gave this address endpoint
    again: bool = False  #: recreated after being folded under the cap
    leak: bool | None = None  #: cached judgement (in scope, not allowed); None = not judged yet

    @property
    def host(self) -> str | None:
        return self.key[1] if self.key[0] == "host" else None

    @property
    def local(self) -> bool:
        return all(i.local for i in self.infos.values())

    @property
    def main_ip(self) -> str:
        return max(sorted(self.ip_bytes), key=lambda ip: self.ip_bytes[ip])

    def add_ip(self, ip: str, info: IpInfo) -> None:
        if ip not in self.infos and len(self.infos) < MAX_IPS:
            self.infos[ip] = info
            self.ip_bytes[ip] = 0
            self.leak = None

    def add(self, flow: FlowState, sign: int, up: tuple[int, int], down: tuple[int, int]) -> None:
        """Add (sign 1) or take away (sign -1) packets and bytes: ``up``/``down`` = (packets, bytes)."""
        self.packets_up += sign * up[0]
        self.bytes_up += sign * up[1]
        self.packets_down += sign * down[0]
        self.bytes_down += sign * down[1]
        ip = flow.key[3]
        if ip in self.ip_bytes:
            self.ip_bytes[ip] += sign * (up[1] + down[1])

    def note(self, *evidence: dict[str, Any]) -> None:
        for ev in evidence:
            if len(self.evidence) < MAX_EVIDENCE and ev not in self.evidence:
                self.evidence.append(dict(ev))


@dataclass
class Folded:
    """What the endpoint cap folded away: counted, and kept in the verdict when it was egress."""

    endpoints: int = 0
    flows: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    packets_up: int = 0
    packets_down: int = 0
    leaks: int = 0
    leak_bytes_up: int = 0
    leak_bytes_down: int = 0
    first_leak: dict[str, Any] | None = None  #: evidence of the first folded egress

    def take(self, ep: EndpointState, leak: bool) -> None:
        self.endpoints += 1
        self.flows += ep.flows
        self.bytes_up += ep.bytes_up
        self.bytes_down += ep.bytes_down
        self.packets_up += ep.packets_up
        self.packets_down += ep.packets_down
        if leak:
            self.leaks += 1
            self.leak_bytes_up += ep.bytes_up
            self.leak_bytes_down += ep.bytes_down
            if self.first_leak is None and ep.evidence:
                self.first_leak = dict(ep.evidence[0])


class Lru(OrderedDict[K, V]):
    """An ordered dict that forgets its least recently set entries beyond ``cap``."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def put(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.cap:
            self.popitem(last=False)


@dataclass(frozen=True)
class Answer:
    qname: str
    ts_ns: int
    file: str
    frame: int


class NameTable:
    """DNS answers per (client, address): the last two, so a flow can take the one before it started."""

    def __init__(self, cap: int) -> None:
        self._table: Lru[tuple[str, str], tuple[Answer, ...]] = Lru(cap)

    def add(self, client: str, address: str, answer: Answer) -> None:
        kept = self._table.get((client, address), ())
        self._table.put((client, address), (*kept[-1:], answer))

    def before(self, client: str, address: str, ts_ns: int, file: str, frame: int) -> Answer | None:
        """The latest answer strictly before a flow's first packet (same time: an earlier frame)."""
        for a in reversed(self._table.get((client, address), ())):
            if a.ts_ns < ts_ns or (a.ts_ns == ts_ns and a.file == file and a.frame < frame):
                return a
        return None

    def __len__(self) -> int:
        return len(self._table)


class DeviceSides:
    """Which side of a new connection is the audited device, from what one segment and the watch so far
    can tell: ``--device``, the interface's own addresses, address scope, addresses learned as the
    device, link-layer direction, then the initiator (the scan's rules without the whole-capture ones)."""

    def __init__(self, devices: Sequence[IPNet], cap: int) -> None:
        self.devices = tuple(devices)
        self.learned: Lru[str, bool] = Lru(cap)

    def device_is_a(self, s: Segment) -> tuple[bool, str]:
        for basis, test in (("flag", self._flagged), ("interface", s.iface_addresses.__contains__)):
            a, b = test(s.a), test(s.b)
            if a != b:
                return self._learn(s, a, basis)
        ra, rb = scope_rank(s.a), scope_rank(s.b)
        if ra != rb:
            return self._learn(s, ra > rb, "scope")
        if (s.a in self.learned) != (s.b in self.learned):
            return s.a in self.learned, "learned"
        if (s.outbound[0] > 0) != (s.outbound[1] > 0):
            return s.outbound[0] > 0, "direction"
        return s.initiator_is_a, "initiator"

    def _flagged(self, address: str) -> bool:
        if not self.devices:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip.version == n.version and ip in n for n in self.devices)

    def _learn(self, s: Segment, a_is_device: bool, basis: str) -> tuple[bool, str]:
        self.learned.put(s.a if a_is_device else s.b, True)
        return a_is_device, basis


class QueryTable:
    """Names looked up (DNS queries) that no flow has been named after yet, with their first frames."""

    def __init__(self, cap: int) -> None:
        self.pending: Lru[str, list[dict[str, Any]]] = Lru(cap)
        self.contacted: Lru[str, bool] = Lru(cap)

    def query(self, name: str, row: dict[str, Any]) -> None:
        if name in self.contacted:
            return
        rows = self.pending.get(name) or []
        if len(rows) < MAX_EVIDENCE:
            rows.append(row)
        self.pending.put(name, rows)

    def contact(self, name: str) -> None:
        self.pending.pop(name, None)
        self.contacted.put(name, True)

    def rows(self) -> list[dict[str, Any]]:
        return [row for rows in self.pending.values() for row in rows]
