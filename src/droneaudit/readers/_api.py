"""The small Protocol every reader implements, and the context a scan hands to readers.

Readers never print and never raise for damaged input: "not my format" is a negative sniff score,
"my format but damaged" is a ``Problem`` in ``ScanContext.problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from droneaudit.model import MediaRecords, Problem

if TYPE_CHECKING:
    from droneaudit.content.model import HttpMessage
    from droneaudit.readers.capture.flows import FlowBuilder
    from droneaudit.readers.capture.interfaces import InterfaceRegistry


class ProblemLog:
    """Collects problems, folding repeats of one code in one file into a single counted record."""

    def __init__(self) -> None:
        self._first: dict[tuple[str, str], Problem] = {}
        self._count: dict[tuple[str, str], int] = {}

    def add(
        self,
        file: str,
        code: str,
        detail: str,
        *,
        offset: int | None = None,
        frame: int | None = None,
        count: int = 1,
    ) -> None:
        key = (file, code)
        if key not in self._first:
            self._first[key] = Problem(file, offset, frame, code, detail)
        self._count[key] = self._count.get(key, 0) + count

    def records(self) -> list[Problem]:
        out = [
            Problem(p.file, p.offset, p.frame, p.code, p.detail, self._count[key])
            for key, p in self._first.items()
        ]
        return sorted(out, key=lambda p: (p.file, p.offset if p.offset is not None else -1, p.code))

    def __len__(self) -> int:
        return len(self._first)


@dataclass
class ScanContext:
    """What one scan shares with its readers: where problems go and where packets are accumulated."""

    problems: ProblemLog
    interfaces: InterfaceRegistry
    flows: FlowBuilder
    progress: ProgressSink | None = None
    frames_by_file: dict[str, int] = field(default_factory=dict)
    media: list[MediaRecords] = field(default_factory=list)  #: what inventory readers found, per file
    #: TLS key log text found inside evidence (pcapng Decryption Secrets Blocks): (file, text)
    secrets: list[tuple[str, bytes]] = field(default_factory=list)
    #: HTTP messages read from HAR files (the content audit adds the ones it finds in captures)
    messages: list[HttpMessage] = field(default_factory=list)


class ProgressSink(Protocol):
    """Told how many bytes of the current file were consumed, for a progress bar at the edge."""

    def advance(self, nbytes: int) -> None: ...


class Reader(Protocol):
    """One evidence format."""

    name: str

    def sniff(self, head: bytes, path: Path) -> float:
        """Return a priority for reading this file; below 0 means "not mine"."""
        ...

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        """Read the file into ``ctx``; return (format name, SHA-256 of the stored bytes)."""
        ...
