"""The records droneaudit produces: one type per kind of thing, each field documented once.

Flows are bulk data and live in an Arrow table (``FLOW_SCHEMA``); the few per-file and per-problem
records are frozen dataclasses. The JSON, Parquet and DuckDB outputs are all derived from these, so
the field names here are the public interface (``SCHEMA_VERSION`` changes when they do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = "1.1"

#: Zeek-like inactivity timeouts (seconds) after which the same 5-tuple starts a new flow.
#: Zeek's defaults: tcp_inactivity_timeout 5 min, udp/icmp_inactivity_timeout 1 min.
SESSION_TIMEOUTS_S: dict[str, float] = {"tcp": 300.0, "udp": 60.0, "icmp": 60.0, "icmp6": 60.0, "other": 60.0}


@dataclass(frozen=True, slots=True)
class InputFile:
    """One evidence file that was read (never written to)."""

    path: str  #: the path as the user gave it (or as found while walking a folder)
    sha256: str  #: hex SHA-256 of the file's bytes as stored (compressed bytes for .gz)
    format: str  #: what the content turned out to be: "pcap", "pcapng", "pcap.gz", "pcapng.gz", "unknown"
    size: int  #: bytes on disk
    packets: int = 0  #: records read from it (frames, 1-based numbering as Wireshark)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "format": self.format,
            "size": self.size,
            "packets": self.packets,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the evidence that could not be read as expected (Zeek's weird.log, plaso warnings).

    Repeated problems of one code in one file are folded into one record: ``offset``/``frame`` name the
    first occurrence and ``count`` says how many there were.
    """

    file: str  #: the input path
    offset: int | None  #: byte offset in the (decompressed) file of the first occurrence, if known
    frame: int | None  #: 1-based frame number of the first occurrence, if it belongs to a frame
    code: str  #: stable, kebab-case identifier, e.g. "truncated-record", "unknown-link-type"
    detail: str  #: one human sentence
    count: int = 1  #: how many times it occurred in this file

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "offset": self.offset,
            "frame": self.frame,
            "code": self.code,
            "detail": self.detail,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Interface:
    """A capture interface as declared by the file (pcapng IDB) or implied by it (classic pcap)."""

    file: str  #: input path
    index: int  #: interface id inside the file (0 for classic pcap)
    link_type: int  #: LINKTYPE_* number
    name: str  #: if_name option, or "if<index>" when the file gives none
    addresses: tuple[str, ...] = ()  #: if_IPv4addr / if_IPv6addr options (the device's own addresses)
    dropped: int | None = None  #: packets dropped by the interface or OS (pcapng ISB), when reported
    received: int | None = None  #: packets received by the interface (pcapng ISB), when reported

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "index": self.index,
            "link_type": self.link_type,
            "name": self.name,
            "addresses": list(self.addresses),
            "dropped": self.dropped,
            "received": self.received,
        }


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """Totals over all inputs, so a reader of the report can see what was and was not turned into flows."""

    frames: int = 0  #: records read
    ip_packets: int = (
        0  #: frames that carried IPv4/IPv6 and were counted in flows (fragments: once a datagram)
    )
    non_ip_frames: int = 0  #: ARP, Bluetooth, 802.11 management, encrypted 802.11 data and the like
    undecodable_frames: int = 0  #: frames dropped with a problem record (truncated headers, unknown links)
    fragments: int = 0  #: IP fragments folded into datagrams
    dropped_by_capture: int = 0  #: sum of interface drop counters reported by the capture
    extra: dict[str, int] = field(default_factory=dict)  #: frames per link type name

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "ip_packets": self.ip_packets,
            "non_ip_frames": self.non_ip_frames,
            "undecodable_frames": self.undecodable_frames,
            "fragments": self.fragments,
            "dropped_by_capture": self.dropped_by_capture,
            "frames_by_link_type": dict(sorted(self.extra.items())),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaptureStats:
        """The inverse of ``to_dict`` (a case file's manifest)."""
        names = (
            "frames",
            "ip_packets",
            "non_ip_frames",
            "undecodable_frames",
            "fragments",
            "dropped_by_capture",
        )
        return cls(**{n: d.get(n, 0) for n in names}, extra=dict(d.get("frames_by_link_type", {})))


