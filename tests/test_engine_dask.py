"""``scan --engine dask`` gives the single-process case, byte for byte (docs/fleet.md).

The inputs are synthetic: a rotated capture set in one folder (two pcap files whose names sort against
time), a second folder whose capture continues the same flow (so flows merge across folders and
tasks), the demo flight-app capture, the demo SD card
(photos and an SRT) and a file no reader knows.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import droneaudit
from droneaudit import engine_dask
from droneaudit.cli_engine import Engine, run_scan
from droneaudit.errors import UsageError
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.demo import build_demo_capture
from droneaudit.synth.media import build_demo_media
from droneaudit.synth.packets import ipv4, udp

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install -e '.[dask]')")

RAW = 101
PHONE, SERVER = "192.168.1.20", "47.88.61.146"
T0 = 1_700_000_000 * 1_000_000_000
MS = 1_000_000


def _udp(size: int) -> bytes:
    return ipv4(PHONE, SERVER, 17, udp(40000, 443, b"x" * size, src_ip=PHONE, dst_ip=SERVER))


def _fleet(root: Path) -> Path:
    a, b = root / "drone-a", root / "drone-b"
    a.mkdir(parents=True)
    b.mkdir()
    write_pcap(a / "cap1.pcap", [Frame(T0, _udp(100)), Frame(T0 + MS, _udp(120))], link_type=RAW)
    write_pcap(a / "cap0.pcap", [Frame(T0 + 2 * MS, _udp(90))], link_type=RAW)
    write_pcap(b / "later.pcap", [Frame(T0 + 3 * MS, _udp(80))], link_type=RAW)
    build_demo_capture(b / "app.pcapng")
    build_demo_media(root / "sd")
    (root / "notes.txt").write_text("not evidence\n")
    return root


def test_plan_gives_every_file_its_own_task(tmp_path: Path) -> None:
    files = droneaudit.scan_paths([_fleet(tmp_path / "fleet")])
    tasks = engine_dask.plan(files)
    assert sorted(p for group, _ in tasks for p in group) == list(range(len(files)))
    assert all(len(group) == 1 for group, _ in tasks)
    captures = sorted(files[g[0]].name for g, is_capture in tasks if is_capture)
    assert captures == ["app.pcapng", "cap0.pcap", "cap1.pcap", "later.pcap"]
    sizes = [files[g[0]].stat().st_size for g, _ in tasks]
    assert sizes == sorted(sizes, reverse=True)  # the longest tasks start first


@pytest.mark.allow_network
def test_dask_engine_matches_single_process(tmp_path: Path) -> None:
    """Needs sockets, hence ``allow_network``: the engine starts a 2-worker LocalCluster whose scheduler
    and workers talk over TCP bound to 127.0.0.1 (loopback only, dashboard off); nothing leaves the
    machine and the readers themselves open no socket."""
    fleet = _fleet(tmp_path / "fleet")
    single = droneaudit.scan([fleet])
    dask_case = run_scan(Engine.dask, None, 2, False, [fleet])
    assert dask_case.to_json() == single.to_json()
    (flow,) = [f for f in dask_case.flow_records() if f["remote_ip"] == SERVER and f["proto"] == "udp"]
    assert flow["packets_up"] == 4  # cap1 + cap0 + drone-b/later.pcap: one flow across folders
    assert dask_case.media and dask_case.flows.num_rows > 1

    # Parquet: the merged case, one file per table, the same layout and content as the local engine.
    written = dask_case.to_parquet(tmp_path / "dask")
    single.to_parquet(tmp_path / "local")
    tables = [p for p in written if p.suffix == ".parquet"]
    assert {p.name for p in tables} >= {"flows.parquet", "inputs.parquet", "media.parquet"}
    for path in tables:
        assert pq.read_table(path).equals(pq.read_table(tmp_path / "local" / path.name)), path.name
    assert (tmp_path / "dask" / "manifest.json").read_text() == (tmp_path / "local/manifest.json").read_text()


def test_local_engine_is_plain_scan_and_flags_need_dask(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path / "fleet")
    assert run_scan("local", None, None, False, [fleet]).to_json() == droneaudit.scan([fleet]).to_json()
    with pytest.raises(UsageError, match="need --engine dask"):
        run_scan(Engine.local, None, 3, False, [fleet])
    with pytest.raises(UsageError, match="cannot be combined"):
        run_scan(Engine.dask, "tcp://127.0.0.1:8786", 3, False, [fleet])


def test_missing_dask_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_module(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(engine_dask.importlib, "import_module", no_module)
    with pytest.raises(UsageError, match=r"droneaudit\[dask\]"):
        engine_dask.scan_dask([_fleet(tmp_path / "fleet")], workers=1)


def test_network_guard_still_applies_without_the_marker() -> None:
    """The other tests keep the suite's guard: only the marked test above may open sockets."""
    with pytest.raises(RuntimeError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
