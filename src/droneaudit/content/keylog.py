"""TLS secrets in the NSS key log format, the one every tool that can export TLS keys writes.

The format (``SSLKEYLOGFILE``, as written by browsers, curl, OpenSSL's and Python's ``keylog_filename``,
and the same lines PCAPdroid's "TLS decryption" export, mitmproxy's ``SSLKEYLOGFILE`` and a pcapng
Decryption Secrets Block of type TLS key log carry) is one secret per line::

    # comment
    CLIENT_RANDOM <client random, 64 hex> <master secret, 96 hex>            (TLS 1.0 - 1.2)
    CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <secret hex>               (TLS 1.3, and the
    SERVER_HANDSHAKE_TRAFFIC_SECRET / CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0 /
    EXPORTER_SECRET / CLIENT_EARLY_TRAFFIC_SECRET / EARLY_EXPORTER_SECRET labels)

Every secret is found by the ClientHello's random, which is why a key log from the phone can be joined
with a capture taken elsewhere. Key logs are evidence handed to us, so a bad line is counted (with its
line number) and skipped, never fatal; and the total text kept is capped (64 MiB by default, about
350 000 TLS 1.2 sessions), so a hostile file cannot exhaust memory.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from pathlib import Path

#: Labels whose secret we keep, with the secret lengths that make sense for them (bytes).
LABELS: dict[str, tuple[int, ...]] = {
    "CLIENT_RANDOM": (48,),
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": (32, 48, 64),
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": (32, 48, 64),
    "CLIENT_TRAFFIC_SECRET_0": (32, 48, 64),
    "SERVER_TRAFFIC_SECRET_0": (32, 48, 64),
    "EXPORTER_SECRET": (32, 48, 64),
    "CLIENT_EARLY_TRAFFIC_SECRET": (32, 48, 64),
    "EARLY_EXPORTER_SECRET": (32, 48, 64),
}
#: Valid NSS labels we do not use (RSA pre-master secrets keyed by encrypted PMS, and the client-random
#: variant of it): counted as ignored, not as malformed.
IGNORED_LABELS = frozenset({"RSA", "PMS_CLIENT_RANDOM"})

#: pcapng Decryption Secrets Block secrets type whose data is NSS key log text ("TLSK").
DSB_TLS_KEY_LOG = 0x544C534B
MAX_BYTES = 64 << 20
#: Line numbers remembered per source for the report (the count is always exact).
MAX_REPORTED_LINES = 20


@dataclass(slots=True)
class SourceStats:
    """What one key log source (a file, a pcapng block) contributed, for the report."""

    source: str
    lines: int = 0  #: lines read, comments and blank lines included
    secrets: int = 0  #: (client random, label) pairs new to the key log
    sessions: int = 0  #: client randoms new to the key log
    duplicates: int = 0  #: lines repeating a secret already known (same value)
    conflicts: int = 0  #: lines giving a different value for a known secret (the first one is kept)
    ignored: int = 0  #: valid lines with a label we do not use (e.g. ``RSA``)
    malformed: int = 0
    malformed_lines: list[tuple[int, str]] = field(default_factory=list)  #: (line number, why), first 20
    truncated_at: int | None = None  #: byte offset where the size cap stopped reading

    def bad_line(self, number: int, why: str) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < MAX_REPORTED_LINES:
            self.malformed_lines.append((number, why))


class KeyLog:
    """Secrets by client random, merged from any number of key log texts.

    ``add_text`` may be called once per ``--keylog`` file and once per pcapng Decryption Secrets Block;
    the first value of a secret wins and later different values are counted as conflicts.
    """

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.sources: list[SourceStats] = []
        self._used = 0
        self._secrets: dict[bytes, dict[str, bytes]] = {}

    def __len__(self) -> int:
        """Number of sessions (client randoms) with at least one secret."""
        return len(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def secrets(self, client_random: bytes) -> dict[str, bytes]:
        """The secrets known for one session, by label (a copy; empty when the session is unknown)."""
        return dict(self._secrets.get(bytes(client_random), {}))

    def add_file(self, path: Path) -> SourceStats:
        """Read a key log file (at most what is left of the size cap, plus one byte to notice more)."""
        with path.open("rb") as handle:
            data = handle.read(max(self.max_bytes - self._used, 0) + 1)
        return self.add_text(data, str(path))

    def add_text(self, data: bytes, source: str) -> SourceStats:
        """Add the lines of one key log text; returns (and keeps) the counts for this source."""
        stats = SourceStats(source)
        self.sources.append(stats)
        data = self._within_cap(data, stats)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        for number, line in enumerate(data.splitlines(), start=1):
            stats.lines += 1
            self._line(line.strip(), number, stats)
        return stats

    def _within_cap(self, data: bytes, stats: SourceStats) -> bytes:
        """Cut ``data`` at the last line end that fits into what is left of the size cap."""
        room = self.max_bytes - self._used
        if len(data) > room:
            cut = data.rfind(b"\n", 0, max(room, 0)) + 1
            stats.truncated_at = cut
            data = data[:cut]
        self._used += len(data)
        return data

    def _line(self, line: bytes, number: int, stats: SourceStats) -> None:
        if not line or line.startswith(b"#"):
            return
        parsed = _parse(line)
        if isinstance(parsed, str):
            stats.bad_line(number, parsed)
        elif parsed is None:
            stats.ignored += 1
        else:
            self._store(*parsed, stats)

    def _store(self, label: str, client_random: bytes, secret: bytes, stats: SourceStats) -> None:
        session = self._secrets.get(client_random)
        if session is None:
            session = self._secrets[client_random] = {}
            stats.sessions += 1
        known = session.get(label)
        if known is None:
            session[label] = secret
            stats.secrets += 1
        elif known == secret:
            stats.duplicates += 1
        else:
            stats.conflicts += 1


def _parse(line: bytes) -> tuple[str, bytes, bytes] | str | None:
    """(label, client random, secret), None for a valid line we ignore, or why the line is malformed."""
    fields = line.split()
    if len(fields) != 3:
        return f"expected 3 fields, got {len(fields)}"
    label = fields[0].decode("ascii", "replace")
    if label in IGNORED_LABELS:
        return None
    if label not in LABELS:
        return f"unknown label {label[:40]!r}"
    try:
        client_random, secret = binascii.unhexlify(fields[1]), binascii.unhexlify(fields[2])
    except (binascii.Error, ValueError):
        return "not hex"
    if len(client_random) != 32:
        return f"client random has {len(client_random)} bytes, not 32"
    if len(secret) not in LABELS[label]:
        return f"{label} secret has {len(secret)} bytes"
    return label, client_random, secret
