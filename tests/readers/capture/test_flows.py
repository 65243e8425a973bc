"""Chunking and compaction never change the answer: the same capture read in tiny chunks, with segments
merged after every chunk, gives byte-identical JSON to one read in the default large chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import droneaudit
from droneaudit.readers.capture import aggregate, flows, pcap, pcapng
from droneaudit.synth.demo import build_demo_capture


def test_tiny_chunks_and_constant_compaction_give_the_same_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = tmp_path / "session.pcapng"
    build_demo_capture(capture)
    expected = droneaudit.scan([capture]).to_json()
    monkeypatch.setattr(pcapng, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(pcap, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(flows, "COMPACT_ROWS", 3)
    assert droneaudit.scan([capture]).to_json() == expected


def test_running_max_restarts_at_each_group() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        values = rng.integers(0, 1000, n).astype(np.int64)
        new_group = rng.random(n) < 0.3
        new_group[0] = True
        expected = values.copy()
        for i in range(1, n):  # the plain loop the vectorised version replaces
            if not new_group[i]:
                expected[i] = max(expected[i], expected[i - 1])
        assert (aggregate._running_max(values, new_group) == expected).all()
