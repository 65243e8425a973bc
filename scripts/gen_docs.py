"""Generate the reference pages of the documentation site from the code, so they cannot drift from it.

    python scripts/gen_docs.py           # (re)write docs/reference/*.md
    python scripts/gen_docs.py --check   # exit 1 and name the stale pages (what tests/test_docs.py does)

Pages: ``reference/cli.md`` (every command and option, from the typer app: the same text ``--help``
prints), ``reference/schemas.md`` (JSON keys, Parquet/DuckDB tables, record fields), ``reference/catalog.md``
(the endpoint catalog with its sources) and ``reference/formats.md`` (the reader registry). Run it after
adding a command or an option, changing a record, the catalog or a reader; commit the result.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_docs_tables as tables  # noqa: E402  (a sibling script, importable once the path is set)
from gen_docs_tables import STAMP, md_cell, md_code  # noqa: E402

# --- CLI reference -------------------------------------------------------------------------------------


def cli_reference() -> str:
    """Every command in alphabetical order after the root, each with usage, help and options."""
    from typer.main import get_command

    from droneaudit.cli import app

    root = get_command(app)
    root_ctx = root.context_class(root, info_name="droneaudit")
    commands: dict[str, Any] = dict(getattr(root, "commands", {}))
    lines = [
        "# Command-line reference",
        "",
        STAMP.format(source="the typer app in `droneaudit.cli`"),
        "",
        "Every command and option, with the help text `droneaudit COMMAND --help` prints. Exit codes:",
        "0 = fine (for `scan`: pass and no finding at or above `--fail-on`), 1 = verdict fail or",
        "inconclusive or such a finding, 2 = usage error or nothing readable.",
        "",
        "| command | what it does |",
        "|---|---|",
        *(
            f"| [{name}](#droneaudit-{name}) | {md_cell(_first_line(cmd.help))} |"
            for name, cmd in sorted(commands.items())
        ),
        "",
    ]
    lines += _command("droneaudit", root, root_ctx)
    for name, cmd in sorted(commands.items()):
        ctx = cmd.context_class(cmd, info_name=name, parent=root_ctx)
        lines += _command(f"droneaudit {name}", cmd, ctx)
    return "\n".join(lines).rstrip() + "\n"


def _first_line(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n", 1)[0].replace("\n", " ")


def _command(path: str, cmd: Any, ctx: Any) -> list[str]:
    lines = [f"## {path}", "", "```", f"{path} {_usage(cmd)}".rstrip(), "```", ""]
    lines += [inspect.cleandoc(cmd.help or ""), ""]
    params = [(p, p.get_help_record(ctx)) for p in cmd.params]
    args = [(p, r) for p, r in params if r and p.param_type_name == "argument"]
    opts = [(p, r) for p, r in params if r and p.param_type_name != "argument"]
    for title, rows in (("argument", args), ("option", opts)):
        if rows:
            lines += [f"| {title} | meaning |", "|---|---|"]
            lines += [f"| {md_code(rec[0])} | {md_cell(rec[1])} |" for _, rec in rows]
            lines.append("")
    return lines


def _usage(cmd: Any) -> str:
    """``[OPTIONS] PATHS...`` style: arguments upper-case, optional ones in brackets."""
    parts = ["[OPTIONS]"] if any(p.param_type_name != "argument" for p in cmd.params) else []
    for p in cmd.params:
        if p.param_type_name == "argument":
            name = (p.name or "").upper() + ("..." if p.nargs == -1 else "")
            parts.append(name if p.required else f"[{name}]")
    if getattr(cmd, "commands", None):
        parts.append("COMMAND [ARGS]...")
    return " ".join(parts)


# --- writing and checking ------------------------------------------------------------------------------

PAGES: dict[str, Callable[[], str]] = {
    "reference/cli.md": cli_reference,
    "reference/schemas.md": tables.schemas_reference,
    "reference/catalog.md": tables.catalog_reference,
    "reference/formats.md": tables.formats_reference,
}


def generate(names: Iterable[str] | None = None) -> dict[str, str]:
    """Page path (under docs/) → its text as the code generates it now."""
    return {name: PAGES[name]() for name in (names or PAGES)}


def stale(pages: dict[str, str], docs: Path = DOCS) -> list[str]:
    """Pages whose committed file differs from ``pages`` (or is missing)."""
    out = []
    for name, text in pages.items():
        path = docs / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/reference/*.md from the code.")
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1 if any)")
    args = parser.parse_args(argv)
    pages = generate()
    outdated = stale(pages)
    if args.check:
        for name in outdated:
            print(f"stale: docs/{name} (run: python scripts/gen_docs.py)")
        return 1 if outdated else 0
    for name in outdated:
        (DOCS / name).parent.mkdir(parents=True, exist_ok=True)
        (DOCS / name).write_text(pages[name], encoding="utf-8")
        print(f"wrote docs/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
