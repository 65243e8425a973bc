"""Findings from the content audit: what the app *sent*, by kind and host, and the files it uploaded.

Pure over the case's tables (content hits, media carved from traffic, TLS sessions). Only sent items
count as leaks; what the app received (a no-fly-zone database full of coordinates) is context and
produces no finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from droneaudit.content.model import SENT, ContentHit, TlsSession
from droneaudit.model import Finding, MediaItem

#: How bad it is that a value of this kind left the device.
SEVERITY = {
    "position": "high",
    "serial": "high",
    "phone": "medium",
    "email": "medium",
    "device-id": "medium",
    "token": "medium",
}
EVIDENCE_PER_FINDING = 5


def findings(
    hits: Sequence[ContentHit], media: Sequence[MediaItem], sessions: Sequence[TlsSession]
) -> list[Finding]:
    return [*_sent_values(hits), *_uploads(media), *_undecrypted(sessions)]


def _sent_values(hits: Sequence[ContentHit]) -> list[Finding]:
    groups: dict[tuple[str, str], list[ContentHit]] = defaultdict(list)
    for hit in hits:
        if hit.direction == SENT:
            groups[(hit.kind, hit.host)].append(hit)
    out = []
    for (kind, host), group in sorted(groups.items()):
        first = group[0]
        values = sorted({h.value for h in group})
        shown = ", ".join(values[:3]) + (f" (+{len(values) - 3} more)" if len(values) > 3 else "")
        detail = (
            f"sent {len(values)} {kind} value(s) to {host}: {shown}; first in {first.field} of {first.url}"
        )
        evidence = tuple(_evidence(h) for h in group[:EVIDENCE_PER_FINDING])
        out.append(
            Finding(f"sent-{kind}", SEVERITY.get(kind, "medium"), first.where.file, detail, evidence, host)
        )
    return out


def _evidence(hit: ContentHit) -> dict[str, Any]:
    where = hit.where
    spot: dict[str, Any] = {"file": where.file, "kind": f"content-{hit.kind}"}
    if where.first_frame is not None:
        spot["frame"] = where.first_frame
    if where.entry is not None:
        spot["entry"] = where.entry
    return spot


def _uploads(media: Sequence[MediaItem]) -> list[Finding]:
    """Files the app uploaded (carved from requests); one with a position is a high finding."""
    out = []
    for item in media:
        origin = item.extracted_from
        if not origin or origin.get("direction") != SENT:
            continue
        located = item.lat is not None and item.lon is not None
        where = f" taken at {item.lat:.6f},{item.lon:.6f}" if located else ""
        serials = f", serials {', '.join(sorted(set(item.serials.values())))}" if item.serials else ""
        detail = (
            f"uploaded {item.format} {origin.get('name') or item.path}{where}{serials} to {origin.get('url')}"
        )
        spot = {"file": origin.get("file"), "kind": "uploaded-file"}
        spot.update({k: origin[k] for k in ("frame", "entry") if origin.get(k) is not None})
        severity = "high" if located or item.serials else "medium"
        out.append(
            Finding("sent-file", severity, str(origin.get("file")), detail, (spot,), origin.get("host"))
        )
    return out


def _undecrypted(sessions: Sequence[TlsSession]) -> list[Finding]:
    """TLS sessions the key log could not open: their content is unaudited, say so once."""
    closed = [s for s in sessions if s.status != "decrypted"]
    if not closed:
        return []
    hosts = sorted({s.sni or s.server for s in closed})
    shown = ", ".join(hosts[:5]) + (f" (+{len(hosts) - 5} more)" if len(hosts) > 5 else "")
    detail = f"{len(closed)} of {len(sessions)} TLS session(s) not decrypted (see tls_sessions): {shown}"
    spots = tuple(
        {"file": s.where.file, "frame": s.where.first_frame, "kind": "tls-session"} for s in closed[:5]
    )
    return [Finding("content-not-decrypted", "low", closed[0].where.file, detail, spots)]
