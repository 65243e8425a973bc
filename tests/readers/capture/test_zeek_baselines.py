"""droneaudit's flows against the conn.log Zeek wrote for the same trace (Zeek's own btest baselines).

For every 5-tuple Zeek logged, droneaudit must have a flow with the same packets and IP-layer bytes in
each direction. Zeek's orig/resp may be our device/remote or remote/device, so flows are matched by
the unordered 5-tuple and compared in Zeek's orientation. Zeek applies its own session rules and may
log one 5-tuple as several connections (Teredo.pcap); those rows are summed, as are our records.
We may have flows Zeek did not log: they are listed in the failure message, never a failure by
themselves.

Tunnel traces: Zeek decapsulates GRE/Teredo/VXLAN and logs the inner flows with ``tunnel_parents``;
those rows describe packets inside other packets and are skipped here. Their outer flows (rows
without ``tunnel_parents``, when Zeek tagged the inner ones) are compared like any other row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import droneaudit
from oracles import Counts, FlowKey, corpus_hint, find_corpus, proto_name
from oracles.zeek import (
    ZeekConnCase,
    ZeekConnRow,
    ZeekVlanCase,
    aggregate_rows,
    conn_expectations,
    ipv6_frag_expectations,
    vlan_expectations,
)

FiveTuple = tuple[str, str, int, str, int]

#: Documented, understood differences from Zeek: (trace below zeek/traces, (proto, orig_h, orig_p,
#: resp_h, resp_p) as written in conn.log) -> why. Either orientation matches. An entry whose flow
#: no longer differs fails the test, so the table cannot go stale.
KNOWN_DIFFERENCES: dict[tuple[str, FiveTuple], str] = {}

CORPUS = find_corpus()
CASES = conn_expectations(CORPUS) if CORPUS else []

pytestmark = pytest.mark.corpus


@cache
def _flow_records(trace: Path) -> tuple[Mapping[str, Any], ...]:
    """One scan per trace, however many of its flows are parametrized."""
    return tuple(droneaudit.scan([str(trace)]).flow_records())


def _record_key(record: Mapping[str, Any]) -> FlowKey:
    return FlowKey.of(
        int(record["ip_proto"]),
        record["device_ip"],
        record["device_port"],
        record["remote_ip"],
        record["remote_port"],
    )


def _record_counts(record: Mapping[str, Any]) -> Counts:
    key = _record_key(record)
    up = Counts.one_way(
        key, record["device_ip"], record["device_port"], record["packets_up"], record["bytes_up"]
    )
    down = Counts.one_way(
        key, record["remote_ip"], record["remote_port"], record["packets_down"], record["bytes_down"]
    )
    return up + down


def _ours(records: Iterable[Mapping[str, Any]]) -> dict[FlowKey, list[Mapping[str, Any]]]:
    grouped: dict[FlowKey, list[Mapping[str, Any]]] = {}
    for record in records:
        grouped.setdefault(_record_key(record), []).append(record)
    return grouped


def _proto_matches(proto: str, ip_proto: int) -> bool:
    """Accept Zeek's names (icmp also means ICMPv6; unknown_transport is any other protocol) and ours."""
    if proto == "icmp":
        return ip_proto in (1, 58)
    if proto == "unknown_transport":
        return ip_proto not in (1, 6, 17, 58)
    return proto == proto_name(ip_proto)


def _known_difference(trace_name: str, key: FlowKey) -> str | None:
    for (trace, (proto, orig_h, orig_p, resp_h, resp_p)), why in KNOWN_DIFFERENCES.items():
        if trace != trace_name or not _proto_matches(proto, key.ip_proto):
            continue
        if FlowKey.of(key.ip_proto, orig_h, orig_p, resp_h, resp_p) == key:
            return why
    return None


#: The record fields a failure message shows (enough to see the flow, its counts and where it starts).
_SHOWN_FIELDS = (
    "proto",
    "device_ip",
    "device_port",
    "remote_ip",
    "remote_port",
    "packets_up",
    "bytes_up",
    "packets_down",
    "bytes_down",
    "vlan",
    "first_frame",
    "duplicate_of",
)


