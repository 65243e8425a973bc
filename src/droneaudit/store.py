"""The case file: one DuckDB database with the case's tables and its manifest (DESIGN §1).

DuckDB is opened with extension autoload and autoinstall off so it never reaches for the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from droneaudit.case import Case

OFFLINE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def connect(path: Path, *, read_only: bool = False) -> Any:
    return duckdb.connect(str(path), read_only=read_only, config=OFFLINE_CONFIG)


def write_case(case: Case, path: Path) -> None:
    con = connect(path)
    try:
        for name, table in case.tables().items():
            con.register("_incoming", table)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
        con.execute("CREATE OR REPLACE TABLE manifest (key VARCHAR, value VARCHAR)")
        rows = [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(case.manifest().items())]
        con.executemany("INSERT INTO manifest VALUES (?, ?)", rows)
    finally:
        con.close()
