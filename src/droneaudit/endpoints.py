"""Endpoints: one per remote the device exchanged at least one packet with — by name when the capture
names it, else by address — enriched offline with owner and country and classified by the catalog.

Names that were only looked up (DNS, no flow) are not endpoints; the checks report them as findings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from droneaudit.case import iso_utc
from droneaudit.enrich.catalog import Catalog, CatalogEntry
from droneaudit.enrich.ipdata import IpData, IpInfo

MAX_EVIDENCE = 20


@dataclass
class Endpoint:
    host: str | None
    ips: list[str]
    local: bool
    asn: int | None
    org: str | None
    country_registered: str | None
    country_geo: str | None
    entry: CatalogEntry | None
    flows: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    packets_up: int = 0
    packets_down: int = 0
    first_seen: int = 0
    last_seen: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.host or (self.ips[0] if self.ips else "?")

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "host": self.host,
            "ips": self.ips,
            "local": self.local,
            "asn": self.asn,
            "org": self.org,
            "country_registered": self.country_registered,
            "country_geo": self.country_geo,
            "category": e.category if e else None,
            "vendor": e.vendor if e else None,
            "service": e.service if e else None,
            "drone_vendor": e.drone_vendor if e else False,
            "confidence": e.confidence if e else None,
            "catalog_sources": list(e.sources) if e else [],
            "catalog_data": list(e.data) if e else [],
            "flows": self.flows,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "packets_up": self.packets_up,
            "packets_down": self.packets_down,
            "first_seen": iso_utc(self.first_seen),
            "last_seen": iso_utc(self.last_seen),
            "evidence": self.evidence,
        }


def build(flows: pa.Table, ipdata: IpData, catalog: Catalog) -> list[Endpoint]:
    """Endpoints in order of first contact (then label), from non-duplicate flows."""
    cols = _columns(flows)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    counts = zip(cols["duplicate_of"], cols["packets_up"], cols["packets_down"], strict=True)
    for i, (dup, up, down) in enumerate(counts):
        if dup is None and up + down > 0:
            host = cols["host"][i]
            groups[("host", host) if host else ("ip", cols["remote_ip"][i])].append(i)
    ips = {cols["remote_ip"][i] for g in groups.values() for i in g}
    infos = dict(zip(*_lookup(ipdata, ips), strict=True))
    # Row dicts are made one endpoint at a time: for a capture with many flows, holding one dict per flow
    # at once was the scan's peak memory (~30 MB at 20,000 flows).
    out = [_endpoint(key, _rows(cols, members), infos, catalog) for key, members in groups.items()]
    return sorted(out, key=lambda e: (e.first_seen, e.label))


def _rows(cols: dict[str, list[Any]], members: list[int]) -> list[dict[str, Any]]:
    return [{name: values[i] for name, values in cols.items()} for i in members]


def _columns(flows: pa.Table) -> dict[str, list[Any]]:
    names = [
        "remote_ip",
        "host",
        "host_evidence",
        "duplicate_of",
        "packets_up",
        "packets_down",
        "bytes_up",
        "bytes_down",
        "file",
        "first_frame",
    ]
    cols: dict[str, list[Any]] = flows.select(names).to_pydict()
    cols["first_seen"] = flows.column("first_seen").cast(pa.int64()).to_pylist()
    cols["last_seen"] = flows.column("last_seen").cast(pa.int64()).to_pylist()
    return cols


def _lookup(ipdata: IpData, ips: set[str]) -> tuple[list[str], list[IpInfo]]:
    ordered = sorted(ips)
    if not ordered:  # a photo-only case: do not load the IP tables (~0.1 s) for nothing
        return [], []
    return ordered, ipdata.lookup_many(ordered)


def _endpoint(
    key: tuple[str, str], members: list[dict[str, Any]], infos: dict[str, IpInfo], catalog: Catalog
) -> Endpoint:
    by_ip: dict[str, int] = defaultdict(int)
    for m in members:
        by_ip[m["remote_ip"]] += m["bytes_up"] + m["bytes_down"]
    main_ip = max(sorted(by_ip), key=lambda ip: by_ip[ip])
    info = infos[main_ip]
    host = key[1] if key[0] == "host" else None
    match = catalog.match(host) if host else None
    ep = Endpoint(
        host,
        sorted(by_ip),
        all(infos[ip].local for ip in by_ip),
        info.asn,
        info.org,
        info.country_registered,
        info.country_geo,
        match.entry if match else None,
    )
    for m in sorted(members, key=lambda r: (r["first_seen"], r["file"], r["first_frame"])):
        _add_flow(ep, m)
    return ep


def _add_flow(ep: Endpoint, m: dict[str, Any]) -> None:
    if ep.flows == 0:
        ep.first_seen = m["first_seen"]
    ep.flows += 1
    ep.bytes_up += m["bytes_up"]
    ep.bytes_down += m["bytes_down"]
    ep.packets_up += m["packets_up"]
    ep.packets_down += m["packets_down"]
    ep.first_seen = min(ep.first_seen, m["first_seen"])
    ep.last_seen = max(ep.last_seen, m["last_seen"])
    if len(ep.evidence) < MAX_EVIDENCE:
        ep.evidence.append({"file": m["file"], "frame": m["first_frame"], "kind": "flow"})
        for ev in m["host_evidence"] or []:
            if len(ep.evidence) < MAX_EVIDENCE and ev not in ep.evidence:
                ep.evidence.append(dict(ev))
