"""``scan(paths) -> Case``: walk the inputs, hand each file to the reader its content calls for, and
gather the tables. Unreadable files become problem records; nothing here prints or raises for evidence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from droneaudit import correlate as corr
from droneaudit import endpoints
from droneaudit import flights as fl
from droneaudit.attribution import attribute, dns_answers, dns_table
from droneaudit.case import Case
from droneaudit.checks import verdict as verdict_mod
from droneaudit.checks.base import content as content_checks
from droneaudit.checks.base import exposure
from droneaudit.checks.context import CheckInput
from droneaudit.checks.policy import Policy
from droneaudit.checks.site_exposure import PHOTO_FORMATS, exposures
from droneaudit.content import pipeline as content_pipeline
from droneaudit.content.pipeline import ContentOptions
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import IpData
from droneaudit.errors import UsageError
from droneaudit.inventory import infer_times
from droneaudit.model import Exposure, Finding, InputFile, severity_rank
from droneaudit.readers import _registry
from droneaudit.readers._api import ProblemLog, ProgressSink, Reader, ScanContext
from droneaudit.readers.capture.device import IPNet, parse_device
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.source import peek, sha256_file

if TYPE_CHECKING:  # shapely loads only when sites are given
    from droneaudit.sites import Site


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
    policy: Policy | None = None,
    catalog: Catalog | None = None,
    ipdata: IpData | None = None,
    readers: Sequence[Reader] = (),
    sites: Sequence[Site] = (),
    clock_offsets: Mapping[str, float] | None = None,
    window_s: float = 1800.0,
    content: ContentOptions | None = None,
) -> Case:
    """Read every input into one case. ``devices``: addresses/CIDRs of the audited device (``--device``);
    ``content``: also audit what was sent (docs/content-audit.md)."""
    nets = [d if not isinstance(d, str) else _device(d) for d in devices]
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems), progress)
    ctx.flows.payloads.forget_done = True  # this builder is never absorbed into another
    content_pipeline.tap_for(ctx, content)
    inputs = [_read_one(path, ctx, readers) for path in expand(paths)]
    flows, stats = ctx.flows.finish(nets)
    payloads = ctx.flows.payloads
    flows = attribute(flows, payloads.names, dns_answers(payloads.dns_events))
    audit, carved = content_pipeline.run(ctx, flows, content, lambda p, c: _read_one(p, c, readers))
    found = ctx.media + carved
    media, tracks = infer_times(
        [m.item for m in found], [t for m in found for t in m.tracks] + ctx.flows.remote_id_tracks
    )
    case = Case(
        inputs=inputs,
        flows=flows,
        problems=problems.records(),
        interfaces=interfaces.all(),
        stats=stats,
        dns=dns_table(payloads.dns_events),
        media=media,
        tracks=tracks,
        identities=[i for m in found for i in m.identities] + list(ctx.flows.remote_id_identities),
        tls_sessions=audit.sessions,
        http_messages=audit.messages,
        content_hits=audit.hits,
    )
    return conclude(case, policy, catalog, ipdata, sites, clock_offsets, window_s)


def conclude(
    case: Case,
    policy: Policy | None = None,
    catalog: Catalog | None = None,
    ipdata: IpData | None = None,
    sites: Sequence[Site] = (),
    clock_offsets: Mapping[str, float] | None = None,
    window_s: float = 1800.0,
) -> Case:
    """Everything derived from the evidence tables (the shipped catalog, IP data and default policy
    unless given): endpoints, findings and verdict, then flights, exposures and correlations. Shared by
    the local scan, the Dask engine and a case file read back."""
    case = judge(case, policy or Policy(), catalog or Catalog.load_default(), ipdata or IpData())
    return place_in_time(case, sites, clock_offsets, window_s)


def place_in_time(
    case: Case, sites: Sequence[Site], clock_offsets: Mapping[str, float] | None, window_s: float
) -> Case:
    """Flights from the tracks, site exposures, and the traffic during and around each flight."""
    photo_paths = {m.path for m in case.media if m.format in PHOTO_FORMATS}
    case.flights = fl.flights(
        case.tracks, case.identities, clock_offsets=clock_offsets, exclude_files=photo_paths
    )
    case.exposures = exposures(case.tracks, case.media, sites, case.flights, clock_offsets)
    case.correlations = corr.correlate(case.flows, case.flights, case.endpoints, window_s, clock_offsets)
    extra = [_exposure_finding(e) for e in case.exposures]
    case.findings = sorted(
        case.findings + extra, key=lambda f: (-severity_rank(f.severity), f.code, f.file, f.host or "")
    )
    case.exit_code = verdict_mod.exit_code(case.verdict, case.findings, case.fail_on)
    return case


def _exposure_finding(e: Exposure) -> Finding:
    where = "inside" if e.min_distance_m == 0 else f"{e.min_distance_m:.0f} m from"
    detail = f"{e.points} {e.kind} position(s) {where} site {e.site!r} ({e.layer})"
    if e.flight:
        detail += f" during flight {e.flight}"
    return Finding("site-exposure", e.severity, e.file, detail, ({"file": e.file, "kind": e.kind},))


def judge(case: Case, policy: Policy, catalog: Catalog, ipdata: IpData) -> Case:
    """Add endpoints, findings and the verdict to a scanned case (pure over its tables)."""
    flows, scope_reasons = _in_scope_flows(case.flows, policy.scope)
    case.endpoints = endpoints.build(flows, ipdata, catalog)
    readable = sum(1 for i in case.inputs if i.format != "unknown")
    inp = CheckInput(
        flows, case.dns, case.endpoints, case.stats, case.problems, catalog, readable, scope_reasons
    )
    captures = any(i.format.startswith(("pcap", "pcapng")) for i in case.inputs)
    exposure_findings = exposure.all_findings(case.media, case.tracks, case.identities)
    found = (verdict_mod.findings(inp, policy) if captures else []) + exposure_findings
    found += content_checks.findings(case.content_hits, case.media, case.tls_sessions)
    case.findings = sorted(found, key=lambda f: (-severity_rank(f.severity), f.code, f.file, f.host or ""))
    case.verdict = verdict_mod.verdict(inp, policy) if captures or not case.media else None
    case.fail_on = policy.fail_on
    case.exit_code = verdict_mod.exit_code(case.verdict, case.findings, policy.fail_on)
    case.data_sources = {
        "ipdata": ipdata.source(),
        "catalog": {"version": catalog.meta.version, "updated": catalog.meta.updated},
        "policy": policy.source,
    }
    return case


def _in_scope_flows(flows: pa.Table, scope: str) -> tuple[pa.Table, tuple[str, ...]]:
    """``app:NAME`` keeps the flows the capture labels with that app (PCAPdroid's trailer)."""
    if not scope.startswith("app:"):
        return flows, ()
    name = scope[4:]
    labels = sorted({a for a in flows.column("app").to_pylist() if a})
    if not labels:
        return flows.slice(0, 0), (f"scope {scope}: the capture carries no per-app labels",)
    kept = flows.filter(pc.fill_null(pc.equal(flows.column("app"), name), False))
    if kept.num_rows == 0:
        return kept, (f"scope {scope}: no flow is labelled {name!r} (labels: {', '.join(labels[:8])})",)
    return kept, ()


def display_path(path: Path) -> str:
    """The path as text for records and reports. Names that are not valid UTF-8 (possible on Linux)
    show their raw bytes as ``\\xNN``, so every output stays valid Unicode and the name stays recognisable."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return text


def _device(spec: str) -> IPNet:
    try:
        return parse_device(spec)
    except ValueError as exc:
        raise UsageError(f"--device {spec!r} is not an IP address or CIDR block") from exc


def _read_one(path: Path, ctx: ScanContext, readers: Sequence[Reader] = ()) -> InputFile:
    display = display_path(path)
    size = path.stat().st_size
    head, gzipped = peek(path)
    reader = _registry.pick(head, path, readers)
    if reader is None:
        what = _registry.describe(head, gzipped)
        ctx.problems.add(
            display, "unrecognised-format", f"not a format droneaudit reads: looks like {what}", offset=0
        )
        return InputFile(display, sha256_file(path), "unknown", size)
    try:
        fmt, digest = reader.read(path, display, ctx)
    except Exception as exc:  # a reader bug must not cost the user the other files' results
        ctx.problems.add(
            display, "internal-error", f"{reader.name} reader failed: {type(exc).__name__}: {exc}"
        )
        return InputFile(display, sha256_file(path), "unknown", size)
    return InputFile(display, digest, fmt, size, ctx.frames_by_file.get(display, 0))
