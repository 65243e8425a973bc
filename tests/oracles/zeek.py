"""Zeek's btest baselines as a static oracle: parse Zeek ASCII logs into typed records.

Zeek is not installable here, but its own test suite stores the ``conn.log`` it produced for each
trace. Those rows (5-tuple, ``*_pkts``, ``*_ip_bytes``) are the expectations for our flow counts.

Log format handled (Zeek's ASCII writer, as canonified by btest):

* ``#separator \\x09`` then ``#set_separator``, ``#empty_field``, ``#unset_field``, ``#path``,
  ``#fields`` and ``#types`` directives, tab separated; ``-`` is unset, ``(empty)`` an empty set.
* ``.cut`` variants written by ``zeek-cut``: no directives, a first line of column names and only some
  columns. Types are then taken from :data:`KNOWN_TYPES`.
* btest's own ``###`` banner line, and timestamps masked as ``XXXXXXXXXX.XXXXXX`` (read as None).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from oracles import PROTO_NUMBERS, Counts, FlowKey

ZeekValue = str | int | float | bool | tuple[str | int | float | bool, ...] | None

#: btest replaces timestamps with this so baselines do not change between runs.
MASKED_TIME = "XXXXXXXXXX.XXXXXX"

#: Column types for ``.cut`` files, which carry no ``#types`` line (conn.log and its VLAN extension).
KNOWN_TYPES: dict[str, str] = {
    "ts": "time",
    "uid": "string",
    "id.orig_h": "addr",
    "id.orig_p": "port",
    "id.resp_h": "addr",
    "id.resp_p": "port",
    "proto": "enum",
    "service": "string",
    "duration": "interval",
    "orig_bytes": "count",
    "resp_bytes": "count",
    "conn_state": "string",
    "local_orig": "bool",
    "local_resp": "bool",
    "missed_bytes": "count",
    "history": "string",
    "orig_pkts": "count",
    "orig_ip_bytes": "count",
    "resp_pkts": "count",
    "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]",
    "ip_proto": "count",
    "vlan": "int",
    "inner_vlan": "int",
    "id.ctx.vlan": "int",
    "id.ctx.inner_vlan": "int",
}

#: Baselines listed in INDEX.tsv whose rows cannot come from the trace INDEX.tsv names, and why.
UNUSABLE_BASELINES: dict[str, str] = {
    "core.print-bpf-filters": (
        "the btest also reads mixed-vlan-mpls.trace, which is not in the corpus; its conn.log row "
        "comes from that trace (empty.pcap has no packets)"
    ),
}

_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_INT_TYPES = frozenset({"count", "int", "port"})
_FLOAT_TYPES = frozenset({"double", "interval", "time"})


@dataclass(frozen=True, slots=True)
class ZeekLog:
    """One parsed log file. ``types`` is None for ``.cut`` files (typed from :data:`KNOWN_TYPES`)."""

    path: Path
    log_path: str | None  #: the ``#path`` directive ("conn", "ssl", ...), None for .cut files
    fields: tuple[str, ...]
    types: tuple[str, ...] | None
    rows: tuple[dict[str, ZeekValue], ...]


@dataclass(frozen=True, slots=True)
class _Format:
    """The directives that change how values are read; Zeek's defaults until a directive says otherwise."""

    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"


def unescape(text: str) -> str:
    """Undo Zeek's ``\\xNN`` escaping (used for separators and non-printable bytes inside values)."""
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)


def parse_value(text: str, zeek_type: str, fmt: _Format | None = None) -> ZeekValue:
    """Convert one field to a Python value according to its Zeek type."""
    fmt = fmt or _Format()
    if text == fmt.unset_field:
        return None
    container = re.fullmatch(r"(?:set|vector|table)\[(.+)\]", zeek_type)
    if container:
        if text == fmt.empty_field:
            return ()
        items = (parse_value(item, container.group(1), fmt) for item in text.split(fmt.set_separator))
        return tuple(item for item in items if item is not None and not isinstance(item, tuple))
    return _parse_scalar(text, zeek_type, fmt)


def _parse_scalar(text: str, zeek_type: str, fmt: _Format) -> str | int | float | bool | None:
    if zeek_type in _INT_TYPES:
        return int(text)
    if zeek_type in _FLOAT_TYPES:
        return None if text == MASKED_TIME else float(text)
    if zeek_type == "bool":
        return text == "T"
    if text == fmt.empty_field:
        return ""
    return unescape(text)


