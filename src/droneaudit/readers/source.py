"""Opening evidence: hash every byte as it is read, see through gzip, and never let a decompression
error escape (it becomes a problem at the decompressed offset where the stream broke).

Files are opened read-only; nothing here writes anywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import queue
import threading
import zlib
from pathlib import Path
from typing import Protocol

from droneaudit.readers._api import ProblemLog

GZIP_MAGIC = b"\x1f\x8b"
#: Decompression-bomb guard: never inflate more than this from one .gz input.
MAX_INFLATED = 64 << 30
#: Chunks waiting for the hash thread. Each holds a reader's whole chunk (16 MiB for captures), so this
#: bounds memory when hashing falls behind (on a busy machine): one waiting chunk keeps both threads busy.
HASH_QUEUE = 1
#: Most bytes one inflate step may produce (memory stays flat whatever the compression ratio).
_STEP = 1 << 20


class ByteStream(Protocol):
    """What readers consume: something with ``read(n) -> bytes``."""

    def read(self, n: int = -1, /) -> bytes: ...


class HashingFile:
    """A read-only file whose bytes are fed to SHA-256 as they are consumed.

    Hashing runs on a second thread (hashlib releases the GIL on large buffers), so on a two-core
    machine the evidence hash costs no wall time next to parsing; a short queue keeps memory flat.
    """

    def __init__(self, path: Path) -> None:
        self._f = path.open("rb")
        self._h = hashlib.sha256()
        self._q: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=HASH_QUEUE)
        self._worker = threading.Thread(target=self._consume, daemon=True)
        self._worker.start()

    def _consume(self) -> None:
        while (data := self._q.get()) is not None:
            self._h.update(data)

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._f.read(n)
        if data:
            self._q.put(data)
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` straight from the file (no intermediate bytes object). The caller must not
        change those bytes afterwards: the hash thread reads them from the same memory."""
        got = self._f.readinto(view) or 0
        if got:
            self._q.put(view[:got])
        return got

    def finish(self) -> str:
        """Hash the unread rest (a reader may stop early) and close; return the hex digest."""
        while chunk := self._f.read(1 << 22):
            self._q.put(chunk)
        self._q.put(None)
        self._worker.join()
        self._f.close()
        return self._h.hexdigest()


class SafeGzip:
    """gzip stream (several members allowed) that turns corruption, a cut-off end or an over-limit size
    into end-of-data plus a problem record. Decompressing with zlib directly keeps every byte that
    inflated before the damage, which ``gzip.GzipFile`` would drop with the failing read."""

    def __init__(
        self, raw: ByteStream, display: str, problems: ProblemLog, limit: int = MAX_INFLATED
    ) -> None:
        self._raw = raw
        self._display = display
        self._problems = problems
        self._limit = limit
        self._d = zlib.decompressobj(wbits=31)
        self._buf = bytearray()
        self.consumed = 0
        self._done = False

    def read(self, n: int = -1) -> bytes:
        want = self._limit if n < 0 else n
        while len(self._buf) < want and not self._done:
            self._inflate_more()
        out = bytes(self._buf[:want])
        del self._buf[:want]
        return out

    def _inflate_more(self) -> None:
        """Inflate at most ``_STEP`` bytes: 64 KiB of a bomb would otherwise become 64 MiB at once."""
        comp = self._d.unconsumed_tail or self._raw.read(1 << 16)
        if not comp:
            if not self._d.eof:
                self._stop("gzip-truncated", "compressed stream ends early; data after this point is lost")
            self._done = True
            return
        try:
            self._take(self._d.decompress(comp, _STEP))
            while self._d.eof and self._d.unused_data and not self._done:
                rest = self._d.unused_data
                self._d = zlib.decompressobj(wbits=31)  # the next gzip member
                self._take(self._d.decompress(rest, _STEP))
        except zlib.error as exc:
            self._stop("gzip-corrupt", f"compressed stream is damaged ({exc}); data after this point is lost")

    def _take(self, data: bytes) -> None:
        room = self._limit - self.consumed
        self.consumed += min(len(data), room)
        self._buf += data[:room]
        if len(data) > room:
            self._stop("decompression-limit", f"more than {self._limit} bytes after decompression; stopped")

    def _stop(self, code: str, detail: str) -> None:
        """End of data; the problem's offset is the decompressed offset where it happened."""
        self._done = True
        self._problems.add(self._display, code, detail, offset=self.consumed)


def peek(path: Path) -> tuple[bytes, bool]:
    """The first bytes of the content (decompressed when gzip'd) and whether it was gzip'd."""
    with path.open("rb") as f:
        head = f.read(64)
    if not head.startswith(GZIP_MAGIC):
        return head, False
    try:
        with gzip.open(path, "rb") as g:
            data: bytes = g.read(64)
            return data, True
    except (OSError, EOFError, zlib.error):
        return b"", True


def open_content(path: Path, display: str, problems: ProblemLog) -> tuple[HashingFile, ByteStream]:
    raw = HashingFile(path)
    with path.open("rb") as f:
        head = f.read(2)
    if head == GZIP_MAGIC:
        return raw, SafeGzip(raw, display, problems)
    return raw, raw


def sha256_file(path: Path) -> str:
    """SHA-256 of a whole file, read in bounded pieces (readers that only need headers still hash all)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_bounded(path: Path, display: str, problems: ProblemLog, limit: int) -> tuple[bytes, str, bool]:
    """A whole small evidence file (plain or gzip'd) up to ``limit`` bytes: (data, sha256, gzipped).
    A longer file is read up to the limit and reported, never loaded whole."""
    raw, stream = open_content(path, display, problems)
    data = bytearray()
    while len(data) < limit and (chunk := stream.read(min(1 << 20, limit - len(data)))):
        data += chunk  # in pieces: read(limit) would reserve the whole limit for a small file
    if stream.read(1):
        problems.add(display, "file-too-large", f"only the first {limit} bytes were read")
    return bytes(data), raw.finish(), stream is not raw
