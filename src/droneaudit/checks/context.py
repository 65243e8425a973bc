"""What every check reads: the case's tables, already built. Checks never do I/O."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import Catalog
from droneaudit.model import CaptureStats, Problem


@dataclass(frozen=True)
class CheckInput:
    flows: pa.Table
    dns: pa.Table | None
    endpoints: list[Endpoint]
    stats: CaptureStats
    problems: list[Problem]
    catalog: Catalog
    readable_inputs: int
    scope_reasons: tuple[str, ...] = ()  #: why the scope itself limits the answer (no app labels, …)
