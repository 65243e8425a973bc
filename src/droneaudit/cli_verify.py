"""``droneaudit verify``: re-hash what a scan read and wrote, check the signature, one line per item."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from droneaudit import custody
from droneaudit.render.safe import terminal_text

_LABELS = {custody.PASS: "PASS", custody.FAIL: "FAIL", custody.SKIP: "SKIP", custody.NOTE: "NOTE"}

Target = Annotated[
    Path,
    typer.Argument(
        help="A Parquet folder (scan --parquet), DuckDB case file (--case) or JSON case (--json)."
    ),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key", help="Trusted public key (OpenSSH .pub line, PEM, raw Ed25519): the signer must be it."
    ),
]
InputsBaseOpt = Annotated[
    Path | None,
    typer.Option(
        "--inputs-base", help="Folder the recorded input paths are relative to (default: current folder)."
    ),
]


def verify(target: Target, key: KeyOpt = None, inputs_base: InputsBaseOpt = None) -> None:
    """Check a case's signature and re-hash its outputs and inputs, one line per item.

    Exit 0 when nothing failed, 1 when something did (inputs no longer there are skipped, not failed)."""
    checks = custody.verify(target, key, inputs_base)
    console = Console(highlight=False)
    for check in checks:
        line = (
            f"{_LABELS[check.status]}  {terminal_text(check.item, limit=300)}: {terminal_text(check.detail)}"
        )
        console.print(escape(line), soft_wrap=True)
    counts = {s: sum(1 for c in checks if c.status == s) for s in _LABELS}
    verdict = "FAILED" if counts[custody.FAIL] else "OK"
    console.print(
        f"Verify {verdict}: {counts[custody.PASS]} passed, {counts[custody.FAIL]} failed, "
        f"{counts[custody.SKIP]} skipped",
        soft_wrap=True,
    )
    raise typer.Exit(custody.exit_code(checks))
