"""Presentation of ``droneaudit watch`` events: one plain line each for a terminal or a log, or one JSON
object each (``--json-lines``, sorted keys). Every string that came from the network or a file name
goes through ``render.safe.terminal_text`` before it reaches a terminal; JSON keeps values as they are
(``json.dumps`` escapes control characters)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from droneaudit.case import iso_utc
from droneaudit.model import SCHEMA_VERSION
from droneaudit.render.safe import terminal_text
from droneaudit.render.terminal import human_bytes
from droneaudit.watch import Summary
from droneaudit.watch_state import Event


def _t(value: object) -> str:
    return terminal_text(value)


def _when(e: Event) -> str:
    return iso_utc(e.ts_ns) if e.ts_ns is not None else "-"


def _owner(d: dict[str, Any]) -> str:
    parts = [f"AS{d['asn']}" if d.get("asn") else None, d.get("owner")]
    owner = " ".join(_t(p) for p in parts if p) or "owner unknown"
    where = "/".join(_t(c) for c in (d.get("country_registered"), d.get("country_geo")) if c)
    return f"{owner} ({where or '??'})"


def _category(d: dict[str, Any]) -> str:
    if not d.get("category"):
        return "not in catalog"
    return f"{_t(d['category'])} ({_t(d.get('vendor') or '?')})"


def _bytes(d: dict[str, Any]) -> str:
    return f"{human_bytes(d.get('bytes_up'))} up / {human_bytes(d.get('bytes_down'))} down"


def _endpoint(e: Event) -> str:
    d = e.data
    tag = "ALERT" if d.get("alert") else "note "
    who = f"{_t(d['host'])} [{_t(d['ip'])}]" if d.get("host") else f"{_t(d['ip'])} (no name yet)"
    again = "  (seen again after the memory cap folded it)" if d.get("again") else ""
    return f"{_when(e)}  {tag} {d['severity']:<6} {who}  {_category(d)}  {_owner(d)}  {_bytes(d)}{again}"


def _name(e: Event) -> str:
    d = e.data
    tail = f"  {d['severity']}" + ("  ALERT" if d.get("alert") else "") if "severity" in d else ""
    return (
        f"{_when(e)}  NAME  {_t(d['previous'])} is {_t(d['host'])} ({_t(d['source'])}, frame {d['frame']})"
        f"  {_category(d)}{tail}"
    )


def _verdict(e: Event) -> str:
    d = e.data
    line = f"{_when(e)}  VERDICT {d['status'].upper()} (scope: {_t(d['scope'])}) — {_t(d['summary'])}"
    return line


def _problem(e: Event) -> str:
    d = e.data
    where = ", ".join(f"{k} {d[k]}" for k in ("frame", "offset") if d.get(k) is not None)
    return f"PROBLEM {_t(d['file'])}: {d['code']}{f' ({where})' if where else ''}: {_t(d['detail'])}"


def _input(e: Event) -> str:
    return f"reading {_t(e.data['file'])} ({e.data['format']})"


_LINES = {"endpoint": _endpoint, "name": _name, "verdict": _verdict, "problem": _problem, "input": _input}


def event_line(e: Event) -> str:
    return _LINES[e.kind](e)


def event_json(e: Event) -> str:
    record = {"event": e.kind, "time": iso_utc(e.ts_ns) if e.ts_ns is not None else None, **e.data}
    return json.dumps({**record, "schema_version": SCHEMA_VERSION}, sort_keys=True, ensure_ascii=False)


def summary_lines(s: Summary) -> list[str]:
    internet = [ep for ep in s.endpoints if not ep.local]
    up = sum(ep.bytes_up for ep in internet) + (s.folded.bytes_up if s.folded.endpoints else 0)
    down = sum(ep.bytes_down for ep in internet) + (s.folded.bytes_down if s.folded.endpoints else 0)
    st = s.stats
    lines = [
        f"Summary: {len(internet)} internet endpoint(s), {human_bytes(up)} up / {human_bytes(down)} down; "
        f"{len(s.inputs)} capture(s), {st.frames} frames, {st.ip_packets} IP packets"
    ]
    if s.folded.endpoints:
        lines.append(
            f"  {s.folded.endpoints} idle endpoint(s) folded under the memory cap "
            f"({s.folded.leaks} of them egress), included in the totals and the verdict"
        )
    for ep in sorted(internet, key=lambda e: -(e.bytes_up + e.bytes_down)):
        what = f"{ep.entry.category} ({ep.entry.vendor})" if ep.entry else "not in catalog"
        lines.append(
            f"  {_t(ep.label)} [{_t(ep.ips[0] if ep.ips else '?')}]  {_t(what)}  "
            f"{human_bytes(ep.bytes_up)} up / {human_bytes(ep.bytes_down)} down  {ep.flows} flow(s)"
        )
    v = s.verdict
    lines.append(f"Verdict: {v.status.upper()} (scope: {_t(v.scope)}) — {_t(v.summary)}")
    lines += [f"  • {_t(r)}" for r in v.reasons if v.status != "fail"]
    lines += [f"  {f.severity} {f.code}: {_t(f.detail)}" for f in s.findings if f.severity != "info"]
    if s.problems:
        lines.append(f"Problems: {len(s.problems)} kind(s) in the evidence (see the PROBLEM lines)")
    lines.append(f"Exit code {s.exit_code}")
    return lines


def summary_json(s: Summary) -> str:
    record = {
        "event": "summary",
        "time": None,
        "verdict": s.verdict.to_dict(),
        "endpoints": [ep.to_dict() for ep in s.endpoints],
        "findings": [f.to_dict() for f in s.findings],
        "stats": s.stats.to_dict(),
        "inputs": [i.to_dict() for i in s.inputs],
        "problems": [p.to_dict() for p in s.problems],
        "folded": vars(s.folded),
        "exit_code": s.exit_code,
        "schema_version": SCHEMA_VERSION,
    }
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


class Output:
    """Where events go: plain lines or JSON lines, flushed at once (a pipe must not sit on them)."""

    def __init__(self, stream: TextIO, json_lines: bool) -> None:
        self.stream = stream
        self.json_lines = json_lines

    def emit(self, events: list[Event]) -> None:
        for e in events:
            self.stream.write((event_json(e) if self.json_lines else event_line(e)) + "\n")
        if events:
            self.stream.flush()

    def summary(self, s: Summary) -> None:
        self.emit(s.events)
        text = summary_json(s) if self.json_lines else "\n".join(summary_lines(s))
        self.stream.write(text + "\n")
        self.stream.flush()
