"""``droneaudit sanitize``: the command-line shell over ``droneaudit.sanitize.sanitize``.

Kept out of ``cli.py`` so the sanitizer's options and table live next to each other; ``cli.py`` registers
it with ``app.command("sanitize")(sanitize)``. This module imports nothing from ``cli.py`` (which imports
it), raises ``UsageError`` for the mistakes ``cli.main`` turns into exit code 2, and exits 1 when any file
failed verification. Every string that came from a file or path is stripped of control characters and
escaped before rich sees it, so a file name cannot restyle or rewrite the terminal.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from droneaudit.errors import UsageError
from droneaudit.render.safe import terminal_text
from droneaudit.sanitize import Options, Report, parse_profile, profile_label
from droneaudit.sanitize import sanitize as sanitize_files
from droneaudit.sanitize.run import CLEANED, DROPPED, FAILED, FileResult

Paths = Annotated[
    list[Path], typer.Argument(help="Photos, SRT sidecars, DNGs or folders to clean.", show_default=False)
]
Out = Annotated[
    Path | None,
    typer.Option("--out", help="Folder for the cleaned copies, tree mirrored (required; never an input)."),
]
Remove = Annotated[
    str,
    typer.Option("--remove", help="What to remove: location, identity, time (comma-separated) or all."),
]
DropThermal = Annotated[
    bool, typer.Option("--drop-thermal", help="Also drop radiometric data (APP3-APP6, FLIR FFF).")
]
Manifest = Annotated[
    Path | None,
    typer.Option("--manifest", help="Write the JSON manifest here (default: OUT/droneaudit-sanitize.json)."),
]
MAX_GROUPS = 4
_TAGGED = re.compile(r"^(.*):\S")


def sanitize(
    paths: Paths,
    out: Out = None,
    remove: Remove = "location,identity",
    drop_thermal: DropThermal = False,
    manifest: Manifest = None,
) -> None:
    """Write cleaned copies of drone photos and SRT sidecars, each verified by re-reading it."""
    if out is None:
        raise UsageError("sanitize needs --out DIR: cleaned copies go there, the originals are never touched")
    opts = Options(parse_profile(remove), drop_thermal)
    report = sanitize_files(paths, out, opts, manifest)
    render(report, _console())
    raise typer.Exit(report.exit_code)


def _console() -> Console:
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "132"))
    return Console(highlight=False, width=width)


def _safe(value: object, limit: int = 200) -> str:
    return escape(terminal_text(value, limit=limit))


def removed_summary(result: FileResult) -> str:
    """Fields removed, grouped by where they were (``EXIF GPS ×9, XMP drone-dji ×6, …``)."""
    groups: Counter[str] = Counter()
    for name, count in result.removed.items():
        tagged = _TAGGED.match(name)  # "EXIF GPS:GPSLatitude" → "EXIF GPS"; prose with ": " stays whole
        groups[tagged[1] if tagged else name] += count
    if not groups:
        return "nothing" if result.status == CLEANED else ""
    parts = [f"{group} ×{n}" if n > 1 else group for group, n in groups.most_common(MAX_GROUPS)]
    more = len(groups) - MAX_GROUPS
    return ", ".join(parts) + (f", +{more} more" if more > 0 else "")


def _verified(result: FileResult) -> str:
    reason = _safe(result.reason or "", 160)
    if result.status == CLEANED:
        return "[green]yes[/green]"
    if result.status == FAILED:
        return f"[red]FAILED[/red]: {reason} (nothing kept)"
    if result.status == DROPPED:
        return f"dropped: {reason}"
    return f"[dim]skipped[/dim]: {reason}"


def render(report: Report, console: Console) -> None:
    """The table (file, removed, verified), then where the manifest went."""
    thermal = " and thermal data" if report.opts.drop_thermal else ""
    table = Table(title=f"sanitize: removing {profile_label(report.opts.profile)}{thermal}", expand=False)
    for column in ("file", "removed", "verified"):
        table.add_column(column, overflow="fold")
    for result in sorted(report.files, key=lambda f: f.input):
        table.add_row(_safe(result.input), _safe(removed_summary(result)), _verified(result))
    console.print(table)
    counts = Counter(f.status for f in report.files)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"{_safe(summary)}. Manifest: {_safe(report.manifest)}", soft_wrap=True)
