"""``droneaudit report``: scan the evidence, test the claims ledger, and write the HTML report.

Kept apart from ``cli.py`` so the command is one import for the lead to register. The report is a
document, not a gate: the command exits 0 once it is written (``scan`` is the command whose exit code
follows the verdict), and 2 when the request is wrong or nothing could be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import duckdb
import typer

import droneaudit
from droneaudit import claims as claims_mod
from droneaudit.case import Case
from droneaudit.case_load import is_case_file, load_case
from droneaudit.cli_time import BufferOpt, ClockOpt, SitesOpt, WindowOpt, clock_offsets, load_sites
from droneaudit.errors import NothingReadable, UsageError
from droneaudit.scan import conclude

if TYPE_CHECKING:  # jinja2 and shapely load only when a report is written, not for every CLI command
    from droneaudit.sites import Site

#: DuckDB's file header: 8 bytes of checksum, then the magic.

Inputs = Annotated[
    list[Path],
    typer.Argument(help="Evidence files or folders (captures, drone media, logs).", show_default=False),
]
HtmlOut = Annotated[Path, typer.Option("--html", help="Write the self-contained HTML report to FILE.")]
Conditions = Annotated[
    list[str] | None,
    typer.Option(
        "--condition",
        help="Setting in force during the capture: local-data-mode=on|off, sync=on|off, account-region=us.",
    ),
]
Devices = Annotated[
    list[str] | None, typer.Option("--device", help="Address or CIDR of the audited device (repeatable).")
]
JsonOut = Annotated[
    Path | None, typer.Option("--json", help="Also write the case, claims included, as JSON.")
]


def report(
    inputs: Inputs,
    html: HtmlOut,
    conditions: Conditions = None,
    device: Devices = None,
    json: JsonOut = None,
    sites: SitesOpt = None,
    buffer: BufferOpt = None,
    clock_offset: ClockOpt = None,
    window: WindowOpt = 30.0,
) -> None:
    """Write an offline HTML report: verdict, endpoints, map, timeline, claims, evidence manifest."""
    declared = claims_mod.parse_conditions(conditions or [])
    files = droneaudit.scan_paths(inputs)
    _refuse_overwrite(files, [html] + ([json] if json else []))
    layers = load_sites(sites, buffer)
    offsets = clock_offsets(clock_offset)
    case_files = [f for f in files if is_case_file(f)]
    if case_files:
        if len(case_files) != len(files) or len(case_files) > 1:
            raise UsageError("give either one case file or evidence files, not both")
        case = _from_case_file(case_files[0], layers, offsets, window * 60)
    else:
        case = droneaudit.scan(
            files, devices=device or (), sites=layers, clock_offsets=offsets, window_s=window * 60
        )
    if not case.readable():
        raise NothingReadable("no input could be read as evidence; no report written")
    case.claims = claims_mod.evaluate(case, declared)
    from droneaudit.render.html import write_html

    write_html(case, html, conditions=declared, sites=layers)
    if json is not None:
        json.write_text(case.to_json(), encoding="utf-8")
    typer.echo(f"Wrote {html}")


def _from_case_file(path: Path, layers: list[Site], offsets: dict[str, float], window_s: float) -> Case:
    """A stored case: evidence tables as written, judgements derived again (see case_load.py)."""
    try:
        case = load_case(path)
    except (ValueError, duckdb.Error) as exc:
        raise UsageError(f"cannot read case file {path}: {str(exc).splitlines()[0]}") from exc
    return conclude(case, sites=layers, clock_offsets=offsets, window_s=window_s)


def _refuse_overwrite(inputs: list[Path], outputs: list[Path]) -> None:
    """Evidence is never written to: refuse an output that is one of the inputs."""
    taken = {p.resolve() for p in inputs}
    for out in outputs:
        if out.resolve() in taken:
            raise UsageError(f"refusing to write output over the input file {out}")
