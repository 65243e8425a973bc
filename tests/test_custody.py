"""Chain of custody in the library: identifiers in every manifest, output hashes, the DuckDB record,
and ``verify`` on intact, tampered, moved and re-signed cases.

Hashes are recomputed here with hashlib and tables read with DuckDB/pyarrow directly, so the
expectations do not come from the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import droneaudit
from droneaudit import custody
from droneaudit.custody_sig import ed25519_blob, fingerprint
from droneaudit.errors import UsageError
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, udp

T0 = 1_773_480_600 * 1_000_000_000
PHONE, HOST = "192.168.43.23", "47.88.61.146"
IDS = {"case_id": "CASE-2026-042", "examiner": "Dana Example"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _capture(path: Path, count: int = 3) -> Path:
    frames = [
        Frame(
            T0 + i * 10**6, ipv4(PHONE, HOST, 17, udp(40000, 443, b"d" * (50 + i), src_ip=PHONE, dst_ip=HOST))
        )
        for i in range(count)
    ]
    write_pcap(path, frames, link_type=101)
    return path


def _key(tmp_path: Path, seed: int = 7) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    private, public = tmp_path / f"k{seed}.key", tmp_path / f"k{seed}.pub"
    private.write_bytes(bytes([seed]) * 32)
    public.write_text(f"ssh-ed25519 {base64.b64encode(ed25519_blob(key.public_key())).decode()}\n")
    return private, public


@pytest.fixture
def scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> droneaudit.Case:
    monkeypatch.chdir(tmp_path)
    _capture(Path("in.pcap"))
    case = droneaudit.scan(["in.pcap"])
    case.custody = custody.custody_fields(IDS["case_id"], IDS["examiner"])
    return case


def _statuses(checks: list[custody.Check]) -> dict[str, str]:
    return {c.item: c.status for c in checks}


def test_identifiers_are_checked() -> None:
    assert custody.custody_fields(None, None) == {}
    assert custody.custody_fields(" C-1 ", "Ann") == {"case_id": "C-1", "examiner": "Ann"}
    for bad in ("", "   ", "two\nlines", "x" * (custody.MAX_FIELD + 1), "bell\x07"):
        with pytest.raises(UsageError, match="--case-id"):
            custody.custody_fields(bad, None)
    with pytest.raises(UsageError, match="--examiner"):
        custody.custody_fields(None, "tab\there")


def test_identifiers_reach_json_parquet_manifest_and_duckdb(scanned: droneaudit.Case, tmp_path: Path) -> None:
    data = json.loads(scanned.to_json())
    assert data["custody"] == IDS
    written = scanned.to_parquet(tmp_path / "pq")
    manifest = json.loads((tmp_path / "pq" / "manifest.json").read_text())
    assert manifest["custody"] == IDS
    tables = [p for p in written if p.suffix == ".parquet"]
    assert manifest["outputs"] == {p.name: _sha(p) for p in tables} and len(tables) >= 5
    scanned.to_duckdb(tmp_path / "c.duckdb")
    con = duckdb.connect(str(tmp_path / "c.duckdb"), read_only=True)
    rows = dict(con.execute("SELECT key, value FROM manifest").fetchall())
    con.close()
    assert json.loads(rows["custody"]) == IDS


def test_without_identifiers_nothing_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    case = droneaudit.scan([_capture(Path("in.pcap"))])
    assert "custody" not in json.loads(case.to_json()) and "custody" not in case.manifest()


def test_json_stays_deterministic_with_identifiers(scanned: droneaudit.Case) -> None:
    again = droneaudit.scan(["in.pcap"])
    again.custody = dict(IDS)
    assert again.to_json() == scanned.to_json()


def test_signed_parquet_case_verifies_and_every_tamper_fails(
    scanned: droneaudit.Case, tmp_path: Path
) -> None:
    private, public = _key(tmp_path)
    folder = tmp_path / "pq"
    scanned.to_parquet(folder)
    sig_path, fpr = custody.sign_file(private, folder / "manifest.json")
    assert sig_path == folder / "manifest.json.sig" and fpr in (folder / "manifest.json.sig.pub").read_text()
    checks = custody.verify(folder, public)
    assert custody.exit_code(checks) == 0
    assert _statuses(checks)["input in.pcap"] == custody.PASS
    assert {c.item for c in checks} >= {"manifest.json.sig", "flows.parquet", "inputs.parquet"}
    flows = folder / "flows.parquet"
    original = flows.read_bytes()
    flows.write_bytes(original + b"\0")
    assert _statuses(custody.verify(folder, public))["flows.parquet"] == custody.FAIL
    flows.write_bytes(original)
    shutil.copy(flows, folder / "extra.parquet")
    assert _statuses(custody.verify(folder, public))["extra.parquet"] == custody.FAIL
    (folder / "extra.parquet").unlink()
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace("Dana Example", "Someone Else"))
    assert _statuses(custody.verify(folder, public))["manifest.json.sig"] == custody.FAIL


def test_inputs_are_rehashed_skipped_when_moved_and_found_with_a_base(
    scanned: droneaudit.Case, tmp_path: Path
) -> None:
    folder = tmp_path / "pq"
    scanned.to_parquet(folder)
    assert _statuses(custody.verify(folder))["input in.pcap"] == custody.PASS
    original = Path("in.pcap").read_bytes()
    Path("in.pcap").write_bytes(original[:-1])
    assert _statuses(custody.verify(folder))["input in.pcap"] == custody.FAIL
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "in.pcap").write_bytes(original)
    Path("in.pcap").unlink()
    moved = custody.verify(folder)
    assert _statuses(moved)["input in.pcap"] == custody.SKIP and custody.exit_code(moved) == 0
    assert (
        _statuses(custody.verify(folder, inputs_base=tmp_path / "elsewhere"))["input in.pcap"] == custody.PASS
    )


def test_signature_by_another_key_or_no_signature(scanned: droneaudit.Case, tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    scanned.to_parquet(folder)
    _, trusted = _key(tmp_path, 1)
    unsigned = custody.verify(folder, trusted)
    assert _statuses(unsigned)["manifest.json.sig"] == custody.FAIL
    assert _statuses(custody.verify(folder))["manifest.json.sig"] == custody.NOTE  # not signed, no key asked
    other, _ = _key(tmp_path, 2)
    custody.sign_file(other, folder / "manifest.json")
    wrong = next(c for c in custody.verify(folder, trusted) if c.item == "manifest.json.sig")
    assert wrong.status == custody.FAIL and "not by the --key" in wrong.detail
    untrusted = next(c for c in custody.verify(folder) if c.item == "manifest.json.sig")
    assert untrusted.status == custody.PASS and "no --key" in untrusted.detail


def test_duckdb_case_record_is_written_signed_and_checked(scanned: droneaudit.Case, tmp_path: Path) -> None:
    private, public = _key(tmp_path)
    db = tmp_path / "c.duckdb"
    scanned.to_duckdb(db)
    assert _statuses(custody.verify(db))["c.duckdb"] == custody.NOTE  # no record yet
    record = custody.write_duckdb_record(scanned, db)
    assert json.loads(record.read_text())["outputs"] == {"c.duckdb": _sha(db)}
    assert json.loads(record.read_text())["custody"] == IDS
    custody.sign_file(private, record)
    checks = custody.verify(db, public)
    assert custody.exit_code(checks) == 0 and _statuses(checks)["c.duckdb"] == custody.PASS
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE planted AS SELECT 1 AS x")
    con.close()
    assert _statuses(custody.verify(db, public))["c.duckdb"] == custody.FAIL


def test_json_case_is_signed_whole(scanned: droneaudit.Case, tmp_path: Path) -> None:
    private, public = _key(tmp_path)
    out = tmp_path / "case.json"
    out.write_text(scanned.to_json(), encoding="utf-8")
    _, fpr = custody.sign_file(private, out)
    assert fpr == fingerprint(
        ed25519_blob(Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32).public_key())
    )
    assert custody.exit_code(custody.verify(out, public)) == 0
    out.write_text(scanned.to_json().replace("in.pcap", "in.pcap "), encoding="utf-8")
    assert custody.exit_code(custody.verify(out, public)) == 1


def test_not_a_case_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(UsageError, match="not a droneaudit case"):
        custody.verify(tmp_path / "notes.txt")
    with pytest.raises(UsageError, match=r"no manifest\.json"):
        custody.verify(tmp_path)
    with pytest.raises(UsageError, match="no such"):
        custody.verify(tmp_path / "missing")
