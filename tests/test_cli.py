"""The command line on good, damaged and wrong inputs: exact output, one clear line per bad file, exit codes.

Every capture here is built by the test itself (deterministic, synthetic), so the expected numbers are
the lengths of the datagrams it wrote.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from pathlib import Path

import pytest

import droneaudit
from droneaudit.cli import main
from droneaudit.synth import Frame, IfaceSpec, write_pcap, write_pcapng
from droneaudit.synth.packets import ipv4, udp

T0 = 1_773_480_600 * 1_000_000_000  # 2026-03-14T09:30:00Z
PHONE, HOST = "192.168.43.23", "47.88.61.146"


def _pkt(size: int, up: bool = True) -> bytes:
    src, dst = (PHONE, HOST) if up else (HOST, PHONE)
    sport, dport = (40000, 443) if up else (443, 40000)
    return ipv4(src, dst, 17, udp(sport, dport, b"d" * size, src_ip=src, dst_ip=dst))


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "flight.pcap"
    frames = [Frame(T0, _pkt(100)), Frame(T0 + 10**6, _pkt(400, up=False)), Frame(T0 + 2 * 10**6, _pkt(72))]
    write_pcap(path, frames, link_type=101)
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_prints_verdict_endpoints_and_exit_1_on_egress(
    capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["scan", str(capture)], capsys)
    assert code == 1 and err == ""
    lines = out.splitlines()
    # 100+8+20 = 128 and 72+28 = 100 bytes up; 400+28 = 428 down: 656 bytes with one remote.
    verdict = "Verdict: FAIL (scope: device) — internet egress: 656 bytes exchanged with 1 remote(s)"
    assert lines[0] == verdict + " (47.88.61.146)"
    row = next(line for line in lines if "47.88.61.146" in line and "│" in line)
    cells = [c.strip() for c in row.strip("│").split("│")]
    # Owner per ../shared/reference/ip-data.md (47.88.0.0/16: AS45102 Alibaba (US)); the cell may wrap.
    assert cells[:2] + cells[3:] == [
        "47.88.61.146",
        "—",
        "US/US",
        "228 B",
        "428 B",
        "1",
        "2026-03-14T09:30:00",
    ]
    assert cells[2].startswith("AS45102 Alibaba (US) Technology")
    assert f"medium unnamed-remote [{capture}]: 47.88.61.146" in out
    assert "Read 1 of 1 file(s): 3 frames, 3 IP packets in 1 flows; 0 non-IP, 0 undecodable" in lines
    assert lines[-1] == "No problems reading the evidence."


def test_flow_table_on_request(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["scan", str(capture), "--flows"], capsys)
    row = next(line for line in out.splitlines() if "47.88.61.146:443" in line)
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells == [
        "udp",
        "192.168.43.23:40000",
        "47.88.61.146:443",
        "228 B",
        "428 B",
        "2/1",
        "2026-03-14T09:30:00",
        "1",
    ]


def test_local_only_capture_passes_with_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ldm.pcap"
    gw = "192.168.43.1"
    frames = [
        Frame(T0, ipv4(PHONE, gw, 17, udp(40006, 9003, b"c" * 50))),
        Frame(T0 + 10**6, ipv4(gw, PHONE, 17, udp(9003, 40006, b"v" * 900))),
    ]
    write_pcap(path, frames, link_type=101)
    code, out, _ = run(["scan", str(path)], capsys)
    assert code == 0
    assert (
        out.splitlines()[0]
        == "Verdict: PASS (scope: device) — no internet egress from the device in this capture"
    )


def test_allowing_the_host_turns_the_verdict(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["scan", str(capture), "--policy", str(_policy(capture.parent))], capsys)
    assert code == 0
    assert out.startswith("Verdict: PASS")


def _policy(folder: Path) -> Path:
    path = folder / "policy.toml"
    path.write_text('[allow]\nnetworks = ["47.88.0.0/16"]\n[verdict]\nfail_on = "high"\n')
    return path


def test_json_to_stdout_is_deterministic_and_hashes_inputs(
    capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = run(["scan", str(capture), "--json", "-"], capsys)
    assert code == 1
    _, second, _ = run(["scan", str(capture), "--json", "-"], capsys)
    assert first == second
    doc = json.loads(first)
    assert doc["schema_version"] == "1.1"
    assert doc["inputs"][0]["sha256"] == hashlib.sha256(capture.read_bytes()).hexdigest()
    (flow,) = doc["flows"]
    assert {k: flow[k] for k in ("bytes_up", "bytes_down", "packets_up", "packets_down", "first_seen")} == {
        "bytes_up": 228,
        "bytes_down": 428,
        "packets_up": 2,
        "packets_down": 1,
        "first_seen": "2026-03-14T09:30:00.000000Z",
    }
    assert "Read 1 of 1" in err  # the summary goes to stderr when JSON owns stdout


def test_outputs_never_overwrite_evidence(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = capture.read_bytes()
    code, _, err = run(["scan", str(capture), "--json", str(capture)], capsys)
    assert code == 2
    assert err.startswith("Error: refusing to write output over the input file")
    assert capture.read_bytes() == before


def test_parquet_and_duckdb_outputs(
    capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb
    import pyarrow.parquet as pq

    case_file = tmp_path / "case.duckdb"
    code, _, _ = run(
        ["scan", str(capture), "-q", "--parquet", str(tmp_path / "pq"), "--case", str(case_file)], capsys
    )
    assert code == 1
    flows = pq.read_table(tmp_path / "pq" / "flows.parquet")
    assert flows.column("bytes_down").to_pylist() == [428]
    con = duckdb.connect(str(case_file), read_only=True)
    assert con.execute("select bytes_up, remote_ip from flows").fetchall() == [(228, HOST)]
    assert con.execute("select count(*) from inputs").fetchone() == (1,)
    con.close()


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["scan", str(tmp_path / "nope.pcap")], capsys)
    assert (code, out) == (2, "")
    assert err == f"Error: no such file or folder: {tmp_path / 'nope.pcap'}\n"


@pytest.mark.parametrize(
    ("name", "content", "looks_like"),
    [
        ("empty.pcap", b"", "an empty file"),
        ("notes.pcap", b"flight notes: battery 3\n", "text"),
        ("report.pcapng", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        ("plain.pcap.gz", b"this was never gzip\n", "text"),
        ("text.pcap.gz", gzip.compress(b"hello\n", mtime=0), "gzip-compressed text"),
    ],
)
def test_unreadable_file_gets_one_clear_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, looks_like: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run(["scan", str(path)], capsys)
    assert code == 2
    assert (
        f"{path}: unrecognised-format (offset 0): not a format droneaudit reads: looks like {looks_like}"
        in out
    )
    assert err == "Error: no input could be read as evidence (see the problems above)\n"
    assert "Traceback" not in out + err


def test_truncated_capture_keeps_what_came_before(capture: Path, tmp_path: Path) -> None:
    import droneaudit

    data = capture.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-30])  # the third record loses its tail
    case = droneaudit.scan([cut])
    (flow,) = case.flow_records()
    assert (flow["packets_up"], flow["packets_down"]) == (1, 1)
    (problem,) = case.problems
    third_record = 24 + (16 + 128) + (16 + 428)
    assert (problem.code, problem.offset, problem.frame) == ("truncated-record", third_record, 3)


def test_damaged_gzip_keeps_what_decompressed(capture: Path, tmp_path: Path) -> None:
    import droneaudit

    big = tmp_path / "big.pcap"
    write_pcap(big, [Frame(T0 + i * 10**6, _pkt(1000 + i)) for i in range(200)], link_type=101)
    packed = gzip.compress(big.read_bytes(), mtime=0)
    broken = tmp_path / "big.pcap.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    case = droneaudit.scan([broken])
    assert case.inputs[0].format == "pcap.gz"
    assert 0 < case.stats.frames < 200
    assert {p.code for p in case.problems} >= {"gzip-truncated"}


def test_lying_pcapng_block_length_and_unknown_link_type(tmp_path: Path) -> None:
    import droneaudit

    path = tmp_path / "lie.pcapng"
    specs = [IfaceSpec(101, name="rmnet0"), IfaceSpec(150, name="uart")]  # 150: DLT_USER3 (DJI DUML dumps)
    write_pcapng(
        path,
        specs,
        [Frame(T0, _pkt(10)), Frame(T0 + 1, b"\x55\x0d\x04", interface=1), Frame(T0 + 2, _pkt(20))],
    )
    data = bytearray(path.read_bytes())
    last_epb = _block_offsets(bytes(data))[-1]
    struct.pack_into("<I", data, last_epb + 4, 0x7FFFFFF0)  # the last block claims ~2 GB
    path.write_bytes(bytes(data))
    case = droneaudit.scan([path])
    codes = {p.code: p for p in case.problems}
    assert set(codes) == {"bad-block-length", "unknown-link-type"}
    assert codes["bad-block-length"].offset == last_epb
    assert codes["unknown-link-type"].frame == 2
    assert [f["packets_up"] for f in case.flow_records()] == [1]


def _block_offsets(data: bytes) -> list[int]:
    """Offsets of every block of a little-endian single-section pcapng (walked by the test itself)."""
    offsets, pos = [], 0
    while pos + 8 <= len(data):
        offsets.append(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return offsets


def test_folder_of_mixed_files(capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "readme.txt").write_text("not evidence\n")
    code, out, _ = run(["scan", str(tmp_path)], capsys)
    assert code == 1
    assert "Read 1 of 2 file(s)" in out
    unread = "unrecognised-format (offset 0): not a format droneaudit reads: looks like text"
    assert f"{tmp_path / 'readme.txt'}: {unread}" in out


def test_hostile_interface_name_is_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pcapng"
    write_pcapng(path, [IfaceSpec(101, name="wlan0\x1b[2J\x1b]0;pwned\x07")], [Frame(T0, _pkt(5))])
    code, out, _ = run(["scan", str(path), "--json", str(tmp_path / "o.json")], capsys)
    assert code == 1
    assert "\x1b" not in out and "\x07" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    first = f"droneaudit {droneaudit.__version__} (schema {droneaudit.SCHEMA_VERSION})"
    assert (code, out.splitlines()[0]) == (0, first)
    assert out.splitlines()[1].startswith("catalog ") and out.splitlines()[2].startswith("ip data ")
