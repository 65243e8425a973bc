"""``scan --content / --keylog / --extract``: the content audit's options (docs/content-audit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from droneaudit.content.pipeline import ContentOptions
from droneaudit.errors import UsageError

ContentOpt = Annotated[
    bool,
    typer.Option(
        "--content",
        help="Audit what was sent: cleartext HTTP, TLS decrypted with a key log, HAR files; "
        "positions, serials, phones, e-mails, device ids, tokens and uploaded files.",
    ),
]
KeylogOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--keylog",
        help="TLS key log (SSLKEYLOGFILE / NSS format, PCAPdroid or mitmproxy export); repeatable. "
        "Implies --content.",
    ),
]
ExtractOpt = Annotated[
    Path | None,
    typer.Option(
        "--extract",
        help="Folder for files carved out of traffic, named by sha256 (never overwritten). "
        "Without it carved files are inventoried and not kept.",
    ),
]


def content_options(content: bool, keylog: list[Path] | None, extract: Path | None) -> ContentOptions | None:
    """None unless the content audit was asked for; key log files must exist."""
    keylogs = tuple(keylog or ())
    for path in keylogs:
        if not path.is_file():
            raise UsageError(f"--keylog {path}: no such file")
    if not (content or keylogs or extract):
        return None
    return ContentOptions(keylogs, extract)
