"""Offline proof: the whole demo (generate, scan, JSON, Parquet) runs while sockets are refused, and a scan
runs inside a network namespace with no interfaces at all (``unshare -n``, root only)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from droneaudit.cli import main
from droneaudit.synth.demo import build_demo_capture


def test_guard_is_really_active() -> None:
    """Without this the next test would prove nothing."""
    with pytest.raises(Exception, match=r"(?i)network"):
        socket.create_connection(("127.0.0.1", 9))


def test_demo_runs_with_sockets_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Verdict: FAIL" in out and "mydjiflight.dji.com" in out
    assert (tmp_path / "demo.json").is_file() and (tmp_path / "parquet" / "flows.parquet").is_file()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_scan_in_a_namespace_without_network(tmp_path: Path) -> None:
    capture = tmp_path / "demo.pcapng"
    build_demo_capture(capture)
    cmd = ["unshare", "-n", sys.executable, "-m", "droneaudit", "scan", str(capture), "--json", "-", "-q"]
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.decode(errors='replace').strip()}")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the demo's verdict is a fail
    assert '"remote_ip": "47.88.61.146"' in done.stdout
    assert '"org": "Alibaba (US) Technology Co., Ltd."' in done.stdout  # shipped data, no network


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_full_demo_in_a_namespace_without_network(tmp_path: Path) -> None:
    """Everything the demo does — generate evidence, scan, report HTML, sanitize — needs no network."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.decode(errors='replace').strip()}")
    cmd = ["unshare", "-n", sys.executable, "-m", "droneaudit", "demo", "--out", str(tmp_path / "demo")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "demo" / "report.html").is_file()
    assert (tmp_path / "demo" / "sd-card-sanitized" / "droneaudit-sanitize.json").is_file()
