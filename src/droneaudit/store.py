"""The case file: one DuckDB database with the case's tables and its manifest (DESIGN §1).

DuckDB is opened with extension autoload and autoinstall off so it never reaches for the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    from droneaudit.case import Case

OFFLINE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def connect(path: Path, *, read_only: bool = False) -> Any:
    return duckdb.connect(str(path), read_only=read_only, config=OFFLINE_CONFIG)


def write_case(case: Case, path: Path) -> None:
    """Add the case's tables to the case file: new tables are created, existing ones appended to (by
    column name), so scans accumulate. The manifest keeps the latest tool and schema version."""
    con = connect(path)
    try:
        existing = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        for name, table in case.tables().items():
            con.register("_incoming", table)
            if name in existing:
                con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _incoming')
            else:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
        con.execute("CREATE OR REPLACE TABLE manifest (key VARCHAR, value VARCHAR)")
        rows = [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(case.manifest().items())]
        con.executemany("INSERT INTO manifest VALUES (?, ?)", rows)
    finally:
        con.close()


def known_inputs(path: Path) -> set[str]:
    """SHA-256 of every input already in a case file (empty when the file does not exist yet)."""
    if not path.exists():
        return set()
    con = connect(path, read_only=True)
    try:
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "inputs" not in tables:
            return set()
        return {row[0] for row in con.execute("SELECT sha256 FROM inputs").fetchall()}
    finally:
        con.close()


def query(path: Path, sql: str) -> Any:
    """Run one SQL statement read-only, with DuckDB's access to other files and extensions off; returns
    an Arrow table."""
    config = {**OFFLINE_CONFIG, "enable_external_access": False}
    con = duckdb.connect(str(path), read_only=True, config=config)
    try:
        relation = con.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    finally:
        con.close()