#: One row per bidirectional flow, seen from the device ("up" = device → remote). Zeek conn.log
#: semantics: orig/resp ≈ device/remote, bytes are IP-layer bytes (see docs/byte-accounting.md).
FLOW_SCHEMA = pa.schema(
    [
        pa.field("proto", pa.string(), metadata={"doc": "tcp, udp, icmp, icmp6 or ip-<number>"}),
        pa.field("ip_proto", pa.int16(), metadata={"doc": "IP protocol number"}),
        pa.field("device_ip", pa.string(), metadata={"doc": "address of the audited device's side"}),
        pa.field("device_port", pa.int32(), metadata={"doc": "port; ICMP: type sent by the device side"}),
        pa.field("remote_ip", pa.string(), metadata={"doc": "the other side"}),
        pa.field("remote_port", pa.int32(), metadata={"doc": "port; ICMP: code or counterpart type"}),
        pa.field("first_seen", pa.timestamp("ns", tz="UTC"), metadata={"doc": "first packet"}),
        pa.field("last_seen", pa.timestamp("ns", tz="UTC"), metadata={"doc": "last packet"}),
        pa.field("packets_up", pa.int64(), metadata={"doc": "packets device → remote"}),
        pa.field("packets_down", pa.int64(), metadata={"doc": "packets remote → device"}),
        pa.field("bytes_up", pa.int64(), metadata={"doc": "IP-layer bytes device → remote"}),
        pa.field("bytes_down", pa.int64(), metadata={"doc": "IP-layer bytes remote → device"}),
        pa.field("first_frame", pa.int64(), metadata={"doc": "1-based frame number of first packet"}),
        pa.field("file", pa.string(), metadata={"doc": "input that holds first_frame"}),
        pa.field("interface", pa.string(), metadata={"doc": "capture interface name"}),
        pa.field("vlan", pa.int32(), metadata={"doc": "outermost 802.1Q VLAN id, null if untagged"}),
        pa.field("initiator", pa.string(), metadata={"doc": "'device' or 'remote': who sent first"}),
        pa.field("device_basis", pa.string(), metadata={"doc": "why this side is the device"}),
        pa.field("tcp_flags_up", pa.string(), metadata={"doc": "TCP flags seen device → remote"}),
        pa.field("tcp_flags_down", pa.string(), metadata={"doc": "TCP flags seen remote → device"}),
        pa.field("tcp_state", pa.string(), metadata={"doc": "Zeek-like conn_state from flags, or null"}),
        pa.field("duplicate_of", pa.int64(), metadata={"doc": "index of the flow this one repeats"}),
        pa.field("app", pa.string(), metadata={"doc": "app label from the capture (PCAPdroid trailer)"}),
    ]
)

#: Columns written to JSON ``flows[]`` (the interface named in the foundation issue, plus extras).
FLOW_JSON_FIELDS: tuple[str, ...] = tuple(FLOW_SCHEMA.names)


