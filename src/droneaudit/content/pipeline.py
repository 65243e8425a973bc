"""The content audit inside a scan: key sources in, conversations named from the flow table, files
carved out of bodies put through the inventory readers, so an uploaded photo shows its GPS and serial.

Carved files are written to ``--extract DIR`` (named by sha256, never overwritten) when given; without
it they are inventoried from a private temporary folder that is removed afterwards, and listed as
``carved:<sha256>.<kind>``, so a scan has no side effects beyond the outputs asked for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from droneaudit.content.audit import ContentResult
from droneaudit.content.keylog import KeyLog, SourceStats
from droneaudit.content.model import CarvedFile
from droneaudit.content.stream import Conversation
from droneaudit.model import InputFile, MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.content_tap import ContentTap

ReadOne = Callable[[Path, ScanContext], InputFile]


@dataclass(frozen=True)
class ContentOptions:
    """``scan --content`` (implied by ``--keylog``): keep whole TCP payloads and audit them."""

    keylogs: tuple[Path, ...] = ()
    extract: Path | None = None


def tap_for(ctx: ScanContext, options: ContentOptions | None) -> None:
    """Switch the capture side on: the flow builder then keeps TCP payloads (bounded)."""
    if options is not None:
        ctx.flows.content = ContentTap(ctx.interfaces, ctx.problems)


def keys_from(options: ContentOptions | None, ctx: ScanContext) -> KeyLog:
    keys = KeyLog()
    for path in options.keylogs if options else ():
        _report(keys.add_file(path), str(path), ctx.problems)
    for file, text in ctx.secrets:
        _report(keys.add_text(text, f"{file} (Decryption Secrets Block)"), file, ctx.problems)
    return keys


def _report(stats: SourceStats, file: str, problems: ProblemLog) -> None:
    if stats.malformed:
        line, why = stats.malformed_lines[0] if stats.malformed_lines else (0, "?")
        detail = f"{stats.malformed} key log line(s) not understood (first: line {line}: {why})"
        problems.add(file, "keylog-bad-lines", detail)
    if stats.truncated_at is not None:
        problems.add(file, "keylog-too-large", f"key log text cut at {stats.truncated_at} bytes (size cap)")


def run(
    ctx: ScanContext, flows: pa.Table, options: ContentOptions | None, read_one: ReadOne
) -> tuple[ContentResult, list[MediaRecords]]:
    """The audit over what the scan gathered; returns its records and the carved files' media."""
    tap = ctx.flows.content
    conversations = tap.conversations() if tap is not None else []
    if not conversations and not ctx.messages:
        return ContentResult(), []
    _name(conversations, flows)
    from droneaudit.content.audit import audit  # the decryption and parsing layers load only when used

    keys = keys_from(options, ctx)
    extract = options.extract if options else None
    with tempfile.TemporaryDirectory(prefix="droneaudit-carved-") as scratch:
        result = audit(conversations, keys, ctx.messages, ctx.problems, extract or Path(scratch))
        media = [_inventory(item, path, extract is not None, ctx, read_one) for item, path in result.carved]
    if extract is None:
        result.carved = [(item, Path(f"carved:{path.name}")) for item, path in result.carved]
    return result, [m for m in media if m is not None]


def _name(conversations: list[Conversation], flows: pa.Table) -> None:
    """Each conversation gets its flow's host (SNI, Host or DNS), so HTTP URLs and hits name it."""
    if flows.num_rows == 0 or "host" not in flows.column_names:
        return
    cols = flows.select(["device_ip", "device_port", "remote_ip", "remote_port", "host"]).to_pydict()
    hosts: dict[tuple[str, int, str, int], str] = {}
    for dip, dport, rip, rport, host in zip(*cols.values(), strict=True):
        if host:
            hosts.setdefault((dip, dport, rip, rport), host)
            hosts.setdefault((rip, rport, dip, dport), host)
    for conv in conversations:
        conv.name = hosts.get((conv.client.ip, conv.client.port, conv.server.ip, conv.server.port))


def _inventory(
    item: CarvedFile, path: Path, kept: bool, ctx: ScanContext, read_one: ReadOne
) -> MediaRecords | None:
    """Run the inventory readers on one carved file; None when no reader knows it."""
    sub = ScanContext(ProblemLog(), ctx.interfaces, ctx.flows, None)
    read_one(path, sub)
    shown = str(path) if kept else f"carved:{path.name}"
    for p in sub.problems.records():
        if p.code != "unrecognised-format":  # a carved JSON or ZIP is no problem
            ctx.problems.add(shown, p.code, p.detail, offset=p.offset, frame=p.frame, count=p.count)
    if not sub.media:
        return None
    records = sub.media[0]
    origin = {
        "file": item.where.file,
        "frame": item.where.first_frame,
        "entry": item.where.entry,
        "host": item.host,
        "url": item.url,
        "direction": item.direction,
        "origin": item.origin,
        "name": item.name,
    }
    records.item = replace(records.item, path=shown, extracted_from=origin)
    records.tracks = [replace(t, file=shown) for t in records.tracks]
    records.identities = [replace(i, file=shown) for i in records.identities]
    return records
