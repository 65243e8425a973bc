"""Where ``droneaudit watch`` reads from: a pipe (``tcpdump -U -w -``) or a folder that capture files are
rotated or dropped into. Both hand the capture walkers a forward-only stream; nothing here seeks.

* ``LiveStream`` reads a file descriptor as data arrives (``select`` with a short timeout, so a stop
  request is noticed while the pipe is quiet), hashing every byte for the case file.
* ``GrowingFile`` reads a capture file that may still be written: at its current end it waits, and it
  ends only when a newer file has appeared in the folder (the writer rotated) or a stop is requested.
* ``FolderFollower`` lists the folder every ``poll`` seconds and hands out files in (mtime, name) order,
  each once. A ``X.gz`` is skipped when ``X`` was already read (``tcpdump -z gzip`` compresses a file it
  has finished; the packets were read while it grew).

A stop request (Ctrl-C, SIGTERM) raises ``StopRequested`` from ``read``: the walk ends where it is, and a
record cut short by the interruption is not reported as damage. Files are opened read-only.
"""

from __future__ import annotations

import hashlib
import os
import select
import threading
from collections.abc import Iterator
from pathlib import Path

from droneaudit.readers.capture import pcap, pcapng
from droneaudit.readers.source import GZIP_MAGIC

#: Most bytes handed over per read: a batch stays small enough to show an endpoint promptly.
READ_BYTES = 1 << 20
#: Requests up to this size are filled completely (file and record headers), larger ones return
#: whatever has arrived.
FILL_BYTES = 64
#: How often a quiet pipe checks for a stop request (seconds).
TICK_S = 0.2


class StopRequested(Exception):
    """The user asked to stop (SIGINT/SIGTERM); raised out of a read so the walk ends at once."""


class StopFlag:
    """Set from a signal handler, read by the sources."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class _Hashed:
    """SHA-256 and size of the bytes handed over so far."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0

    def take(self, data: bytes) -> bytes:
        self._h.update(data)
        self.size += len(data)
        return data

    def sha256(self) -> str:
        return self._h.hexdigest()


class LiveStream(_Hashed):
    """A pipe or terminal read as data arrives; an empty read means the writer closed it."""

    def __init__(self, fd: int, stop: StopFlag) -> None:
        super().__init__()
        self._fd = fd
        self._stop = stop
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        want = READ_BYTES if n < 0 else min(n, READ_BYTES)
        out = self._read_some(want)
        while out and len(out) < min(want, FILL_BYTES) and (more := self._read_some(want - len(out))):
            out += more
        return self.take(out)

    def _read_some(self, n: int) -> bytes:
        while not self._eof:
            if self._stop.is_set():
                raise StopRequested
            ready, _, _ = select.select([self._fd], [], [], TICK_S)
            if ready:
                data = os.read(self._fd, n)
                self._eof = not data
                return data
        return b""


class GrowingFile(_Hashed):
    """A capture file read while it may still grow; ends when ``finished()`` says a newer file exists."""

    def __init__(self, path: Path, follower: FolderFollower) -> None:
        super().__init__()
        self._f = path.open("rb")
        self._path = path
        self._follower = follower

    def read(self, n: int = -1) -> bytes:
        want = READ_BYTES if n < 0 else min(n, READ_BYTES)
        out = b""
        while len(out) < min(want, FILL_BYTES):
            more = self._read_some(want - len(out))
            if not more:
                break
            out += more
        return self.take(out)

    def _read_some(self, n: int) -> bytes:
        while True:
            data: bytes = self._f.read(n)
            if data:
                return data
            if self._follower.rotated_past(self._path):
                return bytes(self._f.read(n))  # whatever the writer flushed before it moved on
            self._follower.nap()

    def close(self) -> None:
        self._f.close()


class FolderFollower:
    """Capture files in a folder, each handed out once, oldest first; waits for new ones."""

    def __init__(self, folder: Path, poll_s: float, stop: StopFlag) -> None:
        self.folder = folder
        self.poll_s = poll_s
        self._stop = stop
        self._done: set[tuple[str, int]] = set()
        self._read_names: set[str] = set()

    def files(self) -> Iterator[Path]:
        """Files in order, forever (until a stop request raises ``StopRequested``)."""
        while True:
            pending = self._pending()
            if not pending:
                self.nap()
                continue
            path = pending[0]
            self._done.add(self._identity(path))
            self._read_names.add(str(path))
            yield path

    def rotated_past(self, path: Path) -> bool:
        """True once another unread capture (or a new, still empty file) has appeared: the writer has
        moved on from ``path``. Other files dropped in the folder do not end it."""
        return any(p != path and _capture_like(p) for p in self._pending())

    def nap(self) -> None:
        if self._stop.wait(self.poll_s):
            raise StopRequested

    def _pending(self) -> list[Path]:
        found: list[tuple[int, str, Path]] = []
        for path in self._candidates():
            try:
                st = path.stat()
            except OSError:
                continue  # removed while listing (a rotation's compress step)
            if (str(path), st.st_ino) not in self._done and not self._compressed_copy(path):
                found.append((st.st_mtime_ns, path.name, path))
        return [p for _, _, p in sorted(found)]

    def _candidates(self) -> list[Path]:
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return []
        return [p for p in entries if not p.name.startswith(".") and p.is_file()]

    def _compressed_copy(self, path: Path) -> bool:
        return path.suffix == ".gz" and str(path.with_suffix("")) in self._read_names

    @staticmethod
    def _identity(path: Path) -> tuple[str, int]:
        try:
            return str(path), path.stat().st_ino
        except OSError:
            return str(path), -1


def _capture_like(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return not head or head[:2] == GZIP_MAGIC or pcap.is_pcap(head) or pcapng.is_pcapng(head)
