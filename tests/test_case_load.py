"""A case file read back gives the same report as the evidence it was made from."""

from __future__ import annotations

import json
from pathlib import Path

from droneaudit.cli import main
from droneaudit.synth.demo import build_demo_capture
from droneaudit.synth.media import build_demo_media
from droneaudit.synth.sites import write_demo_sites

SECTIONS = (
    "verdict",
    "endpoints",
    "findings",
    "flights",
    "exposures",
    "correlations",
    "claims",
    "media",
    "tracks",
    "identities",
    "inputs",
    "problems",
)


def test_report_from_case_file_equals_report_from_evidence(tmp_path: Path) -> None:
    capture = tmp_path / "session.pcapng"
    build_demo_capture(capture)
    card = tmp_path / "card"
    build_demo_media(card)
    sites = write_demo_sites(tmp_path)
    case = tmp_path / "case.duckdb"
    assert (
        main(["scan", str(capture), str(card), "-q", "--case", str(case)]) == 1
    )  # the demo's verdict is a fail
    common = ["--sites", str(sites), "--condition", "local-data-mode=on"]
    assert (
        main(
            [
                "report",
                str(capture),
                str(card),
                "--html",
                str(tmp_path / "a.html"),
                "--json",
                str(tmp_path / "a.json"),
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "report",
                str(case),
                "--html",
                str(tmp_path / "b.html"),
                "--json",
                str(tmp_path / "b.json"),
                *common,
            ]
        )
        == 0
    )
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    for section in SECTIONS:
        assert a[section] == b[section], section
    assert any(c["status"] == "contradicted" for c in b["claims"])  # local data mode declared on, yet egress


def test_case_file_and_evidence_together_is_a_usage_error(tmp_path: Path) -> None:
    capture = tmp_path / "session.pcapng"
    build_demo_capture(capture)
    case = tmp_path / "case.duckdb"
    main(["scan", str(capture), "-q", "--case", str(case)])
    assert main(["report", str(case), str(capture), "--html", str(tmp_path / "r.html")]) == 2


def test_json_is_byte_identical_whatever_the_input_order(tmp_path: Path) -> None:
    import droneaudit

    capture = tmp_path / "session.pcapng"
    build_demo_capture(capture)
    files = build_demo_media(tmp_path / "card")
    forward = droneaudit.scan([capture, *files]).to_json()
    backward = droneaudit.scan([*reversed(files), capture]).to_json()
    assert forward == backward
    assert droneaudit.scan([capture, *files]).to_json() == forward  # and across runs
