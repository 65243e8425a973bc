"""HAR 1.2 files (mitmproxy, Charles, browsers' "Save all as HAR"): HTTP messages for the content audit.

A HAR is what an auditor exports from an intercepting proxy instead of (or beside) a capture: every
request and response with headers and bodies. The messages go to the scan's content audit (detectors,
carving), with ``entry`` numbers as their evidence position.
"""

from __future__ import annotations

from pathlib import Path

from droneaudit.content.har import MAX_HAR, parse_har, sniff_har
from droneaudit.readers._api import ScanContext
from droneaudit.readers.source import GZIP_MAGIC, read_bounded

_SNIFF_BYTES = 8192


class HarReader:
    name = "har"

    def sniff(self, head: bytes, path: Path) -> float:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(GZIP_MAGIC) or not stripped.startswith(b"{"):
            return -1.0
        try:
            with path.open("rb") as f:
                start = f.read(_SNIFF_BYTES)
        except OSError:
            return -1.0
        return 0.9 if sniff_har(start) else -1.0

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        data, digest, gzipped = read_bounded(path, display, ctx.problems, MAX_HAR)
        messages, notes = parse_har(data, display)
        ctx.messages.extend(messages)
        for note in notes:
            ctx.problems.add(display, "har", note)
        return ("har.gz" if gzipped else "har"), digest
