"""pymavlink's DataFlash reader with a progress guard.

pymavlink (2.4.x) trusts the message length an ``FMT`` record declares: a length of 0 leaves
``DFReader_binary._parse_next`` (and the legacy indexer that calls it) at the same offset for ever - a
32-byte damaged log hangs the scan. The guard raises ``NoProgress`` when a parsed message did not move
the reader forward, so the ArduPilot reader reports a problem and the scan goes on.
"""

from __future__ import annotations

import functools
from typing import Any


class NoProgress(Exception):
    """pymavlink parsed a message without moving forward: it would loop for ever."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"a message at offset {offset} declares a length that does not move the reader on")
        self.offset = offset


@functools.cache
def guarded_reader() -> Any:
    """``DFReader_binary`` with ``_parse_next`` checked (pymavlink is imported only when needed)."""
    from pymavlink import DFReader

    class Guarded(DFReader.DFReader_binary):  # type: ignore[misc]
        def _parse_next(self) -> Any:
            before = self.offset
            msg = super()._parse_next()
            if msg is not None and self.offset <= before:
                raise NoProgress(before)
            return msg

    return Guarded
