"""Write ``docs/benchmarks.md`` from one bench run: machine, versions, inputs, every row, the agreement
checks, the targets with what would close each gap, and the profile that explains where time goes."""

from __future__ import annotations

import os
import platform
import ssl
import time
from pathlib import Path

import numpy
import pyarrow
from common import DOC, EXIFTOOL, PEERS, ROOT, Report, Row, version

import droneaudit
from droneaudit.readers.capture import walk

#: The previous bench run (docs/benchmarks.md of 2026-11-26 13:41 UTC, before issue #9's work). Seconds
#: move with the machine's load; the ratios compare tools measured within the same minutes.
BEFORE = {
    "droneaudit capture, 1 M packets / 651 MB (s)": "5.09–5.13",
    "tshark conv ÷ droneaudit": "2.0×",
    "nfstream ÷ droneaudit": "1.1×",
    "droneaudit ÷ cat": "56.9×",
    "peak RSS, 1 M-packet scan (MB)": "315–318",
    "peak RSS, `scan -q` on 2.18 GB (MB)": "467",
    "JPEG inventory, 2,000 photos (s)": "1.64",
    "exiftool -stay_open ÷ droneaudit (JPEG)": "8.2×",
}

#: Where the time goes (pyinstrument 5.1, 1 ms sampling, `bench/_work/mix-1000000-5000.pcap` and
#: `jpeg-2000/`, shared machine; shares are of samples, so they hold under load even when seconds do not).
PROFILE = """\
Profiled with pyinstrument (sampling, 1 ms) and cProfile on the 1 M-packet capture and the 2,000 photos,
before and after each change; variants were compared by the CPU time of the parsing thread
(`time.thread_time`), because the machine's load (1–4 on 2 cores) swung wall times by ±40 %. This VM
exposes no hardware counters (`perf stat -e instructions`: not supported), so there are no instruction
counts. Every change was checked to leave `Case.to_json()` byte-identical on the 100 k and 1 M-packet
captures, the 2.18 GB capture and the 2,000 photos.

**Capture, before** (5.1 s wall; shares of pyinstrument samples): the pcap record walk 32 % (a Python
loop at ~0.7 µs per record, plus two full copies of every 16 MiB chunk: `carry + data` and the padded
NumPy copy); payload selection 27 % (every TCP segment with data grouped by direction, then the group
keys tested against the finished directions by sorting 55-byte keys, ~10 ms per chunk and growing with
the number of flows); NumPy decode of link/IP/transport headers and flow keys 19 %; flow table,
attribution and verdict 17 %, of which 0.3 s was pyarrow importing pandas (present only because a bench
peer had been installed into the project venv).

**What was done**, largest gain first:

1. `readers/capture/_walk.c`, an optional C extension (the pure-Python/NumPy/pyarrow code stays as the
   fallback, and `tests/readers/capture/test_walk.py` runs both and compares): the pcap record walk with
   the header words in one pass (~115 ns per record, bound by memory latency: each record's position
   depends on the previous one's length; the Python loop took ~700 ns), fixed-offset big/little-endian
   reads in one pass instead of a fancy index per byte plus shifts, and key grouping with an open-addressing
   hash table instead of pyarrow's `dictionary_encode` (faster, and it keeps ~20 MB out of pyarrow's
   memory pool). Chunks are read with `readinto` straight into the padded buffer the batch uses, so each
   byte is copied once, and the hash thread reads that same memory.
2. Payload selection: each direction key's 64-bit hash is looked up in a sorted array of the finished
   directions (`directions.py`; a match is confirmed on the whole key, so it is exact), and only packets of
   directions still waiting for a name are grouped and reach Python; a direction none of whose kept segments
   can start a TLS record or an HTTP request is not reassembled and re-parsed at every segment, and in a
   local scan one whose next segments up to the reorder allowance all fail that first-byte test is finished
   at once (the outcome feeding them one by one would reach); QUIC PADDING runs are skipped at once instead
   of one byte per loop.
3. One orientation per chunk instead of two, no copy when a chunk has no reassembled fragments, no
   `np.unique` when all frames share one link type, and the QUIC header test only on UDP packets.

**Capture, after** (parsing thread, 1 M packets, `time.thread_time` per stage; 3.3–3.6 s CPU in total,
the SHA-256 thread in parallel): payload selection and parsing in Python for the packets that name a
remote 25 % (TLS ClientHello, HTTP Host, QUIC Initial decryption, DNS), IP/transport decode 16 %, link
decode 3 %, rows, orientation, segments and trailers ~21 %, segment compaction 5 %, record walk and reads
~12 %, flow table 7 %, attribution 2 %, endpoints/verdict/flights 10 %. With the extension missing (the
twins), the same scan takes ~20 % more CPU.

**Memory.** Before, a scan sat at ~180 MB before its first packet (pandas 32 MB via pyarrow, shapely,
timezonefinder + h3, jinja2 in the CLI), and the data part grew with the number of flows (segments merged
every 200,000 rows, finished payload directions kept until the end) and with up to four 16 MiB chunks
queued for hashing, while glibc kept freed chunk-sized blocks. Now: shapely, timezonefinder and jinja2
load only when used; pandas is out of the project venv (the geopandas peer runs in the peers' venv); key
grouping no longer goes through pyarrow's pool; segments merge every 50,000 rows; a local scan drops a
direction's kept segments once it has its answer; one chunk (not four) may wait for the hash thread; a
chunk's buffer is released before the next is read; freed heap pages go back to the OS once a capture is
read and again once the flow table is built (`malloc_trim`, as Dask's workers do). What remains at the
peak is the CLI's imports (the baseline row), the IP-to-owner tables (~29 MB, loaded for the verdict),
one chunk with its NumPy temporaries, and per-flow Python objects of the flow table and verdict.

**JPEG inventory** (per photo, parsing thread): building the records (times, fixes, identities, extras)
~30 %, the EXIF IFD walk ~25 %, XMP through expat ~18 %, reader selection (12 sniffers) ~10 %, the marker
walk ~7 %, SHA-256 ~5 %. Done: the IP tables are no longer loaded for a case without flows (0.1–0.2 s per
scan), the CSV sniffer rejects binary heads at once instead of reading 8 KiB and CSV-parsing them, EXIF
dates parse without `strptime` for the zero-padded form cameras write, and the photo is hashed through the
handle the walk opened (one open fewer).
"""