def read_zeek_log(path: Path) -> ZeekLog:
    """Parse a Zeek ASCII log or a zeek-cut ``.cut`` file; raises ValueError if it has no header."""
    fmt = _Format()
    log_path: str | None = None
    fields: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    raw_rows: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("###"):
            continue
        if line.startswith("#"):
            fmt, log_path, fields, types = _directive(line, fmt, log_path, fields, types)
        elif fields is None:
            fields = tuple(line.split(fmt.separator))  # .cut: the first line names the columns
        else:
            raw_rows.append(line.split(fmt.separator))
    if fields is None:
        raise ValueError(f"{path}: no #fields line and no column header")
    column_types = types or tuple(KNOWN_TYPES.get(name, "string") for name in fields)
    rows = tuple(_typed_row(path, fields, column_types, values, fmt) for values in raw_rows)
    return ZeekLog(path, log_path, fields, types, rows)


def _directive(
    line: str,
    fmt: _Format,
    log_path: str | None,
    fields: tuple[str, ...] | None,
    types: tuple[str, ...] | None,
) -> tuple[_Format, str | None, tuple[str, ...] | None, tuple[str, ...] | None]:
    """Apply one ``#name value`` line; ``#separator`` is the only one split on a space."""
    if line.startswith("#separator "):
        return replace(fmt, separator=unescape(line.split(" ", 1)[1])), log_path, fields, types
    name, _, value = line[1:].partition(fmt.separator)
    if name == "fields":
        fields = tuple(value.split(fmt.separator))
    elif name == "types":
        types = tuple(value.split(fmt.separator))
    elif name == "path":
        log_path = value
    elif name in {"set_separator", "empty_field", "unset_field"}:
        fmt = replace(fmt, **{name: value})
    return fmt, log_path, fields, types


def _typed_row(
    path: Path, fields: tuple[str, ...], types: tuple[str, ...], values: list[str], fmt: _Format
) -> dict[str, ZeekValue]:
    if len(values) != len(fields):
        raise ValueError(f"{path}: row has {len(values)} values for {len(fields)} fields: {values}")
    return {
        name: parse_value(text, kind, fmt) for name, kind, text in zip(fields, types, values, strict=True)
    }


# --- conn.log -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZeekConnRow:
    """The conn.log columns the flow tests compare. Zeek's ``orig`` is whoever Zeek thinks started it."""

    uid: str | None
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    proto: str  #: Zeek's enum: tcp, udp, icmp (also for ICMPv6), unknown_transport
    ip_proto: int  #: from the ip_proto column, else derived from proto and the address family
    history: str | None
    conn_state: str | None
    orig_pkts: int
    orig_ip_bytes: int
    resp_pkts: int
    resp_ip_bytes: int
    tunnel_parents: tuple[str, ...]  #: uids of the outer connections when this flow was decapsulated
    vlan: int | None  #: outer VLAN id, when the log has the vlan-logging columns
    inner_vlan: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, ZeekValue]) -> ZeekConnRow:
        orig_h = _text(row["id.orig_h"])
        proto = _text(row["proto"])
        ip_proto = row.get("ip_proto")
        return cls(
            uid=_optional_text(row.get("uid")),
            orig_h=orig_h,
            orig_p=_int(row["id.orig_p"]),
            resp_h=_text(row["id.resp_h"]),
            resp_p=_int(row["id.resp_p"]),
            proto=proto,
            ip_proto=ip_proto if isinstance(ip_proto, int) else _ip_proto_from(proto, orig_h),
            history=_optional_text(row.get("history")),
            conn_state=_optional_text(row.get("conn_state")),
            orig_pkts=_int(row["orig_pkts"]),
            orig_ip_bytes=_int(row["orig_ip_bytes"]),
            resp_pkts=_int(row["resp_pkts"]),
            resp_ip_bytes=_int(row["resp_ip_bytes"]),
            tunnel_parents=tuple(str(uid) for uid in _tuple(row.get("tunnel_parents"))),
            vlan=_optional_int(row.get("vlan")),
            inner_vlan=_optional_int(row.get("inner_vlan")),
        )

    def key(self) -> FlowKey:
        return FlowKey.of(self.ip_proto, self.orig_h, self.orig_p, self.resp_h, self.resp_p)

    def counts(self) -> Counts:
        """This row's counts placed on its key; orig→resp may be a→b or b→a."""
        key = self.key()
        sent = Counts.one_way(key, self.orig_h, self.orig_p, self.orig_pkts, self.orig_ip_bytes)
        received = Counts.one_way(key, self.resp_h, self.resp_p, self.resp_pkts, self.resp_ip_bytes)
        return sent + received

    def __str__(self) -> str:
        return (
            f"{self.proto}/{self.ip_proto} {self.orig_h}:{self.orig_p} -> {self.resp_h}:{self.resp_p} "
            f"orig {self.orig_pkts} pkts {self.orig_ip_bytes} B, resp {self.resp_pkts} pkts "
            f"{self.resp_ip_bytes} B, history {self.history}, tunnel_parents {list(self.tunnel_parents)}"
        )


