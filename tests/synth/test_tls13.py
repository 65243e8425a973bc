"""The demo's TLS 1.3 sessions are real TLS as far as a decryptor can tell: tshark opens them with the
demo key log and sees the requests demo_uploads.py wrote, and so does the content audit.

Expectations come from the generator's constants (the serial, Android ID, account, token) and from
tshark's HTTP dissector, not from droneaudit's own output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import droneaudit
from droneaudit.content.pipeline import ContentOptions
from droneaudit.synth import demo_uploads
from droneaudit.synth.demo import build_demo_capture
from droneaudit.synth.media import DEMO_SERIAL
from oracles.tshark import run_tshark


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("demo")
    capture, keys = folder / "demo.pcapng", folder / "sslkeys.txt"
    build_demo_capture(capture, keylog=keys)
    return capture, keys


@pytest.mark.usefixtures("tshark")
def test_tshark_decrypts_the_keyed_sessions(demo: tuple[Path, Path]) -> None:
    capture, keys = demo
    fields = ["-T", "fields", "-e", "http.host", "-e", "http.request.method", "-e", "http.request.uri"]
    out = run_tshark(["-r", str(capture), "-o", f"tls.keylog_file:{keys}", "-Y", "http.request", *fields])
    requests = [tuple(line.split("\t")) for line in out.stdout.splitlines() if line.strip()]
    reports = [r for r in requests if r[0] == "statistical-report.djiservice.org"]
    assert reports and all(r[1:] == ("POST", "/v1/report") for r in reports)
    assert ("mydjiflight.dji.com", "POST", "/api/v2/flight-records") in requests
    # Without the key log tshark sees only the plain connectivity check.
    plain = run_tshark(["-r", str(capture), "-Y", "http.request", *fields]).stdout.split()
    assert "mydjiflight.dji.com" not in plain and "/v1/report" not in plain


def test_the_content_audit_finds_what_the_generator_put_in(demo: tuple[Path, Path]) -> None:
    capture, keys = demo
    case = droneaudit.scan([capture], content=ContentOptions((keys,)))
    sent = {(h.host, h.kind, h.value) for h in case.content_hits if h.direction == "sent"}
    assert ("statistical-report.djiservice.org", "device-id", demo_uploads.ANDROID_ID) in sent
    assert ("mydjiflight.dji.com", "serial", DEMO_SERIAL) in sent
    assert ("mydjiflight.dji.com", "email", demo_uploads.ACCOUNT) in sent
    tokens = [v for host, kind, v in sent if kind == "token"]
    assert tokens and demo_uploads.TOKEN not in tokens
    statuses = sorted(s.status for s in case.tls_sessions)
    assert statuses.count("decrypted") == 2 and all(s in ("decrypted", "encrypted, no key") for s in statuses)
    (thumb,) = [m for m in case.media if m.extracted_from]
    assert thumb.extracted_from is not None and thumb.extracted_from["name"] == "thumb.jpg"
    assert thumb.lat is not None and thumb.serials
