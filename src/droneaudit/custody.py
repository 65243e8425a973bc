"""Chain of custody: who examined which case, what was read and written (each with SHA-256), signed.

* ``scan --case-id ID --examiner NAME`` puts ``{"case_id", "examiner"}`` into the case (``Case.custody``):
  the JSON output, ``manifest.json`` of a Parquet folder and the DuckDB ``manifest`` table carry it.
  Nothing time-dependent is added, so the outputs stay byte-identical for the same inputs.
* The Parquet ``manifest.json`` lists the SHA-256 of every Parquet file beside it (``outputs``). A
  DuckDB case file cannot hold its own hash, so signing one writes ``CASE.duckdb.manifest.json`` beside
  it: the manifest table's content plus the case file's SHA-256.
* ``--sign KEY`` signs each manifest (and a ``--json`` file) as ``<file>.sig`` in OpenSSH's SSHSIG
  format (``custody_sig``), with ``<file>.sig.pub``: the signer's public key and fingerprint (a
  convenience copy; the signature itself names the key, and ``verify --key`` says which key to trust).
* ``droneaudit verify`` re-hashes every output the manifest lists and every input the case names that
  still exists, checks the signature, and reports pass / fail / skip per item (``Check``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from droneaudit import custody_sig as sig
from droneaudit.errors import UsageError
from droneaudit.readers.source import sha256_file

if TYPE_CHECKING:
    from droneaudit.case import Case

MAX_FIELD = 200
PASS, FAIL, SKIP, NOTE = "pass", "fail", "skip", "note"


@dataclass(frozen=True)
class Check:
    """One verified item: what, the outcome (pass, fail, skip: not checkable, note), and why."""

    item: str
    status: str
    detail: str


def custody_fields(case_id: str | None, examiner: str | None) -> dict[str, str]:
    """The identifiers for ``Case.custody``; each printable, one line, at most ``MAX_FIELD`` characters."""
    out = {}
    for name, value in (("case_id", case_id), ("examiner", examiner)):
        if value is None:
            continue
        if not value.strip() or len(value) > MAX_FIELD or not value.isprintable():
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} must be 1-{MAX_FIELD} printable characters on one line")
        out[name] = value.strip()
    return out


def sidecar(db: Path) -> Path:
    """Where a DuckDB case file's custody record lives."""
    return db.with_name(db.name + ".manifest.json")


