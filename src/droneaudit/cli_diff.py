"""``droneaudit diff A B``: what changed between two captures, case files or Parquet case folders.

Kept apart from ``cli.py`` so the command is one import for the lead to register. Each side is read the
way the other commands read it: a DuckDB case file (``scan --case``) or a Parquet case folder (``scan
--parquet``) is loaded and judged again with today's catalog and policy; anything else is scanned. A diff
is a document, not a gate: it exits 0 once written, 2 when the request is wrong or a side has nothing
readable (docs/diff.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import duckdb
import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import droneaudit
from droneaudit.case import Case
from droneaudit.case_load import is_case_file, is_parquet_case, load_case, load_parquet_case
from droneaudit.checks.policy import Policy
from droneaudit.checks.policy import load as load_policy
from droneaudit.diff import CaseDiff, Change, SideSummary, Traffic, diff_cases
from droneaudit.enrich.catalog import Catalog
from droneaudit.errors import NothingReadable, UsageError
from droneaudit.render.safe import terminal_text
from droneaudit.render.terminal import human_bytes
from droneaudit.scan import conclude

Side = Annotated[
    Path,
    typer.Argument(
        help="Capture file or folder, DuckDB case file, or Parquet case folder.", show_default=False
    ),
]
Devices = Annotated[
    list[str] | None,
    typer.Option("--device", help="Address or CIDR of the audited device, for sides that are scanned."),
]
JsonOut = Annotated[
    str | None, typer.Option("--json", help="Write the diff as JSON to FILE, or '-' for stdout.")
]
PolicyFile = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML used to judge both sides (verdict, scope).")
]
Scope = Annotated[str | None, typer.Option("--scope", help="device (any egress counts) or vendor.")]
AllowCategory = Annotated[
    list[str] | None, typer.Option("--allow-category", help="Catalog category allowed (repeatable).")
]
CatalogFile = Annotated[list[Path] | None, typer.Option("--catalog", help="Extra catalog TOML (repeatable).")]
ShowAll = Annotated[bool, typer.Option("--all", help="Also list endpoints that did not change.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No terminal output.")]


def diff(
    a: Side,
    b: Side,
    device: Devices = None,
    json: JsonOut = None,
    policy: PolicyFile = None,
    scope: Scope = None,
    allow_category: AllowCategory = None,
    catalog: CatalogFile = None,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Compare two captures or cases: what appeared, vanished or changed, and both verdicts (exit 0)."""
    rules = (load_policy(policy) if policy else Policy()).with_flags([], allow_category or [], scope, None)
    extra = _catalog(catalog or [])
    if json and json != "-" and Path(json).resolve() in {a.resolve(), b.resolve()}:
        raise UsageError(f"refusing to write output over the input {json}")
    cases = [_side(path, device or (), rules, extra) for path in (a, b)]
    result = diff_cases(cases[0], cases[1], a_label=str(a), b_label=str(b))
    if json == "-":
        sys.stdout.write(result.to_json())
    elif json:
        Path(json).write_text(result.to_json(), encoding="utf-8")
    if not quiet:
        render(result, _console(stderr=json == "-"), show_all=show_all)


def _catalog(extra: list[Path]) -> Catalog:
    merged = Catalog.load_default()
    for path in extra:
        merged = merged.merged(Catalog.from_toml(path))
    return merged


def _side(path: Path, devices: Sequence[str], rules: Policy, catalog: Catalog) -> Case:
    """One side as a judged Case: a stored case read back, or the evidence scanned now."""
    if not path.exists():
        raise UsageError(f"no such file or folder: {path}")
    try:
        if path.is_dir() and is_parquet_case(path):
            stored = load_parquet_case(path)
        elif path.is_file() and is_case_file(path):
            stored = load_case(path)
        else:
            case = droneaudit.scan([path], devices=devices, policy=rules, catalog=catalog)
            return _readable(case, path)
    except (ValueError, duckdb.Error, pa.ArrowException) as exc:
        raise UsageError(f"cannot read case {path}: {str(exc).splitlines()[0]}") from exc
    return _readable(conclude(stored, rules, catalog), path)


def _readable(case: Case, path: Path) -> Case:
    if not case.readable():
        raise NothingReadable(f"nothing in {path} could be read as evidence")
    return case


def _console(*, stderr: bool) -> Console:
    """As ``scan`` prints: a terminal's own width, else wide enough that addresses are not cut."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "132"))
    return Console(file=stream, highlight=False, width=width)


def _t(value: object) -> str:
    return escape(terminal_text(value))


def render(result: CaseDiff, console: Console, *, show_all: bool = False) -> None:
    """The terminal view: both verdicts, the endpoint changes, the category changes."""
    for name, side in (("A", result.a), ("B", result.b)):
        _side_line(name, side, console)
    counts = result.counts()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()) + " endpoint(s)")
    rows = [c for c in result.endpoints if show_all or c.status != "unchanged"]
    if rows:
        console.print(_table("Endpoints", rows, with_owner=True))
    cats = [c for c in result.categories if show_all or c.status != "unchanged"]
    if cats:
        console.print(_table("Categories", cats, with_owner=False))


def _side_line(name: str, side: SideSummary, console: Console) -> None:
    v = side.verdict
    verdict = f"{v.status.upper()} (scope: {v.scope}) — {v.summary}" if v else "no verdict (no capture)"
    egress = f"egress {human_bytes(side.egress_up)} up, {human_bytes(side.egress_down)} down"
    console.print(f"[bold]{name}[/]: {_t(side.label)} — {_t(verdict)}; {egress}", soft_wrap=True)


def _table(title: str, rows: list[Change], *, with_owner: bool) -> Table:
    """One row per change; an endpoint's owner goes under its name, to keep the table within 132 columns."""
    table = Table(title=f"{title} ({len(rows)})", title_justify="left")
    table.add_column("status", no_wrap=True)
    table.add_column("host / address (owner)" if with_owner else "category", overflow="fold", min_width=24)
    table.add_column("category" if with_owner else "endpoints A→B", no_wrap=True)
    for col in ("A up/down", "B up/down", "Δ up/down"):
        table.add_column(col, justify="right", no_wrap=True)
    for c in rows:
        if with_owner:
            cells = [_t(c.label) + f"\n[dim]{_t(c.owner or 'owner unknown')}[/]", _t(c.category)]
        else:
            cells = [_t(c.label), f"{c.a.endpoints if c.a else 0}→{c.b.endpoints if c.b else 0}"]
        table.add_row(
            c.status, *cells, _pair(c.a), _pair(c.b), f"{_signed(c.delta_up)}/{_signed(c.delta_down)}"
        )
    return table


def _pair(side: Traffic | None) -> str:
    return f"{human_bytes(side.bytes_up)}/{human_bytes(side.bytes_down)}" if side else "—"


def _signed(n: int) -> str:
    if n == 0:
        return "0"
    return ("+" if n > 0 else "−") + human_bytes(abs(n))
