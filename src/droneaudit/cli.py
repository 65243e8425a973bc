"""The command line: a thin, typed shell over the library. Only this module turns exceptions into a
one-line ``Error: …`` and an exit code (0 fine, 1 verdict/finding, 2 usage error or nothing readable)."""

from __future__ import annotations

import io
import json as jsonlib
import os
import sys
from pathlib import Path
from typing import Annotated

import duckdb
import pyarrow.csv as pacsv
import typer
from rich.console import Console
from rich.markup import escape

import droneaudit
from droneaudit import store
from droneaudit.case import Case
from droneaudit.checks.policy import Policy
from droneaudit.checks.policy import load as load_policy
from droneaudit.cli_content import ContentOpt, ExtractOpt, KeylogOpt, content_options
from droneaudit.cli_custody import CaseIdOpt, ExaminerOpt, SignOpt, prepare, sign_outputs
from droneaudit.cli_diff import diff as diff_cmd
from droneaudit.cli_engine import DashboardOpt, Engine, EngineOpt, SchedulerOpt, WorkersOpt, run_scan
from droneaudit.cli_export import export as export_cmd
from droneaudit.cli_options import AllowCategory, AllowHost, CatalogFile, Devices, FailOn, Scope
from droneaudit.cli_report import report as report_cmd
from droneaudit.cli_sanitize import sanitize as sanitize_cmd
from droneaudit.cli_time import BufferOpt, ClockOpt, SitesOpt, WindowOpt, clock_offsets, load_sites
from droneaudit.cli_verify import verify as verify_cmd
from droneaudit.cli_watch import watch as watch_cmd
from droneaudit.enrich.catalog import Catalog
from droneaudit.errors import DroneauditError, NothingReadable, UsageError
from droneaudit.export.geojson import to_geojson
from droneaudit.readers._registry import READERS
from droneaudit.readers.logs.keychain_option import DjiKeychainOption, load_keychains, with_keychains
from droneaudit.readers.source import sha256_file
from droneaudit.render import terminal
from droneaudit.render.progress import progress_for
from droneaudit.render.safe import terminal_text

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion (docs/getting-started.md)
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Where does our drone data go? Offline audit of captures and drone evidence.",
)

Paths = Annotated[
    list[Path], typer.Argument(help="Capture files or folders (pcap, pcapng, .gz).", show_default=False)
]
JsonOut = Annotated[
    str | None, typer.Option("--json", help="Write the case as JSON to FILE, or '-' for stdout.")
]
ParquetOut = Annotated[Path | None, typer.Option("--parquet", help="Write tables as Parquet files into DIR.")]
CaseOut = Annotated[Path | None, typer.Option("--case", help="Write the case into a DuckDB file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")]
PolicyFile = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML: allowed hosts/categories, scope.")
]
ShowFlows = Annotated[bool, typer.Option("--flows", help="Also print the flow table.")]
GeojsonOut = Annotated[
    Path | None, typer.Option("--geojson", help="Write tracks and points as GeoJSON (QGIS).")
]


def _version(value: bool) -> None:
    if value:
        from droneaudit.versions import version_lines

        typer.echo("\n".join(version_lines()))
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print versions.")
    ] = False,
) -> None:
    """droneaudit: offline, evidence-linked answers about drone data egress."""


@app.command()
def scan(
    paths: Paths,
    device: Devices = None,
    json: JsonOut = None,
    parquet: ParquetOut = None,
    case: CaseOut = None,
    quiet: Quiet = False,
    policy: PolicyFile = None,
    allow_host: AllowHost = None,
    allow_category: AllowCategory = None,
    scope: Scope = None,
    fail_on: FailOn = None,
    catalog: CatalogFile = None,
    flows: ShowFlows = False,
    geojson: GeojsonOut = None,
    dji_keychain: DjiKeychainOption = None,
    sites: SitesOpt = None,
    buffer: BufferOpt = None,
    clock_offset: ClockOpt = None,
    window: WindowOpt = 30.0,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    dashboard: DashboardOpt = False,
    content: ContentOpt = False,
    keylog: KeylogOpt = None,
    extract: ExtractOpt = None,
    case_id: CaseIdOpt = None,
    examiner: ExaminerOpt = None,
    sign: SignOpt = None,
) -> None:
    """Read captures into flows, name and classify every remote, and give the verdict."""
    files = _skip_known(droneaudit.scan_paths(paths), case, quiet)
    outputs = [Path(json)] if json and json != "-" else []
    _refuse_overwrite(files, outputs + ([geojson] if geojson else []), parquet, case)
    custody = prepare(case_id, examiner, sign, json, parquet, case)
    rules = (load_policy(policy) if policy else Policy()).with_flags(
        allow_host or [], allow_category or [], scope, fail_on
    )
    readers = with_keychains(READERS, load_keychains(dji_keychain))
    with progress_for(files, enabled=not quiet and sys.stderr.isatty()) as sink:
        result = run_scan(
            engine,
            scheduler,
            workers,
            dashboard,
            files,
            devices=device or (),
            progress=sink,
            policy=rules,
            catalog=_catalog(catalog or []),
            readers=readers,
            sites=load_sites(sites, buffer),
            clock_offsets=clock_offsets(clock_offset),
            window_s=window * 60,
            content=content_options(content, keylog, extract),
        )
    result.custody = custody
    _emit(result, json, parquet, case, quiet, flows)
    sign_outputs(sign, result, json, parquet, case, quiet)
    if geojson is not None:
        collection = to_geojson(result.tracks, result.media)
        geojson.write_text(
            jsonlib.dumps(collection, allow_nan=False, sort_keys=True) + "\n", encoding="utf-8"
        )
    if not result.readable():
        raise NothingReadable("no input could be read as evidence (see the problems above)")
    raise typer.Exit(result.exit_code)


