"""Reruns are byte-identical, with or without ``SOURCE_DATE_EPOCH``: no output carries the wall clock.

JSON, the Parquet folder (tables and manifest), the custody record and its signature (Ed25519 is
deterministic), and the sanitizer's manifest do not change at all; the HTML report shows a date only
when ``SOURCE_DATE_EPOCH`` gives one, and then exactly that date.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from droneaudit.cli import main
from droneaudit.synth.demo import build_demo_capture
from droneaudit.synth.media import build_demo_media

EPOCH = "1773480600"  # 2026-03-14T09:30:00Z


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _outputs(evidence: Path, out: Path) -> dict[str, str]:
    out.mkdir()
    args = ["scan", str(evidence), "-q", "--json", str(out / "c.json"), "--parquet", str(out / "pq")]
    assert main(
        [*args, "--case", str(out / "c.duckdb"), "--case-id", "C-1", "--sign", str(evidence / "k")]
    ) in (0, 1)
    assert main(["sanitize", str(evidence / "card"), "--out", str(out / "clean")]) == 0
    hashes = _tree(out)
    shutil.rmtree(out)  # the next run writes to the same paths (the sanitize manifest names them)
    for name in ("c.duckdb", "c.duckdb.manifest.json", "c.duckdb.manifest.json.sig"):
        hashes.pop(name)  # DuckDB's page layout is not reproducible; its record holds the file's hash
    return hashes


def test_outputs_do_not_depend_on_when_or_whether_source_date_epoch_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = tmp_path / "evidence"
    build_demo_media(evidence / "card")
    build_demo_capture(evidence / "session.pcapng")
    (evidence / "k").write_bytes(bytes(range(32)))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = _outputs(evidence, tmp_path / "a")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    second = _outputs(evidence, tmp_path / "a")
    assert first == second
    assert {
        "c.json",
        "c.json.sig",
        "pq/manifest.json",
        "pq/manifest.json.sig",
        "clean/droneaudit-sanitize.json",
    } <= set(first)


def test_html_date_comes_only_from_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = tmp_path / "s.pcapng"
    build_demo_capture(capture)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert main(["report", str(capture), "--html", str(tmp_path / "a.html")]) in (0, 1)
    assert main(["report", str(capture), "--html", str(tmp_path / "b.html")]) in (0, 1)
    plain = (tmp_path / "a.html").read_bytes()
    assert plain == (tmp_path / "b.html").read_bytes() and b"2026-03-14T09:30:00Z" not in plain
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert main(["report", str(capture), "--html", str(tmp_path / "c.html")]) in (0, 1)
    dated = (tmp_path / "c.html").read_bytes()
    assert b"2026-03-14T09:30:00Z" in dated and dated.replace(b"2026-03-14T09:30:00Z", b"") != plain
