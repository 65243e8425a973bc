"""``scan_dask(paths, …) -> Case``: the same scan as :func:`droneaudit.scan`, with the reading done as
Dask distributed tasks (``droneaudit scan --engine dask``). The result is identical, byte for byte in
``Case.to_json()``, to the single-process run; see docs/fleet.md.

What a task is
    The inputs are expanded exactly as :func:`droneaudit.scan.expand` does, and every file is its own
    task (the biggest first). A capture task (pcap/pcapng, plain or gzip) returns its flow builder
    *unfinished*: flow segments, payload directions still waiting for a name, fragments still waiting
    for pieces, interfaces and counters. Other files (photos, videos, SRT, flight logs, unknown files)
    return their media records and problems.

Merge on the client
    Capture builders are absorbed in file order into one builder (``FlowBuilder.absorb``, see
    readers/capture/absorb.py), so flows merge across files exactly as in one pass, then finished once.
    Inputs, media records and problems are put back in the single-process order, timestamps are
    inferred over all media at once, then ``judge`` and ``place_in_time`` run once on the client.
    One huge capture file is still one task: pcap records and pcapng blocks can only be found by
    walking from the start, so a file is never split by byte range.

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

from droneaudit.attribution import attribute, dns_answers, dns_table
from droneaudit.case import Case
from droneaudit.checks.policy import Policy
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import IpData
from droneaudit.errors import UsageError
from droneaudit.inventory import infer_times
from droneaudit.model import InputFile, MediaRecords, Problem
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
    """What one task sends back: per-file inputs and media, the group's problems and, for a capture
    file, its unfinished flow builder (segments, open payload directions, pending fragments, …), which
    the client absorbs in file order."""

    positions: list[int]
    inputs: list[InputFile]
    media: list[list[MediaRecords]]
    problems: list[Problem]
    builder: FlowBuilder | None = None
    secrets: list[tuple[str, bytes]] = field(default_factory=list)


def read_group(
    files: Sequence[str],
    positions: Sequence[int],
    *,
    captures: bool,
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
    builder = ctx.flows if captures else None
    return GroupResult(list(positions), inputs, media, problems.records(), builder, ctx.secrets)


def plan(files: Sequence[Path], readers: Sequence[Reader] = ()) -> list[tuple[list[int], bool]]:
    """One task per file: (positions, is a capture), biggest files first so the longest tasks start
    early; the merge puts everything back in file order."""
    tasks = []
    for i, path in enumerate(files):
        head, _gzipped = peek(path)
        tasks.append(([i], isinstance(_registry.pick(head, path, readers), CaptureReader)))
    return sorted(tasks, key=lambda t: (-files[t[0][0]].stat().st_size, t[0][0]))


def merge(files: Sequence[Path], results: Iterable[GroupResult], devices: Sequence[IPNet] = ()) -> Case:
    """Reassemble the single-process scan's tables (before ``judge``) from the task results."""
    inputs: dict[int, InputFile] = {}
    media: dict[int, list[MediaRecords]] = {}
    problem_records: list[Problem] = []
    builders: dict[int, FlowBuilder] = {}
    for result in results:
        for pos, inp, recs in zip(result.positions, result.inputs, result.media, strict=True):
            inputs[pos], media[pos] = inp, recs
        problem_records.extend(result.problems)
        if result.builder is not None:
            builders[min(result.positions)] = result.builder
    master_problems = ProblemLog()
    master = FlowBuilder(InterfaceRegistry(), master_problems)
    for pos in sorted(builders):  # in file order, as a single process reads them
        master.absorb(builders[pos])
    flows, stats = master.finish(devices)
    payloads = master.payloads
    flows = attribute(flows, payloads.names, dns_answers(payloads.dns_events))
    problems = _fold([*problem_records, *master_problems.records()])
    ordered = [m for pos in range(len(files)) for m in media[pos]]
    media_items, tracks = infer_times(
        [m.item for m in ordered], [t for m in ordered for t in m.tracks] + master.remote_id_tracks
    )
    identities = [i for m in ordered for i in m.identities] + list(master.remote_id_identities)
    return Case(
        inputs=[inputs[pos] for pos in range(len(files))],
        flows=flows,
        problems=problems,
        interfaces=master.interfaces.all(),
        stats=stats,
        dns=dns_table(payloads.dns_events),
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
    with _connect(client, scheduler, workers, dashboard) as dask_client:
        futures = [
            dask_client.submit(
                read_group,
                [str(files[i]) for i in group],
                group,
                captures=is_capture,
                readers=readers,
                key=f"droneaudit-read-{n}-{os.getpid()}-{id(files)}",
                pure=False,
            )
            for n, (group, is_capture) in enumerate(plan(files, readers))
        ]
        results: list[GroupResult] = []
        for future in futures:  # in submit order: the biggest files first
            result: GroupResult = future.result()
            results.append(result)
            if progress is not None:
                progress.advance(sum(files[i].stat().st_size for i in result.positions))
    return conclude(merge(files, results, nets), policy, catalog, ipdata, sites, clock_offsets, window_s)


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
