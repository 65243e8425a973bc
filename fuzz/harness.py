"""The fuzz target, importable without atheris (pytest drives it; ``fuzz_readers.py`` wraps it).

One input is written to a file named as that format's files usually are, then read exactly as a scan
reads each file: ``scan._read_one`` picks the reader by content and reads into a fresh
``ScanContext``. The registry is narrowed to the one reader under test, wrapped so that an exception
inside it is not folded into an ``internal-error`` problem (as the scan does, to protect the other
files) but re-raised here, where the fuzzer sees it. After the read the capture flow table is finished
(the rest of the per-file work); ``deep`` runs the whole ``droneaudit.scan`` and the JSON output too.

The invariant: whatever the bytes, a read ends with records and problem records, never an exception,
and an ``internal-error`` problem never appears.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import droneaudit
from droneaudit.readers._api import ProblemLog, Reader, ScanContext
from droneaudit.readers._registry import READERS
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.scan import _read_one

#: Every reader in the registry, by name.
TARGETS: dict[str, Reader] = {r.name: r for r in READERS}
#: A typical file name per format (a few readers also look at the name: ``.srt``, ``FLYnnn.DAT``).
FILE_NAMES: dict[str, str] = {
    "capture": "input.pcapng",
    "jpeg": "DJI_0001.JPG",
    "dng": "DJI_0001.DNG",
    "mp4": "DJI_0001.MP4",
    "dji-srt": "DJI_0001.SRT",
    "dji-flight-record": "DJIFlightRecord_2026-03-14_[10-31-12].txt",
    "dji-dat": "FLY001.DAT",
    "px4-ulog": "log.ulg",
    "ardupilot-dataflash": "00000001.BIN",
    "mavlink-tlog": "flight.tlog",
    "airdata-csv": "airdata.csv",
    "har": "session.har",
}


class ReaderCrash(Exception):
    """A reader raised on some input: the bug the fuzzer is looking for."""


class InvariantBroken(AssertionError):
    """A read that did not raise but broke a promise (an internal-error problem, unserialisable output)."""


@dataclass
class _Unfolded:
    """Wraps a reader so its exception reaches the harness instead of becoming a problem record."""

    inner: Reader
    errors: list[BaseException] = field(default_factory=list)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name

    def sniff(self, head: bytes, path: Path) -> float:
        return self.inner.sniff(head, path)

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        try:
            return self.inner.read(path, display, ctx)
        except Exception as exc:
            self.errors.append(exc)
            raise


def fresh_context() -> ScanContext:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    return ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))


def read_file(reader: str, path: Path) -> ScanContext:
    """Read ``path`` the way a scan reads one file, with only ``reader`` registered; raise the reader's
    own exception if it has one."""
    wrapped = _Unfolded(TARGETS[reader])
    ctx = fresh_context()
    _read_one(path, ctx, (wrapped,))
    if wrapped.errors:
        raise wrapped.errors[0]
    ctx.flows.finish([])
    _no_internal_errors(ctx.problems)
    return ctx


def scan_file(reader: str, path: Path) -> str:
    """The whole scan of one file and its JSON; raise the reader's own exception if it has one."""
    wrapped = _Unfolded(TARGETS[reader])
    case = droneaudit.scan([path], readers=(wrapped,))
    if wrapped.errors:
        raise wrapped.errors[0]
    _no_internal_errors_list([p.code for p in case.problems])
    text = case.to_json()
    json.dumps(json.loads(text), allow_nan=False)  # NaN/Infinity are not JSON
    text.encode("utf-8")  # lone surrogates would not survive being written
    return text


def _no_internal_errors(problems: ProblemLog) -> None:
    _no_internal_errors_list([p.code for p in problems.records()])


def _no_internal_errors_list(codes: list[str]) -> None:
    if "internal-error" in codes:
        raise InvariantBroken("an internal-error problem was recorded")


def one_input(reader: str, data: bytes, workdir: Path, *, deep: bool = False) -> None:
    """The fuzz target: ``data`` as a file of the reader's format, read (``deep``: scanned) once."""
    path = workdir / FILE_NAMES.get(reader, f"input.{reader}")
    path.write_bytes(data)
    if deep:
        scan_file(reader, path)
    else:
        read_file(reader, path)
