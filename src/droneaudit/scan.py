"""``scan(paths) -> Case``: walk the inputs, hand each file to the reader its content calls for, and
gather the tables. Unreadable files become problem records; nothing here prints or raises for evidence.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from droneaudit.attribution import attribute, dns_answers, dns_table
from droneaudit.case import Case
from droneaudit.errors import UsageError
from droneaudit.model import InputFile
from droneaudit.readers import _registry
from droneaudit.readers._api import ProblemLog, ProgressSink, ScanContext
from droneaudit.readers.capture.device import IPNet, parse_device
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.source import peek


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named, and files inside folders named (recursively, sorted, hidden ones skipped)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path)))
        elif path.exists():
            out.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    return out


scan_paths = expand


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def scan(
    paths: Iterable[str | os.PathLike[str]],
    *,
    devices: Sequence[str | IPNet] = (),
    progress: ProgressSink | None = None,
) -> Case:
    """Read every input into one case. ``devices``: addresses/CIDRs of the audited device (``--device``)."""
    nets = [d if not isinstance(d, str) else _device(d) for d in devices]
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems), progress)
    inputs = [_read_one(path, ctx) for path in expand(paths)]
    flows, stats = ctx.flows.finish(nets)
    payloads = ctx.flows.payloads
    flows = attribute(flows, payloads.names, dns_answers(payloads.dns_events))
    return Case(
        inputs=inputs,
        flows=flows,
        problems=problems.records(),
        interfaces=interfaces.all(),
        stats=stats,
        dns=dns_table(payloads.dns_events),
    )


def _device(spec: str) -> IPNet:
    try:
        return parse_device(spec)
    except ValueError as exc:
        raise UsageError(f"--device {spec!r} is not an IP address or CIDR block") from exc


def _read_one(path: Path, ctx: ScanContext) -> InputFile:
    display = str(path)
    size = path.stat().st_size
    head, gzipped = peek(path)
    reader = _registry.pick(head, path)
    if reader is None:
        what = _registry.describe(head, gzipped)
        ctx.problems.add(display, "unrecognised-format", f"not a packet capture: looks like {what}", offset=0)
        return InputFile(display, _sha256(path), "unknown", size)
    try:
        fmt, digest = reader.read(path, display, ctx)
    except Exception as exc:  # a reader bug must not cost the user the other files' results
        ctx.problems.add(
            display, "internal-error", f"{reader.name} reader failed: {type(exc).__name__}: {exc}"
        )
        return InputFile(display, _sha256(path), "unknown", size)
    return InputFile(display, digest, fmt, size, ctx.frames_by_file.get(display, 0))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