def _ip_proto_from(proto: str, address: str) -> int:
    """Older conn.logs have no ip_proto column; Zeek logs ICMPv6 as proto "icmp" on IPv6 addresses."""
    if proto == "icmp" and ":" in address:
        return PROTO_NUMBERS["icmp6"]
    if proto not in PROTO_NUMBERS:
        raise ValueError(f"cannot derive an IP protocol number from proto {proto!r}")
    return PROTO_NUMBERS[proto]


def _text(value: ZeekValue) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _optional_text(value: ZeekValue) -> str | None:
    return None if value is None else _text(value)


def _int(value: ZeekValue) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _optional_int(value: ZeekValue) -> int | None:
    return None if value is None else _int(value)


def _tuple(value: ZeekValue) -> tuple[str | int | float | bool, ...]:
    return value if isinstance(value, tuple) else ()


@dataclass(frozen=True, slots=True)
class ZeekConnCase:
    """One btest conn.log baseline and the trace it was produced from."""

    test_name: str  #: btest name, e.g. "core.pcapng-pktsrc"
    trace: Path
    trace_name: str  #: path below zeek/traces, e.g. "tcp/missing-syn.pcap"
    baseline: Path
    rows: tuple[ZeekConnRow, ...]
    tunnel: bool  #: the trace carries tunnels (GRE, Teredo, VXLAN): some rows are decapsulated inner flows
    unusable: str | None = None  #: why the rows cannot be compared with this trace at all

    @property
    def marks_inner_flows(self) -> bool:
        """Whether Zeek tagged inner flows with tunnel_parents, so untagged rows are outer flows."""
        return any(row.tunnel_parents for row in self.rows)


def aggregate_rows(rows: Iterable[ZeekConnRow]) -> dict[FlowKey, tuple[Counts, tuple[ZeekConnRow, ...]]]:
    """Sum rows that share an unordered 5-tuple.

    Zeek may log one 5-tuple several times (a connection restarted after RST, or a packet it could not
    attach to the earlier connection, as in Teredo.pcap); our flows are compared with the sum.
    """
    grouped: dict[FlowKey, tuple[Counts, tuple[ZeekConnRow, ...]]] = {}
    for row in rows:
        key = row.key()
        counts, members = grouped.get(key, (Counts(), ()))
        grouped[key] = (counts + row.counts(), (*members, row))
    return grouped


def conn_expectations(corpus: Path) -> list[ZeekConnCase]:
    """Every conn.log baseline in ``zeek/baselines/INDEX.tsv`` that has ``orig_ip_bytes``, with its trace."""
    zeek = corpus / "zeek"
    cases = []
    for trace_name, _script, baseline_name in _index_lines(zeek / "baselines" / "INDEX.tsv"):
        if not Path(baseline_name).name.startswith("conn.log"):
            continue
        baseline = zeek / "baselines" / baseline_name
        log = read_zeek_log(baseline)
        if "orig_ip_bytes" not in log.fields:
            continue  # the .cut files of the QUIC/VLAN tests keep only history/service/vlan columns
        test_name = Path(baseline_name).parent.name
        trace = zeek / "traces" / trace_name
        if not trace.is_file():
            raise FileNotFoundError(f"INDEX.tsv names {trace_name}, which is not in {zeek / 'traces'}")
        cases.append(
            ZeekConnCase(
                test_name=test_name,
                trace=trace,
                trace_name=trace_name,
                baseline=baseline,
                rows=tuple(ZeekConnRow.from_row(row) for row in log.rows),
                tunnel=trace_name.startswith("tunnels/"),
                unusable=UNUSABLE_BASELINES.get(test_name),
            )
        )
    return cases


