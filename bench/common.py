"""What every bench section shares: paths, the report being built, and how commands are timed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "_work"
ROOT = BENCH.parent
DOC = ROOT / "docs" / "benchmarks.md"
PEERS = WORK / "venv"
#: ExifTool 13 from npm (exiftool-vendored.pl), run with the system perl, as .ci/run installs it.
EXIFTOOL = os.environ.get(
    "EXIFTOOL",
    os.environ.get(
        "DRONEAUDIT_EXIFTOOL", "/tmp/droneaudit-et/node_modules/exiftool-vendored.pl/bin/exiftool"
    ),
)
ENV = {**os.environ, "TZ": "UTC", "LC_ALL": "C.UTF-8"}


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


@dataclass
class Row:
    section: str
    tool: str
    seconds: float
    rate: str
    rss_mb: float | None
    load: str
    note: str = ""


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None
    gap: str


@dataclass
class Report:
    quick: bool
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    #: Numbers the doc's explanations quote (floors, CPU times), by name.
    facts: dict[str, float] = field(default_factory=dict)

    def row(self, row: Row) -> None:
        self.rows.append(row)
        rss = f", peak RSS {row.rss_mb:.0f} MB" if row.rss_mb is not None else ""
        print(f"  {row.tool:44s} {row.seconds:8.2f} s  {row.rate}{rss}  [load {row.load}] {row.note}")

    def check(self, what: str, ok: bool, detail: str) -> None:
        self.checks.append((what, ok, detail))
        print(f"  agree: {what}: {'yes' if ok else 'NO'} ({detail})")


def timed(cmd: list[str], *, stdin: int | None = None, check: bool = True) -> tuple[float, float, str]:
    """Run ``cmd`` under ``/usr/bin/time -v``: (wall seconds, peak RSS MB, stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", dir=WORK) as tf:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", tf.name, *cmd], capture_output=True, text=True, env=ENV, stdin=stdin
        )
        wall = time.perf_counter() - start
        rss = 0.0
        for line in Path(tf.name).read_text().splitlines():
            if "Maximum resident set size" in line:
                rss = int(line.rsplit(":", 1)[1]) / 1024
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, rss, proc.stdout


def probe(kind: str, path: Path, runs: int = 1) -> tuple[float, float, dict]:
    """droneaudit in a fresh process (median of ``runs``): (scan seconds, peak RSS MB, summary)."""
    results = []
    for _ in range(runs):
        _wall, rss, out = timed([sys.executable, str(BENCH / "probe.py"), kind, str(path)])
        results.append((json.loads(out)["seconds"], rss, json.loads(out)))
    results.sort(key=lambda r: r[0])
    return results[len(results) // 2]


def median_seconds(fn: object, runs: int = 3) -> float:
    """Median wall time of ``fn()`` over ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cat_seconds(path: Path) -> float:
    return median_seconds(lambda: subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True))


def sha256_seconds(path: Path) -> float:
    """SHA-256 of the whole file with hashlib (OpenSSL), as the scan's hash thread does: the floor of any
    scan that must hash every byte, whatever its parser does."""

    def digest() -> None:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(16 << 20):
                h.update(chunk)

    return median_seconds(digest)


def version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


#: Peer tools that are not project dependencies. They live in bench/_work/venv, never the project's venv:
#: nfstream pins numpy/pandas, and pandas anywhere in the project's venv is imported by pyarrow into
#: every droneaudit run (+0.3 s, +30 MB), which would skew droneaudit's own numbers.
PEER_PACKAGES = ("nfstream", "geopandas")


def ensure_peers() -> bool:
    """The peer packages in bench/_work/venv (installed from PyPI on first use)."""
    py = PEERS / "bin" / "python"
    probe_import = "import " + ", ".join(PEER_PACKAGES)
    if py.exists() and subprocess.run([str(py), "-c", probe_import], capture_output=True).returncode == 0:
        return True
    print(f"installing {', '.join(PEER_PACKAGES)} into bench/_work/venv ...")
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    res = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], capture_output=True, text=True
    )
    if res.returncode != 0:
        print(f"  peer install failed: {res.stderr[-500:]}")
    return res.returncode == 0


def ensure_tools() -> None:
    """The command-line peers on a fresh machine: tshark from Debian, ExifTool 13 from npm (the same
    packages .ci/run installs). Nothing is done when they are already there."""
    if shutil.which("tshark") is None:
        print("installing tshark (Debian) ...")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "tshark"]
        subprocess.run(cmd, check=False, env={**ENV, "DEBIAN_FRONTEND": "noninteractive"})
    if not Path(EXIFTOOL).is_file() and EXIFTOOL.startswith("/tmp/droneaudit-et/"):
        print("installing exiftool-vendored.pl 13.59 (npm) into /tmp/droneaudit-et ...")
        npm = ["npm", "install", "--prefix", "/tmp/droneaudit-et", "--no-audit", "--no-fund"]
        subprocess.run([*npm, "exiftool-vendored.pl@13.59"], check=False, stdout=subprocess.DEVNULL)
