"""Coverage-guided fuzzing of every reader with atheris (libFuzzer); ``make fuzz`` runs it.

    python fuzz/fuzz_readers.py [--reader NAME ...] [--work DIR] [--deep] [--keep-going] \\
        [libFuzzer flags: -runs=N -seed=N -max_total_time=S -max_len=N -timeout=S ...]

droneaudit is imported and instrumented once; each reader is then fuzzed in its own forked child (its
own libFuzzer run, with the flags given) using ``DIR/<reader>/corpus`` - seeded from ``seeds.py`` and
small shared-corpus samples (``DRONEAUDIT_CORPUS`` or ``../shared/corpus``), and grown by the run - and
``DIR/<reader>/findings`` for failing inputs; its log is ``DIR/<reader>/log.txt``. Each distinct
failure (exception type and innermost droneaudit function) is saved once as ``<signature>-<sha1>.bin``;
without ``--keep-going`` the first one ends that reader's run, with it the run goes on. A child that
outlives its budget (``-max_total_time`` + 120 s, or ``--child-limit``) is stuck in a hang: it is killed
and the input it was reading kept as ``hang-<sha1>.bin``. A table of executions and findings per reader
is printed and written to ``DIR/summary.json``; the exit status is 1 when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["droneaudit"]):
    import droneaudit  # noqa: F401  (instrumented before the harness imports the readers)

import harness
import seeds

MAX_SEED_BYTES = 64 << 10
#: pymavlink and pyulog take ~0.1 s per 64 KiB: smaller corpus seeds keep those runs fast.
SEED_BYTES = {"ardupilot-dataflash": 8 << 10, "px4-ulog": 16 << 10}
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_COV = re.compile(r"cov: (\d+) ft: (\d+)")


@dataclass
class Result:
    reader: str
    executions: int
    seconds: int
    coverage: int
    findings: list[str]
    exit_code: int


def _options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reader", action="append", choices=sorted(harness.TARGETS), help="repeatable")
    parser.add_argument("--work", type=Path, default=Path("build/fuzz"), help="corpora, findings, logs")
    parser.add_argument("--deep", action="store_true", help="whole scan and JSON per input (slower)")
    parser.add_argument("--keep-going", action="store_true", help="save each distinct failure, go on")
    parser.add_argument("--no-corpus", action="store_true", help="built seeds only (no shared corpus)")
    parser.add_argument("--child-limit", type=float, help="kill a reader's run after this many seconds")
    return parser.parse_known_args(argv)


def write_seeds(reader: str, folder: Path, use_corpus: bool = True) -> int:
    """Built seeds, then small corpus samples; returns how many files were written."""
    folder.mkdir(parents=True, exist_ok=True)
    builder = seeds.BUILDERS.get(reader)
    items = list(builder().items()) if builder else [("empty", b"")]
    default = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    root = Path(os.environ.get("DRONEAUDIT_CORPUS", default))
    if use_corpus and root.is_dir():
        items += list(seeds.corpus_seeds(reader, root, SEED_BYTES.get(reader, MAX_SEED_BYTES)))
    for name, data in items:
        (folder / f"seed-{name}").write_bytes(data)
    return len(items)


def signature(exc: BaseException) -> str:
    """Exception type and the innermost droneaudit function (no line number, so it survives edits)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "droneaudit" in f.filename]
    where = f"{Path(frames[-1].filename).stem}.{frames[-1].name}" if frames else "outside"
    return f"{type(exc).__name__}-{where}"


class Saver:
    """Keeps the first input of every distinct failure."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()

    def save(self, exc: BaseException, data: bytes) -> None:
        sig = signature(exc)
        if sig in self.seen:
            return
        self.seen.add(sig)
        (self.folder / f"{sig}-{hashlib.sha1(data).hexdigest()[:12]}.bin").write_bytes(data)
        print(f"FUZZ-FINDING {sig}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)


def _child(reader: str, opts: argparse.Namespace, flags: list[str], base: Path) -> None:
    """In the forked child: log to a file, fuzz one reader until libFuzzer exits the process."""
    corpus, findings = base / "corpus", base / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    log = os.open(base / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.dup2(log, 1)
    print(f"FUZZ-SEEDS {write_seeds(reader, corpus, not opts.no_corpus)}", file=sys.stderr)
    workdir = base / "work"
    workdir.mkdir(exist_ok=True)
    saver = Saver(findings)

    def test_one_input(data: bytes) -> None:
        try:
            harness.one_input(reader, data, workdir, deep=opts.deep)
        except Exception as exc:
            saver.save(exc, data)
            if not opts.keep_going:
                raise

    args = [sys.argv[0], f"-artifact_prefix={findings}/", *flags, str(corpus)]
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


def fuzz_one(reader: str, opts: argparse.Namespace, flags: list[str]) -> Result:
    base = opts.work / reader
    base.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _child(reader, opts, flags, base)
        finally:
            os._exit(3)  # only reached if libFuzzer returned instead of exiting
    return _result(reader, base, _wait(pid, base, _deadline(flags, opts.child_limit)))


def _deadline(flags: list[str], limit: float | None) -> float:
    """Seconds the child may run: libFuzzer's own budget plus a margin, or ``--child-limit``."""
    budget = [float(f.split("=", 1)[1]) for f in flags if f.startswith("-max_total_time=")]
    return limit if limit is not None else (budget[0] + 120 if budget else 1800.0)


def _wait(pid: int, base: Path, seconds: float) -> int:
    """The child's exit code. A child past its deadline is stuck on one input (atheris' own -timeout
    does not always end a hang inside a parser): it is killed and that input kept as ``hang-*``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    for stuck in (base / "work").iterdir():
        data = stuck.read_bytes()
        (base / "findings" / f"hang-{hashlib.sha1(data).hexdigest()[:12]}.bin").write_bytes(data)
    return -signal.SIGKILL


def _result(reader: str, base: Path, code: int) -> Result:
    log = (base / "log.txt").read_text(encoding="utf-8", errors="replace")
    done = _DONE.findall(log)
    cov = _COV.findall(log)
    progress = _PROGRESS.findall(log)
    runs, seconds = (
        (int(done[-1][0]), int(done[-1][1])) if done else (int(progress[-1]) if progress else 0, 0)
    )
    found = sorted(p.name for p in (base / "findings").iterdir())
    return Result(reader, runs, seconds, int(cov[-1][0]) if cov else 0, found, code)


def main(argv: list[str]) -> int:
    opts, flags = _options(argv[1:])
    results = [fuzz_one(r, opts, flags) for r in opts.reader or sorted(harness.TARGETS)]
    print(f"{'reader':22} {'executions':>10} {'seconds':>7} {'coverage':>8}  findings")
    for r in results:
        status = ", ".join(r.findings) or ("none" if r.exit_code == 0 else f"exit {r.exit_code}")
        print(f"{r.reader:22} {r.executions:>10} {r.seconds:>7} {r.coverage:>8}  {status}")
    summary = opts.work / "summary.json"
    summary.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    return 1 if any(r.findings or r.exit_code for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
