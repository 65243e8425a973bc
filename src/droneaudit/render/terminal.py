"""The rich terminal report of a case: the verdict first, then who got data (endpoints), names only
looked up, other findings, what was read, and the problems. ``--flows`` adds the flow table."""

from __future__ import annotations

import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from droneaudit.case import Case, iso_utc
from droneaudit.render.content import render_content
from droneaudit.render.safe import terminal_text

MAX_FLOW_ROWS = 25


def _t(value: object) -> str:
    return escape(terminal_text(value))


def human_bytes(n: int | None) -> str:
    """Decimal units (kB = 1000 B), as every report prints byte counts; unknown shows as a dash."""
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


_STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
_SEVERITY_STYLE = {"high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render(case: Case, console: Console, *, flows: bool = False) -> None:
    _verdict(case, console)
    _endpoints(case, console)
    _media(case, console)
    _devices(case, console)
    _flights(case, console)
    _findings(case, console)
    render_content(case, console)
    _inputs(case, console)
    if flows:
        _flows(case, console)
    _problems(case, console)


def _verdict(case: Case, console: Console) -> None:
    v = case.verdict
    if v is None:
        return
    style = _STATUS_STYLE.get(v.status, "bold")
    console.print(
        f"[{style}]Verdict: {v.status.upper()}[/] (scope: {_t(v.scope)}) — {_t(v.summary)}", soft_wrap=True
    )
    if v.status != "fail":
        for reason in v.reasons:
            console.print(f"  • {_t(reason)}", soft_wrap=True)


def _endpoints(case: Case, console: Console) -> None:
    if not case.endpoints:
        return
    table = Table(title=f"Endpoints ({len(case.endpoints)})", title_justify="left")
    for col, justify in (
        ("host / address", "left"),
        ("category", "left"),
        ("owner", "left"),
        ("country reg/geo", "left"),
        ("up", "right"),
        ("down", "right"),
        ("flows", "right"),
        ("first seen (UTC)", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for ep in sorted(case.endpoints, key=lambda e: (e.local, -(e.bytes_up + e.bytes_down), e.label)):
        entry = ep.entry
        category = f"{entry.category} ({entry.vendor})" if entry else ("local" if ep.local else "—")
        owner = (
            "local network"
            if ep.local
            else " ".join(x for x in (f"AS{ep.asn}" if ep.asn else "", ep.org or "") if x)
        )
        country = "/".join(c or "?" for c in (ep.country_registered, ep.country_geo)) if not ep.local else ""
        label = ep.host if ep.host else ep.ips[0]
        if ep.host and ep.ips:
            label += f" [{', '.join(ep.ips[:2])}{', …' if len(ep.ips) > 2 else ''}]"
        table.add_row(
            _t(label),
            _t(category),
            _t(owner or "unknown"),
            _t(country),
            human_bytes(ep.bytes_up),
            human_bytes(ep.bytes_down),
            str(ep.flows),
            iso_utc(ep.first_seen)[:19],
        )
    console.print(table)


def _media(case: Case, console: Console) -> None:
    if not case.media:
        return
    points: dict[str, int] = {}
    for p in case.tracks:
        points[p.file] = points.get(p.file, 0) + 1
    table = Table(title=f"Drone files ({len(case.media)})", title_justify="left")
    for col in ("file", "format", "make / model", "captured", "position", "serials", "points"):
        table.add_column(col, overflow="fold")
    for m in case.media:
        where = f"{m.lat:.6f}, {m.lon:.6f}" if m.lat is not None and m.lon is not None else "—"
        when = m.captured_at_utc or (f"{m.captured_at} (local)" if m.captured_at else "—")
        serials = ", ".join(f"{k}: {v}" for k, v in sorted(m.serials.items())) or "—"
        table.add_row(
            _t(m.path),
            _t(m.format),
            _t(" ".join(x for x in (m.make, m.model) if x) or "—"),
            _t(when),
            where,
            _t(serials),
            str(points.get(m.path, 0)),
        )
    console.print(table)


def _devices(case: Case, console: Console) -> None:
    """Serial numbers across files: which aircraft, cameras and controllers the evidence ties together."""
    files: dict[tuple[str, str], set[str]] = {}
    for ident in case.identities:
        if ident.kind.endswith("serial") or ident.kind.startswith("remote-id"):
            files.setdefault((ident.kind, ident.value), set()).add(ident.file)
    if not files:
        return
    console.print(f"[bold]Devices by serial[/] ({len(files)}):")
    for (kind, value), where in sorted(files.items()):
        names = ", ".join(sorted(where)[:3]) + (f", … ({len(where)} files)" if len(where) > 3 else "")
        console.print(f"  {_t(kind)} {_t(value)}: {_t(names)}", soft_wrap=True)


def _flights(case: Case, console: Console) -> None:
    """Each flight with the internet traffic during it and in the window around it."""
    if not case.flights:
        return
    console.print(f"[bold]Flights[/] ({len(case.flights)}):")
    for f in case.flights:
        console.print(f"  {_t(f.id)}: {_t(f.start_utc)} → {_t(f.end_utc)}, {f.points} points", soft_wrap=True)
        for c in (c for c in case.correlations if c.flight == f.id):
            when = {"during": "during", "after_landing": "after landing", "before_takeoff": "before takeoff"}
            console.print(
                f"    {when.get(c.relation, c.relation)} ({c.offset_s:+.0f} s): {_t(c.host)} "
                + escape(f"[{terminal_text(c.category or '—')}]")
                + f" {human_bytes(c.bytes_up)} up / {human_bytes(c.bytes_down)} down",
                soft_wrap=True,
            )


def _findings(case: Case, console: Console) -> None:
    lookups = [f for f in case.findings if f.code == "lookup-without-connection"]
    others = [f for f in case.findings if f.code not in ("internet-egress", "lookup-without-connection")]
    if lookups:
        console.print(f"[bold]Looked up, never contacted[/] ({len(lookups)}):")
        for f in lookups:
            console.print(f"  [{_SEVERITY_STYLE[f.severity]}]{f.severity}[/] {_t(f.detail)}", soft_wrap=True)
    if others:
        console.print(f"[bold]Findings[/] ({len(others)}):")
        for f in others:
            where = ", ".join(f"frame {e['frame']}" for e in f.evidence[:3] if "frame" in e)
            about = " " + escape(f"[{terminal_text(f.file)}]") if f.host is None else ""
            console.print(
                f"  [{_SEVERITY_STYLE[f.severity]}]{f.severity}[/] {_t(f.code)}{about}: {_t(f.detail)}"
                + (f" ({_t(where)})" if where else ""),
                soft_wrap=True,
                markup=True,
            )


def _inputs(case: Case, console: Console) -> None:
    s = case.stats
    readable = sum(1 for i in case.inputs if i.format != "unknown")
    parts = []
    if s.frames or not case.media:
        parts.append(
            f"{s.frames} frames, {s.ip_packets} IP packets in {case.flows.num_rows} flows; "
            f"{s.non_ip_frames} non-IP, {s.undecodable_frames} undecodable"
            + (
                f", [bold red]{s.dropped_by_capture} dropped by the capture[/]"
                if s.dropped_by_capture
                else ""
            )
        )
    if case.media:
        n_media, n_tracks, n_ids = len(case.media), len(case.tracks), len(case.identities)
        parts.append(f"{n_media} drone files with {n_tracks} positions, {n_ids} identities")
    console.print(f"[bold]Read[/] {readable} of {len(case.inputs)} file(s): " + "; ".join(parts))


def _flows(case: Case, console: Console) -> None:
    rows = [r for r in case.flow_records() if r["duplicate_of"] is None]
    if not rows:
        return
    rows.sort(key=lambda r: (-(r["bytes_up"] + r["bytes_down"]), r["first_seen"], r["first_frame"]))
    table = Table(
        title=f"Flows (largest {min(len(rows), MAX_FLOW_ROWS)} of {len(rows)})", title_justify="left"
    )
    for col, justify in (
        ("proto", "left"),
        ("device", "left"),
        ("remote", "left"),
        ("up", "right"),
        ("down", "right"),
        ("pkts ↑/↓", "right"),
        ("first seen (UTC)", "left"),
        ("frame", "right"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows[:MAX_FLOW_ROWS]:
        table.add_row(
            r["proto"],
            _t(f"{_host(r['device_ip'])}:{r['device_port']}"),
            _t(f"{_host(r['remote_ip'])}:{r['remote_port']}"),
            human_bytes(r["bytes_up"]),
            human_bytes(r["bytes_down"]),
            f"{r['packets_up']}/{r['packets_down']}",
            r["first_seen"][:19],
            str(r["first_frame"]),
        )
    console.print(table)


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _problems(case: Case, console: Console) -> None:
    if not case.problems:
        console.print("No problems reading the evidence.")
        return
    console.print(f"[bold yellow]Problems[/] ({len(case.problems)}):")
    for p in case.problems:
        where = ", ".join(
            x
            for x in (
                f"offset {p.offset}" if p.offset is not None else "",
                f"frame {p.frame}" if p.frame is not None else "",
            )
            if x
        )
        times = f" ×{p.count}" if p.count > 1 else ""
        console.print(f"  {_t(p.file)}: {_t(p.code)}{times} ({where}): {_t(p.detail)}", soft_wrap=True)


__all__ = ["human_bytes", "iso_utc", "render"]


def query_table(table: pa.Table, console: Console) -> None:
    """A query result as a table; every value escaped (case files hold strings from evidence)."""
    out = Table(title=f"{table.num_rows} row(s)", title_justify="left")
    for name in table.column_names:
        out.add_column(_t(name), overflow="fold")
    for row in table.to_pylist():
        out.add_row(*(_t("" if v is None else v) for v in row.values()))
    console.print(out)
