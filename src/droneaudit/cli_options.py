"""Options shared by ``scan`` and ``watch``: which device is audited and what the policy allows.
Declared once so both commands spell and explain them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Devices = Annotated[
    list[str] | None, typer.Option("--device", help="Address or CIDR of the audited device (repeatable).")
]
AllowHost = Annotated[
    list[str] | None, typer.Option("--allow-host", help="Host (or *.suffix) that is allowed.")
]
AllowCategory = Annotated[
    list[str] | None, typer.Option("--allow-category", help="Catalog category allowed.")
]
Scope = Annotated[str | None, typer.Option("--scope", help="device (any egress counts) or vendor.")]
FailOn = Annotated[str | None, typer.Option("--fail-on", help="Lowest finding severity that exits 1.")]
CatalogFile = Annotated[list[Path] | None, typer.Option("--catalog", help="Extra catalog TOML (repeatable).")]
