"""A short, fixed-budget atheris run over every reader (``make fuzz`` is the long one).

The seeds are the deterministic ones from ``fuzz/seeds.py`` only (no shared corpus), the libFuzzer
seed is fixed and each reader gets the same number of executions, so the run is repeatable. Any
exception, hang or internal-error problem fails the test with the reader's log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from droneaudit.readers._registry import READERS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fuzz"))

import harness  # noqa: E402
import seeds  # noqa: E402

#: Executions per reader (override with DRONEAUDIT_FUZZ_RUNS); ~2 s each on a slow core.
RUNS = int(os.environ.get("DRONEAUDIT_FUZZ_RUNS", "1000"))


def test_every_registered_reader_has_seeds_and_they_read_cleanly(tmp_path: Path) -> None:
    assert set(seeds.BUILDERS) == {r.name for r in READERS} == set(harness.TARGETS)
    for reader, build in seeds.BUILDERS.items():
        for name, data in build().items():
            path = tmp_path / harness.FILE_NAMES[reader]
            path.write_bytes(data)
            ctx = harness.read_file(reader, path)
            assert ctx.media or ctx.frames_by_file or ctx.messages, (reader, name)
            assert "internal-error" not in {p.code for p in ctx.problems.records()}


def test_short_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    work = tmp_path / "fuzz"
    flags = [f"-runs={RUNS}", "-seed=1", "-timeout=20", "-rss_limit_mb=2048", "-print_final_stats=0"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_readers.py"), "--work", str(work), "--no-corpus", *flags],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results = json.loads((work / "summary.json").read_text())
    failed = [r for r in results if r["findings"] or r["exit_code"]]
    logs = {r["reader"]: (work / r["reader"] / "log.txt").read_text(errors="replace")[-3000:] for r in failed}
    assert not failed and done.returncode == 0, (done.stdout, logs)
    assert {r["reader"] for r in results} == {r.name for r in READERS}
    assert all(r["executions"] >= RUNS for r in results), done.stdout
