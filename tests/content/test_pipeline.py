"""The content audit end to end: a real TLS 1.3 session (Python's ssl over memory BIOs, key log written
by OpenSSL) carrying a JSON upload and a multipart photo upload, captured as a pcap, then
``droneaudit scan --keylog``. Expectations are what the test itself sent; the decrypted requests are
also checked against tshark with the same key log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from content._tls_sessions import make_session, write_pcap
from droneaudit.cli import main
from droneaudit.synth.media import DemoPhoto, write_photo
from oracles.tshark import run_tshark

SERIAL = "1581F6Z9C23CP003"
PHOTO = DemoPhoto("DJI_0001.JPG", 47.397742, 8.545594, 520.5, 80.0, "2024:05:01 10:00:00", "+02:00")
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwaWxvdCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def _requests(tmp_path: Path) -> list[tuple[bytes, bytes]]:
    record = {
        "aircraft_sn": SERIAL,
        "home_lat": 47.397742,
        "home_lng": 8.545594,
        "pilot": {"phone": "+41791234567", "email": "pilot@example.org"},
        "flight_time_s": 1234,
    }
    body = json.dumps(record).encode()
    upload = (
        b"POST /api/v1/flight-records HTTP/1.1\r\nHost: telemetry.example-drone.com\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    photo_path = tmp_path / "photo.jpg"
    write_photo(photo_path, PHOTO, SERIAL)
    jpeg = photo_path.read_bytes()
    boundary = b"----droneaudit-test"
    multipart = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="DJI_0001.JPG"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n--" + boundary + b"--\r\n"
    )
    photo = (
        b"POST /upload/media HTTP/1.1\r\nHost: telemetry.example-drone.com\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
        b"Content-Length: " + str(len(multipart)).encode() + b"\r\n\r\n" + multipart
    )
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    return [(upload, ok), (photo, ok)]


@pytest.fixture
def capture(tmp_path: Path) -> tuple[Path, Path]:
    session = make_session("TLSv1.3", None, _requests(tmp_path), sni="telemetry.example-drone.com")
    pcap = write_pcap(session, tmp_path / "phone.pcap")
    keys = tmp_path / "sslkeys.txt"
    keys.write_bytes(session.keylog)
    return pcap, keys


def _scan(args: list[str], out: Path) -> dict[str, object]:
    code = main(["scan", "--quiet", "--json", str(out), *args])
    assert code in (0, 1, 2), code
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_keylog_names_what_was_sent(capture: tuple[Path, Path], tmp_path: Path) -> None:
    pcap, keys = capture
    doc = _scan(
        [str(pcap), "--keylog", str(keys), "--extract", str(tmp_path / "carved")], tmp_path / "o.json"
    )
    (session,) = doc["tls_sessions"]  # type: ignore[misc]
    assert session["status"] == "decrypted" and session["version"] == "TLS 1.3"
    sent = {(h["kind"], h["value"]) for h in doc["content_hits"] if h["direction"] == "sent"}  # type: ignore[index, union-attr]
    assert ("serial", SERIAL) in sent
    assert ("phone", "+41791234567") in sent and ("email", "pilot@example.org") in sent
    assert any(kind == "position" and "47.397742" in value for kind, value in sent)
    tokens = [v for k, v in sent if k == "token"]
    assert tokens and all(TOKEN not in v for v in tokens)  # masked, never in full
    codes = {f["code"] for f in doc["findings"]}  # type: ignore[union-attr]
    assert {"sent-position", "sent-serial", "sent-file"} <= codes
    (photo,) = [m for m in doc["media"] if m["extracted_from"]]  # type: ignore[union-attr]
    assert (round(photo["lat"], 6), round(photo["lon"], 6)) == (PHOTO.lat, PHOTO.lon)
    assert photo["extracted_from"]["host"] == "telemetry.example-drone.com"
    assert photo["extracted_from"]["url"].endswith("/upload/media")
    assert (tmp_path / "carved" / Path(photo["path"]).name).is_file()


def test_without_keys_the_session_is_reported_closed(capture: tuple[Path, Path], tmp_path: Path) -> None:
    pcap, _keys = capture
    doc = _scan([str(pcap), "--content"], tmp_path / "o.json")
    assert [s["status"] for s in doc["tls_sessions"]] == ["encrypted, no key"]  # type: ignore[union-attr]
    assert not doc["content_hits"]
    assert "content-not-decrypted" in {f["code"] for f in doc["findings"]}  # type: ignore[union-attr]


def test_plain_scan_keeps_its_shape(capture: tuple[Path, Path], tmp_path: Path) -> None:
    pcap, _keys = capture
    doc = _scan([str(pcap)], tmp_path / "o.json")
    assert doc["tls_sessions"] == [] and doc["http_messages"] == [] and doc["content_hits"] == []


@pytest.mark.usefixtures("tshark")
def test_requests_match_tshark(capture: tuple[Path, Path], tmp_path: Path) -> None:
    pcap, keys = capture
    doc = _scan([str(pcap), "--keylog", str(keys)], tmp_path / "o.json")
    ours = sorted(
        (m["method"], m["url"].split("://", 1)[1].split("/", 1)[1], m["host"])  # type: ignore[index]
        for m in doc["http_messages"]  # type: ignore[union-attr]
        if m["direction"] == "sent"
    )
    fields = ["-e", "http.request.method", "-e", "http.request.uri", "-e", "http.host"]
    out = run_tshark(
        ["-r", str(pcap), "-o", f"tls.keylog_file:{keys}", "-Y", "http.request", "-T", "fields", *fields]
    )
    theirs = sorted(tuple(line.split("\t")) for line in out.stdout.splitlines() if line.strip())
    assert [(m, "/" + u, h) for m, u, h in ours] == [(m, u, h) for m, u, h in theirs]
    assert len(ours) == 2


@pytest.mark.parametrize("store", ["--case", "--parquet"])
def test_a_stored_case_keeps_the_content_audit(
    capture: tuple[Path, Path], tmp_path: Path, store: str
) -> None:
    """Read back from the DuckDB case file or the Parquet folder, the content records and the
    findings derived from them are the ones the scan printed."""
    from droneaudit.case_load import load_case, load_parquet_case
    from droneaudit.scan import conclude

    pcap, keys = capture
    target = tmp_path / ("case.duckdb" if store == "--case" else "parquet")
    original = _scan([str(pcap), "--keylog", str(keys), store, str(target)], tmp_path / "o.json")
    loaded = conclude(load_case(target) if store == "--case" else load_parquet_case(target))
    doc = json.loads(loaded.to_json())
    for key in ("tls_sessions", "http_messages", "content_hits", "findings", "media"):
        assert doc[key] == original[key], key
