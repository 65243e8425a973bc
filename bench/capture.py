"""The capture sections of ``make bench``: droneaudit beside tshark, nfstream, ``cat`` and a bare SHA-256
of the same file, the agreement checks, and peak memory on a 2 GB capture."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gen
from common import (
    PEERS,
    WORK,
    Report,
    Row,
    Target,
    cat_seconds,
    ensure_peers,
    load,
    probe,
    sha256_seconds,
    timed,
    version,
)

NFSTREAM = """
import json, sys, time
from nfstream import NFStreamer
start = time.perf_counter()
flows = packets = byts = 0
names = set()
for f in NFStreamer(source=sys.argv[1], statistical_analysis=False):
    flows += 1
    packets += f.bidirectional_packets
    byts += f.bidirectional_bytes
    if f.requested_server_name:
        names.add(f.requested_server_name.lower())
json.dump({"seconds": time.perf_counter() - start, "flows": flows, "packets": packets,
           "bytes": byts, "names": sorted(names)}, sys.stdout)
"""


def tshark_conv(path: Path) -> tuple[float, float, dict[str, int]]:
    cmd = ["tshark", "-n", "-r", str(path), "-q"]
    cmd += ["-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"]
    cmd += ["-z", "conv,tcp", "-z", "conv,udp"]
    wall, rss, out = timed(cmd)
    counts = {"tcp": 0, "udp": 0, "frames": 0, "bytes": 0}
    proto = "tcp"
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "tcp"
        elif line.startswith("UDP Conversations"):
            proto = "udp"
        parts = line.split()
        if "<->" in parts and len(parts) > 8:
            i = parts.index("<->")
            counts[proto] += 1
            # columns after "B": frames bytes unit (<-), frames bytes unit (->), frames bytes unit (total)
            counts["frames"] += int(parts[i + 8])
            mult = {"bytes": 1, "kB": 1000, "MB": 10**6, "GB": 10**9}.get(parts[i + 10], 1)
            counts["bytes"] += int(float(parts[i + 9]) * mult)
    return wall, rss, counts


def tshark_names(path: Path) -> tuple[float, set[str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-o", "tcp.analyze_sequence_numbers:FALSE"]
    cmd += ["-Y", "tls.handshake.type == 1 or http.request or dns", "-T", "fields"]
    cmd += ["-e", "tls.handshake.extensions_server_name", "-e", "http.host", "-e", "dns.qry.name"]
    wall, _rss, out = timed(cmd)
    names = {v.lower().rstrip(".") for line in out.splitlines() for v in line.split("\t") if v}
    return wall, {n for v in names for n in v.split(",") if n}


def _input(rep: Report, packets: int, flows: int) -> Path:
    path = WORK / f"mix-{packets}-{flows}.pcap"
    if not path.exists():
        t = time.perf_counter()
        gen.write_capture(path, packets, flows)
        print(f"  generated {path.name} in {time.perf_counter() - t:.1f} s")
    rep.inputs.append(
        f"`{path.name}`: {packets:,} packets, {path.stat().st_size / 1e6:.0f} MB, classic pcap, Ethernet; "
        "TCP (TLS ClientHello with SNI, HTTP/1.1 Host, MQTT-like) / UDP (DNS query+answer, QUIC v1 "
        "Initial with SNI, RTP-like), 25 % IPv6, heavy-tailed flow sizes"
    )
    return path


def _floors(rep: Report, path: Path) -> None:
    """``cat`` (page cache to /dev/null) and SHA-256 alone: what no scan of this file can beat."""
    size = path.stat().st_size
    cat_s, sha_s = cat_seconds(path), sha256_seconds(path)
    rep.facts |= {"cat_s": cat_s, "sha_s": sha_s, "size": size}
    rep.row(
        Row(
            "capture",
            "cat FILE > /dev/null (median of 3)",
            cat_s,
            f"{size / cat_s / 1e6:,.0f} MB/s",
            None,
            load(),
        )
    )
    rate = f"{size / sha_s / 1e6:,.0f} MB/s"
    note = "the evidence hash alone: a floor for any scan that hashes every byte"
    rep.row(Row("capture", "SHA-256 of the file (hashlib, median of 3)", sha_s, rate, None, load(), note))


def _ours(rep: Report, path: Path, packets: int) -> dict:
    size = path.stat().st_size
    ours_s, ours_rss, ours = probe("capture", path, runs=3)
    rep.facts |= {"ours_s": ours_s, "cpu_main": ours["cpu_main"], "cpu_all": ours["cpu_all"]}
    rate = f"{packets / ours_s / 1e3:,.0f} k packets/s, {size / ours_s / 1e6:,.0f} MB/s"
    note = f"CPU: parsing thread {ours['cpu_main']:.2f} s, with the hash thread {ours['cpu_all']:.2f} s"
    rep.row(Row("capture", "droneaudit scan (median of 3, in-process)", ours_s, rate, ours_rss, load(), note))
    return ours


def _tshark(rep: Report, path: Path, packets: int, ours: dict) -> float:
    size = path.stat().st_size
    t_s, t_rss, conv = tshark_conv(path)
    rate = f"{packets / t_s / 1e3:,.0f} k packets/s, {size / t_s / 1e6:,.0f} MB/s"
    rep.row(Row("capture", "tshark -q -z conv,tcp -z conv,udp (TCP analysis off)", t_s, rate, t_rss, load()))
    rep.check(
        "flows vs tshark conv",
        conv["tcp"] == ours["flows_tcp"] and conv["udp"] == ours["flows_udp"],
        f"tcp {ours['flows_tcp']} / {conv['tcp']}, udp {ours['flows_udp']} / {conv['udp']}",
    )
    rep.check(
        "packets vs tshark conv",
        conv["frames"] == ours["packets"],
        f"{ours['packets']:,} / {conv['frames']:,}",
    )
    rep.check(
        "bytes vs tshark conv (tshark prints kB/MB, so ±1 %)",
        abs(conv["bytes"] - ours["bytes"] - 14 * ours["packets"]) <= 0.01 * conv["bytes"],
        f"ours {ours['bytes']:,} IP + 14 B Ethernet × packets = {ours['bytes'] + 14 * ours['packets']:,}"
        f" / tshark {conv['bytes']:,} frame bytes (rounded per conversation)",
    )
    return t_s


def _tshark_names(rep: Report, path: Path, packets: int, flows: int, ours: dict) -> None:
    n_s, tnames = tshark_names(path)
    rate = f"{packets / n_s / 1e3:,.0f} k packets/s"
    rep.row(Row("capture", "tshark -T fields SNI/Host/DNS name (-Y filtered)", n_s, rate, None, load()))
    truth, mine = gen.expected_names(flows), set(ours["names"])
    rep.check(
        "name set vs tshark fields (and within the generator's names)",
        mine == tnames and mine <= truth,
        f"ours {len(mine)}, tshark {len(tnames)}, generator {len(truth)} (some flows never drawn); "
        f"ours−tshark {sorted(mine - tnames)[:3]}, tshark−ours {sorted(tnames - mine)[:3]}",
    )


def _nfstream(rep: Report, path: Path, packets: int, ours: dict) -> float | None:
    if not ensure_peers():
        return None
    rep.versions["nfstream (peers venv)"] = version(
        [str(PEERS / "bin" / "python"), "-c", "import nfstream;print(nfstream.__version__)"]
    )
    _wall, nf_rss, out = timed([str(PEERS / "bin" / "python"), "-c", NFSTREAM, str(path)])
    nf = json.loads(out)
    nf_s = float(nf["seconds"])
    rep.row(
        Row(
            "capture",
            "nfstream NFStreamer (nDPI, SNI), in-process",
            nf_s,
            f"{packets / nf_s / 1e3:,.0f} k packets/s",
            nf_rss,
            load(),
        )
    )
    nf_names, mine = set(nf["names"]), set(ours["names"])
    rep.check(
        "nfstream flows / packets / bytes / name set",
        (nf["flows"], nf["packets"], nf["bytes"], nf_names)
        == (ours["flows"], ours["packets"], ours["bytes"] + 14 * ours["packets"], mine),
        f"flows {ours['flows']} / {nf['flows']}, packets {ours['packets']:,} / {nf['packets']:,}, "
        f"bytes (ours IP + 14 B Ethernet × packets; nfstream counts link-layer bytes) "
        f"{ours['bytes'] + 14 * ours['packets']:,} / {nf['bytes']:,}, names {len(mine)} / {len(nf_names)}",
    )
    return nf_s


def _speed_gap(f: dict[str, float], need: float, packets: int) -> str:
    """Why a wall-time target is missed, in this run's own numbers."""
    sha, main = f["sha_s"], f["cpu_main"]
    mbps = f["size"] / sha / 1e6
    floor = max(sha, main)
    head = f"needs ≤ {need:.2f} s. "
    if sha > need:
        head += (
            f"Impossible while every byte is hashed: SHA-256 alone takes {sha:.2f} s ({mbps:.0f} MB/s; this "
            "CPU has no SHA extensions). "
        )
    return (
        head + f"The scan runs two threads: SHA-256 ({sha:.2f} s) and parsing ({main:.2f} s CPU, "
        f"{main / packets * 1e9:.0f} ns/packet), so its wall time cannot drop below {floor:.2f} s on two "
        "otherwise idle cores. Closing it would take the per-packet decode (link → IP → ports → flow key, "
        "today over a hundred NumPy passes per chunk) as one compiled pass, and a CPU with SHA-NI "
        "(1.5–2 GB/s)."
    )


