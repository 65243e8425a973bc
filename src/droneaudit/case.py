"""A case: the inputs (with SHA-256), the tables, the problems, and the versions that produced them.

Persistence lives here: deterministic JSON (sorted keys, stable row order, no wall-clock), Parquet
files, and one DuckDB file (extension autoload/autoinstall off, so DuckDB never reaches the network).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from droneaudit import __version__
from droneaudit.model import (
    SCHEMA_VERSION,
    CaptureStats,
    ClaimResult,
    Correlation,
    Exposure,
    Finding,
    Flight,
    Identity,
    InputFile,
    Interface,
    MediaItem,
    Problem,
    TrackPoint,
    Verdict,
)
from droneaudit.readers.source import sha256_file

if TYPE_CHECKING:
    from droneaudit.content.model import ContentHit, HttpMessage, TlsSession
    from droneaudit.endpoints import Endpoint


def iso_utc(ns: int) -> str:
    """Nanoseconds since the epoch as ISO 8601 UTC with microseconds (Zeek's precision)."""
    sec, rem = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1000:06d}Z"


@dataclass
class Case:
    inputs: list[InputFile]
    flows: pa.Table
    problems: list[Problem]
    interfaces: list[Interface] = field(default_factory=list)
    stats: CaptureStats = field(default_factory=CaptureStats)
    dns: pa.Table | None = None
    endpoints: list[Endpoint] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    verdict: Verdict | None = None
    exit_code: int = 0
    fail_on: str = "high"
    data_sources: dict[str, Any] = field(default_factory=dict)
    media: list[MediaItem] = field(default_factory=list)
    tracks: list[TrackPoint] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    flights: list[Flight] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)
    correlations: list[Correlation] = field(default_factory=list)
    claims: list[ClaimResult] = field(default_factory=list)
    #: the content audit (scan --content / --keylog / HAR inputs); empty otherwise
    tls_sessions: list[TlsSession] = field(default_factory=list)
    http_messages: list[HttpMessage] = field(default_factory=list)
    content_hits: list[ContentHit] = field(default_factory=list)
    #: chain of custody (scan --case-id / --examiner): {"case_id": …, "examiner": …}; empty otherwise
    custody: dict[str, str] = field(default_factory=dict)

    def flow_records(self) -> list[dict[str, Any]]:
        """Flows as JSON-ready dicts (times as ISO 8601 UTC strings)."""
        return _records(self.flows)

    def dns_records(self) -> list[dict[str, Any]]:
        return _records(self.dns) if self.dns is not None else []

    def readable(self) -> bool:
        """True when at least one input was understood."""
        return any(i.format != "unknown" for i in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "droneaudit", "version": __version__},
            "inputs": [i.to_dict() for i in sorted(self.inputs, key=lambda i: (i.path, i.sha256))],
            "interfaces": _interface_rows(self.interfaces),
            "stats": self.stats.to_dict(),
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "endpoints": [e.to_dict() for e in self.endpoints],
            "findings": [f.to_dict() for f in self.findings],
            "data_sources": self.data_sources,
            "flows": self.flow_records(),
            "dns": self.dns_records(),
            "media": [m.to_dict() for m in sorted(self.media, key=lambda m: m.path)],
            "tracks": [t.to_dict() for t in sorted(self.tracks, key=_track_order)],
            "identities": [
                i.to_dict() for i in sorted(self.identities, key=lambda i: (i.file, i.kind, i.value))
            ],
            "flights": [f.to_dict() for f in self.flights],
            "exposures": [e.to_dict() for e in self.exposures],
            "correlations": [c.to_dict() for c in self.correlations],
            "claims": [c.to_dict() for c in self.claims],
            "problems": [p.to_dict() for p in self.problems],
            **self._content_dict(),
            **({"custody": self.custody} if self.custody else {}),
        }

    def _content_dict(self) -> dict[str, Any]:
        return {
            "tls_sessions": [s.to_dict() for s in self.tls_sessions],
            "http_messages": [m.to_dict() for m in self.http_messages],
            "content_hits": [h.to_dict() for h in self.content_hits],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    def tables(self) -> dict[str, pa.Table]:
        return {
            "flows": self.flows,
            "inputs": _records_table([i.to_dict() for i in self.inputs], _INPUT_SCHEMA),
            "problems": _records_table([p.to_dict() for p in self.problems], _PROBLEM_SCHEMA),
            "interfaces": _records_table(_interface_rows(self.interfaces), _INTERFACE_SCHEMA),
            **({"dns": self.dns} if self.dns is not None else {}),
            "endpoints": _json_table([e.to_dict() for e in self.endpoints], _ENDPOINT_COLUMNS),
            "findings": _json_table([f.to_dict() for f in self.findings], _FINDING_COLUMNS),
            "media": _nested_table([m.to_dict() for m in self.media]),
            "tracks": _nested_table([t.to_dict() for t in self.tracks]),
            "identities": _nested_table([i.to_dict() for i in self.identities]),
            "flights": _nested_table([f.to_dict() for f in self.flights]),
            "exposures": _nested_table([e.to_dict() for e in self.exposures]),
            "correlations": _nested_table([c.to_dict() for c in self.correlations]),
            "claims": _nested_table([c.to_dict() for c in self.claims]),
            **{name: _nested_table(rows) for name, rows in self._content_dict().items()},
        }

    def manifest(self) -> dict[str, Any]:
        custody = {"custody": self.custody} if self.custody else {}
        return {
            "schema_version": SCHEMA_VERSION,
            "tool_version": __version__,
            "stats": self.stats.to_dict(),
        } | custody

    def to_parquet(self, folder: Path) -> list[Path]:
        """One Parquet file per table plus manifest.json; returns the files written."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in self.tables().items():
            path = folder / f"{name}.parquet"
            pq.write_table(table, path)
            written.append(path)
        manifest = folder / "manifest.json"
        outputs = {"outputs": {p.name: sha256_file(p) for p in written}}  # what `droneaudit verify` re-hashes
        manifest.write_text(json.dumps(self.manifest() | outputs, sort_keys=True, indent=2) + "\n")
        return [*written, manifest]

    def to_duckdb(self, path: Path) -> None:
        """Add the case to a DuckDB case file (created when absent, appended to otherwise)."""
        from droneaudit.store import write_case

        write_case(self, path)


def _interface_rows(interfaces: list[Interface]) -> list[dict[str, Any]]:
    """By file and index, whatever order the files were read in (the same case gives the same bytes)."""
    return [i.to_dict() for i in sorted(interfaces, key=lambda i: (i.file, i.index))]


def _track_order(t: TrackPoint) -> tuple[Any, ...]:
    """Stable whatever order the inputs were given in: by file, then position in the file."""
    return (t.file, t.index if t.index is not None else -1, t.kind, t.time_utc or "", t.lat, t.lon, t.source)


def _records(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts; timestamp columns become ISO 8601 UTC strings."""
    cols = {name: _plain(table.column(name)) for name in table.column_names}
    for name in table.column_names:
        if pa.types.is_timestamp(table.schema.field(name).type):
            cols[name] = [iso_utc(v) if v is not None else None for v in cols[name]]
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def _plain(column: pa.ChunkedArray) -> list[Any]:
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]
    return column.to_pylist()  # type: ignore[no-any-return]


