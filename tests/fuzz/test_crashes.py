"""Every input the fuzzer (or a hand-made reduction of one) found a crash or hang with, kept in
``tests/data/crashes/<reader>/``: read the way a scan reads it, it gives problem records and no
exception, quickly. Add a file here for each new finding; see docs/fuzzing.md."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import droneaudit

ROOT = Path(__file__).resolve().parents[2]
CRASHES = ROOT / "tests" / "data" / "crashes"
sys.path.insert(0, str(ROOT / "fuzz"))

import harness  # noqa: E402

#: Findings whose fix belongs to a module someone else owns: (reader, file name) -> reason (xfail strict).
KNOWN: dict[tuple[str, str], str] = {}

FILES = sorted(p for p in CRASHES.glob("*/*") if p.is_file())


def test_every_crash_file_is_small_and_under_a_registered_reader() -> None:
    assert len(FILES) >= 7
    for path in FILES:
        assert path.parent.name in harness.TARGETS, path
        assert path.stat().st_size <= 64 << 10, f"{path} is not small"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_crash_file_gives_problems_not_an_exception(path: Path, tmp_path: Path) -> None:
    reason = KNOWN.get((path.parent.name, path.name))
    if reason is not None:
        pytest.xfail(reason)
    started = time.monotonic()
    ctx = harness.read_file(path.parent.name, path)  # raises what the reader raised
    assert ctx.problems.records(), "a damaged file must be reported"
    copy = tmp_path / harness.FILE_NAMES.get(path.parent.name, path.name)
    copy.write_bytes(path.read_bytes())
    case = droneaudit.scan([copy])  # the whole scan, as a user runs it
    codes = {p.code for p in case.problems}
    assert codes and "internal-error" not in codes
    assert time.monotonic() - started < 30