def _skip_known(files: list[Path], case: Path | None, quiet: bool) -> list[Path]:
    """With ``--case`` on an existing case file: inputs already in it (same SHA-256) are not scanned again."""
    known = store.known_inputs(case) if case is not None else set()
    if not known:
        return files
    fresh = [f for f in files if sha256_file(f) not in known]
    if len(fresh) < len(files) and not quiet:
        skipped = len(files) - len(fresh)
        report_console(stderr=True).print(f"{skipped} file(s) already in {escape(str(case))}: skipped")
    if not fresh:
        raise UsageError(f"every input is already in {case}; nothing new to scan")
    return fresh


@app.command()
def query(
    case_file: Annotated[Path, typer.Argument(help="DuckDB case file written by 'scan --case'.")],
    sql: Annotated[str, typer.Argument(help="One SQL statement (read-only).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Query a case file with SQL, read-only (no writes, no other files, no extensions)."""
    if not case_file.is_file():
        raise UsageError(f"no such case file: {case_file}")
    try:
        table = store.query(case_file, sql)
    except duckdb.Error as exc:
        raise UsageError(f"query failed: {str(exc).splitlines()[0]}") from exc
    if as_json:
        sys.stdout.write(jsonlib.dumps(table.to_pylist(), default=str, sort_keys=True, indent=2) + "\n")
    elif as_csv:
        sink = io.BytesIO()
        pacsv.write_csv(table, sink)
        sys.stdout.write(sink.getvalue().decode("utf-8"))
    else:
        terminal.query_table(table, report_console())


def _catalog(extra: list[Path]) -> Catalog:
    merged = Catalog.load_default()
    for path in extra:
        merged = merged.merged(Catalog.from_toml(path))
    return merged


def _refuse_overwrite(inputs: list[Path], files: list[Path], *folders: Path | None) -> None:
    """Evidence is never written to: refuse any output that is, or would replace, an input."""
    taken = {p.resolve() for p in inputs}
    for out in files + [f for f in folders if f is not None]:
        if out.resolve() in taken:
            raise UsageError(f"refusing to write output over the input file {out}")


def report_console(*, stderr: bool = False) -> Console:
    """A console for reports: a terminal's own width, else wide enough that addresses are not cut."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "132"))
    return Console(file=stream, highlight=False, width=width)


def _emit(
    result: Case, json: str | None, parquet: Path | None, case: Path | None, quiet: bool, flows: bool
) -> None:
    console = report_console(stderr=json == "-")
    if not quiet:
        terminal.render(result, console, flows=flows)
    if json == "-":
        sys.stdout.write(result.to_json())
    elif json:
        Path(json).write_text(result.to_json(), encoding="utf-8")
    if parquet is not None:
        result.to_parquet(parquet)
    if case is not None:
        result.to_duckdb(case)


@app.command()
def formats() -> None:
    """List the evidence formats droneaudit reads (each reader picks files by content, not by name)."""
    from droneaudit.readers._registry import READERS

    for reader in READERS:
        doc = (sys.modules[type(reader).__module__].__doc__ or "").strip().splitlines()
        typer.echo(f"{reader.name:20} {doc[0] if doc else ''}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the generated evidence and outputs.")] = Path(
        "build/demo"
    ),
) -> None:
    """Generate a synthetic DJI-style app session, scan it, and show what the tool reports."""
    from droneaudit.demo import run_demo

    run_demo(out, report_console(), corpus=_corpus())


def _corpus() -> Path | None:
    env = os.environ.get("DRONEAUDIT_CORPUS")
    candidate = Path(env) if env else Path("..") / "shared" / "corpus"
    return candidate if candidate.is_dir() else None


app.command("export")(export_cmd)
app.command("sanitize")(sanitize_cmd)
app.command("report")(report_cmd)
app.command("watch")(watch_cmd)
app.command("diff")(diff_cmd)
app.command("verify")(verify_cmd)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and map errors to exit codes without tracebacks."""
    err = Console(stderr=True, highlight=False)
    try:
        app(args=argv, prog_name="droneaudit")
    except SystemExit as exc:  # typer's standalone mode: usage errors already printed (exit 2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except DroneauditError as exc:
        err.print(f"Error: {escape(terminal_text(str(exc), limit=500))}", soft_wrap=True)
        return 2 if isinstance(exc, UsageError | NothingReadable) else 1
    except OSError as exc:
        err.print(f"Error: {escape(terminal_text(exc, limit=500))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    return 0
