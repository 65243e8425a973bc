"""The rich terminal summary of a case: what was read, the flows (largest first), the problems."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from droneaudit.case import Case, iso_utc
from droneaudit.render.safe import terminal_text

MAX_FLOW_ROWS = 25


def _t(value: object) -> str:
    return escape(terminal_text(value))


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def render(case: Case, console: Console) -> None:
    _inputs(case, console)
    _flows(case, console)
    _problems(case, console)


def _inputs(case: Case, console: Console) -> None:
    s = case.stats
    readable = sum(1 for i in case.inputs if i.format != "unknown")
    console.print(
        f"[bold]Read[/] {readable} of {len(case.inputs)} file(s): {s.frames} frames, "
        f"{s.ip_packets} IP packets in {case.flows.num_rows} flows; "
        f"{s.non_ip_frames} non-IP, {s.undecodable_frames} undecodable"
        + (f", [bold red]{s.dropped_by_capture} dropped by the capture[/]" if s.dropped_by_capture else "")
    )


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
