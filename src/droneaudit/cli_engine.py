"""``scan --engine local|dask``: the options, and the one call ``cli.scan`` makes to read the inputs.

``local`` (the default) is :func:`droneaudit.scan`, in this process, with no sockets. ``dask`` reads the
files as Dask distributed tasks (:mod:`droneaudit.engine_dask`, docs/fleet.md) and gives the same case.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

import droneaudit
from droneaudit.case import Case
from droneaudit.errors import UsageError


class Engine(StrEnum):
    local = "local"
    dask = "dask"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local: read in this process. dask: read files as Dask tasks (--scheduler or --workers).",
        case_sensitive=False,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="With --engine dask: address (tcp://host:8786) or scheduler JSON file of an existing cluster.",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="With --engine dask and no --scheduler: worker processes of a local cluster on 127.0.0.1.",
    ),
]
DashboardOpt = Annotated[
    bool,
    typer.Option("--dashboard", help="With a local Dask cluster: serve its dashboard on 127.0.0.1:8787."),
]

#: Local cluster size when neither --scheduler nor --workers is given.
DEFAULT_WORKERS = 2


def run_scan(
    engine: Engine | str,
    scheduler: str | None,
    workers: int | None,
    dashboard: bool,
    files: Sequence[Path],
    **kw: Any,
) -> Case:
    """Scan ``files`` with the chosen engine; ``kw`` are :func:`droneaudit.scan`'s keyword arguments."""
    name = Engine(engine.value if isinstance(engine, Engine) else str(engine).lower())
    if name is Engine.local:
        if scheduler is not None or workers is not None or dashboard:
            raise UsageError("--scheduler, --workers and --dashboard need --engine dask")
        return droneaudit.scan(files, **kw)
    if scheduler is not None and workers is not None:
        raise UsageError("--workers starts a local cluster; it cannot be combined with --scheduler")
    if scheduler is not None and dashboard:
        raise UsageError("--dashboard applies to a local cluster; an existing cluster serves its own")
    if kw.get("content") is not None:
        raise UsageError("the content audit (--content, --keylog) runs with the local engine only")
    kw.pop("content", None)
    from droneaudit.engine_dask import scan_dask

    return scan_dask(
        files,
        scheduler=scheduler,
        workers=workers if workers is not None else DEFAULT_WORKERS,
        dashboard=dashboard,
        **kw,
    )
