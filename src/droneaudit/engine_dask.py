"""``scan_dask(paths, …) -> Case``: the same scan as :func:`droneaudit.scan`, with the reading done as
Dask distributed tasks (``droneaudit scan --engine dask``). The result is identical, byte for byte in
``Case.to_json()``, to the single-process run; see docs/fleet.md.

What a task is
    The inputs are expanded exactly as :func:`droneaudit.scan.expand` does, and each file's reader is
    picked on the client from its first bytes. Every capture (pcap/pcapng, plain or gzip) goes into ONE
    task, the *capture set*: flows merge across all captures of a scan (an interface's identity is its
    link type and name, so a rotated set, or the same interface recorded in two folders, becomes one flow
    table; DNS answers in one file name the addresses in another; fragments are reassembled across
    files). Splitting captures would change flows, so they are never split. Every other file (photos,
    videos, SRT, flight logs, unknown files) is its own task: those readers only add media records and
    problems about their own file. One huge capture is read in one task, on one worker, streaming as in
    the single-process scan.

Merge on the client
    Inputs, media records and problems are put back in the single-process order (the expanded file
    order; problems sorted as ``ProblemLog.records`` sorts them), timestamps are inferred over all media
    at once, then ``judge`` and ``place_in_time`` run once on the client.

Network
    This is the only mode that opens sockets, and only Dask's own: to the scheduler the user names
    (``--scheduler``), or to a LocalCluster bound to 127.0.0.1. The dashboard is off unless asked for.
    Readers never open sockets, on any worker.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from droneaudit.attribution import attribute, dns_answers, dns_table
from droneaudit.case import Case
from droneaudit.checks.policy import Policy
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import IpData
from droneaudit.errors import UsageError
from droneaudit.inventory import infer_times
from droneaudit.model import CaptureStats, Identity, InputFile, Interface, MediaRecords, Problem, TrackPoint
from droneaudit.readers import _registry
from droneaudit.readers._api import ProblemLog, ProgressSink, Reader, ScanContext
from droneaudit.readers.capture.device import IPNet
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.reader import CaptureReader
from droneaudit.readers.source import peek
from droneaudit.scan import _device, _read_one, conclude, expand
from droneaudit.sites import Site

if TYPE_CHECKING:
    from distributed import Client

#: The dashboard address used when ``--dashboard`` is given for a local cluster (loopback only).
LOCAL_DASHBOARD = "127.0.0.1:8787"

INSTALL_HINT = "--engine dask needs Dask: pip install 'droneaudit[dask]' (dask[distributed])"


@dataclass
class GroupResult:
    """What one task sends back: per-file inputs and media, the group's problems and, for the capture
    set, the finished flow table and everything else the flow builder knows."""

    positions: list[int]
    inputs: list[InputFile]
    media: list[list[MediaRecords]]
    problems: list[Problem]
    capture: CaptureResult | None = None


@dataclass
class CaptureResult:
    flows: pa.Table
    stats: CaptureStats
    interfaces: list[Interface]
    dns: pa.Table
    remote_id_tracks: list[TrackPoint] = field(default_factory=list)
    remote_id_identities: list[Identity] = field(default_factory=list)


def read_group(
    files: Sequence[str],
    positions: Sequence[int],
    *,
    captures: bool,
    devices: Sequence[IPNet] = (),
    readers: Sequence[Reader] = (),
) -> GroupResult:
    """The task body (runs on a worker): read ``files`` in order into one fresh scan context."""
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems), None)
    inputs: list[InputFile] = []
    media: list[list[MediaRecords]] = []
    for name in files:
        before = len(ctx.media)
        inputs.append(_read_one(Path(name), ctx, readers))
        media.append(ctx.media[before:])
    capture = None
    if captures:
        flows, stats = ctx.flows.finish(devices)
        payloads = ctx.flows.payloads
        flows = attribute(flows, payloads.names, dns_answers(payloads.dns_events))
        capture = CaptureResult(
            flows,
            stats,
            interfaces.all(),
            dns_table(payloads.dns_events),
            list(ctx.flows.remote_id_tracks),
            list(ctx.flows.remote_id_identities),
        )
    return GroupResult(list(positions), inputs, media, problems.records(), capture)


def plan(files: Sequence[Path], readers: Sequence[Reader] = ()) -> tuple[list[int], list[list[int]]]:
    """Split the expanded file list into (capture-set positions, one-file groups of other positions)."""
    capture_positions: list[int] = []
    singles: list[list[int]] = []
    for i, path in enumerate(files):
        head, _gzipped = peek(path)
        if isinstance(_registry.pick(head, path, readers), CaptureReader):
            capture_positions.append(i)
        else:
            singles.append([i])
    return capture_positions, singles


def merge(files: Sequence[Path], results: Iterable[GroupResult]) -> Case:
    """Reassemble the single-process scan's tables (before ``judge``) from the task results."""
    inputs: dict[int, InputFile] = {}
    media: dict[int, list[MediaRecords]] = {}
    problem_records: list[Problem] = []
    capture: CaptureResult | None = None
    for result in results:
        for pos, inp, recs in zip(result.positions, result.inputs, result.media, strict=True):
            inputs[pos], media[pos] = inp, recs
        problem_records.extend(result.problems)
        if result.capture is not None:
            capture = result.capture
    if capture is None:  # no capture in the scan: the empty flow table, exactly as scan() builds it
        empty = read_group([], [], captures=True).capture
        assert empty is not None
        capture = empty
    problems = _fold(problem_records)
    ordered = [m for pos in range(len(files)) for m in media[pos]]
    media_items, tracks = infer_times(
        [m.item for m in ordered], [t for m in ordered for t in m.tracks] + capture.remote_id_tracks
    )
    identities = [i for m in ordered for i in m.identities] + list(
        dict.fromkeys(capture.remote_id_identities)
    )
    return Case(
        inputs=[inputs[pos] for pos in range(len(files))],
        flows=capture.flows,
        problems=problems,
        interfaces=capture.interfaces,
        stats=capture.stats,
        dns=capture.dns,
        media=media_items,
        tracks=tracks,
        identities=identities,
    )


