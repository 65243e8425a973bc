"""The HTML report without a browser: structure, escaping of hostile evidence, no remote loads, and
byte-for-byte determinism. The browser test (test_html_browser.py) checks what a reader actually sees."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from droneaudit import claims
from droneaudit.case import Case
from droneaudit.content.model import RECEIVED, SENT, ContentHit, HttpMessage, TlsSession, Where
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import CatalogEntry
from droneaudit.errors import UsageError
from droneaudit.model import Identity, InputFile, MediaItem, Problem, TrackPoint, Verdict
from droneaudit.render.html import render_html, script_json
from droneaudit.scan import scan
from droneaudit.synth.demo import build_demo_capture
from droneaudit.synth.media import build_demo_media

HOSTILE_HOST = "<img src=x onerror=alert(1)>"
HOSTILE_XMP = "<script>alert(1)</script>"
T0 = 1_773_480_600_000_000_000  # 2026-03-14T09:30:00Z in ns


def hostile_case() -> Case:
    """A case whose every evidence-derived string tries to become markup."""
    entry = CatalogEntry(HOSTILE_HOST, "DJI", "sync</script>", "flight-log-sync", True, (), "A", ("src",), "")
    ep = Endpoint(HOSTILE_HOST, ["203.0.113.7"], False, 64500, HOSTILE_XMP, "CN", "HK", entry)
    ep.flows, ep.bytes_up, ep.first_seen, ep.last_seen = 1, 900_000, T0, T0 + 5_000_000_000
    ep.evidence = [{"file": "cap<b>.pcapng", "frame": 4, "kind": "tls-sni"}]
    flows = pa.table(
        {
            "host": [HOSTILE_HOST],
            "remote_ip": ["203.0.113.7"],
            "bytes_up": [900_000],
            "bytes_down": [1000],
            "file": ["cap<b>.pcapng"],
            "first_frame": [4],
            "duplicate_of": pa.array([None], pa.int64()),
            "first_seen": pa.array([T0], pa.timestamp("ns", tz="UTC")),
            "last_seen": pa.array([T0 + 5_000_000_000], pa.timestamp("ns", tz="UTC")),
        }
    )
    photo = MediaItem(
        "DCIM/<i>x</i>.JPG",
        "ab" * 32,
        "jpeg",
        make="DJI",
        model=HOSTILE_XMP,
        captured_at_utc="2026-03-14T09:30:02Z",
        lat=47.3769,
        lon=8.5417,
        extra={"xmp:SelfData": HOSTILE_XMP},
    )
    tracks = [
        TrackPoint("log<svg onload=alert(1)>.txt", "aircraft", 47.3769 + i * 1e-4, 8.5417, source=HOSTILE_XMP)
        for i in range(3)
    ] + [TrackPoint("log<svg onload=alert(1)>.txt", "home", 47.3768, 8.5416)]
    return Case(
        inputs=[InputFile("cap<b>.pcapng", "cd" * 32, "pcapng", 10, 4)],
        flows=flows,
        problems=[Problem("cap<b>.pcapng", 0, 1, "truncated-record", HOSTILE_XMP)],
        endpoints=[ep],
        verdict=Verdict("fail", "device", f"egress to {HOSTILE_HOST}", (HOSTILE_XMP,)),
        media=[photo],
        tracks=tracks,
        identities=[Identity("aircraft-name", HOSTILE_XMP, photo.path, "XMP drone-dji:SelfData")],
        **_hostile_content(),
        data_sources={
            "ipdata": {
                "asn": {
                    "source": "x",
                    "licence": "CC-BY-4.0",
                    "role": "AS",
                    "date": None,
                    "attribution": "DB-IP",
                }
            }
        },
    )


def _hostile_content() -> dict[str, list[object]]:
    """Content-audit records whose strings came off the wire: host, URL, field and value."""
    where = Where("cap<b>.pcapng", 7, 9)
    url = f"https://{HOSTILE_HOST}/up?x={HOSTILE_XMP}"
    sent = ContentHit(
        "email", f"a{HOSTILE_XMP}@x.org", f"json:$.{HOSTILE_XMP}", SENT, HOSTILE_HOST, url, where
    )
    got = ContentHit("position", "1.5,2.5", "json:$.zone", RECEIVED, HOSTILE_HOST, url, where, HOSTILE_XMP)
    message = HttpMessage(SENT, HOSTILE_HOST, "POST", url, None, (), b"x", where, content_type=HOSTILE_XMP)
    session = TlsSession(
        "decrypted", "TLS 1.3", "TLS_AES_128_GCM_SHA256", HOSTILE_HOST, "h2", "a:1", "b:2", where
    )
    return {"content_hits": [sent, got], "http_messages": [message], "tls_sessions": [session]}


def expected_counts(case: Case) -> dict[str, int]:
    """What the map and timeline must draw, counted straight from the case (not via html.py)."""
    photos = [m for m in case.media if m.format == "jpeg"]
    non_photo = {t.file for t in case.tracks if t.kind == "aircraft"} - {m.path for m in photos}
    remote = {e.label for e in case.endpoints if not e.local}
    rows = case.flows.to_pylist()
    return {
        "tracks": sum(1 for f in non_photo if sum(t.file == f for t in case.tracks) > 1),
        "points": sum(1 for m in photos if m.lat is not None)
        + len({(t.kind, t.file, t.lat, t.lon) for t in case.tracks if t.kind != "aircraft"}),
        "flows": sum(
            1 for r in rows if r["duplicate_of"] is None and (r["host"] or r["remote_ip"]) in remote
        ),
        "photos": sum(1 for m in photos if m.captured_at_utc),
    }


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    out = tmp_path_factory.mktemp("demo")
    build_demo_capture(out / "session.pcapng")
    build_demo_media(out / "sd-card")
    case = scan([out / "session.pcapng", out / "sd-card"])
    case.claims = claims.evaluate(case, {"sync": "off"})
    return case


def test_hostile_strings_only_escaped() -> None:
    html = render_html(hostile_case())
    for raw in (HOSTILE_HOST, HOSTILE_XMP, "<svg onload", "<i>x</i>", "sync</script>"):
        assert raw not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Exactly our two script elements and one closing tag each: nothing from the evidence closed one.
    assert html.count("<script") == 2 and html.count("</script>") == 2
    for section in ("content-sent", "content-requests", "tls-sessions", "content-received"):
        assert f'<section id="{section}">' in html


def test_inline_json_cannot_close_its_script() -> None:
    text = script_json({"host": "</script><script>alert(1)</script>", "x": "<!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["host"] == "</script><script>alert(1)</script>"


def test_no_remote_loads(demo_case: Case) -> None:
    html = render_html(demo_case)
    assert not re.search(r"""\bsrc\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""@import|url\(\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    hrefs = re.findall(r"""<(\w+)[^>]*\bhref\s*=\s*["']([^"']*)""", html, re.I)
    assert hrefs == [("a", "https://db-ip.com")]  # the licence's link: an anchor, never loaded
    assert "default-src 'none'" in html


def test_structure(demo_case: Case) -> None:
    html = render_html(demo_case, conditions={"sync": "off"})
    for ident in (
        "verdict",
        "claims",
        "endpoints-table",
        "map",
        "locator",
        "timeline",
        "findings",
        "problems",
        "manifest",
        "report-data",
    ):
        assert f'id="{ident}"' in html
    assert html.count('<tr class="claim"') == len(claims.load_claims())
    for item in demo_case.inputs:
        assert item.sha256 in html
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    expected = expected_counts(demo_case)
    assert len(data["map"]["tracks"]) == expected["tracks"] >= 1
    assert len(data["map"]["points"]) == expected["points"] >= 1
    assert len(data["timeline"]["flows"]) == expected["flows"] >= 1
    assert len(data["timeline"]["photos"]) == expected["photos"] >= 1
    assert "IP Geolocation by DB-IP" in html and "<code>sync=off</code>" in html


def test_deterministic(demo_case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first, second = render_html(demo_case), render_html(demo_case)
    assert first == second
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1773480600")
    dated = render_html(demo_case)
    assert "2026-03-14T09:30:00Z" in dated and dated == render_html(demo_case)


def test_no_positions_no_flows_still_renders() -> None:
    case = Case(inputs=[], flows=pa.table({}), problems=[])
    html = render_html(case)
    assert "No verdict" in html and '"tracks":[]' in html


def _report_app() -> typer.Typer:
    from droneaudit.cli_report import report

    app = typer.Typer()
    app.command("report")(report)
    app.command("noop")(lambda: None)  # two commands, so "report" is a subcommand as in droneaudit's app
    return app


def test_report_command(tmp_path: Path) -> None:
    build_demo_capture(tmp_path / "s.pcapng")
    out, case_json = tmp_path / "r.html", tmp_path / "r.json"
    args = ["report", str(tmp_path / "s.pcapng"), "--html", str(out), "--condition", "local-data-mode=on"]
    result = CliRunner().invoke(_report_app(), [*args, "--json", str(case_json)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    ledger = {c["id"]: c for c in json.loads(case_json.read_text(encoding="utf-8"))["claims"]}
    assert ledger["dji-2017-local-data-mode"]["status"] == "contradicted"  # the demo session talks to DJI
    assert ledger["dji-2017-local-data-mode"]["evidence"]


def test_report_refuses_inputs_as_outputs_and_broken_case_files(tmp_path: Path) -> None:
    from droneaudit.cli_report import report

    capture = tmp_path / "s.pcapng"
    build_demo_capture(capture)
    before = capture.read_bytes()
    with pytest.raises(UsageError, match="over the input"):
        report([capture], capture)
    assert capture.read_bytes() == before
    db = tmp_path / "case.duckdb"
    db.write_bytes(b"\0" * 8 + b"DUCK" + b"\0" * 100)
    with pytest.raises(UsageError, match="cannot read case file"):
        report([db], tmp_path / "r.html")
    with pytest.raises(UsageError, match="--condition"):
        report([capture], tmp_path / "r.html", ["sync=sometimes"])
