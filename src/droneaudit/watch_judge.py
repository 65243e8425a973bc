"""The scan's checks and verdict, applied to what a watch keeps.

Nothing is judged here that the scan does not judge: endpoints become ``endpoints.Endpoint`` records and
go through ``checks.verdict.verdict`` / ``findings`` with the same ``Policy`` and ``Catalog``. Only the
tables under them differ, because a watch keeps aggregates, not every flow:

* for the verdict, the flow table is one row of device packet totals (all it reads is whether anything
  went up and anything came back);
* for the findings, it is the flows that looked like uploads when they were folded (``upload-heavy``),
  and the DNS table is the names looked up but never contacted (``lookup-without-connection``);
* endpoints the memory cap folded away are one ``FoldedEgress`` record in the verdict when any of them
  was egress the policy does not allow, so folding never turns a fail into a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from droneaudit.attribution import DNS_SCHEMA
from droneaudit.checks import verdict as verdict_mod
from droneaudit.checks.base.egress import allowed, in_scope, internet_egress
from droneaudit.checks.context import CheckInput
from droneaudit.checks.policy import Policy
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import Catalog
from droneaudit.model import CaptureStats, Finding, Problem, Verdict, severity_rank
from droneaudit.watch_state import EndpointState, Folded

NOTABLE_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("remote_ip", pa.string()),
        ("bytes_up", pa.int64()),
        ("bytes_down", pa.int64()),
        ("file", pa.string()),
        ("first_frame", pa.int64()),
        ("duplicate_of", pa.int64()),
    ]
)

_NO_FLOWS = pa.table({"packets_up": pa.array([], pa.int64()), "packets_down": pa.array([], pa.int64())})


@dataclass
class FoldedEgress(Endpoint):
    """Egress endpoints the memory cap folded away, as one verdict entry."""

    remotes: int = 0

    @property
    def label(self) -> str:
        return f"{self.remotes} folded remote(s)"


@dataclass(frozen=True)
class Evidence:
    """What the checks read besides the endpoints (see the module docstring)."""

    stats: CaptureStats
    problems: list[Problem]
    readable: int
    packets_up: int
    packets_down: int
    notable: list[dict[str, Any]]
    queries: list[dict[str, Any]]


class Judge:
    def __init__(self, policy: Policy, catalog: Catalog) -> None:
        self.policy = policy
        self.catalog = catalog

    def endpoint(self, ep: EndpointState) -> Endpoint:
        info = ep.infos[ep.main_ip]
        return Endpoint(
            ep.host,
            sorted(ep.infos),
            ep.local,
            info.asn,
            info.org,
            info.country_registered,
            info.country_geo,
            ep.entry,
            ep.flows,
            ep.bytes_up,
            ep.bytes_down,
            ep.packets_up,
            ep.packets_down,
            ep.first_seen,
            ep.last_seen,
            list(ep.evidence),
        )

    def leak(self, ep: Endpoint) -> bool:
        """Counts against the verdict: in scope and not allowed by the policy."""
        return not ep.local and in_scope(ep, self.policy) and not allowed(ep, self.policy)

    def severity(self, ep: Endpoint, ev: Evidence) -> str:
        """The severity the scan's internet-egress finding gives this endpoint."""
        found = internet_egress(self._input([ep], ev, _NO_FLOWS), self.policy)  # reads endpoints only
        return found[0].severity if found else "info"

    def verdict(self, eps: list[Endpoint], folded: Folded, ev: Evidence) -> Verdict:
        extra: list[Endpoint] = [_folded_egress(folded)] if folded.leaks else []
        return verdict_mod.verdict(self._input(eps + extra, ev, _totals(ev)), self.policy)

    def findings(self, eps: list[Endpoint], ev: Evidence) -> list[Finding]:
        flows = pa.Table.from_pylist(ev.notable, schema=NOTABLE_SCHEMA)
        dns = pa.Table.from_pylist(ev.queries, schema=DNS_SCHEMA)
        return verdict_mod.findings(self._input(eps, ev, flows, dns), self.policy)

    def exit_code(self, v: Verdict, found: list[Finding]) -> int:
        return verdict_mod.exit_code(v, found, self.policy.fail_on)

    def _input(
        self, eps: list[Endpoint], ev: Evidence, flows: pa.Table, dns: pa.Table | None = None
    ) -> CheckInput:
        return CheckInput(flows, dns, eps, ev.stats, ev.problems, self.catalog, ev.readable)


def sort_findings(found: list[Finding]) -> list[Finding]:
    """The scan's order: worst first, then code, file, host."""
    return sorted(found, key=lambda f: (-severity_rank(f.severity), f.code, f.file, f.host or ""))


def _totals(ev: Evidence) -> pa.Table:
    return pa.table({"packets_up": pa.array([ev.packets_up], pa.int64()), "packets_down": [ev.packets_down]})


def _folded_egress(folded: Folded) -> FoldedEgress:
    return FoldedEgress(
        None,
        [],
        False,
        None,
        None,
        None,
        None,
        None,
        bytes_up=folded.leak_bytes_up,
        bytes_down=folded.leak_bytes_down,
        evidence=[folded.first_leak] if folded.first_leak else [],
        remotes=folded.leaks,
    )