def write_duckdb_record(case: Case, db: Path) -> Path:
    """The manifest of a case file plus the file's SHA-256, beside it (after the case was written)."""
    record = case.manifest() | {"outputs": {db.name: sha256_file(db)}}
    path = sidecar(db)
    path.write_text(json.dumps(record, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path


def sign_file(key: Path, target: Path) -> tuple[Path, str]:
    """Sign ``target`` into ``target.sig`` (and ``target.sig.pub``); return (signature, fingerprint)."""
    loaded = sig.load_signing_key(key)
    if isinstance(loaded, Path):
        armored = sig.sign_with_ssh_keygen(loaded, target)
    else:
        armored = sig.sign_ed25519(loaded, target.read_bytes())
    parsed = sig.parse(armored)
    sig_path = target.with_name(target.name + ".sig")
    sig_path.write_text(armored, encoding="ascii")
    sig_path.with_name(sig_path.name + ".pub").write_text(
        sig.public_line(parsed.public_key), encoding="ascii"
    )
    return sig_path, parsed.fingerprint


# --- verify -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    kind: str  #: "parquet", "duckdb" or "json"
    record: Path | None  #: the signed file (manifest, sidecar, or the JSON output itself)
    inputs: list[tuple[str, str]]  #: (path as recorded, sha256)


def verify(target: Path, key: Path | None = None, inputs_base: Path | None = None) -> list[Check]:
    """Every check on a Parquet folder, a DuckDB case file or a JSON case; see the module docstring."""
    found = _target(target)
    trusted = sig.load_trusted_key(key) if key is not None else None
    checks = _signature_checks(found.record, trusted)
    if found.record is not None and found.kind != "json":
        checks += _output_checks(found.record, found.kind)
    elif found.kind == "duckdb":
        checks.append(Check(target.name, NOTE, "no custody record beside it (written without --sign)"))
    return checks + [_input_check(path, digest, inputs_base) for path, digest in found.inputs]


def _target(target: Path) -> _Target:
    if target.is_dir():
        if not (target / "manifest.json").is_file():
            raise UsageError(f"{target} has no manifest.json: not a droneaudit Parquet folder")
        return _Target("parquet", target / "manifest.json", _parquet_inputs(target))
    if not target.is_file():
        raise UsageError(f"no such case, folder or file: {target}")
    with target.open("rb") as f:
        head = f.read(16)
    if head[8:12] == b"DUCK":
        record = sidecar(target)
        return _Target("duckdb", record if record.is_file() else None, _duckdb_inputs(target))
    try:
        data = json.loads(target.read_bytes())
        inputs = [(str(i["path"]), str(i["sha256"])) for i in data["inputs"]]
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{target} is not a droneaudit case (Parquet folder, DuckDB file or JSON)") from None
    return _Target("json", target, inputs)


def _parquet_inputs(folder: Path) -> list[tuple[str, str]]:
    path = folder / "inputs.parquet"
    if not path.is_file():
        return []
    return [(r["path"], r["sha256"]) for r in pq.read_table(path, columns=["path", "sha256"]).to_pylist()]


def _duckdb_inputs(db: Path) -> list[tuple[str, str]]:
    import duckdb

    from droneaudit.store import connect

    try:
        con = connect(db, read_only=True)
    except duckdb.Error as exc:
        raise UsageError(f"cannot read case file {db}: {str(exc).splitlines()[0]}") from None
    try:
        names = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "inputs" not in names:
            return []
        rows = con.execute("SELECT DISTINCT path, sha256 FROM inputs ORDER BY path, sha256").fetchall()
        return [(str(p), str(h)) for p, h in rows]
    finally:
        con.close()


def _signature_checks(record: Path | None, trusted: bytes | None) -> list[Check]:
    if record is None:
        return [Check("signature", FAIL, "--key given but nothing is signed")] if trusted else []
    sig_path = record.with_name(record.name + ".sig")
    if not sig_path.is_file():
        status = FAIL if trusted is not None else NOTE
        return [Check(sig_path.name, status, "no signature (the scan ran without --sign)")]
    try:
        parsed = sig.parse(sig_path.read_text(encoding="ascii", errors="replace"))
        sig.verify(parsed, record.read_bytes())
    except sig.SignatureError as exc:
        return [Check(sig_path.name, FAIL, f"{exc} ({record.name})")]
    who = f"{parsed.key_type} key {parsed.fingerprint}"
    if trusted is None:
        return [
            Check(sig_path.name, PASS, f"valid signature of {record.name} by {who} (no --key: not checked)")
        ]
    if parsed.public_key != trusted:
        return [Check(sig_path.name, FAIL, f"signed by {who}, not by the --key {sig.fingerprint(trusted)}")]
    return [Check(sig_path.name, PASS, f"valid signature of {record.name} by the trusted {who}")]


def _output_checks(record: Path, kind: str) -> list[Check]:
    try:
        outputs: dict[str, Any] = json.loads(record.read_bytes()).get("outputs") or {}
    except (ValueError, AttributeError):
        return [Check(record.name, FAIL, "not a JSON manifest")]
    if not outputs:
        return [Check(record.name, NOTE, "lists no output hashes (written by an older droneaudit)")]
    checks = [
        _hash_check(record.parent / name, str(digest), name) for name, digest in sorted(outputs.items())
    ]
    if kind == "parquet":
        unlisted = sorted(p.name for p in record.parent.glob("*.parquet") if p.name not in outputs)
        checks += [Check(name, FAIL, "a table the manifest does not list") for name in unlisted]
    return checks


def _hash_check(path: Path, expected: str, label: str) -> Check:
    if not path.is_file():
        return Check(label, FAIL, "missing")
    actual = sha256_file(path)
    if actual != expected:
        return Check(label, FAIL, f"SHA-256 {actual} differs from the recorded {expected}")
    return Check(label, PASS, f"SHA-256 {actual}")


def _input_check(recorded: str, expected: str, base: Path | None) -> Check:
    path = Path(recorded)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        where = f" (looked in {base})" if base is not None else ""
        return Check(f"input {recorded}", SKIP, f"not found{where}: moved or removed; not re-hashed")
    return _hash_check(path, expected, f"input {recorded}")


def exit_code(checks: list[Check]) -> int:
    """1 when any check failed, else 0."""
    return 1 if any(c.status == FAIL for c in checks) else 0
