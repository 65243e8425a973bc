"""Correlation: which hosts the phone or controller talked to during a flight, just after landing (the
classic "upload when back on Wi-Fi") and just before takeoff.

Times. Everything is joined in UTC epoch seconds. Capture timestamps are UTC by definition (pcap stores
epoch time); track times enter only when their UTC is known or inferred (``TrackPoint.time_utc``): a
photo's EXIF local time without an OffsetTime is used only after the scanner has placed it in a zone
from its position (``time_basis = "inferred-tz"``), never by assuming the machine's zone. Clocks still
drift, so ``--clock-offset SRC=±SECONDS`` adds a per-source correction (keyed by path or file name,
``+`` means the source's clock was behind) to that source's times before joining; flights carry their
offsets already (see ``flights.flights``), flows get theirs here from their capture file.

Relations, for a flow [first_seen, last_seen] and a flight [takeoff, landing]:

* ``during`` — the flow overlaps the flight; ``offset_s`` = first_seen − takeoff (negative when a
  long-lived connection was already open at takeoff).
* ``after_landing`` — it starts after landing and at most ``window_s`` later; ``offset_s`` = first_seen −
  landing.
* ``before_takeoff`` — it ends before takeoff and at most ``window_s`` earlier; ``offset_s`` = last_seen −
  takeoff (negative).

One ``Correlation`` per (flight, host, relation) with summed bytes, the offset closest to the flight and
every flow as evidence. Flows to local endpoints (LAN, the controller's own link) and duplicate flows
(the same traffic seen in a second capture) are left out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from droneaudit.flights import clock_offset, span
from droneaudit.model import Correlation, Flight

if TYPE_CHECKING:
    from droneaudit.endpoints import Endpoint

WINDOW_S = 1800.0
#: Address blocks that never leave the site when an address has no endpoint record: RFC 1918, CGNAT
#: (phone hotspots), link-local, loopback, ULA, multicast. Documentation ranges (TEST-NET) are not here:
#: Python calls them "private", but synthetic and anonymised captures use them for remote servers.
LOCAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "127.0.0.0/8",
        "224.0.0.0/4",
        "255.255.255.255/32",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
        "ff00::/8",
    )
)
_NS = 1e9


@dataclass(frozen=True, slots=True)
class _Flow:
    start: float
    end: float
    host: str
    category: str | None
    up: int
    down: int
    file: str
    frame: int | None


@dataclass
class _Agg:
    offset: float
    up: int = 0
    down: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)


def correlate(
    flows: pa.Table,
    flights: Sequence[Flight],
    endpoints: Iterable[Endpoint] = (),
    window_s: float = WINDOW_S,
    clock_offsets: Mapping[str, float] | None = None,
) -> list[Correlation]:
    """Flows of non-local endpoints joined to flights by time; sorted by flight, relation, offset, host."""
    rows = _flows(flows, endpoints, clock_offsets)
    groups: dict[tuple[str, str, str], tuple[str | None, _Agg]] = {}
    for flight in flights:
        s = span(flight)
        if s is None:
            continue
        for flow in rows:
            rel = _relation(flow, s[0], s[1], window_s)
            if rel is None:
                continue
            relation, offset = rel
            key = (flight.id, flow.host, relation)
            agg = groups.setdefault(key, (flow.category, _Agg(offset)))[1]
            agg.offset = min(agg.offset, offset, key=abs)
            agg.up += flow.up
            agg.down += flow.down
            agg.evidence.append({"file": flow.file, "frame": flow.frame, "kind": "flow"})
    out = [_record(key, cat, agg) for key, (cat, agg) in groups.items()]
    order = {"before_takeoff": 0, "during": 1, "after_landing": 2}
    out.sort(key=lambda c: (c.flight, order[c.relation], c.offset_s, c.host))
    return out


def _relation(flow: _Flow, takeoff: float, landing: float, window_s: float) -> tuple[str, float] | None:
    if flow.start <= landing and flow.end >= takeoff:
        return "during", flow.start - takeoff
    if landing < flow.start <= landing + window_s:
        return "after_landing", flow.start - landing
    if takeoff - window_s <= flow.end < takeoff:
        return "before_takeoff", flow.end - takeoff
    return None


def _record(key: tuple[str, str, str], category: str | None, agg: _Agg) -> Correlation:
    flight, host, relation = key
    evidence = sorted(agg.evidence, key=lambda e: (e["file"], e["frame"] if e["frame"] is not None else -1))
    offset = round(agg.offset, 6)
    return Correlation(flight, host, category, relation, offset, agg.up, agg.down, tuple(evidence))


def _flows(
    flows: pa.Table, endpoints: Iterable[Endpoint], offsets: Mapping[str, float] | None
) -> list[_Flow]:
    """The flow table as plain rows in corrected UTC seconds, local and duplicate flows removed."""
    by_ip: dict[str, Endpoint] = {}
    for known in endpoints:
        for addr in known.ips:
            by_ip.setdefault(addr, known)
    cols = ("first_seen", "last_seen", "host", "remote_ip", "bytes_up", "bytes_down", "file", "first_frame")
    have = set(flows.column_names)
    data = {c: _column(flows, c) if c in have else [None] * flows.num_rows for c in cols}
    dup = _column(flows, "duplicate_of") if "duplicate_of" in have else [None] * flows.num_rows
    out = []
    for i in range(flows.num_rows):
        ip: str | None = data["remote_ip"][i]
        start, end = data["first_seen"][i], data["last_seen"][i]
        ep: Endpoint | None = by_ip.get(ip) if ip else None
        if dup[i] is not None or start is None or _is_local(ip, ep):
            continue
        file = data["file"][i] or ""
        shift = clock_offset(offsets, file)
        host = data["host"][i] or (ep.label if ep else None) or ip or "?"
        category = ep.entry.category if ep is not None and ep.entry is not None else None
        end = end if end is not None else start
        up, down = int(data["bytes_up"][i] or 0), int(data["bytes_down"][i] or 0)
        frame = data["first_frame"][i]
        out.append(_Flow(start / _NS + shift, end / _NS + shift, host, category, up, down, file, frame))
    return out


def _column(table: pa.Table, name: str) -> list[Any]:
    col = table.column(name)
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    return col.to_pylist()  # type: ignore[no-any-return]


def _is_local(ip: str | None, ep: Endpoint | None) -> bool:
    """The endpoint table's verdict when there is one, else the address block (``LOCAL_NETS``)."""
    if ep is not None:
        return ep.local
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in LOCAL_NETS if net.version == addr.version)
