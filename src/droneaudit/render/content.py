"""The content audit at the edge: "what was sent to whom" for the terminal and the HTML report.

Values shown are as the detectors recorded them (tokens already masked); every string from the
network goes through ``safe`` escaping in the terminal and Jinja autoescaping in HTML.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from droneaudit.case import Case
from droneaudit.content.model import SENT, Where
from droneaudit.render.safe import terminal_text

EXAMPLES = 3


def terminal_safe(value: object) -> str:
    return escape(terminal_text(value))


def where_text(where: Where) -> str:
    if where.entry is not None:
        return f"{where.file} entry {where.entry}"
    if where.first_frame is None:
        return where.file
    if where.last_frame in (None, where.first_frame):
        return f"{where.file} frame {where.first_frame}"
    return f"{where.file} frames {where.first_frame}-{where.last_frame}"


def content_records(case: Case) -> dict[str, list[dict[str, Any]]]:
    """Flat rows for the report's content sections (empty lists when there was no content audit)."""

    def hit_row(h: Any) -> dict[str, Any]:
        return {
            "host": h.host,
            "kind": h.kind,
            "value": h.value,
            "field": h.field,
            "url": h.url,
            "where": where_text(h.where),
            "detail": h.detail,
        }

    hits = sorted(case.content_hits, key=lambda h: (h.host, h.kind, h.url, h.field, h.value))
    uploads = [m for m in case.media if m.extracted_from]
    return {
        "content_sent": [hit_row(h) for h in hits if h.direction == SENT],
        "content_received": [hit_row(h) for h in hits if h.direction != SENT],
        "content_uploads": [_upload_row(m.to_dict()) for m in uploads],
        "content_requests": [
            {
                "host": m.host,
                "method": m.method,
                "url": m.url,
                "protocol": m.protocol,
                "content_type": m.content_type,
                "body_bytes": len(m.body),
                "where": where_text(m.where),
            }
            for m in case.http_messages
            if m.direction == SENT
        ],
        "tls_sessions": [
            {
                "server": s.sni or s.server,
                "status": s.status,
                "version": s.version,
                "cipher": s.cipher,
                "alpn": s.alpn,
                "client": s.client,
                "where": where_text(s.where),
            }
            for s in case.tls_sessions
        ],
    }


def _upload_row(m: dict[str, Any]) -> dict[str, Any]:
    origin = m["extracted_from"]
    position = f"{m['lat']:.6f}, {m['lon']:.6f}" if m["lat"] is not None and m["lon"] is not None else None
    return {
        "host": origin.get("host"),
        "url": origin.get("url"),
        "name": origin.get("name"),
        "format": m["format"],
        "position": position,
        "serials": m["serials"] or None,
        "sha256": m["sha256"],
        "stored": m["path"],
        "direction": origin.get("direction"),
    }


def render_content(case: Case, console: Console) -> None:
    """One row per host the app sent something to: what kinds, examples, files uploaded."""
    if not (case.content_hits or case.tls_sessions or case.http_messages):
        return
    by_host: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for h in case.content_hits:
        if h.direction == SENT:
            by_host[h.host][h.kind].append(h.value)
    for m in case.media:
        if m.extracted_from and m.extracted_from.get("direction") == SENT:
            by_host[str(m.extracted_from.get("host"))]["file"].append(f"{m.format} {m.path}")
    table = Table(title=f"What was sent to whom ({len(by_host)} host(s))", title_justify="left")
    for col in ("host", "what", "examples"):
        table.add_column(col, overflow="fold")
    for host in sorted(by_host):
        kinds = by_host[host]
        what = ", ".join(f"{k} ×{len(v)}" for k, v in sorted(kinds.items()))
        examples = "; ".join(sorted(set(v for vs in kinds.values() for v in vs))[:EXAMPLES])
        table.add_row(terminal_safe(host), terminal_safe(what), terminal_safe(examples))
    if by_host:
        console.print(table)
    _sessions_line(case, console)


def _sessions_line(case: Case, console: Console) -> None:
    if not case.tls_sessions:
        return
    counts: dict[str, int] = defaultdict(int)
    for s in case.tls_sessions:
        counts[s.status] += 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"TLS sessions: {terminal_safe(parts)}", soft_wrap=True)
