"""Internet egress checks: who got data, how much, which names were looked up without a connection,
which remotes were never named, and hosts that should never appear in release traffic."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from droneaudit.checks.context import CheckInput
from droneaudit.checks.policy import Policy
from droneaudit.endpoints import Endpoint
from droneaudit.model import Finding

#: Drone-maker endpoints whose traffic carries the data the 2017 memo was about.
SENSITIVE = frozenset(
    {
        "flight-log-sync",
        "media-sharing",
        "activation",
        "flysafe-geofence",
        "analytics",
        "account",
        "livestream",
        "staging",
    }
)
#: An upload this large that also dwarfs the download looks like a file or log going out.
UPLOAD_BYTES = 1_000_000
UPLOAD_RATIO = 4


def in_scope(ep: Endpoint, policy: Policy) -> bool:
    """Does this endpoint count for the verdict? (device: any internet egress; vendor: drone-maker hosts
    and remotes nobody named.)"""
    if ep.local:
        return False
    if policy.scope == "vendor":
        return ep.host is None or (ep.entry is not None and ep.entry.drone_vendor)
    return True


def allowed(ep: Endpoint, policy: Policy) -> bool:
    if policy.allows_host(ep.host):
        return True
    if ep.entry is not None and ep.entry.category in policy.allow_categories:
        return True
    return bool(ep.ips) and all(policy.allows_ip(ip) for ip in ep.ips)


def _severity(ep: Endpoint, policy: Policy) -> str:
    if allowed(ep, policy) or not in_scope(ep, policy):
        return "info"
    entry = ep.entry
    if entry is None:
        return "medium"
    if entry.drone_vendor:
        return "high" if entry.category in SENSITIVE else "medium"
    return "low"


def _owner(ep: Endpoint) -> str:
    parts = [p for p in (ep.org, f"AS{ep.asn}" if ep.asn else None) if p]
    where = "/".join(c for c in (ep.country_registered, ep.country_geo) if c)
    return (", ".join(parts) or "unknown owner") + (f" ({where})" if where else "")


def internet_egress(inp: CheckInput, policy: Policy) -> list[Finding]:
    out = []
    for ep in inp.endpoints:
        if ep.local:
            continue
        entry = ep.entry
        what = f"{entry.vendor} {entry.service} [{entry.category}]" if entry else "not in the catalog"
        note = " — allowed by policy" if allowed(ep, policy) else ""
        detail = (
            f"{ep.bytes_up} bytes up / {ep.bytes_down} down to {ep.label} ({what}; {_owner(ep)}) "
            f"in {ep.flows} flow(s){note}"
        )
        out.append(
            Finding(
                "internet-egress",
                _severity(ep, policy),
                ep.evidence[0]["file"],
                detail,
                tuple(ep.evidence),
                ep.host,
            )
        )
    return out


def upload_heavy(inp: CheckInput, policy: Policy) -> list[Finding]:
    cols = inp.flows.select(
        ["host", "remote_ip", "bytes_up", "bytes_down", "file", "first_frame", "duplicate_of"]
    ).to_pydict()
    by_label = {ep.label: ep for ep in inp.endpoints}
    out = []
    for i in range(inp.flows.num_rows):
        up, down = cols["bytes_up"][i], cols["bytes_down"][i]
        if cols["duplicate_of"][i] is not None or up < UPLOAD_BYTES or up < UPLOAD_RATIO * down:
            continue
        ep = by_label.get(cols["host"][i] or cols["remote_ip"][i])
        if ep is None or ep.local:
            continue
        sev = "high" if ep.entry is not None and ep.entry.drone_vendor else "medium"
        sev = "info" if allowed(ep, policy) else sev
        detail = f"{up} bytes sent to {ep.label}, {down} received: an upload (file, log or media)"
        evidence = ({"file": cols["file"][i], "frame": cols["first_frame"][i], "kind": "flow"},)
        out.append(Finding("upload-heavy", sev, cols["file"][i], detail, evidence, ep.host))
    return out


def lookups_without_connection(inp: CheckInput, policy: Policy) -> list[Finding]:
    """A catalog host that was looked up but never connected to: an attempted call home."""
    if inp.dns is None or inp.dns.num_rows == 0:
        return []
    contacted = {ep.host for ep in inp.endpoints if ep.host}
    queries: dict[str, list[dict[str, Any]]] = {}
    for row in _dns_rows(inp.dns):
        name = row["qname"]
        if not row["is_response"] and name and name not in contacted:
            queries.setdefault(name, []).append(
                {"file": row["file"], "frame": row["frame"], "kind": "dns-query"}
            )
    out = []
    for name, evidence in sorted(queries.items()):
        match = inp.catalog.match(name)
        if match is None:
            continue
        entry = match.entry
        sev = "info" if policy.allows_host(name) else ("medium" if entry.drone_vendor else "low")
        detail = (
            f"{name} ({entry.vendor} {entry.service} [{entry.category}]) was looked up {len(evidence)} "
            f"time(s) but no connection followed in this capture"
        )
        out.append(
            Finding("lookup-without-connection", sev, evidence[0]["file"], detail, tuple(evidence[:20]), name)
        )
    return out


def _dns_rows(table: pa.Table) -> list[dict[str, Any]]:
    cols = table.select(["qname", "is_response", "file", "frame"]).to_pydict()
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def unnamed_remotes(inp: CheckInput, policy: Policy) -> list[Finding]:
    out = []
    for ep in inp.endpoints:
        if ep.local or ep.host is not None:
            continue
        sev = "info" if allowed(ep, policy) else "medium"
        detail = (
            f"{ep.label} ({_owner(ep)}) was contacted without any DNS answer, SNI or Host naming it: "
            "a hard-coded address or a name resolved outside this capture"
        )
        out.append(Finding("unnamed-remote", sev, ep.evidence[0]["file"], detail, tuple(ep.evidence), None))
    return out


def staging_hosts(inp: CheckInput, policy: Policy) -> list[Finding]:
    out = []
    for ep in inp.endpoints:
        if ep.entry is not None and ep.entry.category == "staging":
            entry = ep.entry
            detail = (
                f"{ep.label} is a {entry.vendor} staging/test host ({entry.service}); it should not appear"
            )
            out.append(
                Finding("staging-host", "high", ep.evidence[0]["file"], detail, tuple(ep.evidence), ep.host)
            )
    return out


CHECKS = (internet_egress, upload_heavy, lookups_without_connection, unnamed_remotes, staging_hosts)
