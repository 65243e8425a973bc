"""The demo capture: deterministic, within budget, and its truth agrees with tshark's reading."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

from droneaudit.synth.demo import DEVICE_IP, START_NS, DemoTruth, build_demo_capture, main
from droneaudit.synth.session import FlowTruth

from ._oracle import fields, needs_tshark, pcapng_blocks, pcapng_options, tshark

#: (proto, device port, remote ip, remote port) → [packets up, packets down, bytes up, bytes down, 1st frame]
Tally = dict[tuple[str, int, str, int], list[int]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTruth]:
    path = tmp_path_factory.mktemp("demo") / "demo.pcapng"
    return path, build_demo_capture(path)


def _key(flow: FlowTruth) -> tuple[str, int, str, int]:
    return (flow.proto, flow.device_port, flow.remote_ip, flow.remote_port)


def test_building_twice_gives_identical_bytes(tmp_path: Path, demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    started = time.perf_counter()
    again = build_demo_capture(tmp_path / "again.pcapng")
    assert time.perf_counter() - started < 10  # about 0.5 s; loose so a slow CI machine does not fail it
    assert (tmp_path / "again.pcapng").read_bytes() == path.read_bytes()
    assert again == truth
    build_demo_capture(tmp_path / "x.pcapng.gz")
    build_demo_capture(tmp_path / "y.pcapng.gz")
    assert (tmp_path / "x.pcapng.gz").read_bytes() == (tmp_path / "y.pcapng.gz").read_bytes()


def test_truth_is_consistent_and_within_budget(demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    assert path.stat().st_size < 8_000_000 and truth.frames < 10_000
    assert truth.flow_count == len(truth.flows) == len({_key(flow) for flow in truth.flows})
    assert sum(flow.packets_up + flow.packets_down for flow in truth.flows) == truth.frames
    assert truth.start_ns == START_NS and truth.end_ns > START_NS + 100 * 10**9
    assert all(flow.device_ip == DEVICE_IP for flow in truth.flows)
    assert [flow.first_frame for flow in truth.flows] == sorted({flow.first_frame for flow in truth.flows})
    upload = max(truth.flows, key=lambda flow: flow.bytes_up)
    assert upload.server_name == "mydjiflight.dji.com" and 3_000_000 < upload.bytes_up < 4_000_000
    labels = {flow.label for flow in truth.flows}
    assert {"udp controller link", "http connectivity check", "https flight log upload"} <= labels


def test_pcapng_interface_names_the_phone(demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    blocks = pcapng_blocks(path.read_bytes())
    idbs = [body for block_type, _, body in blocks if block_type == 1]
    assert len(idbs) == 1
    options = dict(pcapng_options("<", idbs[0][8:]))
    assert options[2] == b"wlan0" == truth.interface.encode()
    assert options[4] == bytes([192, 168, 43, 23, 255, 255, 255, 0])
    isb = [body for block_type, _, body in blocks if block_type == 5]
    assert len(isb) == 1
    assert dict(pcapng_options("<", isb[0][12:]))[5] == bytes(8)  # isb_ifdrop = 0


_NAMES = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ip.len"]
_NAMES += ["tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]


def _tshark_tally(rows: list[dict[str, str]]) -> Tally:
    """Per-flow counts from tshark's dissection: direction from ip.src, bytes from ip.len."""
    tally: Tally = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in rows:
        proto = "tcp" if row["tcp.srcport"] else "udp"
        sport, dport = int(row[f"{proto}.srcport"]), int(row[f"{proto}.dstport"])
        up = row["ip.src"] == DEVICE_IP
        key = (proto, sport, row["ip.dst"], dport) if up else (proto, dport, row["ip.src"], sport)
        counts = tally[key]
        counts[0 if up else 1] += 1
        counts[2 if up else 3] += int(row["ip.len"])
        counts[4] = counts[4] or int(row["frame.number"])
    return dict(tally)


@needs_tshark
def test_per_flow_packets_and_ip_bytes_match_tshark(demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    rows = fields(path, _NAMES)
    expected = {
        _key(f): [f.packets_up, f.packets_down, f.bytes_up, f.bytes_down, f.first_frame] for f in truth.flows
    }
    assert _tshark_tally(rows) == expected
    assert len(rows) == truth.frames
    times = [rows[0]["frame.time_epoch"], rows[-1]["frame.time_epoch"]]
    assert times == [f"{ns // 10**9}.{ns % 10**9:09d}" for ns in (truth.start_ns, truth.end_ns)]


_CONV = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s")


@needs_tshark
def test_conversation_frame_counts_match_tshark_conv(demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    seen: dict[tuple[str, int, str, int], tuple[int, int]] = {}
    proto = ""
    for line in tshark(path, "-q", "-z", "conv,tcp", "-z", "conv,udp").splitlines():
        proto = {"TCP Conversations": "tcp", "UDP Conversations": "udp"}.get(line.strip(), proto)
        match = _CONV.match(line)
        if match is None:
            continue
        addr_a, port_a, addr_b, port_b, to_a, from_a, total = match.groups()
        assert int(to_a) + int(from_a) == int(total)
        if addr_a == DEVICE_IP:  # "<-" counts frames towards A, "->" frames from A
            seen[(proto, int(port_a), addr_b, int(port_b))] = (int(from_a), int(to_a))
        else:
            seen[(proto, int(port_b), addr_a, int(port_a))] = (int(to_a), int(from_a))
    assert seen == {_key(flow): (flow.packets_up, flow.packets_down) for flow in truth.flows}


@needs_tshark
def test_names_in_the_clear_match_truth(demo: tuple[Path, DemoTruth]) -> None:
    path, truth = demo
    names = [
        "tcp.srcport",
        "tls.handshake.extensions_server_name",
        "http.host",
        "dns.qry.name",
        "dns.a",
        "dns.aaaa",
    ]
    rows = fields(
        path, names, display_filter="tls.handshake.type == 1 || http.request || dns.flags.response == 1"
    )
    server_names = {
        int(row["tcp.srcport"]): row["tls.handshake.extensions_server_name"] or row["http.host"]
        for row in rows
        if row["tcp.srcport"]
    }
    assert server_names == {flow.device_port: flow.server_name for flow in truth.flows if flow.proto == "tcp"}
    answers = {
        (row["dns.qry.name"], address)
        for row in rows
        for address in (row["dns.a"] + "," + row["dns.aaaa"]).split(",")
        if address
    }
    assert answers == set(truth.dns_answers)


@needs_tshark
def test_no_bad_checksums_or_malformed_frames(demo: tuple[Path, DemoTruth]) -> None:
    path, _ = demo
    # Random controller-link payloads can trip a heuristic dissector (CLTP), so "malformed" is only
    # asked of the flows whose payload the generator builds to a protocol.
    bad = "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0"
    bad += " || (_ws.malformed && !(udp.port == 9003))"
    assert fields(path, ["frame.number"], display_filter=bad) == []
    assert len(fields(path, ["frame.number"], display_filter="tcp.analysis.flags")) == 0


def test_main_writes_the_file_and_rejects_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.pcapng"
    assert main([str(out)]) == 0
    assert out.stat().st_size > 1_000_000
    assert "synthetic" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["--help"]) == 2