# --- Inventory: drone media and logs -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One position a file reveals. Decimal degrees WGS-84 (south/west negative), metres."""

    file: str  #: input path
    kind: str  #: "aircraft" | "home" | "operator" | "target"
    lat: float
    lon: float
    alt_m: float | None = None  #: altitude as the file states it (see alt_ref)
    alt_ref: str | None = None  #: "msl" | "relative" | "ellipsoid" | None when the file does not say
    time_utc: str | None = None  #: ISO 8601 UTC with "Z", only when known or inferred (see time_basis)
    time_local: str | None = None  #: wall-clock time as written in the file, when it has no zone
    #: "utc" (the file says UTC), "offset" (EXIF OffsetTime), "inferred-tz" (zone from the position),
    #: "capture-hour" (Remote ID: tenths of a second since the hour, placed in the capture time's hour)
    time_basis: str | None = None
    source: str = ""  #: where in the file: "EXIF GPS", "XMP drone-dji", "SRT frame 12", …
    index: int | None = None  #: frame / record / line number inside the file, when it has one

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "alt_m": self.alt_m,
            "alt_ref": self.alt_ref,
            "time_utc": self.time_utc,
            "time_local": self.time_local,
            "time_basis": self.time_basis,
            "source": self.source,
            "index": self.index,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """Something that identifies an aircraft, camera, controller, battery, app install or person."""

    #: "aircraft-serial", "camera-serial", "lens-serial", "rc-serial", "battery-serial",
    #: "capture-uuid", "aircraft-name", "remote-id", "operator-id", "app-version", …
    kind: str
    value: str
    file: str
    source: str = (
        ""  #: tag or field it came from, e.g. "EXIF SerialNumber", "XMP drone-dji:DroneSerialNumber"
    )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "file": self.file, "source": self.source}


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One drone photo, video, sidecar or log, as the inventory readers saw it (headers only)."""

    path: str
    sha256: str
    format: str  #: "jpeg", "rjpeg", "dng", "mp4", "srt", "dji-flight-record", "ulog", "dataflash", "tlog", …
    make: str | None = None
    model: str | None = None
    serials: dict[str, str] = field(default_factory=dict)  #: kind → value (see Identity.kind)
    captured_at: str | None = None  #: as written in the file
    captured_at_utc: str | None = None  #: only when known or inferred; never guessed silently
    lat: float | None = None  #: the item's own position (photo: where it was taken), None = no fix
    lon: float | None = None
    alt_m: float | None = None
    extra: dict[str, str] = field(default_factory=dict)  #: format-specific facts worth showing (sorted keys)
    #: carved out of network traffic by the content audit: {file, frame, host, url, direction}
    extracted_from: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "extracted_from": dict(sorted(self.extracted_from.items())) if self.extracted_from else None,
            "path": self.path,
            "sha256": self.sha256,
            "format": self.format,
            "make": self.make,
            "model": self.model,
            "serials": dict(sorted(self.serials.items())),
            "captured_at": self.captured_at,
            "captured_at_utc": self.captured_at_utc,
            "lat": self.lat,
            "lon": self.lon,
            "alt_m": self.alt_m,
            "extra": dict(sorted(self.extra.items())),
        }


@dataclass
class MediaRecords:
    """What one media reader returns for one file (problems go to the scan's ProblemLog)."""

    item: MediaItem
    tracks: list[TrackPoint] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)


# --- Findings and verdict ------------------------------------------------------------------------------

SEVERITIES = ("info", "low", "medium", "high")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a check concluded, with the frames or offsets that prove it."""

    code: str  #: stable kebab-case, e.g. "internet-egress", "upload-heavy", "lookup-without-connection"
    severity: str  #: info < low < medium < high
    file: str  #: the input that holds the (first) evidence
    detail: str  #: one human sentence
    evidence: tuple[dict[str, Any], ...] = ()  #: [{file, frame | offset, kind}]
    host: str | None = None  #: the remote it concerns, when it concerns one

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "detail": self.detail,
            "evidence": [dict(e) for e in self.evidence],
            "host": self.host,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Did local data mode hold? ``pass`` only when the capture can support it."""

    status: str  #: "pass" | "fail" | "inconclusive"
    scope: str  #: "device" | "vendor" | "app:NAME"
    summary: str  #: one sentence
    reasons: tuple[str, ...] = ()  #: why fail / why inconclusive (also caveats on a fail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "scope": self.scope,
            "summary": self.summary,
            "reasons": list(self.reasons),
        }


# The records of flights, site exposures, correlations and claims live in model_flights.py (kept apart
# so each module stays readable); they are re-exported here, so ``droneaudit.model`` stays the one place
# to import any record from.
from droneaudit.model_flights import ClaimResult, Correlation, Exposure, Flight  # noqa: E402

__all__ = [
    "FLOW_SCHEMA",
    "SCHEMA_VERSION",
    "SESSION_TIMEOUTS_S",
    "SEVERITIES",
    "CaptureStats",
    "ClaimResult",
    "Correlation",
    "Exposure",
    "Finding",
    "Flight",
    "Identity",
    "InputFile",
    "Interface",
    "MediaItem",
    "MediaRecords",
    "Problem",
    "TrackPoint",
    "Verdict",
    "severity_rank",
]
