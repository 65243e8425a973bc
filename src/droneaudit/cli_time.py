"""Command-line options shared by ``scan`` and ``report`` for sites and time: site layers with their
buffers, per-source clock offsets, and the window around a flight in which traffic is correlated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from droneaudit.errors import UsageError

if TYPE_CHECKING:
    from droneaudit.sites import Site

SitesOpt = Annotated[
    list[Path] | None,
    typer.Option("--sites", help="Site layer (GeoJSON, KML, CSV); repeatable.", metavar="FILE"),
]
BufferOpt = Annotated[
    float | None, typer.Option("--buffer", help="Buffer in metres where a site gives none (default 0/100).")
]
ClockOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--clock-offset", help="SRC=±SECONDS added to that source's times (repeatable).", metavar="SRC=S"
    ),
]
WindowOpt = Annotated[
    float, typer.Option("--window", help="Minutes before takeoff / after landing to correlate.")
]


def load_sites(paths: list[Path] | None, buffer_m: float | None) -> list[Site]:
    if not paths:
        return []
    from droneaudit import sites as sites_mod  # shapely loads only when sites are given

    return sites_mod.load(paths, buffer_m=buffer_m)


def clock_offsets(specs: list[str] | None) -> dict[str, float]:
    """``SRC=±SECONDS`` pairs; SRC is a file path or name, matched against each record's source file."""
    out: dict[str, float] = {}
    for spec in specs or []:
        source, sep, value = spec.rpartition("=")
        try:
            out[source] = float(value)
        except ValueError:
            raise UsageError(f"--clock-offset {spec!r}: expected SRC=±SECONDS") from None
        if not sep or not source:
            raise UsageError(f"--clock-offset {spec!r}: expected SRC=±SECONDS")
    return out
