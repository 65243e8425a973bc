"""``droneaudit watch``: follow a live capture (a pipe or a folder of rotating files) and print each new
internet endpoint and every change of the verdict as it happens; a summary at the end (EOF, Ctrl-C,
SIGTERM) with the scan's exit codes. Kept apart from ``cli.py`` so registering it is one import.

    tcpdump -i wlan0 -U -w - | droneaudit watch -
    droneaudit watch /var/captures --poll 2 --policy unit.toml --json-lines
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from droneaudit.checks.policy import Policy
from droneaudit.checks.policy import load as load_policy
from droneaudit.cli_options import AllowCategory, AllowHost, CatalogFile, Devices, FailOn, Scope
from droneaudit.enrich.catalog import Catalog
from droneaudit.errors import NothingReadable, UsageError
from droneaudit.readers.capture.device import IPNet, parse_device
from droneaudit.readers.capture.reader import walk_stream
from droneaudit.scan import display_path
from droneaudit.watch import Watcher
from droneaudit.watch_case import write_case
from droneaudit.watch_render import Output
from droneaudit.watch_source import FolderFollower, GrowingFile, LiveStream, StopFlag, StopRequested

Source = Annotated[
    str,
    typer.Argument(help="'-' for a pcap/pcapng stream on stdin, or a folder to follow.", show_default=False),
]
PolicyFile = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML: what is allowed (what alerts), scope, fail_on.")
]
JsonLines = Annotated[bool, typer.Option("--json-lines", help="One JSON object per event (sorted keys).")]
CaseOut = Annotated[
    Path | None, typer.Option("--case", help="At the end, add the result to a DuckDB case file.")
]
Poll = Annotated[
    float, typer.Option("--poll", min=0.05, help="Folder mode: seconds between looks for new data and files.")
]


def watch(
    source: Source,
    device: Devices = None,
    policy: PolicyFile = None,
    allow_host: AllowHost = None,
    allow_category: AllowCategory = None,
    scope: Scope = None,
    fail_on: FailOn = None,
    catalog: CatalogFile = None,
    json_lines: JsonLines = False,
    case: CaseOut = None,
    poll: Poll = 1.0,
) -> None:
    """Follow a live capture: one line per new internet endpoint, the running verdict, a summary."""
    folder = _folder(source, case)
    rules = (load_policy(policy) if policy else Policy()).with_flags(
        allow_host or [], allow_category or [], scope, fail_on
    )
    watcher = Watcher(policy=rules, catalog=_catalog(catalog or []), devices=_devices(device or []))
    out = Output(sys.stdout, json_lines)
    stop = StopFlag()
    with _on_signals(stop):
        try:
            if folder is None:
                _read(LiveStream(_stdin(), stop), "<stdin>", watcher, out)
            else:
                _follow(FolderFollower(folder, poll, stop), watcher, out)
        except StopRequested:
            pass
    summary = watcher.finish()
    out.summary(summary)
    if case is not None:
        write_case(watcher, summary, case)
    if not any(i.format != "unknown" for i in summary.inputs):
        raise NothingReadable("no capture could be read (see the problems above)")
    raise typer.Exit(summary.exit_code)


def _read(stream: LiveStream | GrowingFile, display: str, watcher: Watcher, out: Output) -> None:
    """One capture from a forward-only stream, batch by batch, events printed as they come."""
    fmt, batches = walk_stream(stream, display, watcher.context)
    file_id = watcher.begin(display, fmt)
    out.emit([watcher.input_event(file_id)])
    try:
        for batch in batches:
            out.emit(watcher.feed(batch, file_id))
    finally:
        out.emit(watcher.end(file_id, stream.sha256(), stream.size))


def _follow(follower: FolderFollower, watcher: Watcher, out: Output) -> None:
    for path in follower.files():
        try:
            stream = GrowingFile(path, follower)
        except OSError as exc:
            watcher.problems.add(display_path(path), "unreadable-file", f"cannot open: {exc.strerror}")
            continue
        try:
            _read(stream, display_path(path), watcher, out)
        finally:
            stream.close()


@contextmanager
def _on_signals(stop: StopFlag) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the watch cleanly (summary, exit code); a second Ctrl-C interrupts."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _folder(source: str, case: Path | None) -> Path | None:
    if source == "-":
        return None
    folder = Path(source)
    if not folder.is_dir():
        raise UsageError(f"watch reads '-' (stdin) or a folder; {source!r} is neither")
    if case is not None and case.resolve().is_relative_to(folder.resolve()):
        raise UsageError(f"refusing to write the case file {case} into the watched folder")
    return folder


def _stdin() -> int:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("stdin is a terminal: pipe a capture in (tcpdump -U -w - | droneaudit watch -)")
    return sys.stdin.fileno()


def _devices(specs: list[str]) -> list[IPNet]:
    try:
        return [parse_device(s) for s in specs]
    except ValueError as exc:
        raise UsageError(f"--device: {exc}") from exc


def _catalog(extra: list[Path]) -> Catalog:
    merged = Catalog.load_default()
    for path in extra:
        merged = merged.merged(Catalog.from_toml(path))
    return merged