_INPUT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("format", pa.string()),
        ("size", pa.int64()),
        ("packets", pa.int64()),
    ]
)
_PROBLEM_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("offset", pa.int64()),
        ("frame", pa.int64()),
        ("code", pa.string()),
        ("detail", pa.string()),
        ("count", pa.int64()),
    ]
)
_INTERFACE_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("index", pa.int64()),
        ("link_type", pa.int64()),
        ("name", pa.string()),
        ("addresses", pa.list_(pa.string())),
        ("dropped", pa.int64()),
        ("received", pa.int64()),
    ]
)


_ENDPOINT_COLUMNS = {
    "host": pa.string(),
    "ips": pa.list_(pa.string()),
    "local": pa.bool_(),
    "asn": pa.int64(),
    "org": pa.string(),
    "country_registered": pa.string(),
    "country_geo": pa.string(),
    "category": pa.string(),
    "vendor": pa.string(),
    "service": pa.string(),
    "drone_vendor": pa.bool_(),
    "confidence": pa.string(),
    "flows": pa.int64(),
    "bytes_up": pa.int64(),
    "bytes_down": pa.int64(),
    "packets_up": pa.int64(),
    "packets_down": pa.int64(),
    "first_seen": pa.string(),
    "last_seen": pa.string(),
    "evidence": pa.string(),
}
_FINDING_COLUMNS = {
    "code": pa.string(),
    "severity": pa.string(),
    "file": pa.string(),
    "detail": pa.string(),
    "host": pa.string(),
    "evidence": pa.string(),
}


def _json_table(records: list[dict[str, Any]], columns: dict[str, pa.DataType]) -> pa.Table:
    """Records into a fixed schema; nested evidence lists are kept as JSON text."""
    rows = [
        {k: (json.dumps(r[k], sort_keys=True) if k == "evidence" else r.get(k)) for k in columns}
        for r in records
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(list(columns.items())))


def _nested_table(records: list[dict[str, Any]]) -> pa.Table:
    """Records whose nested values (dicts, lists) are kept as JSON text, so every table has flat,
    stable columns in Parquet and DuckDB whatever the content; an empty list gives a one-column table."""
    if not records:
        return pa.table({"json": pa.array([], type=pa.string())})
    names = sorted(records[0])
    cols = {
        n: [
            json.dumps(r.get(n), sort_keys=True) if isinstance(r.get(n), dict | list) else r.get(n)
            for r in records
        ]
        for n in names
    }
    return pa.table(
        {
            n: pa.array([None if v is None else str(v) for v in vals], type=pa.string())
            if any(isinstance(v, str) for v in vals)
            else pa.array(vals)
            for n, vals in cols.items()
        }
    )


def _records_table(records: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(records, schema=schema)
