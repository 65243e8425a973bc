"""A batch of captured frames as parallel NumPy arrays over one bytes buffer (no per-packet objects)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]

#: Zero bytes appended to every buffer so fixed-offset gathers never index past the end; lengths are
#: checked separately against ``caplen``.
PAD = 128


@dataclass
class FrameBatch:
    """Frames from one file section, in file order.

    ``data_off`` indexes ``buf``; ``iface`` is the global interface number (see interfaces.py);
    ``direction`` is 0 unknown, 1 inbound, 2 outbound (pcapng epb_flags), per frame.
    """

    file: str
    buf: U8
    data_off: I64
    caplen: I64
    wirelen: I64
    ts_ns: I64
    iface: I64
    frame: I64
    rec_off: I64
    direction: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.data_off.shape[0])


def padded_buffer(chunk: bytes | bytearray | memoryview) -> U8:
    """Copy a chunk into a uint8 array with PAD trailing zeros."""
    arr = np.zeros(len(chunk) + PAD, dtype=np.uint8)
    arr[: len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
    return arr
