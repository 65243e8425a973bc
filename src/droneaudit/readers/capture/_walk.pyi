"""Type stub for the compiled kernels (_walk.c). Buffers are anything with the buffer protocol (NumPy
arrays, bytes, memoryviews); NumPy's stubs do not declare it on Python 3.11, hence ``Any``."""

from typing import Any

def pcap_records(
    buffer: Any, start: int, end: int, record_header: int, big_endian: bool, limit: int, /
) -> tuple[bytes, int, int]: ...
def gather(buffer: Any, offsets: Any, width: int, big_endian: bool, /) -> bytearray: ...
def group_ids(keys: Any, width: int, /) -> bytearray: ...
