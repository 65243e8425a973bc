"""The claims ledger: cited data that loads, conditions that are checked, and rules that never say more
than the evidence (a setting-dependent claim is untested until the setting is declared)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest

from droneaudit import claims
from droneaudit.case import Case
from droneaudit.content.model import ContentHit, TlsSession, Where
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import CatalogEntry
from droneaudit.errors import UsageError
from droneaudit.model import Finding, MediaItem, Verdict

STATUSES = {"supported", "contradicted", "not-testable"}


def _vendor_ep(host: str, category: str, country: str, org: str = "Alibaba", up: int = 4_000_000) -> Endpoint:
    entry = CatalogEntry(host, "DJI", "svc", category, True, (), "A", ("src",))
    ep = Endpoint(host, ["198.51.100.1"], False, 45102, org, country, country, entry, 1, up, 1000)
    ep.evidence = [{"file": "cap.pcapng", "frame": 7, "kind": "flow"}]
    return ep


def _case(status: str | None, *eps: Endpoint, upload: bool = True) -> Case:
    findings = [Finding("upload-heavy", "high", "cap.pcapng", "up", (), e.host) for e in eps if upload]
    verdict = Verdict(status, "device", "s") if status else None
    return Case([], pa.table({}), [], endpoints=list(eps), findings=findings, verdict=verdict)


def _status(case: Case, conditions: dict[str, str]) -> dict[str, str]:
    return {r.id: r.status for r in claims.evaluate(case, conditions)}


def test_ledger_is_cited_and_complete() -> None:
    ledger = claims.load_claims()
    assert len({c.id for c in ledger}) == len(ledger) >= 8
    for c in ledger:
        assert c.test in claims.RULES and c.source and c.claim and c.decides
        assert c.condition in ("", *claims.CONDITIONS)
        assert any(year in c.source for year in ("2017", "2018", "2020", "2024"))
    sources = " ".join(c.source for c in ledger)
    assert "ICE-IL-17-0019" in sources and "Cybersecurity Guidance: Chinese-Manufactured UAS" in sources


def test_results_match_model() -> None:
    results = claims.evaluate(_case(None), {})
    assert [r.id for r in results] == [c.id for c in claims.load_claims()]
    for r in results:
        assert r.status in STATUSES
        assert set(r.to_dict()) >= {"id", "claim", "source", "status", "evidence"}


def test_parse_conditions() -> None:
    assert claims.parse_conditions(["Local-Data-Mode=ON", "sync = off", "account-region=US"]) == {
        "local-data-mode": "on",
        "sync": "off",
        "account-region": "us",
    }
    for bad in ("sync", "sync=maybe", "colour=blue", "local-data-mode="):
        with pytest.raises(UsageError):
            claims.parse_conditions([bad])


def test_local_data_mode_never_stronger_than_evidence() -> None:
    ids = ("dji-2017-local-data-mode", "fti-2020-ldm-no-data")
    vendor = _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "US")
    fail = _case("fail", vendor)
    assert {_status(fail, {})[i] for i in ids} == {"not-testable"}  # not declared
    assert {_status(fail, {"local-data-mode": "off"})[i] for i in ids} == {"not-testable"}
    assert {_status(fail, {"local-data-mode": "on"})[i] for i in ids} == {"contradicted"}
    assert {_status(_case("pass"), {"local-data-mode": "on"})[i] for i in ids} == {"supported"}
    assert {_status(_case("inconclusive", vendor), {"local-data-mode": "on"})[i] for i in ids} == {
        "not-testable"
    }
    other = dataclasses.replace(vendor.entry, drone_vendor=False)  # type: ignore[type-var]
    non_vendor = _vendor_ep("api.mapbox.com", "maps", "US")
    non_vendor.entry = other
    assert _status(_case("fail", non_vendor), {"local-data-mode": "on"})[ids[0]] == "not-testable"


def test_sync_claims() -> None:
    sync_up = _case("fail", _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "US"))
    assert _status(sync_up, {})["dji-2017-sync-opt-in"] == "not-testable"
    assert _status(sync_up, {"sync": "on"})["dji-2017-sync-opt-in"] == "not-testable"
    assert _status(sync_up, {"sync": "off"})["dji-2017-sync-opt-in"] == "contradicted"
    assert _status(sync_up, {"sync": "off"})["kivu-2018-user-initiated"] == "contradicted"
    quiet = _case("fail", _vendor_ep("flysafe-api.dji.com", "flysafe-geofence", "US"), upload=False)
    assert _status(quiet, {"sync": "off"})["dji-2017-sync-opt-in"] == "supported"
    assert _status(_case("inconclusive"), {"sync": "off"})["dji-2017-sync-opt-in"] == "not-testable"


def test_asia_upload_and_region_claims() -> None:
    hk = _case("fail", _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "HK"))
    us = _case("fail", _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "US"))
    assert _status(hk, {})["ice-2017-auto-upload-asia"] == "not-testable"
    assert _status(hk, {"sync": "off"})["ice-2017-auto-upload-asia"] == "supported"
    assert _status(us, {"sync": "off"})["ice-2017-auto-upload-asia"] == "contradicted"
    assert _status(hk, {"account-region": "us"})["dji-2017-us-logs-in-us"] == "contradicted"
    assert _status(us, {"account-region": "us"})["dji-2017-us-logs-in-us"] == "supported"
    assert _status(us, {})["dji-2017-us-logs-in-us"] == "not-testable"
    assert _status(us, {"account-region": "us"})["dji-2018-aws-us"] == "not-testable"  # Alibaba, not AWS
    aws = _case("fail", _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "US", org="Amazon.com, Inc."))
    assert _status(aws, {"account-region": "us"})["dji-2018-aws-us"] == "supported"


def test_claims_that_no_session_can_refute() -> None:
    quiet = _case("pass")
    assert _status(quiet, {"sync": "off"})["cisa-fbi-2024-transmission"] == "not-testable"
    assert _status(quiet, {})["ice-2017-operator-data"] == "not-testable"
    up = _case("fail", _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "US"))
    assert _status(up, {})["cisa-fbi-2024-transmission"] == "supported"
    assert _status(up, {})["ice-2017-operator-data"] == "not-testable"  # encrypted, no key log


def test_operator_data_from_the_content_audit() -> None:
    """Decrypted requests that carried an e-mail address support the claim; a decrypted session that
    carried none leaves it not testable (a quiet session does not show what the app can do)."""
    where = Where("cap.pcapng", 12, 14)
    session = TlsSession(
        "decrypted", "TLS 1.3", "TLS_AES_128_GCM_SHA256", "x.dji.com", None, "a:1", "b:2", where
    )
    quiet = _case("fail", _vendor_ep("mydjiflight.dji.com", "flight-log-sync", "US"))
    quiet.tls_sessions = [session]
    result = next(r for r in claims.evaluate(quiet, {}) if r.id == "ice-2017-operator-data")
    assert result.status == "not-testable" and "1 of 1 TLS sessions decrypted" in result.note
    email = ContentHit("email", "p@x.org", "json:$.email", "sent", "x.dji.com", "https://x.dji.com/a", where)
    received = ContentHit("phone", "+41791234567", "json:$.tel", "received", "x.dji.com", "https://x", where)
    quiet.content_hits = [received]
    assert _status(quiet, {})["ice-2017-operator-data"] == "not-testable"  # received is not sent
    quiet.content_hits = [email, received]
    result = next(r for r in claims.evaluate(quiet, {}) if r.id == "ice-2017-operator-data")
    assert result.status == "supported" and "email" in result.note
    assert {
        "kind": "sent-email",
        "host": "x.dji.com",
        "url": "https://x.dji.com/a",
        "file": "cap.pcapng",
        "frame": 12,
    } in result.evidence


def test_geotagging_from_media(tmp_path: Path) -> None:
    photo = MediaItem("a.JPG", "00", "jpeg", make="DJI", lat=1.0, lon=2.0)
    case = _case(None)
    assert _status(case, {})["ice-2017-geotagging"] == "not-testable"
    case.media = [photo]
    result = next(r for r in claims.evaluate(case, {}) if r.id == "ice-2017-geotagging")
    assert result.status == "supported" and result.evidence[0]["file"] == "a.JPG"
