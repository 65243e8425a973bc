"""Records that place evidence in time and space: flights, site exposures, the traffic around each
flight, and the claims ledger's results. Part of the public schema (see model.py, which re-exports
them); ``SCHEMA_VERSION`` changes when their fields do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --- Sites, flights, exposure, correlation, claims ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flight:
    """One flight of one device: consecutive track points without a long gap (see flights.py)."""

    id: str  #: stable: "<device>#<n>" in start order
    device: str  #: aircraft serial when known, else the source file
    start_utc: str | None
    end_utc: str | None
    takeoff: tuple[float, float] | None  #: (lat, lon)
    landing: tuple[float, float] | None
    points: int
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        def ll(p: tuple[float, float] | None) -> dict[str, float] | None:
            return {"lat": p[0], "lon": p[1]} if p else None

        return {
            "id": self.id,
            "device": self.device,
            "start_utc": self.start_utc,
            "end_utc": self.end_utc,
            "takeoff": ll(self.takeoff),
            "landing": ll(self.landing),
            "points": self.points,
            "files": list(self.files),
        }


@dataclass(frozen=True, slots=True)
class Exposure:
    """Track points or photo positions inside one sensitive site's buffer."""

    site: str
    layer: str
    flight: str | None
    file: str
    kind: str  #: "track" (aircraft) | "home" | "operator" | "target" | "photo"
    first_utc: str | None
    last_utc: str | None
    min_distance_m: float  #: 0 inside the site itself, else the distance to its geometry
    points: int
    severity: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "layer": self.layer,
            "flight": self.flight,
            "file": self.file,
            "kind": self.kind,
            "first_utc": self.first_utc,
            "last_utc": self.last_utc,
            "min_distance_m": self.min_distance_m,
            "points": self.points,
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class Correlation:
    """Traffic to one host during, just after or just before one flight."""

    flight: str
    host: str
    category: str | None
    relation: str  #: "during" | "after_landing" | "before_takeoff"
    offset_s: float  #: seconds from takeoff (during, before) or from landing (after)
    bytes_up: int
    bytes_down: int
    evidence: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "flight": self.flight,
            "host": self.host,
            "category": self.category,
            "relation": self.relation,
            "offset_s": self.offset_s,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "evidence": [dict(e) for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """One public claim about drone data flows, as this case's evidence bears on it."""

    id: str
    claim: str
    source: str
    status: str  #: "supported" | "contradicted" | "not-testable"
    evidence: tuple[dict[str, Any], ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "claim": self.claim,
            "source": self.source,
            "status": self.status,
            "evidence": [dict(e) for e in self.evidence],
            "note": self.note,
        }