def _fold(records: Iterable[Problem]) -> list[Problem]:
    """Problems from several tasks as one ProblemLog would have recorded them (same fold, same sort)."""
    log = ProblemLog()
    for p in records:
        log.add(p.file, p.code, p.detail, offset=p.offset, frame=p.frame, count=p.count)
    return log.records()


def scan_dask(
    paths: Iterable[str | os.PathLike[str]],
    *,
    scheduler: str | None = None,
    workers: int = 2,
    dashboard: bool = False,
    client: Client | None = None,
    devices: Sequence[str | IPNet] = (),
    progress: ProgressSink | None = None,
    policy: Policy | None = None,
    catalog: Catalog | None = None,
    ipdata: IpData | None = None,
    readers: Sequence[Reader] = (),
    sites: Sequence[Site] = (),
    clock_offsets: Mapping[str, float] | None = None,
    window_s: float = 1800.0,
) -> Case:
    """:func:`droneaudit.scan` with the reading done as Dask tasks.

    ``client``: an existing ``distributed.Client`` (used as is, not closed). Otherwise ``scheduler``
    (``tcp://host:8786``, ``tls://…``, or a scheduler JSON file) names an existing cluster, or a
    LocalCluster of ``workers`` processes is started on 127.0.0.1 for the scan and shut down after it.
    The input paths must be readable under the same names on every worker (a shared filesystem).
    """
    nets = [d if not isinstance(d, str) else _device(d) for d in devices]
    files = expand(paths)
    captures, singles = plan(files, readers)
    with _connect(client, scheduler, workers, dashboard) as dask_client:
        futures: list[Any] = []
        for n, group in enumerate(([captures] if captures else []) + singles):
            futures.append(
                dask_client.submit(
                    read_group,
                    [str(files[i]) for i in group],
                    group,
                    captures=group is captures,
                    devices=nets,
                    readers=readers,
                    key=f"droneaudit-read-{n}-{os.getpid()}-{id(futures)}",
                    pure=False,
                )
            )
        results: list[GroupResult] = []
        for future in futures:  # in submit order: the biggest task (the capture set) first
            result: GroupResult = future.result()
            results.append(result)
            if progress is not None:
                progress.advance(sum(files[i].stat().st_size for i in result.positions))
    return conclude(merge(files, results), policy, catalog, ipdata, sites, clock_offsets, window_s)


@contextmanager
def _connect(client: Client | None, scheduler: str | None, workers: int, dashboard: bool) -> Iterator[Client]:
    if client is not None:
        yield client
        return
    dist = _distributed()
    if scheduler:
        kwargs: dict[str, Any] = {"set_as_default": False}
        if scheduler.endswith(".json") and Path(scheduler).is_file():
            kwargs["scheduler_file"] = scheduler
        else:
            kwargs["address"] = scheduler
        try:
            remote = dist.Client(**kwargs)
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
        with remote:
            yield remote
        return
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    cluster = dist.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=LOCAL_DASHBOARD if dashboard else None,
        worker_dashboard_address=None,
    )
    with cluster, dist.Client(cluster, set_as_default=False) as local:
        yield local


def _distributed() -> Any:
    """``distributed``, imported only when the Dask engine runs (an optional extra; untyped here)."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise UsageError(INSTALL_HINT) from exc
