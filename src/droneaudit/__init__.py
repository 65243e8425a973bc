"""droneaudit: where does our drone data go, and can we stop it? Offline, evidence-linked answers.

The library is the product; the CLI is a thin shell over it::

    import droneaudit
    case = droneaudit.scan(["flight.pcapng"], devices=["192.168.43.23"])
    case.flow_records(); case.to_json(); case.to_parquet(Path("out")); case.to_duckdb(Path("case.duckdb"))
"""

from __future__ import annotations

__version__ = "0.1.0"

from droneaudit.case import Case
from droneaudit.model import SCHEMA_VERSION, CaptureStats, InputFile, Interface, Problem
from droneaudit.scan import scan, scan_paths

__all__ = [
    "SCHEMA_VERSION",
    "CaptureStats",
    "Case",
    "InputFile",
    "Interface",
    "Problem",
    "__version__",
    "scan",
    "scan_paths",
]
