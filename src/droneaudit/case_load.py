"""Reading a case file (DuckDB, written by ``scan --case``) back into a Case.

The stored evidence tables — inputs, flows, DNS, problems, interfaces, media, tracks, identities — are
read as written; endpoints, findings, the verdict, flights, exposures and correlations are derived
again by the same pure functions a scan uses, with today's catalog, IP data, policy and site layers.
Nothing is fetched; the file is opened read-only. A Parquet case folder (``scan --parquet DIR``: one
file per table plus ``manifest.json``) reads back the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from droneaudit.case import Case
from droneaudit.content.model import ContentHit, TlsSession, message_from_dict
from droneaudit.model import CaptureStats, Identity, InputFile, Interface, MediaItem, Problem, TrackPoint
from droneaudit.store import connect

DUCKDB_MAGIC = b"DUCK"


def is_case_file(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[8:12] == DUCKDB_MAGIC


def load_case(path: Path) -> Case:
    con = connect(path, read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}

        def table(name: str) -> pa.Table | None:
            return con.sql(f'SELECT * FROM "{name}"').to_arrow_table() if name in names else None

        tables = {name: table(name) for name in ("flows", "dns", *_RECORD_TABLES)}
        stats = _stats(con, names)
    finally:
        con.close()
    return _case(tables, stats, f"{path} holds no flows table: not a droneaudit case file")


def is_parquet_case(folder: Path) -> bool:
    """A folder written by ``scan --parquet``: its flows table and manifest are both there."""
    return (folder / "flows.parquet").is_file() and (folder / "manifest.json").is_file()


def load_parquet_case(folder: Path) -> Case:
    """The Parquet twin of ``load_case``: the same tables, read from one file each."""

    def table(name: str) -> pa.Table | None:
        path = folder / f"{name}.parquet"
        return pq.read_table(path) if path.is_file() else None

    tables = {name: table(name) for name in ("flows", "dns", *_RECORD_TABLES)}
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    stats = CaptureStats.from_dict(manifest.get("stats", {}))
    return _case(tables, stats, f"{folder} holds no flows.parquet: not a droneaudit Parquet case")


def _case(tables: dict[str, pa.Table | None], stats: CaptureStats, missing_flows: str) -> Case:
    """Evidence tables (as written) into a Case; the judgements are left to ``scan.conclude``."""
    flows = tables["flows"]
    if flows is None:
        raise ValueError(missing_flows)
    rows = {n: (t.to_pylist() if (t := tables[n]) is not None else []) for n in _RECORD_TABLES}
    return Case(
        inputs=[InputFile(**r) for r in rows["inputs"]],
        flows=_ns_times(flows),
        problems=[Problem(**r) for r in rows["problems"]],
        interfaces=[Interface(**{**r, "addresses": tuple(r["addresses"] or ())}) for r in rows["interfaces"]],
        stats=stats,
        dns=tables["dns"],
        media=[_media(r) for r in rows["media"] if "path" in r],
        tracks=[TrackPoint(**r) for r in rows["tracks"] if "lat" in r],
        identities=[Identity(**r) for r in rows["identities"] if "kind" in r],
        tls_sessions=[TlsSession.from_dict(r) for r in rows["tls_sessions"] if "status" in r],
        http_messages=[message_from_dict(r) for r in rows["http_messages"] if "direction" in r],
        content_hits=[ContentHit.from_dict(r) for r in rows["content_hits"] if "kind" in r],
    )


_RECORD_TABLES = (
    "inputs",
    "problems",
    "interfaces",
    "media",
    "tracks",
    "identities",
    "tls_sessions",
    "http_messages",
    "content_hits",
)


def _ns_times(flows: pa.Table) -> pa.Table:
    """DuckDB keeps microseconds; the derivations expect nanosecond UTC timestamps."""
    for name in ("first_seen", "last_seen"):
        i = flows.schema.get_field_index(name)
        flows = flows.set_column(i, name, flows.column(name).cast(pa.timestamp("ns", tz="UTC")))
    return flows


def _media(r: dict[str, Any]) -> MediaItem:
    def obj(value: Any) -> dict[str, str]:
        return dict(json.loads(value)) if isinstance(value, str) else dict(value or {})

    carved = {"extracted_from": obj(r["extracted_from"]) if r.get("extracted_from") else None}
    return MediaItem(**{**r, "serials": obj(r.get("serials")), "extra": obj(r.get("extra")), **carved})


def _stats(con: Any, names: set[str]) -> CaptureStats:
    if "manifest" not in names:
        return CaptureStats()
    rows = dict(con.execute("SELECT key, value FROM manifest").fetchall())
    return CaptureStats.from_dict(json.loads(rows.get("stats", "{}")))
