"""``droneaudit watch``: a live capture through a real pipe (and a folder of rotating files) in real time
order, stopped by EOF or Ctrl-C, with bounded memory.

Expectations come from what the generator wrote (``DemoTruth``: which flows, to which address, under
which name, in which order) and from the shipped catalog for those names; the final numbers are checked
against ``droneaudit.scan`` on the same file. The child processes run with network sockets refused, like
the tests themselves (tests/conftest.py).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import ipaddress
import itertools
import json
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from droneaudit.checks.policy import Policy
from droneaudit.enrich.catalog import Catalog
from droneaudit.readers.capture.reader import walk_stream
from droneaudit.scan import scan
from droneaudit.store import query
from droneaudit.synth import Frame, IfaceSpec, write_pcap, write_pcapng
from droneaudit.synth.app import dns_query, dns_response
from droneaudit.synth.demo import DEVICE_IP, GATEWAY_IP, DemoTruth, build_demo_capture
from droneaudit.synth.link import ETHERTYPE_IPV4, ethernet
from droneaudit.synth.packets import PROTO_UDP, ipv4, udp
from droneaudit.synth.session import Capture, TcpConversation
from droneaudit.watch import Watcher
from droneaudit.watch_render import event_json, event_line
from droneaudit.watch_state import Caps, Event

#: The child runs droneaudit's CLI with new network sockets and name lookups refused.
_GUARDED_MAIN = """
import socket, sys
class _Guarded(socket.socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and family != socket.AF_UNIX:
            raise RuntimeError("droneaudit watch tried to open a network socket")
        super().__init__(family, type, proto, fileno)
def _refuse(*a, **k):
    raise RuntimeError("droneaudit watch tried to reach the network")
socket.socket, socket.create_connection, socket.getaddrinfo = _Guarded, _refuse, _refuse
from droneaudit.cli import main
sys.exit(main(sys.argv[1:]))
"""
TIMEOUT = 60.0


# --- helpers ---------------------------------------------------------------------------------------------


class Child:
    """``droneaudit watch ARGS`` with a pipe on stdin and its stdout lines collected as they come."""

    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, "-c", _GUARDED_MAIN, "watch", *args]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._q.put(raw.decode("utf-8"))
        self._q.put(None)

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait_for(self, test: Callable[[str], bool], timeout: float = TIMEOUT) -> str:
        """Block until a line satisfying ``test`` has been printed (lines so far count)."""
        for line in self.lines:
            if test(line):
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if test(line):
                return line
        raise AssertionError(f"no such line within {timeout}s; got: {''.join(self.lines)[-3000:]}")

    def finish(self, *, close: bool = True) -> tuple[int, str]:
        if close and self.proc.stdin is not None:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=TIMEOUT)
        while (line := self._q.get(timeout=TIMEOUT)) is not None:
            self.lines.append(line)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode("utf-8", "replace")


def _env() -> dict[str, str]:
    import os

    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "TZ": "UTC", "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _blocks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, block) of a little-endian pcapng, walked independently of droneaudit's reader."""
    pos = 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        yield btype, data[pos : pos + blen]
        pos += blen


def _epb_ticks(block: bytes) -> int:
    hi, lo = struct.unpack_from("<II", block, 12)
    return (hi << 32) | lo


def _replay(
    child: Child,
    data: bytes,
    seconds: float,
    *,
    pause_at: float | None = None,
    pause: Callable[[], object] = lambda: None,
) -> None:
    """Write the capture's blocks in time order, paced by their timestamps so that the capture's span
    takes ``seconds``; at the fraction ``pause_at`` of the span, flush and call ``pause`` first."""
    blocks = list(_blocks(data))
    ticks = [_epb_ticks(b) for t, b in blocks if t == 6]
    t0, span = ticks[0], max(ticks[-1] - ticks[0], 1)
    pending, slot, paused = b"", 0, pause_at is None
    for btype, block in blocks:
        if btype == 6:
            at = (_epb_ticks(block) - t0) / span
            if not paused and pause_at is not None and at > pause_at:
                child.write(pending)
                pending, paused = b"", True
                pause()
            if int(at * 40) > slot and pending:  # about 40 writes over the span
                child.write(pending)
                pending, slot = b"", int(at * 40)
                time.sleep(seconds / 40)
        pending += block
    child.write(pending)


def _frame(src: str, dst: str, payload: bytes, ts_ns: int) -> Frame:
    return Frame(ts_ns, ethernet(ipv4(src, dst, PROTO_UDP, payload), ethertype=ETHERTYPE_IPV4))


def _internet_names(truth: DemoTruth) -> list[tuple[str, str]]:
    """(name, address) of every internet endpoint the generator wrote, in order of first packet."""
    out: dict[str, str] = {}
    for flow in sorted(truth.flows, key=lambda f: f.first_frame):
        if ipaddress.ip_address(flow.remote_ip).is_global and flow.server_name:
            out.setdefault(flow.server_name, flow.remote_ip)
    return list(out.items())


def _category(name: str) -> str:
    match = Catalog.load_default().match(name)
    assert match is not None, name
    return match.entry.category


def _endpoint_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "  ALERT " in line or "  note  " in line]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTruth]:
    path = tmp_path_factory.mktemp("watch") / "demo.pcapng"
    return path, build_demo_capture(path)


