"""``make bench``: droneaudit's capture → flow table beside tshark and ``cat`` on the same generated file.

The capture is built deterministically here (never committed): N packets over ~5,000 bidirectional
flows (TCP/UDP, IPv4/IPv6, heavy-tailed sizes), Ethernet, classic pcap. Prints throughput, ratios and
whether the answers agree (flow and packet counts), so speed is never bought with wrong answers.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import droneaudit
from droneaudit.synth.link import ethernet
from droneaudit.synth.packets import ipv4, ipv6, tcp, udp

WORK = Path(__file__).resolve().parent / "_work"


def _templates(rng: random.Random, flows: int) -> list[tuple[bytes, bytes, int]]:
    out = []
    for i in range(flows):
        v6 = i % 10 == 0
        dev = f"2001:db8::{i % 200 + 1:x}" if v6 else f"192.168.{i % 4}.{i % 200 + 2}"
        rem = f"2600:1f18::{i:x}" if v6 else f"{47 + i % 5}.{i % 250}.{(i // 250) % 250}.{i % 7 + 1}"
        sport, dport = 30000 + i, (443, 80, 53, 8883)[i % 4]
        proto_tcp = dport != 53
        size_up, size_down = rng.choice((60, 120, 400)), rng.choice((200, 900, 1400))

        def pkt(
            src: str, dst: str, sp: int, dp: int, size: int, ipv6_: bool = v6, is_tcp: bool = proto_tcp
        ) -> bytes:
            body = tcp(sp, dp, b"\0" * size, flags="PA") if is_tcp else udp(sp, dp, b"\0" * size)
            ip = (
                ipv6(src, dst, 6 if is_tcp else 17, body)
                if ipv6_
                else ipv4(src, dst, 6 if is_tcp else 17, body)
            )
            return ethernet(ip, ethertype=0x86DD if ipv6_ else 0x0800)

        # DNS exchanges are short (a query and its answer); other flows are heavy-tailed.
        weight = 1 if dport == 53 else int(rng.paretovariate(1.2) * 10)
        out.append((pkt(dev, rem, sport, dport, size_up), pkt(rem, dev, dport, sport, size_down), weight))
    return out


def generate(path: Path, packets: int, flows: int = 5000) -> None:
    """Write a classic pcap of ``packets`` records; deterministic for a given size."""
    rng = random.Random(7)
    templates = _templates(rng, flows)
    weights = [t[2] for t in templates]
    picks = rng.choices(range(flows), weights=weights, k=packets)
    header = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
    t0 = 1_773_480_600
    with path.open("wb") as f:
        f.write(header)
        parts = []
        for n, idx in enumerate(picks):
            data = templates[idx][n % 3 == 0]
            usec = n * 300
            parts.append(
                (t0 + usec // 1_000_000).to_bytes(4, "little")
                + (usec % 1_000_000).to_bytes(4, "little")
                + len(data).to_bytes(4, "little") * 2
                + data
            )
            if len(parts) >= 50_000:
                f.write(b"".join(parts))
                parts.clear()
        f.write(b"".join(parts))


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"})
    return time.perf_counter() - start, out.stdout


def tshark_conv(path: Path) -> tuple[float, int, int]:
    cmd = [
        "tshark",
        "-n",
        "-r",
        str(path),
        "-q",
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
        "-o",
        "tcp.desegment_tcp_streams:FALSE",
        "-z",
        "conv,tcp",
        "-z",
        "conv,udp",
    ]
    seconds, out = timed(cmd)
    conv = frames = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 8 and "<->" in parts:
            conv += 1
            frames += int(parts[parts.index("<->") + 8])
    return seconds, conv, frames


def main() -> int:
    packets = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    WORK.mkdir(exist_ok=True)
    path = WORK / f"synth-{packets}.pcap"
    if not path.exists():
        generate(path, packets)
    size = path.stat().st_size
    start = time.perf_counter()
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
    cat_s = time.perf_counter() - start
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        case = droneaudit.scan([path])
        runs.append(time.perf_counter() - start)
    ours = sorted(runs)[1]
    cols = case.flows.select(["proto", "device_ip", "device_port", "remote_ip", "remote_port"]).to_pylist()
    flows = len({tuple(r.values()) for r in cols})  # tshark's conv does not split idle sessions
    ours_packets = case.stats.ip_packets
    print(f"input: {path.name}, {packets:,} packets, {size / 1e6:.0f} MB (page cache warm)")
    print(
        f"droneaudit scan: {ours:.2f} s median of 3 = {packets / ours / 1e3:.0f} k packets/s, "
        f"{size / ours / 1e6:.0f} MB/s; {flows} flows, {ours_packets:,} packets"
    )
    print(f"cat > /dev/null: {cat_s:.2f} s → droneaudit is {ours / cat_s:.1f}× cat")
    if shutil.which("tshark"):
        t_s, t_conv, t_frames = tshark_conv(path)
        print(
            f"tshark -z conv,tcp -z conv,udp (TCP analysis off): {t_s:.2f} s = "
            f"{packets / t_s / 1e3:.0f} k packets/s; {t_conv} conversations, {t_frames:,} frames"
        )
        print(
            f"ratio: droneaudit is {t_s / ours:.1f}× faster than tshark; "
            f"answers agree: {t_conv == flows and t_frames == ours_packets}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
