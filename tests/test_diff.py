"""``droneaudit diff``: two synthetic sessions of one app, local data mode off and on.

The captures come from ``droneaudit.synth.demo`` (the same session written twice; with the setting on
the app's own lookups and connections are left out). The expectations are counted from what the
generator says it wrote (``DemoTruth.flows``), never from droneaudit's own reading of the files.
"""

from __future__ import annotations

import io
import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

import droneaudit
from droneaudit.case import Case
from droneaudit.cli import main
from droneaudit.cli_diff import render
from droneaudit.diff import CaseDiff as Diff
from droneaudit.diff import Change, SideSummary, Traffic, diff_cases
from droneaudit.synth.demo import DemoTruth, build_demo_capture


@dataclass(frozen=True)
class Pair:
    off: Path
    on: Path
    off_truth: DemoTruth
    on_truth: DemoTruth
    off_case: Case
    on_case: Case


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    folder = tmp_path_factory.mktemp("ldm")
    off, on = folder / "ldm-off.pcapng", folder / "ldm-on.pcapng"
    off_truth = build_demo_capture(off)
    on_truth = build_demo_capture(on, local_data_mode=True)
    return Pair(off, on, off_truth, on_truth, droneaudit.scan([off]), droneaudit.scan([on]))


def expected(truth: DemoTruth) -> dict[str, tuple[int, int, int]]:
    """Endpoint key → (flows, bytes up, bytes down) from the generator: by the name the device sent,
    else by the remote address (every internet flow of the demo sends SNI or Host)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for f in truth.flows:
        key = f"host:{f.server_name}" if f.server_name else f"ip:{f.remote_ip}"
        out[key][0] += 1
        out[key][1] += f.bytes_up
        out[key][2] += f.bytes_down
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def test_the_generator_leaves_out_the_apps_own_traffic(pair: Pair) -> None:
    """The premise of the other tests: with the setting on, only the phone's check and local traffic stay."""
    on = expected(pair.on_truth)
    assert set(on) == {"host:connectivitycheck.gstatic.com", "ip:192.168.43.1"}
    assert set(on) < set(expected(pair.off_truth))


def test_statuses_and_deltas_follow_the_generator(pair: Pair) -> None:
    a, b = expected(pair.off_truth), expected(pair.on_truth)
    result = diff_cases(pair.off_case, pair.on_case, a_label="off", b_label="on")
    got = {c.key: c for c in result.endpoints}
    assert set(got) == set(a) | set(b)
    for key, change in got.items():
        want_status = (
            "vanished" if key not in b else "appeared" if key not in a else
            "unchanged" if a[key] == b[key] else "changed"
        )  # fmt: skip
        assert change.status == want_status, key
        before, after = a.get(key, (0, 0, 0)), b.get(key, (0, 0, 0))
        assert (change.delta_up, change.delta_down) == (after[1] - before[1], after[2] - before[2]), key
        if change.a is not None:
            assert (change.a.flows, change.a.bytes_up, change.a.bytes_down) == before
    assert got["host:connectivitycheck.gstatic.com"].status == "unchanged"
    assert got["ip:192.168.43.1"].status == "changed"  # fewer DNS lookups to the gateway
    assert result.counts() == {"appeared": 0, "vanished": 5, "changed": 1, "unchanged": 1}


def test_vanished_dji_endpoints_carry_owner_and_category(pair: Pair) -> None:
    result = diff_cases(pair.off_case, pair.on_case)
    upload = next(c for c in result.endpoints if c.label == "mydjiflight.dji.com")
    assert (upload.status, upload.category, upload.drone_vendor) == ("vanished", "flight-log-sync", True)
    assert upload.owner is not None and upload.owner.startswith("AS45102")
    gateway = next(c for c in result.endpoints if c.key == "ip:192.168.43.1")
    assert (gateway.local, gateway.owner, gateway.category) == (True, "local network", "local")