def machine() -> dict[str, str]:
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), platform.processor()
    )
    flags = next((ln for ln in info if ln.startswith("flags")), "")
    mem = next(
        ln.split(":", 1)[1].strip()
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    return {
        "CPU": f"{cpu} × {os.cpu_count()} (SHA extensions: {'yes' if ' sha_ni' in flags else 'no'})",
        "RAM": mem,
        "kernel": platform.release(),
        "sharing": "2 cores shared with 2–3 engineers running test suites: see each row's load average",
        "disk for bench/_work": "same filesystem as the repo; page cache warm for throughput runs",
    }


def _versions(rep: Report) -> dict[str, str]:
    peer = str(PEERS / "bin" / "python")
    return {
        "python": platform.python_version(),
        "droneaudit": f"{droneaudit.__version__} (compiled kernels: {'yes' if walk.COMPILED else 'no'})",
        "numpy / pyarrow": f"{numpy.__version__} / {pyarrow.__version__}",
        "OpenSSL (hashlib)": ssl.OPENSSL_VERSION,
        "tshark": version(["tshark", "-v"]),
        "exiftool": version(["perl", EXIFTOOL, "-ver"]),
        "geopandas (peers venv)": version([peer, "-c", "import geopandas;print(geopandas.__version__)"]),
        **rep.versions,
    }


def _status(met: bool | None) -> str:
    return "not run" if met is None else "met" if met else "**not met**"


def _tables(rep: Report) -> list[str]:
    return [
        "## Results",
        "",
        "| section | tool | seconds | throughput | peak RSS | load avg | note |",
        "|---|---|---:|---|---:|---|---|",
        *(
            f"| {r.section} | {r.tool} | {r.seconds:.2f} | {r.rate} | "
            f"{'' if r.rss_mb is None else f'{r.rss_mb:.0f} MB'} | {r.load} | {r.note} |"
            for r in rep.rows
        ),
        "",
        "## Do the answers agree?",
        "",
        "| check | agree | detail |",
        "|---|---|---|",
        *(f"| {w} | {'yes' if ok else '**no**'} | {d} |" for w, ok, d in rep.checks),
        "",
        "## Targets (from the issue)",
        "",
        "| target | goal | measured | status | why not, and what it would take |",
        "|---|---|---|---|---|",
        *(
            f"| {t.name} | {t.goal} | {t.measured} | {_status(t.met)} | {'' if t.met else t.gap} |"
            for t in rep.targets
        ),
        "",
        "## Before and after (#9)",
        "",
        "| measure | before | this run |",
        "|---|---|---|",
        *(f"| {k} | {v} | {_after(rep, k)} |" for k, v in BEFORE.items()),
        "",
    ]


def _after(rep: Report, key: str) -> str:
    if rep.quick:
        return "not run (quick sizes)"

    def ours(section: str) -> Row | None:
        return next((r for r in rep.rows if r.section == section and r.tool.startswith("droneaudit")), None)

    def ratio(prefix: str) -> str | None:
        return next((t.measured for t in rep.targets if t.name.startswith(prefix)), None)

    cap, mem, media = ours("capture"), ours("memory"), ours("media")
    values = (
        cap and f"{cap.seconds:.2f}",
        ratio("≥ 5× tshark"),
        ratio("≥ 3× nfstream"),
        ratio("within 4× of cat"),
        cap and f"{cap.rss_mb or 0:.0f}",
        mem and f"{mem.rss_mb or 0:.0f}",
        media and f"{media.seconds:.2f}",
        ratio("JPEG"),
    )
    return dict(zip(BEFORE, values, strict=True))[key] or "not run"


def write_doc(rep: Report) -> None:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python bench/run.py{' --quick' if rep.quick else ''}`) on {when}. "
        "Inputs are built deterministically by `bench/gen.py` under `bench/_work/` (never committed). The "
        "runs were taken on a **shared 2-core machine** (other engineers' test suites ran at the same time): "
        "every row carries the 1/5/15-minute load average taken right after it, and droneaudit's rows also "
        "give the CPU time of its threads, which the load inflates far less than wall time.",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in machine().items()),
        "",
        "## Versions",
        "",
        *(f"- {k}: {v}" for k, v in _versions(rep).items()),
        "",
        "## Inputs",
        "",
        *(f"- {s}" for s in rep.inputs),
        "",
        *_tables(rep),
        "## Where the time goes",
        "",
        PROFILE,
        "## Reading the results",
        "",
        *READING,
        "",
    ]
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"\nwrote {DOC.relative_to(ROOT)}")


READING = [
    "- Correctness first: flows, packets and bytes agree exactly with tshark and nfstream (ours counts IP "
    "bytes, they count frames: + 14 B Ethernet per packet), the SNI/Host/DNS-name set equals tshark's field "
    "extraction and nfstream's, every JPEG's GPS equals exiftool's to 1e-6°, and the exposure points match "
    "geopandas up to its single-UTM-zone scale error. Every optimisation above was also checked to give a "
    "byte-identical `Case.to_json()` on the 100 k, 1 M and 2.18 GB captures and on the 2,000 photos.",
    "- The capture scan always computes the SHA-256 of every input byte (it is the evidence record), on a "
    "second thread. On this CPU (no SHA extensions) OpenSSL hashes at the speed in the SHA-256 row, which "
    "is the floor for the scan's wall time; the `cat` row is the floor for reading. A target that needs the "
    "scan faster than the SHA-256 row cannot be met while every byte is hashed (the targets table says so "
    "where it applies); with SHA-NI (most x86 CPUs since 2017–2019) SHA-256 runs at 1.5–2 GB/s and the "
    "parsing thread becomes the floor.",
    "- Run to run, with identical code, wall and CPU times on this machine moved by up to ~40 % (the SHA-256 "
    "and `cat` rows show how fast the machine was during the run); ratios between tools timed within the "
    "same minutes moved less.",
    "- The memory target measures the full CLI (`scan -q`: flows table, attribution, judge) on a capture "
    "with 20,000 flow templates; the baseline row is the same interpreter after `import droneaudit.cli`.",
    "- `exiftool -stay_open` is driven the way wrappers use it (one `-execute` per file, all tags, `-n "
    "-json`); Perl start-up is paid once, so it is the fair per-file peer.",
    "- Profiling: `.venv/bin/pip install pyinstrument` (not a project dependency), then "
    "`python -c 'import droneaudit, pyinstrument; ...'` around `droneaudit.scan([...])`; the C walk is "
    "compared with the Python one by `tests/readers/capture/test_walk.py`.",
    "",
    "Notes: droneaudit's capture and media times are `droneaudit.scan` inside a fresh process (imports "
    "excluded, peak RSS of the whole process); peers are timed as whole commands except nfstream (its "
    "iteration, in-process). The memory row is the full CLI `droneaudit scan -q` wall time. tshark runs "
    "with `tcp.analyze_sequence_numbers` and `tcp.desegment_tcp_streams` off.",
]