def _index_lines(index: Path) -> list[tuple[str, str, str]]:
    """INDEX.tsv: trace (below zeek/traces), btest script, baseline file (below zeek/baselines)."""
    lines = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        trace, script, baseline = line.split("\t")
        lines.append((trace, script, baseline))
    return lines


# --- per-packet prints (btest "output" files) -------------------------------------------------------

_IP6_UDP_LINE = re.compile(
    r"ip6=\[.*?len=(?P<len>\d+), nxt=(?P<nxt>\d+),.*?src=(?P<src>[^,]+), dst=(?P<dst>[^,]+),.*?\], "
    r"udp = \[sport=(?P<sport>\d+)/udp, dport=(?P<dport>\d+)/udp"
)


@dataclass(frozen=True, slots=True)
class ZeekPacket:
    """One datagram as Zeek's script layer saw it (after reassembly), from a btest ``output`` print."""

    src: str
    src_port: int
    dst: str
    dst_port: int
    ip_proto: int
    ip_bytes: int  #: IPv6: 40 + the payload length Zeek printed (``len`` is the IPv6 payload length)

    def key(self) -> FlowKey:
        return FlowKey.of(self.ip_proto, self.src, self.src_port, self.dst, self.dst_port)


@dataclass(frozen=True, slots=True)
class ZeekPacketCase:
    """A trace and the datagrams Zeek delivered for it, one per print line."""

    test_name: str
    trace: Path
    baseline: Path
    packets: tuple[ZeekPacket, ...]

    def flows(self) -> dict[FlowKey, Counts]:
        """Per-flow totals: every delivered datagram once, a reassembled one at its full length."""
        totals: dict[FlowKey, Counts] = {}
        for packet in self.packets:
            key = packet.key()
            sent = Counts.one_way(key, packet.src, packet.src_port, 1, packet.ip_bytes)
            totals[key] = totals.get(key, Counts()) + sent
        return totals


def ipv6_frag_expectations(corpus: Path) -> ZeekPacketCase:
    """core.ipv6-frag: Zeek printed every IPv6/UDP datagram of ipv6-fragmented-dns.pcap after reassembly.

    The trace holds a 3 KB DNS answer in three fragments and one lone fragment whose datagram never
    completes; Zeek delivers the former once (len=3238) and never the latter, which is exactly the
    "once per reassembled datagram" rule the flow counts follow.
    """
    zeek = corpus / "zeek"
    baseline = zeek / "baselines" / "core.ipv6-frag" / "output"
    packets = tuple(
        ZeekPacket(
            src=match["src"],
            src_port=int(match["sport"]),
            dst=match["dst"],
            dst_port=int(match["dport"]),
            ip_proto=int(match["nxt"]),
            ip_bytes=40 + int(match["len"]),
        )
        for match in _IP6_UDP_LINE.finditer(baseline.read_text(encoding="utf-8"))
    )
    return ZeekPacketCase("core.ipv6-frag", zeek / "traces" / "ipv6-fragmented-dns.pcap", baseline, packets)


# --- VLAN ids from zeek-cut extracts ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZeekVlanCase:
    """A trace and the (vlan, inner_vlan) pairs of the connections Zeek logged for it."""

    test_name: str
    trace: Path
    baseline: Path
    vlans: tuple[tuple[int | None, int | None], ...]  #: one (outer, inner) pair per conn.log row


def vlan_expectations(corpus: Path) -> list[ZeekVlanCase]:
    """conn.log(.cut) baselines that carry a ``vlan`` column, e.g. the VLAN-id-0 tests.

    A VLAN id of 0 (a priority tag) is still a tag: Zeek logs vlan=0, not unset.
    """
    zeek = corpus / "zeek"
    cases = []
    for trace_name, _script, baseline_name in _index_lines(zeek / "baselines" / "INDEX.tsv"):
        if not Path(baseline_name).name.startswith("conn.log"):
            continue
        baseline = zeek / "baselines" / baseline_name
        log = read_zeek_log(baseline)
        test_name = Path(baseline_name).parent.name
        if "vlan" not in log.fields or test_name in UNUSABLE_BASELINES:
            continue
        vlans = tuple(
            (_optional_int(row.get("vlan")), _optional_int(row.get("inner_vlan"))) for row in log.rows
        )
        cases.append(ZeekVlanCase(test_name, zeek / "traces" / trace_name, baseline, vlans))
    return cases