def test_categories_sum_their_endpoints(pair: Pair) -> None:
    result = diff_cases(pair.off_case, pair.on_case)
    for cat in result.categories:
        members = [c for c in result.endpoints if c.category == cat.label]
        assert cat.delta_up == sum(c.delta_up for c in members)
        assert cat.delta_down == sum(c.delta_down for c in members)
        assert (cat.a.endpoints if cat.a else 0) == sum(1 for c in members if c.a is not None)
    statuses = {c.label: c.status for c in result.categories}
    assert statuses["flight-log-sync"] == "vanished" and statuses["connectivity-check"] == "unchanged"


def test_reversed_order_reports_appeared(pair: Pair) -> None:
    result = diff_cases(pair.on_case, pair.off_case)
    assert result.counts() == {"appeared": 5, "vanished": 0, "changed": 1, "unchanged": 1}
    assert [c.status for c in result.endpoints][:5] == ["appeared"] * 5
    assert result.endpoints[0].label == "mydjiflight.dji.com"  # the largest change first


def test_cli_json_is_deterministic_and_exits_0(pair: Pair, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["diff", str(pair.off), str(pair.on), "--json", "-"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    doc = json.loads(first)
    assert list(doc) == sorted(doc)
    assert doc["summary"] == {"appeared": 0, "vanished": 5, "changed": 1, "unchanged": 1}
    assert (doc["a"]["verdict"]["status"], doc["b"]["verdict"]["status"]) == ("fail", "fail")
    assert doc["b"]["egress_bytes_up"] == expected(pair.on_truth)["host:connectivitycheck.gstatic.com"][1]


def test_scope_vendor_makes_the_on_side_pass(pair: Pair, tmp_path: Path) -> None:
    out = tmp_path / "diff.json"
    code = main(["diff", str(pair.off), str(pair.on), "--scope", "vendor", "--json", str(out), "-q"])
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert code == 0
    assert (doc["a"]["verdict"]["status"], doc["b"]["verdict"]["status"]) == ("fail", "pass")


def _without_labels(doc: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in doc.items() if k not in ("a", "b")}


def test_case_file_and_parquet_sides_give_the_same_diff(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = tmp_path / "off.duckdb"
    parquet = tmp_path / "off-parquet"
    assert main(["scan", str(pair.off), "--case", str(stored), "--parquet", str(parquet), "-q"]) == 1
    results = []
    for side in (pair.off, stored, parquet):
        assert main(["diff", str(side), str(pair.on), "--json", "-", "-q"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert _without_labels(results[1]) == _without_labels(results[0])
    assert _without_labels(results[2]) == _without_labels(results[0])
    assert results[1]["a"]["inputs"] == results[0]["a"]["inputs"]  # same evidence, same SHA-256


def test_terminal_output_names_both_verdicts(pair: Pair, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(pair.off), str(pair.on)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"A: {pair.off} — FAIL")
    assert "0 appeared, 5 vanished, 1 changed, 1 unchanged endpoint(s)" in out
    table = out[out.index("Endpoints (6)") :]  # unchanged endpoints are left out unless --all
    assert "mydjiflight.dji.com" in table and "connectivitycheck" not in table


def test_hostile_labels_are_escaped() -> None:
    side = SideSummary("a\x1b]0;x\x07", (), None, 0, 0, 0)
    evil = Change("host:e", "evil\x1b[2J.example", "uncategorised", None, Traffic(1, 2, 3), owner="\x1b[31m")
    sink = io.StringIO()
    render(Diff(side, side, (evil,), ()), Console(file=sink, width=132), show_all=True)
    text = sink.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "evil\\x1b[2J.example" in text


def test_usage_errors_exit_2(pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(pair.off), str(tmp_path / "missing.pcap")]) == 2
    assert main(["diff", str(pair.off), str(pair.on), "--json", str(pair.on)]) == 2
    junk = tmp_path / "notes.txt"
    junk.write_text("not evidence\n")
    assert main(["diff", str(pair.off), str(junk), "-q"]) == 2
    err = capsys.readouterr().err
    assert "missing.pcap" in err and "refusing" in err and "nothing in" in err


def test_local_scope_addresses_are_private(pair: Pair) -> None:
    """The one changed endpoint is the controller's gateway, never an internet host."""
    result = diff_cases(pair.off_case, pair.on_case)
    changed = [c for c in result.endpoints if c.status == "changed"]
    assert all(ipaddress.ip_address(c.label).is_private for c in changed)
