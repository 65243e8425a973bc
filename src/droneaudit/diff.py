"""Compare two cases: which endpoints and categories appeared, vanished or changed between them (with
byte deltas), and the verdict of each side. Pure over two ``Case`` objects; ``cli_diff`` does the I/O.

Why a diff: the local-data-mode question is usually asked as a before/after — one capture with the
setting off, one with it on (docs/guides/local-data-mode.md) — and the answer a reviewer wants is "what
went away, what stayed, what is new", not two reports side by side.

Matching rules, chosen so the result does not depend on addresses that move:

* an endpoint the capture names is matched by its name (CDNs and cloud hosts rotate addresses between
  sessions); only an endpoint nobody named is matched by its address;
* the category is the catalog's, ``local`` for the local network, ``uncategorised`` otherwise;
* "changed" means both sides have it and its flow count or byte counts differ (for a category, also
  its number of endpoints); deltas are B − A.

Output order is fixed (status, then the larger byte change, then the label), so ``--json`` is
byte-identical for the same two inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from droneaudit import __version__
from droneaudit.case import Case
from droneaudit.endpoints import Endpoint
from droneaudit.model import SCHEMA_VERSION, Verdict

#: Statuses in the order a report lists them.
STATUSES = ("appeared", "vanished", "changed", "unchanged")


@dataclass(frozen=True, slots=True)
class Traffic:
    """What one endpoint or category exchanged on one side (IP-layer bytes, device's point of view)."""

    flows: int  #: flows (duplicates on other interfaces left out, as in the endpoint table)
    bytes_up: int  #: IP-layer bytes device → remote
    bytes_down: int  #: IP-layer bytes remote → device
    endpoints: int = 1  #: endpoints summed into this (1 for an endpoint)

    def to_dict(self) -> dict[str, int]:
        return {
            "flows": self.flows,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "endpoints": self.endpoints,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One endpoint (or category) across the two sides; ``a``/``b`` is None where it is absent."""

    key: str  #: "host:NAME", "ip:ADDRESS" or "category:NAME"
    label: str  #: host name, address, or category name
    category: str  #: catalog category, "local" or "uncategorised"
    a: Traffic | None  #: what side A exchanged with it; None when A does not have it
    b: Traffic | None  #: the same for side B
    owner: str | None = None  #: "AS45102 Alibaba (US) …", "local network", or None when unknown
    country: str | None = None  #: registered/geolocated country, e.g. "SG/SG"
    vendor: str | None = None  #: catalog vendor, when the catalog knows the host
    drone_vendor: bool = False  #: catalog: run by or for the drone maker
    local: bool = False  #: the local network (every address non-global)

    @property
    def status(self) -> str:
        if self.a is None:
            return "appeared"
        if self.b is None:
            return "vanished"
        return "unchanged" if self.a == self.b else "changed"

    @property
    def delta_up(self) -> int:
        return (self.b.bytes_up if self.b else 0) - (self.a.bytes_up if self.a else 0)

    @property
    def delta_down(self) -> int:
        return (self.b.bytes_down if self.b else 0) - (self.a.bytes_down if self.a else 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "status": self.status,
            "category": self.category,
            "owner": self.owner,
            "country": self.country,
            "vendor": self.vendor,
            "drone_vendor": self.drone_vendor,
            "local": self.local,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
            "delta_up": self.delta_up,
            "delta_down": self.delta_down,
        }


@dataclass(frozen=True, slots=True)
class SideSummary:
    """One side as a whole: where it came from, its verdict and its internet egress."""

    label: str  #: the path the user gave
    inputs: tuple[tuple[str, str], ...]  #: (path, sha256) of every input, sorted
    verdict: Verdict | None  #: judged with the diff's policy; None when the side has no capture
    endpoints: int  #: endpoints on this side, local ones included
    egress_up: int  #: bytes to remotes that are not local
    egress_down: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "inputs": [{"path": p, "sha256": h} for p, h in self.inputs],
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "endpoints": self.endpoints,
            "egress_bytes_up": self.egress_up,
            "egress_bytes_down": self.egress_down,
        }


@dataclass(frozen=True, slots=True)
class CaseDiff:
    """The whole comparison; ``to_json`` is the ``droneaudit diff --json`` document."""

    a: SideSummary  #: before
    b: SideSummary  #: after
    endpoints: tuple[Change, ...]  #: every endpoint of either side, in report order
    categories: tuple[Change, ...]  #: the endpoints summed per category, in report order

    def counts(self) -> dict[str, int]:
        """Endpoints per status (every status present, zeros included)."""
        return {s: sum(1 for c in self.endpoints if c.status == s) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "droneaudit", "version": __version__},
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "summary": self.counts(),
            "endpoints": [c.to_dict() for c in self.endpoints],
            "categories": [c.to_dict() for c in self.categories],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def diff_cases(a: Case, b: Case, *, a_label: str = "A", b_label: str = "B") -> CaseDiff:
    """Compare case ``a`` (before) with case ``b`` (after)."""
    a_eps, b_eps = _by_key(a.endpoints), _by_key(b.endpoints)
    changes = [_endpoint_change(key, a_eps.get(key), b_eps.get(key)) for key in a_eps.keys() | b_eps.keys()]
    return CaseDiff(
        _summary(a, a_label),
        _summary(b, b_label),
        _ordered(changes),
        _ordered(_categories(changes)),
    )


def endpoint_key(ep: Endpoint) -> str:
    """By name when the capture names it, else by its (first) address."""
    return f"host:{ep.host}" if ep.host else f"ip:{ep.ips[0] if ep.ips else '?'}"


def category_of(ep: Endpoint) -> str:
    if ep.entry is not None:
        return ep.entry.category
    return "local" if ep.local else "uncategorised"


def owner_of(ep: Endpoint) -> str | None:
    """The owner as the scan's terminal report shows it."""
    if ep.local:
        return "local network"
    text = " ".join(x for x in (f"AS{ep.asn}" if ep.asn else "", ep.org or "") if x)
    return text or None


def _by_key(endpoints: Iterable[Endpoint]) -> dict[str, Endpoint]:
    """Endpoints are unique by name or address within a case; a repeat (not expected) is summed."""
    out: dict[str, Endpoint] = {}
    for ep in endpoints:
        key = endpoint_key(ep)
        out[key] = _merged(out[key], ep) if key in out else ep
    return out


def _merged(first: Endpoint, other: Endpoint) -> Endpoint:
    return replace(
        first,
        flows=first.flows + other.flows,
        bytes_up=first.bytes_up + other.bytes_up,
        bytes_down=first.bytes_down + other.bytes_down,
    )


def _traffic(ep: Endpoint | None) -> Traffic | None:
    return Traffic(ep.flows, ep.bytes_up, ep.bytes_down) if ep is not None else None


def _endpoint_change(key: str, a: Endpoint | None, b: Endpoint | None) -> Change:
    """Descriptive fields come from B when it has the endpoint (today's view), else from A."""
    ep = b if b is not None else a
    assert ep is not None  # a key comes from at least one side
    country = "/".join(c or "?" for c in (ep.country_registered, ep.country_geo)) if not ep.local else None
    return Change(
        key,
        ep.host or key.split(":", 1)[1],
        category_of(ep),
        _traffic(a),
        _traffic(b),
        owner=owner_of(ep),
        country=country,
        vendor=ep.entry.vendor if ep.entry else None,
        drone_vendor=bool(ep.entry and ep.entry.drone_vendor),
        local=ep.local,
    )


def _categories(changes: Sequence[Change]) -> list[Change]:
    """Endpoint changes summed per category, each side separately."""
    names = sorted({c.category for c in changes})
    return [
        Change(
            f"category:{name}",
            name,
            name,
            _sum(c.a for c in changes if c.category == name),
            _sum(c.b for c in changes if c.category == name),
            local=name == "local",
        )
        for name in names
    ]


def _sum(parts: Iterable[Traffic | None]) -> Traffic | None:
    present = [p for p in parts if p is not None]
    if not present:
        return None
    return Traffic(
        sum(p.flows for p in present),
        sum(p.bytes_up for p in present),
        sum(p.bytes_down for p in present),
        sum(p.endpoints for p in present),
    )


def _ordered(changes: Iterable[Change]) -> tuple[Change, ...]:
    """Status order, then the largest byte change first, then the label (a total order)."""
    return tuple(
        sorted(
            changes,
            key=lambda c: (STATUSES.index(c.status), -abs(c.delta_up) - abs(c.delta_down), c.label, c.key),
        )
    )


def _summary(case: Case, label: str) -> SideSummary:
    egress = [ep for ep in case.endpoints if not ep.local]
    return SideSummary(
        label,
        tuple(sorted((i.path, i.sha256) for i in case.inputs)),
        case.verdict,
        len(case.endpoints),
        sum(ep.bytes_up for ep in egress),
        sum(ep.bytes_down for ep in egress),
    )
