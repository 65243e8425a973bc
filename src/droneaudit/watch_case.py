"""A watch's result as a case file (``--case FILE``), through the same store as ``scan --case``.

A watch keeps no per-connection table, so the case's ``flows`` holds one summary row per endpoint
(``device_basis`` = ``watch``; connection details such as ports and TCP flags are null) — enough for
``report``/``query`` to derive the same endpoints and verdict again. Inputs carry the SHA-256 of the
bytes the watch read (for a pipe: the stream as received). Endpoints, findings and the verdict are the
watch's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from droneaudit.attribution import DNS_SCHEMA, NAME_FIELDS
from droneaudit.case import Case
from droneaudit.model import FLOW_SCHEMA
from droneaudit.watch import Summary, Watcher
from droneaudit.watch_state import EndpointState

CASE_FLOW_SCHEMA = pa.schema([*FLOW_SCHEMA, *NAME_FIELDS])
_IP_PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


def to_case(watcher: Watcher, summary: Summary) -> Case:
    rows = [_row(ep) for ep in watcher.endpoints.values() if ep.flows > 0]
    case = Case(
        inputs=summary.inputs,
        flows=pa.Table.from_pylist(rows, schema=CASE_FLOW_SCHEMA),
        problems=summary.problems,
        interfaces=watcher.interfaces.all(),
        stats=summary.stats,
        dns=pa.Table.from_pylist(watcher.queries.rows(), schema=DNS_SCHEMA),
        endpoints=summary.endpoints,
        findings=summary.findings,
        verdict=summary.verdict,
        exit_code=summary.exit_code,
        fail_on=watcher.policy.fail_on,
    )
    catalog = watcher.judge.catalog
    case.data_sources = {
        "ipdata": watcher.ipdata.source(),
        "catalog": {"version": catalog.meta.version, "updated": catalog.meta.updated},
        "policy": watcher.policy.source,
    }
    return case


def write_case(watcher: Watcher, summary: Summary, path: Path) -> None:
    to_case(watcher, summary).to_duckdb(path)


def _row(ep: EndpointState) -> dict[str, Any]:
    first = ep.evidence[0] if ep.evidence else {}
    names = [e for e in ep.evidence if e.get("kind") != "flow"]
    return {
        "proto": ep.proto,
        "ip_proto": _IP_PROTO.get(ep.proto, int(ep.proto[3:]) if ep.proto.startswith("ip-") else None),
        "device_ip": ep.device_ip,
        "device_port": None,
        "remote_ip": ep.main_ip,
        "remote_port": ep.remote_port,
        "first_seen": ep.first_seen,
        "last_seen": ep.last_seen,
        "packets_up": ep.packets_up,
        "packets_down": ep.packets_down,
        "bytes_up": ep.bytes_up,
        "bytes_down": ep.bytes_down,
        "first_frame": first.get("frame"),
        "file": first.get("file"),
        "device_basis": "watch",
        "host": ep.host,
        "host_source": names[0]["kind"] if ep.host and names else None,
        "host_ech": False,
        "host_evidence": names if ep.host else [],
    }
