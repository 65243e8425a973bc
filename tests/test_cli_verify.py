"""``droneaudit scan --case-id/--examiner/--sign`` and ``droneaudit verify`` through ``main``: exit codes,
one line per item, and signatures that OpenSSH's own ``ssh-keygen -Y verify`` accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from droneaudit.cli import main
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, udp

T0 = 1_773_480_600 * 1_000_000_000
PHONE, HOST = "192.168.43.23", "47.88.61.146"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    frames = [
        Frame(T0 + i * 10**6, ipv4(PHONE, HOST, 17, udp(40000, 443, b"d" * 80, src_ip=PHONE, dst_ip=HOST)))
        for i in range(3)
    ]
    write_pcap(tmp_path / "in.pcap", frames, link_type=101)
    (tmp_path / "ed.key").write_bytes(bytes(range(32)))
    return tmp_path


def _ssh_keygen() -> str:
    path = shutil.which("ssh-keygen")
    if path is None:
        pytest.skip("ssh-keygen not installed (apt-get install openssh-client); it is the oracle here")
    return path


def _scan(extra: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    args = ["scan", "in.pcap", "--case-id", "CASE-7", "--examiner", "Dana Example", *extra]
    return run([*args, "--parquet", "pq", "--case", "c.duckdb", "--json", "c.json"], capsys)


def test_scan_signs_every_output_and_verify_passes(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _scan(["--sign", "ed.key"], capsys)
    assert code == 1  # the capture talks to the internet: verdict fail; the signing is what matters here
    for signed in ("pq/manifest.json", "c.duckdb.manifest.json", "c.json"):
        assert Path(signed + ".sig").is_file() and Path(signed + ".sig.pub").is_file()
        assert f"Signed {signed} with SHA256:" in err
    assert json.loads(Path("c.json").read_text())["custody"] == {
        "case_id": "CASE-7",
        "examiner": "Dana Example",
    }
    for target in ("pq", "c.duckdb", "c.json"):
        code, out, _ = run(["verify", target, "--key", "pq/manifest.json.sig.pub"], capsys)
        assert code == 0, out
        assert "PASS  input in.pcap: SHA-256" in out and "FAIL" not in out
        assert out.rstrip().splitlines()[-1].startswith("Verify OK:")


def test_verify_fails_on_a_changed_output_and_names_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _scan(["--sign", "ed.key"], capsys)
    Path("pq/dns.parquet").write_bytes(Path("pq/dns.parquet").read_bytes() + b"x")
    code, out, _ = run(["verify", "pq"], capsys)
    assert code == 1
    (line,) = [x for x in out.splitlines() if x.startswith("FAIL")]
    assert line.startswith("FAIL  dns.parquet: SHA-256 ") and "differs from the recorded" in line
    assert out.rstrip().splitlines()[-1].startswith("Verify FAILED: ")


def test_openssh_key_signs_through_ssh_keygen(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = _ssh_keygen()
    subprocess.run([tool, "-q", "-t", "ed25519", "-N", "", "-C", "examiner", "-f", "id"], check=True)
    code, _, _ = _scan(["--sign", "id", "-q"], capsys)
    assert code == 1 and Path("pq/manifest.json.sig").read_text().startswith("-----BEGIN SSH SIGNATURE-----")
    Path("signers").write_text("dana " + " ".join(Path("id.pub").read_text().split()[:2]) + "\n")
    with Path("pq/manifest.json").open("rb") as data:
        checked = subprocess.run(
            [
                tool,
                "-Y",
                "verify",
                "-f",
                "signers",
                "-I",
                "dana",
                "-n",
                "droneaudit",
                "-s",
                "pq/manifest.json.sig",
            ],
            stdin=data,
            capture_output=True,
            check=False,
        )
    assert checked.returncode == 0, checked.stderr
    code, out, _ = run(["verify", "pq", "--key", "id.pub"], capsys)
    assert code == 0 and "by the trusted ssh-ed25519 key" in out


def test_usage_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["scan", "in.pcap", "--sign", "ed.key", "-q"], capsys)
    assert code == 2 and "--sign needs an output file" in err
    Path("bad.key").write_text("nope\n")
    code, _, err = run(["scan", "in.pcap", "--sign", "bad.key", "--json", "x.json"], capsys)
    assert code == 2 and "Error: --sign bad.key" in err and not Path("x.json").exists()
    code, _, err = run(["scan", "in.pcap", "--case-id", "a\nb", "--json", "x.json"], capsys)
    assert code == 2 and "--case-id" in err
    code, _, err = run(["verify", "missing"], capsys)
    assert code == 2 and "no such case" in err
    Path("broken.duckdb").write_bytes(b"\0" * 8 + b"DUCK" + b"\0" * 100)
    code, _, err = run(["verify", "broken.duckdb"], capsys)
    assert code == 2 and "cannot read case file" in err


def test_unsigned_case_verifies_with_a_note_and_fails_with_a_key(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _scan(["-q"], capsys)
    code, out, _ = run(["verify", "pq"], capsys)
    assert code == 0 and "NOTE  manifest.json.sig: no signature" in out
    Path("ed.pub").write_bytes(bytes(32))
    code, out, _ = run(["verify", "pq", "--key", "ed.pub"], capsys)
    assert code == 1 and "FAIL  manifest.json.sig: no signature" in out
