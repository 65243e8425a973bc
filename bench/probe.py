"""Run droneaudit on one bench input in a fresh process and print a JSON summary.

``python bench/probe.py capture|media PATH``; ``run.py`` wraps it in ``/usr/bin/time -v`` for the
peak RSS. ``seconds`` covers ``droneaudit.scan`` only (interpreter start and imports excluded);
``cpu_main`` is the CPU time of the parsing thread and ``cpu_all`` adds the SHA-256 thread, so a
loaded machine's stolen time shows as ``seconds`` well above ``cpu_main``.
"""

from __future__ import annotations

import json
import sys
import time

import droneaudit

NAME_SOURCES = {"tls-sni", "quic-sni", "http-host"}


def main() -> int:
    kind, path = sys.argv[1], sys.argv[2]
    start, cpu_main, cpu_all = time.perf_counter(), time.thread_time(), time.process_time()
    case = droneaudit.scan([path])
    seconds = time.perf_counter() - start
    out: dict[str, object] = {
        "seconds": seconds,
        "cpu_main": time.thread_time() - cpu_main,  # the parsing thread alone
        "cpu_all": time.process_time() - cpu_all,  # plus the evidence-hash thread
    }
    if kind == "capture":
        cols = case.flows.select(["proto", "device_ip", "device_port", "remote_ip", "remote_port"])
        keys = {tuple(r.values()) for r in cols.to_pylist()}  # tshark's conv does not split idle sessions
        hosts = case.flows.select(["host", "host_source"]).to_pylist()
        names = {r["host"] for r in hosts if r["host"] and r["host_source"] in NAME_SOURCES}
        names |= {q for q in case.dns.column("qname").to_pylist() if q}
        f = case.flows
        out |= {
            "flows": len(keys),
            "flows_tcp": sum(1 for k in keys if k[0] == "tcp"),
            "flows_udp": sum(1 for k in keys if k[0] == "udp"),
            "packets": sum(f.column("packets_up").to_pylist()) + sum(f.column("packets_down").to_pylist()),
            "bytes": sum(f.column("bytes_up").to_pylist()) + sum(f.column("bytes_down").to_pylist()),
            "names": sorted(n.rstrip(".").lower() for n in names),
        }
    else:
        out |= {
            "gps": {m.path.rsplit("/", 1)[-1]: [m.lat, m.lon] for m in case.media if m.format == "jpeg"},
            "media": len(case.media),
        }
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
