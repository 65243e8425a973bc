"""Command-line options of ``scan`` for chain of custody (``--case-id``, ``--examiner``, ``--sign``), and
signing what the scan wrote. The rules live in ``custody``; this is the thin shell around them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from droneaudit import custody
from droneaudit.custody_sig import load_signing_key
from droneaudit.errors import UsageError
from droneaudit.render.safe import terminal_text

if TYPE_CHECKING:
    from droneaudit.case import Case

CaseIdOpt = Annotated[
    str | None,
    typer.Option("--case-id", help="Case identifier, recorded in the manifest."),
]
ExaminerOpt = Annotated[
    str | None, typer.Option("--examiner", help="Examiner's name, recorded in the manifest.")
]
SignOpt = Annotated[
    Path | None,
    typer.Option(
        "--sign",
        help="Sign the manifests and --json FILE with this key (Ed25519 raw/PEM, or OpenSSH).",
        metavar="KEY",
    ),
]


def prepare(
    case_id: str | None,
    examiner: str | None,
    key: Path | None,
    json_out: str | None,
    parquet: Path | None,
    case: Path | None,
) -> dict[str, str]:
    """Before scanning: the identifiers are sound, the key loads and there is something to sign.
    Returns the identifiers for ``Case.custody``."""
    fields = custody.custody_fields(case_id, examiner)
    if key is None:
        return fields
    load_signing_key(key)
    if parquet is None and case is None and (json_out is None or json_out == "-"):
        raise UsageError("--sign needs an output file to sign: --parquet DIR, --case FILE or --json FILE")
    return fields


def sign_outputs(
    key: Path | None, result: Case, json_out: str | None, parquet: Path | None, case: Path | None, quiet: bool
) -> None:
    """After the outputs were written: sign each manifest (a case file gets its record first)."""
    if key is None:
        return
    targets = [parquet / "manifest.json"] if parquet is not None else []
    if case is not None:
        targets.append(custody.write_duckdb_record(result, case))
    if json_out is not None and json_out != "-":
        targets.append(Path(json_out))
    console = Console(stderr=True, highlight=False)
    for target in targets:
        sig_path, fingerprint = custody.sign_file(key, target)
        if not quiet:
            line = f"Signed {terminal_text(target)} with {fingerprint}: {terminal_text(sig_path)}"
            console.print(escape(line), soft_wrap=True)