def section_capture(rep: Report, packets: int, flows: int) -> None:
    print(f"\n== capture: {packets:,} packets, {flows:,} flow templates")
    path = _input(rep, packets, flows)
    _floors(rep, path)
    ours = _ours(rep, path, packets)
    t_s = _tshark(rep, path, packets, ours)
    _tshark_names(rep, path, packets, flows, ours)
    f = rep.facts
    ratio = t_s / f["ours_s"]
    rep.targets.append(
        Target(
            "≥ 5× tshark conv (TCP analysis off)",
            "≥ 5.0×",
            f"{ratio:.1f}×",
            ratio >= 5,
            _speed_gap(f, t_s / 5, packets),
        )
    )
    ratio = f["ours_s"] / f["cat_s"]
    gap = (
        f"needs ≤ {4 * f['cat_s']:.2f} s: cat copies page-cached pages at "
        f"{f['size'] / f['cat_s'] / 1e9:.1f} GB/s; "
        f"SHA-256 of the same bytes alone is {f['sha_s'] / f['cat_s']:.0f}× cat, and the hash is not "
        "optional (each input's SHA-256 is the evidence record). Only a hash several times faster than "
        "SHA-256 (or none) could approach cat."
    )
    rep.targets.append(Target("within 4× of cat", "≤ 4.0×", f"{ratio:.1f}×", ratio <= 4, gap))
    nf_s = _nfstream(rep, path, packets, ours)
    if nf_s is None:
        rep.targets.append(Target("≥ 3× nfstream", "≥ 3.0×", "not run", None, "nfstream did not install"))
        return
    ratio = nf_s / f["ours_s"]
    rep.targets.append(
        Target("≥ 3× nfstream", "≥ 3.0×", f"{ratio:.1f}×", ratio >= 3, _speed_gap(f, nf_s / 3, packets))
    )


