"""Which name each flow was for, with the frames that prove it.

Rules (issue "Who, whose and why"): a name the client put in the flow itself — TLS SNI, QUIC Initial SNI,
HTTP Host or CONNECT authority — beats DNS. Otherwise the flow gets the name of the latest DNS answer *to
that client* that contained the remote address and came before the flow started (ties broken by frame),
reported as the name the client asked for (the head of any CNAME chain). IP-literal Hosts are not names.
No name: ``host`` is null.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from droneaudit.readers.capture.payloads import DnsEvent, FrameAt, NameEvidence
from droneaudit.readers.protocols import dns

#: A name seen up to this long before a flow's first packet still belongs to it (clock skew between
#: interfaces); the TLS/QUIC/HTTP evidence itself is always inside the flow.
SLACK_NS = 1_000_000_000

EVIDENCE_TYPE = pa.list_(pa.struct([("file", pa.string()), ("frame", pa.int64()), ("kind", pa.string())]))
NAME_FIELDS = [
    pa.field("host", pa.string(), metadata={"doc": "name the device used for this remote, or null"}),
    pa.field("host_source", pa.string(), metadata={"doc": "tls-sni, quic-sni, http-host or dns"}),
    pa.field("host_ech", pa.bool_(), metadata={"doc": "ClientHello had ECH: the SNI may be the outer name"}),
    pa.field("host_evidence", EVIDENCE_TYPE, metadata={"doc": "frames that name the host"}),
]


@dataclass(frozen=True)
class Answer:
    """One address a DNS response gave a client for the name it asked."""

    client: str
    address: str
    qname: str
    at: FrameAt


def dns_answers(events: list[DnsEvent]) -> list[Answer]:
    out = []
    for ev in events:
        m = ev.message
        if not m.is_response or not m.qname:
            continue
        for rec in m.answers:
            if rec.rtype in (dns.A, dns.AAAA):
                out.append(Answer(ev.sender.dst, rec.value, m.qname, ev.at))
    return out


def _flow_key(
    proto: str, a: str, ap: int, b: str, bp: int, vlan: int | None, iface: str
) -> tuple[object, ...]:
    return (proto, *sorted([(a, ap), (b, bp)]), vlan, iface)


class _FlowIndex:
    def __init__(self, flows: pa.Table) -> None:
        cols = flows.select(
            [
                "proto",
                "device_ip",
                "device_port",
                "remote_ip",
                "remote_port",
                "vlan",
                "interface",
            ]
        ).to_pydict()
        first_seen, last_seen = _ns_column(flows, "first_seen"), _ns_column(flows, "last_seen")
        self.by_key: dict[tuple[object, ...], list[tuple[int, int, int]]] = defaultdict(list)
        for i in range(flows.num_rows):
            key = _flow_key(
                cols["proto"][i],
                cols["device_ip"][i],
                cols["device_port"][i],
                cols["remote_ip"][i],
                cols["remote_port"][i],
                cols["vlan"][i],
                cols["interface"][i],
            )
            self.by_key[key].append((first_seen[i], last_seen[i], i))

    def find(self, ev: NameEvidence) -> int | None:
        s = ev.sender
        key = _flow_key(s.proto, s.src, s.sport, s.dst, s.dport, s.vlan, s.interface)
        for first, last, row in self.by_key.get(key, ()):
            if first - SLACK_NS <= ev.at.ts_ns <= last:
                return row
        return None


def _ns_column(flows: pa.Table, name: str) -> list[int]:
    """A timestamp column as integer nanoseconds."""
    values: list[int] = flows.column(name).cast(pa.int64()).to_pylist()
    return values


def attribute(flows: pa.Table, names: list[NameEvidence], answers: list[Answer]) -> pa.Table:
    """Return ``flows`` with the name columns appended."""
    n = flows.num_rows
    host: list[str | None] = [None] * n
    source: list[str | None] = [None] * n
    ech = [False] * n
    evidence: list[list[dict[str, object]]] = [[] for _ in range(n)]
    index = _FlowIndex(flows)
    for ev in sorted(names, key=lambda e: (e.at.ts_ns, e.at.file, e.at.frame)):
        row = index.find(ev)
        if row is not None and host[row] is None:
            host[row], source[row], ech[row] = ev.name, ev.kind, ev.ech_outer
            evidence[row].append({"file": ev.at.file, "frame": ev.at.frame, "kind": ev.kind})
    _from_dns(flows, answers, host, source, evidence)
    table = flows
    for fld, values in zip(NAME_FIELDS, (host, source, ech, evidence), strict=True):
        table = table.append_column(fld, pa.array(values, type=fld.type))
    return table


def _from_dns(
    flows: pa.Table,
    answers: list[Answer],
    host: list[str | None],
    source: list[str | None],
    evidence: list[list[dict[str, object]]],
) -> None:
    """Fill unnamed flows from the latest earlier answer to the same client for the remote address."""
    lookup: dict[tuple[str, str], list[tuple[int, str, int, Answer]]] = defaultdict(list)
    for a in answers:
        lookup[(a.client, a.address)].append((a.at.ts_ns, a.at.file, a.at.frame, a))
    for entries in lookup.values():
        entries.sort(key=lambda e: (e[0], e[1], e[2]))
    cols = flows.select(["device_ip", "remote_ip", "file", "first_frame"]).to_pydict()
    first_seen = _ns_column(flows, "first_seen")
    for i in range(flows.num_rows):
        entries = lookup.get((cols["device_ip"][i], cols["remote_ip"][i]), [])
        if not entries:
            continue
        answer = _latest_before(entries, first_seen[i], cols["file"][i], cols["first_frame"][i])
        if answer is None:
            continue
        if host[i] is None:
            host[i], source[i] = answer.qname, "dns"
        if host[i] == answer.qname:  # evidence names the host; a DNS name the SNI overrode is not evidence
            evidence[i].append({"file": answer.at.file, "frame": answer.at.frame, "kind": "dns"})


def _latest_before(
    entries: list[tuple[int, str, int, Answer]], ts: int, file: str, frame: int
) -> Answer | None:
    """The last answer strictly before the flow's first packet: earlier in time, or at the same time
    and an earlier frame of the same file."""
    pos = bisect.bisect_right([e[0] for e in entries], ts) - 1
    while pos >= 0:
        e_ts, e_file, e_frame, answer = entries[pos]
        if e_ts < ts or (e_file == file and e_frame < frame):
            return answer
        pos -= 1
    return None


DNS_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("frame", pa.int64()),
        ("ts", pa.timestamp("ns", tz="UTC")),
        ("transport", pa.string()),
        ("client_ip", pa.string()),
        ("server_ip", pa.string()),
        ("is_response", pa.bool_()),
        ("qname", pa.string()),
        ("qtype", pa.int32()),
        ("rcode", pa.int32()),
        ("answers", pa.list_(pa.string())),
    ]
)
_RTYPE = {dns.A: "A", dns.AAAA: "AAAA", dns.CNAME: "CNAME"}


def dns_table(events: list[DnsEvent]) -> pa.Table:
    """Every DNS message seen, one row each, in frame order (queries too: a lookup is evidence)."""
    rows = []
    for ev in sorted(events, key=lambda e: (e.at.ts_ns, e.at.file, e.at.frame)):
        m, s = ev.message, ev.sender
        client, server = (s.dst, s.src) if m.is_response else (s.src, s.dst)
        rows.append(
            {
                "file": ev.at.file,
                "frame": ev.at.frame,
                "ts": ev.at.ts_ns,
                "transport": ev.transport,
                "client_ip": client,
                "server_ip": server,
                "is_response": m.is_response,
                "qname": m.qname,
                "qtype": m.qtype,
                "rcode": m.rcode,
                "answers": [f"{_RTYPE.get(r.rtype, r.rtype)} {r.name} {r.value}" for r in m.answers],
            }
        )
    return pa.Table.from_pylist(rows, schema=DNS_SCHEMA)
