"""``droneaudit export``: block lists and allow lists for a field router, as a typer command function.

``cli.py`` registers it with ``app.command("export")(export)``; everything it decides lives in
``droneaudit.export.blocklists`` so the library can do the same without a terminal (docs/export.md).

Inputs are captures and evidence (scanned first, exactly as ``droneaudit scan`` would) or DuckDB case
files written by ``scan --case``. ``droneaudit.store`` has no read-back API yet, so the case's
``endpoints`` table is read here through ``store.connect`` (read-only, offline); its names are
re-classified with the catalog given now, since the table stores the category but not the entry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

import droneaudit
from droneaudit import store
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import Catalog
from droneaudit.errors import NothingReadable, UsageError
from droneaudit.export.blocklists import FORMATS, render, rules_from

_DUCKDB_MAGIC = b"DUCK"  #: bytes 8-11 of every DuckDB database file

Inputs = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Captures/evidence to scan, or DuckDB case files from 'scan --case'.", show_default=False
    ),
]
FromCase = Annotated[
    list[Path] | None, typer.Option("--from", help="DuckDB case file written by 'scan --case' (repeatable).")
]
Format = Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Write to FILE instead of stdout.")]
Mode = Annotated[str, typer.Option("--mode", help="block, or allow-only (default-deny profile).")]
Source = Annotated[
    str | None,
    typer.Option("--source", help="observed, catalog or both (default: observed with inputs, else catalog)."),
]
Categories = Annotated[
    list[str] | None,
    typer.Option(
        "--categories",
        help="Catalog categories to list (repeatable or comma-separated); 'uncatalogued' = observed "
        "endpoints the catalog does not know. Default: all observed, drone-maker catalog entries.",
    ),
]
CatalogFiles = Annotated[
    list[Path] | None, typer.Option("--catalog", help="Extra catalog TOML (repeatable).")
]
IncludeLocal = Annotated[
    bool, typer.Option("--include-local", help="Also list local endpoints and non-global addresses.")
]
Upstream = Annotated[
    list[str] | None,
    typer.Option(
        "--upstream",
        help="Resolver (ADDR or ADDR#PORT) an allow-only profile forwards listed names to (repeatable); "
        "needed by dnsmasq allow-only, and nftables then lets the router ask only it.",
    ),
]
Devices = Annotated[
    list[str] | None, typer.Option("--device", help="Address or CIDR of the audited device (repeatable).")
]


def export(
    inputs: Inputs = None,
    format: Format = "dnsmasq",
    out: Out = None,
    mode: Mode = "block",
    source: Source = None,
    categories: Categories = None,
    catalog: CatalogFiles = None,
    from_case: FromCase = None,
    include_local: IncludeLocal = False,
    upstream: Upstream = None,
    device: Devices = None,
) -> None:
    """Write a block list (or an allow-only profile) for dnsmasq, unbound, Pi-hole, hosts, nftables or
    Suricata from the endpoints a capture shows, the catalog, or both; each rule says why it is there."""
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    known = _catalog(catalog or [])
    cases, files = _split_inputs(inputs or [], from_case or [])
    chosen = source or ("observed" if cases or files else "catalog")
    if chosen != "catalog" and not (cases or files):
        raise UsageError(f"--source {chosen} needs captures or a case file to take endpoints from")
    _refuse_overwrite(out, [*files, *cases, *(catalog or [])])
    endpoints = _endpoints(files, cases, known, device or []) if chosen != "catalog" else []
    chosen_categories = _categories(categories)
    rules = rules_from(
        endpoints, known, source=chosen, categories=chosen_categories, mode=mode, include_local=include_local
    )
    text = render(format, rules, upstream=upstream or ())
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{out}: {len(rules.rules)} rule(s), {format}, mode {rules.mode}", err=True)


def _split_inputs(inputs: list[Path], cases: list[Path]) -> tuple[list[Path], list[Path]]:
    """(case files, capture/evidence files): a DuckDB input is a case, the rest is expanded and scanned."""
    found = [*cases, *(p for p in inputs if _is_case_file(p))]
    others = [p for p in inputs if not _is_case_file(p)]
    return found, droneaudit.scan_paths(others) if others else []


def _catalog(extra: list[Path]) -> Catalog:
    merged = Catalog.load_default()
    for path in extra:
        merged = merged.merged(Catalog.from_toml(path))
    return merged


def _categories(values: list[str] | None) -> set[str] | None:
    """``--categories a,b --categories c`` as a set; ``None`` when none were given (the default)."""
    chosen = {part.strip() for value in values or [] for part in value.split(",") if part.strip()}
    return chosen or None


def _is_case_file(path: Path) -> bool:
    """A DuckDB database, recognised by content like every other input, never by its name."""
    try:
        with path.open("rb") as fh:
            return fh.read(12)[8:12] == _DUCKDB_MAGIC
    except OSError:
        return False  # folders and missing paths: the scanner reports them


def _refuse_overwrite(out: Path | None, inputs: list[Path]) -> None:
    """Evidence, case files and catalogs are never written to: refuse an output that is one of them."""
    if out is not None and out.resolve() in {p.resolve() for p in inputs}:
        raise UsageError(f"refusing to write output over the input file {out}")


def _endpoints(files: list[Path], cases: list[Path], catalog: Catalog, devices: list[str]) -> list[Endpoint]:
    found: list[Endpoint] = []
    for case in cases:
        found += read_case_endpoints(case, catalog)
    if files:
        result = droneaudit.scan(files, devices=devices, catalog=catalog)
        if not result.readable():
            raise NothingReadable("no input could be read as evidence")
        found += result.endpoints
    return found


def read_case_endpoints(path: Path, catalog: Catalog) -> list[Endpoint]:
    """The endpoints of a case file written by ``scan --case``, names classified by ``catalog``."""
    try:
        con = store.connect(path, read_only=True)
        try:
            rows = con.execute("SELECT host, ips, local, evidence FROM endpoints").fetchall()
        finally:
            con.close()
    except Exception as exc:  # duckdb raises its own hierarchy; any failure means "not a case file"
        raise UsageError(f"{path}: not a readable droneaudit case file ({exc})") from None
    return [_endpoint(row, catalog) for row in rows]


def _endpoint(row: tuple[Any, ...], catalog: Catalog) -> Endpoint:
    host, ips, local, evidence = row
    match = catalog.match(host) if host else None
    ev = json.loads(evidence) if evidence else []
    return Endpoint(
        host,
        list(ips or []),
        bool(local),
        None,
        None,
        None,
        None,
        match.entry if match else None,
        evidence=[e for e in ev if isinstance(e, dict)] if isinstance(ev, list) else [],
    )
