"""The DuckDB case file: scans accumulate, known inputs are skipped, queries are read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from droneaudit.cli import main
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, udp

T0 = 1_773_480_600 * 1_000_000_000


def _capture(path: Path, port: int) -> Path:
    a, b = "192.168.43.23", "192.168.43.1"
    write_pcap(
        path,
        [
            Frame(T0, ipv4(a, b, 17, udp(port, 9003, b"x"))),
            Frame(T0 + 1, ipv4(b, a, 17, udp(9003, port, b"y"))),
        ],
        link_type=101,
    )
    return path


def test_scans_append_and_known_inputs_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "case.duckdb"
    first, second = _capture(tmp_path / "a.pcap", 40001), _capture(tmp_path / "b.pcap", 40002)
    assert main(["scan", str(first), "-q", "--case", str(case)]) == 0
    assert main(["scan", str(first), str(second), "--case", str(case)]) == 0
    err = capsys.readouterr().err
    assert f"1 file(s) already in {case}: skipped" in err
    assert (
        main(
            [
                "query",
                str(case),
                "select file, count(*) as n from flows group by file order by file",
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"file": str(first), "n": 1}, {"file": str(second), "n": 1}]
    assert main(["scan", str(first), "--case", str(case)]) == 2  # nothing new


@pytest.mark.parametrize(
    "sql", ["delete from flows", "select * from read_csv('/etc/hostname')", "install spatial"]
)
def test_query_is_read_only_and_offline(tmp_path: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case.duckdb"
    main(["scan", str(_capture(tmp_path / "a.pcap", 40001)), "-q", "--case", str(case)])
    assert main(["query", str(case), sql]) == 2
    assert capsys.readouterr().err.startswith("Error: query failed:")
    assert main(["query", str(case), "select count(*) as n from flows", "--csv"]) == 0
    assert capsys.readouterr().out == '"n"\n1\n'