# --- through a real pipe ----------------------------------------------------------------------------------


def test_pipe_in_real_time_order(demo: tuple[Path, DemoTruth]) -> None:
    """Each endpoint is shown once, in order of first packet, while the stream is still open: the
    first line must appear before the test writes the rest of the capture."""
    path, truth = demo
    expected = _internet_names(truth)
    child = Child("-")
    first = f"{expected[0][0]} ["
    _replay(child, path.read_bytes(), 1.5, pause_at=0.02, pause=lambda: child.wait_for(lambda s: first in s))
    code, err = child.finish()
    assert "Traceback" not in err
    shown = _endpoint_lines(child.lines)
    assert len(shown) == len(expected), shown
    for line, (name, address) in zip(shown, expected, strict=True):
        assert f"{name} [{address}]" in line
        assert f"  {_category(name)} (" in line
        assert line.split()[1] == "ALERT"  # default policy: every internet endpoint counts
    assert any("VERDICT FAIL" in line for line in child.lines)
    assert code == 1  # scan's exit code for a fail


def _replay_tail(child: Child, rest: bytes, seconds: float) -> None:
    """Write in about 40 chunks, in file (= time) order, with short pauses."""
    step = max(len(rest) // 40, 1)
    for i in range(0, len(rest), step):
        child.write(rest[i : i + step])
        time.sleep(seconds / 40)


def test_json_lines_match_the_scan(demo: tuple[Path, DemoTruth], tmp_path: Path) -> None:
    """One sorted-keys JSON object per event; the final endpoints and verdict are the scan's; the policy
    decides what alerts; --case writes a case file the store can query."""
    path, truth = demo
    policy = tmp_path / "unit.toml"
    policy.write_text('[allow]\ncategories = ["maps", "connectivity-check"]\n', encoding="utf-8")
    case = tmp_path / "watch.duckdb"
    child = Child("-", "--json-lines", "--policy", str(policy), "--case", str(case))
    _replay_tail(child, path.read_bytes(), 0.5)
    code, err = child.finish()
    assert "Traceback" not in err
    records = [json.loads(line) for line in child.lines]
    assert [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records] == [
        line.rstrip("\n") for line in child.lines
    ]
    kinds = [r["event"] for r in records]
    assert kinds[0] == "input" and kinds[-1] == "summary" and "verdict" in kinds
    endpoints = [r for r in records if r["event"] == "endpoint"]
    expected = _internet_names(truth)
    assert [(r["host"], r["ip"]) for r in endpoints] == expected
    allowed = {"maps", "connectivity-check"}
    for r in endpoints:
        assert r["category"] == _category(r["host"])
        assert r["alert"] is (r["category"] not in allowed)
        assert r["severity"] == ("info" if r["category"] in allowed else "high")
    scanned = scan([path], policy=Policy(allow_categories=tuple(sorted(allowed))))
    summary = records[-1]
    assert scanned.verdict is not None
    assert summary["verdict"] == scanned.verdict.to_dict()
    assert summary["exit_code"] == code == scanned.exit_code == 1
    mine = {(e["host"], e["bytes_up"], e["bytes_down"], e["flows"]) for e in summary["endpoints"]}
    theirs = {(e.host, e.bytes_up, e.bytes_down, e.flows) for e in scanned.endpoints}
    assert mine == theirs
    mine_f = {(f["code"], f["severity"], f["host"]) for f in summary["findings"]}
    assert mine_f == {(f.code, f.severity, f.host) for f in scanned.findings}
    table = query(case, "SELECT host, bytes_up FROM endpoints WHERE NOT local ORDER BY host")
    assert table.to_pylist() == sorted(
        ({"host": e.host, "bytes_up": e.bytes_up} for e in scanned.endpoints if not e.local),
        key=lambda r: str(r["host"]),
    )


# --- stopping -----------------------------------------------------------------------------------------------


def test_ctrl_c_gives_a_summary_and_the_verdict_exit_code(demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    data = path.read_bytes()
    child = Child("-")
    child.write(data[: len(data) // 3 + 5])  # stops inside a block: an interruption is not damage
    child.wait_for(lambda line: f"{_internet_names(truth)[0][0]} [" in line)
    time.sleep(0.3)
    child.proc.send_signal(signal.SIGINT)
    code, err = child.finish(close=False)
    assert "Traceback" not in err and "Interrupted" not in err
    assert any(line.startswith("Summary: ") for line in child.lines)
    assert any(line.startswith("Verdict: FAIL") for line in child.lines)
    assert not any(line.startswith("PROBLEM") for line in child.lines)
    assert code == 1


def test_ctrl_c_on_a_clean_capture_exits_0_like_scan(tmp_path: Path) -> None:
    """Only the phone and the controller: nothing leaves the LAN, the verdict passes, exit 0."""
    path = tmp_path / "lan.pcap"
    frames = []
    for i in range(40):
        up = i % 2 == 0
        src, dst = (DEVICE_IP, GATEWAY_IP) if up else (GATEWAY_IP, DEVICE_IP)
        payload = udp(40006 if up else 9003, 9003 if up else 40006, b"\x55" * 30)
        frames.append(_frame(src, dst, payload, 1_700_000_000_000_000_000 + i * 10_000_000))
    write_pcap(path, frames, link_type=1)
    child = Child("-")
    child.write(path.read_bytes())
    child.wait_for(lambda line: "VERDICT PASS" in line)
    child.proc.send_signal(signal.SIGINT)
    code, _ = child.finish(close=False)
    assert any(line.startswith("Verdict: PASS") for line in child.lines)
    assert code == 0 == scan([path]).exit_code


def test_truncated_stream_is_a_problem_line_not_a_traceback(demo: tuple[Path, DemoTruth]) -> None:
    data = demo[0].read_bytes()
    child = Child("-")
    child.write(data[: len(data) // 2 + 7])
    code, err = child.finish()
    assert "Traceback" not in err
    problems = [line for line in child.lines if line.startswith("PROBLEM")]
    assert len(problems) == 1 and "truncated-block" in problems[0]
    assert any("Verdict: FAIL" in line for line in child.lines)  # the egress seen still stands
    assert code == 1


@pytest.mark.parametrize("garbage", [b"", b"GET / HTTP/1.1\r\n\r\n" * 50], ids=["empty", "not-a-capture"])
def test_nothing_readable_exits_2(garbage: bytes) -> None:
    child = Child("-")
    child.write(garbage)
    code, err = child.finish()
    assert "Traceback" not in err and "no capture could be read" in err
    assert any("unrecognised-format" in line for line in child.lines)
    assert code == 2


# --- a folder of rotating files --------------------------------------------------------------------------


def test_folder_follow_reads_growing_and_new_files_once(demo: tuple[Path, DemoTruth], tmp_path: Path) -> None:
    """The demo split into three rotated files: the first read while it grows, the next ones as they
    appear, a gzip'd copy of a finished file ignored, each endpoint shown once, stopped by Ctrl-C."""
    path, truth = demo
    blocks = list(_blocks(path.read_bytes()))
    header = b"".join(b for t, b in blocks[:2])
    packets = [b for t, b in blocks if t == 6]
    cut = [0, len(packets) // 10, len(packets) // 2, len(packets)]
    parts = [header + b"".join(packets[a:b]) for a, b in itertools.pairwise(cut)]
    folder = tmp_path / "captures"
    folder.mkdir()
    child = Child(str(folder), "--poll", "0.05", "--json-lines")
    first = folder / "flight_0001.pcapng"
    first.write_bytes(parts[0][: len(parts[0]) // 2])  # still being written
    expected = _internet_names(truth)
    child.wait_for(lambda line: f'"host": "{expected[0][0]}"' in line)
    with first.open("ab") as f:
        f.write(parts[0][len(parts[0]) // 2 :])
    time.sleep(0.3)
    (folder / "flight_0002.pcapng").write_bytes(parts[1])
    child.wait_for(lambda line: '"file": ' in line and "flight_0002" in line and '"input"' in line)
    (folder / "flight_0001.pcapng.gz").write_bytes(gzip.compress(parts[0]))  # tcpdump -z gzip
    (folder / "flight_0003.pcapng").write_bytes(parts[2])
    child.wait_for(lambda line: f'"host": "{expected[-1][0]}"' in line)
    time.sleep(0.3)
    child.proc.send_signal(signal.SIGINT)
    code, err = child.finish(close=False)
    assert "Traceback" not in err
    records = [json.loads(line) for line in child.lines]
    assert [(r["host"], r["ip"]) for r in records if r["event"] == "endpoint"] == expected
    summary = records[-1]
    names = [Path(i["path"]).name for i in summary["inputs"]]
    assert names == ["flight_0001.pcapng", "flight_0002.pcapng", "flight_0003.pcapng"]
    assert [i["sha256"] for i in summary["inputs"]] == [hashlib.sha256(p).hexdigest() for p in parts]
    assert summary["problems"] == []
    assert summary["stats"]["frames"] == len(packets)
    assert code == 1


# --- in process: names, memory, rendering ---------------------------------------------------------------


class _Trickle(io.RawIOBase):
    """A stream that hands over ``step`` bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def read(self, n: int = -1) -> bytes:
        k = self._step if n < 0 else min(n, self._step)
        out = self._data[self._pos : self._pos + k]
        self._pos += len(out)
        return out


def _watch(data: bytes, step: int, watcher: Watcher, check: Callable[[], None] | None = None) -> list[Event]:
    fmt, batches = walk_stream(_Trickle(data, step), "live", watcher.context)
    file_id = watcher.begin("live", fmt)
    events: list[Event] = []
    for batch in batches:
        events += watcher.feed(batch, file_id)
        if check is not None:
            check()
    return events + watcher.end(file_id, "0" * 64, len(data))


def test_a_name_learned_later_is_one_update_line(tmp_path: Path) -> None:
    """A TLS connection to an address nobody looked up: shown by address at the SYN, then one update
    line when the ClientHello names it, and nothing more for the rest of the connection."""
    cap = Capture(DEVICE_IP, "02:00:00:00:00:01", "02:00:00:00:00:02", seed=7)
    conv = TcpConversation(cap, "47.88.61.146", 443, label="hard-coded", server_name="mydjiflight.dji.com")
    t = conv.tls_setup(conv.handshake(1_700_000_000_000_000_000) + 3_000_000_000, "mydjiflight.dji.com")
    conv.close(conv.exchange(t, 5_000, 500))
    path = tmp_path / "late.pcap"
    write_pcap(path, cap.frames(), link_type=1)
    events = _watch(path.read_bytes(), 200, Watcher())
    shown = [e for e in events if e.kind in ("endpoint", "name")]
    assert [e.kind for e in shown] == ["endpoint", "name"]
    assert shown[0].data["host"] is None and shown[0].data["ip"] == "47.88.61.146"
    assert shown[1].data["host"] == "mydjiflight.dji.com" and shown[1].data["source"] == "tls-sni"
    assert shown[1].data["category"] == _category("mydjiflight.dji.com") and shown[1].data["alert"]


def _many_remotes(n: int) -> tuple[bytes, int]:
    """``n`` distinct internet remotes, one UDP exchange each; every third one looked up first (DNS via
    the gateway), every fifth name looked up and never contacted. Returns the pcapng and its IP bytes."""
    frames: list[Frame] = []
    t = 1_700_000_000_000_000_000

    def send(src: str, dst: str, payload: bytes) -> None:
        nonlocal t
        t += 1_000_000
        frames.append(_frame(src, dst, payload, t))

    for i in range(n):
        remote, name = str(ipaddress.IPv4Address("20.0.0.1") + i), f"host-{i}.example"
        if i % 3 == 0:
            send(DEVICE_IP, GATEWAY_IP, udp(50000 + i % 9000, 53, dns_query(name, txid=i & 0xFFFF)))
            answer = dns_response(name, [("A", remote, 60)], txid=i & 0xFFFF)
            send(GATEWAY_IP, DEVICE_IP, udp(53, 50000 + i % 9000, answer))
        if i % 5 == 0:
            send(DEVICE_IP, GATEWAY_IP, udp(50000 + i % 9000, 53, dns_query(f"unused-{i}.example")))
        send(DEVICE_IP, remote, udp(40000 + i % 1000, 443, b"x" * (20 + i % 50)))
        send(remote, DEVICE_IP, udp(443, 40000 + i % 1000, b"y" * (30 + i % 70)))
    total = sum(len(f.data) - 14 for f in frames)
    sink = io.BytesIO()
    write_pcapng(sink, [IfaceSpec(1, name="wlan0")], frames)
    return sink.getvalue(), total


def test_memory_stays_under_the_caps_and_nothing_is_lost() -> None:
    """3 000 remotes (1 000 named by DNS, 600 names looked up in vain) through tables capped at a few
    dozen entries: every table stays at or under its cap after every batch (and reaches it), the bytes
    of folded endpoints stay in the totals, each remote is shown once, and egress that was folded away
    still fails the verdict."""
    caps = Caps(flows=24, endpoints=32, names=16, queries=8, notable=4, learned=4)
    data, total = _many_remotes(3_000)
    watcher = Watcher(caps=caps, policy=Policy(allow_networks=("20.0.1.0/24", "20.0.2.0/23")))
    limits = {name: getattr(caps, name) for name in watcher.state_sizes()}
    peak = dict.fromkeys(limits, 0)

    def check() -> None:
        for name, size in watcher.state_sizes().items():
            assert size <= limits[name], (name, size)
            peak[name] = max(peak[name], size)

    events = _watch(data, 4096, watcher, check)
    summary = watcher.finish()
    assert {k: peak[k] for k in ("flows", "endpoints", "names")} == {
        "flows": 24,
        "endpoints": 32,
        "names": 16,
    }
    assert 0 < peak["queries"] <= 8
    live = sum(e.bytes_up + e.bytes_down for e in summary.endpoints)
    assert live + summary.folded.bytes_up + summary.folded.bytes_down == total
    shown = [e.data for e in events if e.kind == "endpoint"]
    assert len(shown) == 3_000 == len({d["ip"] for d in shown})
    assert sum(1 for d in shown if d["host"]) == 1_000
    assert summary.verdict.status == "fail" and summary.exit_code == 1
    assert any("folded remote(s)" in r for r in summary.verdict.reasons)


def test_network_strings_are_escaped_on_the_terminal() -> None:
    hostile = "evil\x1b[2J\u202etxt.example"
    event = Event(
        "endpoint",
        1_700_000_000_000_000_000,
        {"host": hostile, "ip": "20.0.0.1", "severity": "medium", "alert": True, "owner": "\x07bell"},
    )
    line = event_line(event)
    assert "\x1b" not in line and "\u202e" not in line and "\x07" not in line
    assert "\\x1b[2J" in line and "\\u202e" in line
    assert json.loads(event_json(event))["host"] == hostile


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    from droneaudit.cli import main

    assert main(["watch", str(tmp_path / "missing")]) == 2
    assert main(["watch", str(tmp_path), "--scope", "app:DJI Fly"]) == 2
    assert main(["watch", str(tmp_path), "--case", str(tmp_path / "case.duckdb")]) == 2


def test_a_dns_answer_after_the_fact_names_the_address_once(tmp_path: Path) -> None:
    """Traffic to an address first, its DNS answer later: one update line (source dns); the next
    connection, named by that answer, is not announced a second time."""
    remote, name, t = "8.209.72.38", "flysafe-api.dji.com", 1_700_000_000_000_000_000
    answer = dns_response(name, [("A", remote, 60)], txid=7)
    frames = [
        _frame(DEVICE_IP, remote, udp(41000, 443, b"a" * 40), t),
        _frame(remote, DEVICE_IP, udp(443, 41000, b"b" * 40), t + 10_000_000),
        _frame(DEVICE_IP, GATEWAY_IP, udp(53000, 53, dns_query(name, txid=7)), t + 2_000_000_000),
        _frame(GATEWAY_IP, DEVICE_IP, udp(53, 53000, answer), t + 2_020_000_000),
        _frame(DEVICE_IP, remote, udp(41001, 443, b"c" * 40), t + 3_000_000_000),
        _frame(remote, DEVICE_IP, udp(443, 41001, b"d" * 40), t + 3_010_000_000),
    ]  # fmt: skip
    sink = io.BytesIO()
    write_pcap(sink, frames, link_type=1)
    events = [e for e in _watch(sink.getvalue(), 60, Watcher()) if e.kind in ("endpoint", "name")]
    assert [(e.kind, e.data["host"]) for e in events] == [("endpoint", None), ("name", name)]
    assert events[1].data["source"] == "dns" and events[1].data["category"] == _category(name)


@pytest.mark.parametrize("step", [3, 1 << 20], ids=["piecemeal", "whole"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_stream_reader_takes_any_read_size_and_gzip(
    demo: tuple[Path, DemoTruth], step: int, compress: bool
) -> None:
    """A pipe may hand over 3 bytes at a time (file headers included); a gzip'd stream is read too."""
    path, truth = demo
    data = path.read_bytes()[:200_000]  # the first seconds are enough
    data = gzip.compress(data) if compress else data
    watcher = Watcher()
    fmt, batches = walk_stream(_Trickle(data, step), "live", watcher.context)
    assert fmt == ("pcapng.gz" if compress else "pcapng")
    file_id = watcher.begin("live", fmt)
    hosts = [e.data["host"] for b in batches for e in watcher.feed(b, file_id) if e.kind == "endpoint"]
    assert hosts == [name for name, _ in _internet_names(truth)][: len(hosts)] and len(hosts) >= 2