def section_memory(rep: Report, gigabytes: float) -> None:
    print(f"\n== memory: {gigabytes:g} GB capture, streamed to a temp dir")
    _wall, base, _ = timed([sys.executable, "-c", "import droneaudit.cli"])
    rep.facts["cli_import_mb"] = base
    rep.row(Row("memory", "python -c 'import droneaudit.cli' (baseline)", _wall, "", base, load()))
    tmp = Path(tempfile.mkdtemp(prefix="mem-", dir=WORK))
    try:
        path = tmp / "big.pcap"
        t = time.perf_counter()
        packets = int(gigabytes * 1e9 / 620)
        gen.write_capture(path, packets, 20_000, seed=11)
        size = path.stat().st_size
        print(f"  generated {size / 1e9:.2f} GB in {time.perf_counter() - t:.0f} s")
        rep.inputs.append(
            f"memory: {size / 1e9:.2f} GB, {packets:,} packets, 20,000 flow templates (deleted after)"
        )
        exe = shutil.which("droneaudit", path=str(Path(sys.executable).parent)) or "droneaudit"
        wall, rss, _ = timed([exe, "scan", "-q", str(path)], check=False)
        rep.row(
            Row(
                "memory",
                f"droneaudit scan -q ({size / 1e9:.2f} GB)",
                wall,
                f"{size / wall / 1e6:,.0f} MB/s",
                rss,
                load(),
            )
        )
        gap = (
            f"{base:.0f} MB of it is the CLI's imports (Python, NumPy, pyarrow, duckdb, cryptography); the "
            "rest is one 16 MiB chunk being parsed, one waiting for the hash thread, per-chunk NumPy "
            "temporaries, flow segments (merged every 50,000 rows) and allocator slack"
        )
        rep.targets.append(
            Target(f"peak RSS < 300 MB on {size / 1e9:.1f} GB", "< 300 MB", f"{rss:.0f} MB", rss < 300, gap)
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