def _describe(record: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={record.get(name)!r}" for name in _SHOWN_FIELDS)


def _verdict(trace_name: str, key: FlowKey, problems: list[str], context: str) -> None:
    """Fail on unexplained differences; xfail the documented ones; fail a documented one that vanished."""
    known = _known_difference(trace_name, key)
    if known is None:
        assert not problems, "\n".join([*problems, context])
    elif problems:
        pytest.xfail(known)
    else:
        pytest.fail(f"KNOWN_DIFFERENCES[{trace_name!r}, {key}] no longer differs; remove it ({known})")


def _compare(
    key: FlowKey,
    expected: Counts,
    view_from: tuple[str, int],
    records: list[Mapping[str, Any]],
) -> list[str]:
    """Differences between Zeek's counts and the sum of our records, seen from Zeek's originator."""
    if not records:
        return [f"droneaudit has no flow {key}"]
    ours = sum((_record_counts(record) for record in records), Counts())
    want = expected.seen_from(key, *view_from)
    got = ours.seen_from(key, *view_from)
    if want == got:
        return []
    labels = ("packets sent", "IP bytes sent", "packets received", "IP bytes received")
    diffs = [
        f"{label}: zeek {w}, droneaudit {g}" for label, w, g in zip(labels, want, got, strict=True) if w != g
    ]
    return [f"{key} seen from {view_from[0]}:{view_from[1]}: " + "; ".join(diffs)]


def _context(case_trace: Path, zeek_keys: Iterable[FlowKey], records: list[Mapping[str, Any]]) -> str:
    """What the failure message shows besides the difference: our records and flows Zeek did not log."""
    everything = _ours(_flow_records(case_trace))
    extra = sorted(str(key) for key in set(everything) - set(zeek_keys))
    lines = ["our records for this 5-tuple:", *(f"  {_describe(record)}" for record in records)]
    lines += ["flows we have that Zeek did not log:", *(f"  {key}" for key in extra or ["(none)"])]
    return "\n".join(lines)


# --- conn.log rows ---------------------------------------------------------------------------------


def _row_params() -> list[Any]:
    """One test per (baseline, 5-tuple); rows that cannot be compared are visible skips."""
    if not CASES:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=corpus_hint()), id="no-corpus")]
    params = []
    for case in CASES:
        if case.unusable:
            params.append(
                pytest.param(case, None, marks=pytest.mark.skip(reason=case.unusable), id=case.test_name)
            )
            continue
        for key, (_counts, rows) in aggregate_rows(case.rows).items():
            marks = _tunnel_skip(case, rows)
            params.append(pytest.param(case, key, marks=marks, id=f"{case.test_name}:{key}"))
    return params


def _tunnel_skip(case: ZeekConnCase, rows: tuple[ZeekConnRow, ...]) -> list[pytest.MarkDecorator]:
    if any(row.tunnel_parents for row in rows):
        return [pytest.mark.skip(reason="inner flow of a tunnel (tunnel_parents set); Zeek decapsulated it")]
    if case.tunnel and not case.marks_inner_flows:
        return [
            pytest.mark.skip(reason="Zeek was told to skip the outer headers: every row is an inner flow")
        ]
    return []


@pytest.mark.parametrize(("case", "key"), _row_params())
def test_flow_counts_match_zeek_conn_log(case: ZeekConnCase, key: FlowKey) -> None:
    outer_rows = [row for row in case.rows if not row.tunnel_parents]
    expected, rows = aggregate_rows(outer_rows)[key]
    records = _ours(_flow_records(case.trace)).get(key, [])
    problems = _compare(key, expected, (rows[0].orig_h, rows[0].orig_p), records)
    zeek_rows = "\n".join(["zeek rows:", *(f"  {row}" for row in rows)])
    context = _context(case.trace, (row.key() for row in case.rows), records)
    _verdict(case.trace_name, key, problems, f"{zeek_rows}\n{context}")


# --- fragments -------------------------------------------------------------------------------------


def test_ipv6_fragments_counted_once_like_zeek(corpus: Path) -> None:
    """core.ipv6-frag: Zeek delivered each datagram once, the 3 KB answer at its reassembled length, and
    never the lone fragment whose datagram does not complete."""
    zeek = ipv6_frag_expectations(corpus)
    ours = _ours(_flow_records(zeek.trace))
    context = "\n".join(["our records:", *(_describe(record) for group in ours.values() for record in group)])
    for key, expected in zeek.flows().items():
        client = key.a if key.a.port != 53 else key.b
        problems = _compare(key, expected, (client.ip, client.port), ours.get(key, []))
        _verdict(zeek.trace.relative_to(corpus / "zeek" / "traces").as_posix(), key, problems, context)


# --- VLAN ids --------------------------------------------------------------------------------------


def _vlan_params() -> list[Any]:
    cases = vlan_expectations(CORPUS) if CORPUS else []
    if not cases:
        return [pytest.param(None, marks=pytest.mark.skip(reason=corpus_hint()), id="no-corpus")]
    return [pytest.param(case, id=case.test_name) for case in cases]


@pytest.mark.parametrize("case", _vlan_params())
def test_vlan_ids_match_zeek(case: ZeekVlanCase) -> None:
    """Our ``vlan`` is the outermost tag, as Zeek's ``vlan`` column. VLAN id 0 (a priority tag) is still a
    tag: Zeek logs vlan=0 for the vlan-0 traces, not unset."""
    records = _flow_records(case.trace)
    assert len(records) >= len(case.vlans), (
        f"zeek logged {len(case.vlans)} connections, we have {len(records)}"
    )
    wanted = {outer for outer, _inner in case.vlans}
    got = {record.get("vlan") for record in records}
    assert got == wanted, "\n".join(_describe(record) for record in records)
