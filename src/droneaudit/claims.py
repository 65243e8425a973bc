"""The claims ledger: the public claims this tool exists to test, judged against one case.

The claims themselves (who said what, when, where) are cited data in ``data/claims.toml``; this module
holds only the rules that decide them. Each rule is deliberately never stronger than the evidence:

* a claim that depends on a setting (sync, Local Data Mode, the account's region) is tested only when the
  user declares that setting with ``--condition KEY=VALUE`` — a capture cannot see an app's settings;
* "contradicted" and "supported" need a usable capture (a pass or fail verdict); an inconclusive one
  leaves the claim "not-testable";
* what a product *can* do is never contradicted by one quiet session, and what travels inside TLS is
  known only where the content audit decrypted it (``scan --keylog``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from droneaudit.case import Case
from droneaudit.endpoints import Endpoint
from droneaudit.errors import UsageError
from droneaudit.model import ClaimResult

#: Settings a user may declare, and the values each accepts (None: any non-empty value).
CONDITIONS: dict[str, frozenset[str] | None] = {
    "local-data-mode": frozenset({"on", "off"}),
    "sync": frozenset({"on", "off"}),
    "account-region": None,
}
ASIA_CLOUD = frozenset({"CN", "HK", "TW"})
SYNC_CATEGORIES = frozenset({"flight-log-sync", "media-sharing"})
NOT_TESTABLE = "not-testable"


@dataclass(frozen=True, slots=True)
class Claim:
    """One cited claim as shipped in claims.toml."""

    id: str
    claim: str
    source: str
    test: str
    condition: str
    decides: str


def load_claims() -> list[Claim]:
    """The shipped ledger, in file order (the order the report shows)."""
    text = resources.files("droneaudit").joinpath("data/claims.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["claim"]
    return [Claim(**{k: str(c[k]) for k in Claim.__slots__}) for c in raw]


def parse_conditions(specs: Iterable[str]) -> dict[str, str]:
    """``["sync=off", …]`` into a dict, refusing keys and values no rule understands (a typo must not
    silently leave a claim untested)."""
    out: dict[str, str] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if not sep or key not in CONDITIONS or not value:
            known = ", ".join(f"{k}=…" for k in CONDITIONS)
            raise UsageError(f"--condition {spec!r}: expected KEY=VALUE with KEY one of {known}")
        allowed = CONDITIONS[key]
        if allowed is not None and value not in allowed:
            raise UsageError(f"--condition {key}: expected one of {', '.join(sorted(allowed))}")
        out[key] = value
    return out


def evaluate(case: Case, conditions: dict[str, str]) -> list[ClaimResult]:
    """Every shipped claim, judged for this case under the declared conditions."""
    return [_judge(c, case, conditions) for c in load_claims()]


def _judge(claim: Claim, case: Case, conditions: dict[str, str]) -> ClaimResult:
    rule = RULES[claim.test]
    status, evidence, note = rule(case, conditions)
    return ClaimResult(claim.id, claim.claim, claim.source, status, tuple(evidence), note)


Outcome = tuple[str, list[dict[str, Any]], str]


def _usable(case: Case) -> bool:
    return case.verdict is not None and case.verdict.status in ("pass", "fail")


def _uploads(case: Case) -> list[Endpoint]:
    """Endpoints with at least one upload-heavy flow (the egress check's definition of an upload)."""
    hosts = {f.host for f in case.findings if f.code == "upload-heavy" and f.host}
    return [e for e in case.endpoints if e.host in hosts and not e.local]


def _vendor(eps: Iterable[Endpoint], categories: frozenset[str] | None = None) -> list[Endpoint]:
    return [
        e
        for e in eps
        if e.entry is not None
        and e.entry.drone_vendor
        and (categories is None or e.entry.category in categories)
    ]


def _ev(ep: Endpoint, kind: str) -> dict[str, Any]:
    """One evidence record for an endpoint: where it is, what it got, and the first frame that shows it."""
    first = ep.evidence[0] if ep.evidence else {}
    return {
        "kind": kind,
        "host": ep.label,
        "bytes_up": ep.bytes_up,
        "country_geo": ep.country_geo,
        "asn": ep.asn,
        "org": ep.org,
        "category": ep.entry.category if ep.entry else None,
        "file": first.get("file"),
        "frame": first.get("frame"),
    }


def _needs(key: str, value: str, conditions: dict[str, str]) -> str | None:
    if key not in conditions:
        return f"depends on a setting: declare --condition {key}=… to test it"
    if conditions[key] != value:
        return f"tested only under {key}={value} (declared: {key}={conditions[key]})"
    return None


def _auto_upload_asia(case: Case, conditions: dict[str, str]) -> Outcome:
    if (why := _needs("sync", "off", conditions)) is not None:
        return NOT_TESTABLE, [], why
    if not _usable(case):
        return NOT_TESTABLE, [], "no usable capture (the verdict is not pass or fail)"
    asia = [e for e in _vendor(_uploads(case)) if (e.country_geo or "") in ASIA_CLOUD]
    if asia:
        note = "uploads with sync off to drone-vendor hosts geolocated in CN/HK/TW (by the IP data)"
        return "supported", [_ev(e, "upload") for e in asia], note
    others = [_ev(e, "upload") for e in _vendor(_uploads(case))]
    return "contradicted", others, "in this session, no upload to a drone-vendor host in CN/HK/TW"


def _geotagged(case: Case, conditions: dict[str, str]) -> Outcome:
    dji = [m for m in case.media if (m.make or "").upper().startswith("DJI")]
    tagged = [m for m in dji if m.lat is not None and m.lon is not None]
    if tagged:
        ev = [
            {"kind": "media", "file": m.path, "format": m.format, "lat": m.lat, "lon": m.lon} for m in tagged
        ]
        return "supported", ev, f"{len(tagged)} of {len(dji)} DJI file(s) carry a position"
    return NOT_TESTABLE, [], "no DJI media with a position in the inputs"


#: What the content audit finds that the operator-data claim speaks of (identification, e-mail,
#: phone numbers, credentials); uploaded images count too.
OPERATOR_KINDS = frozenset({"email", "phone", "token", "device-id"})


def _operator_data(case: Case, conditions: dict[str, str]) -> Outcome:
    sent = [h for h in case.content_hits if h.direction == "sent" and h.kind in OPERATOR_KINDS]
    images = [m for m in case.media if m.extracted_from and m.extracted_from.get("direction") == "sent"]
    if sent or images:
        ev = [_hit_ev(h) for h in sent[:20]]
        ev += [
            {"kind": "uploaded-file", "file": m.path, "host": (m.extracted_from or {}).get("host")}
            for m in images
        ]
        kinds = sorted({h.kind for h in sent} | ({"file"} if images else set()))
        return "supported", ev, f"decrypted or cleartext requests carried: {', '.join(kinds)}"
    ev = [_ev(e, "account-contact") for e in _vendor(case.endpoints, frozenset({"account"}))]
    ev += [{"kind": "identity", "file": i.file, "identity": i.kind} for i in case.identities[:20]]
    if case.tls_sessions:
        opened = sum(1 for s in case.tls_sessions if s.status == "decrypted")
        total = len(case.tls_sessions)
        return (
            NOT_TESTABLE,
            ev,
            f"no such data in the content audited ({opened} of {total} TLS sessions decrypted)",
        )
    return NOT_TESTABLE, ev, "what encrypted traffic carries is seen only with a key log (scan --keylog)"


def _hit_ev(hit: Any) -> dict[str, Any]:
    where = hit.where
    return {
        "kind": f"sent-{hit.kind}",
        "host": hit.host,
        "url": hit.url,
        "file": where.file,
        "frame": where.first_frame,
    }


def _no_upload_without_sync(case: Case, conditions: dict[str, str]) -> Outcome:
    if (why := _needs("sync", "off", conditions)) is not None:
        return NOT_TESTABLE, [], why
    if not _usable(case):
        return NOT_TESTABLE, [], "no usable capture (the verdict is not pass or fail)"
    synced = _vendor(_uploads(case), SYNC_CATEGORIES)
    if synced:
        return "contradicted", [_ev(e, "upload") for e in synced], "uploads to sync hosts with sync off"
    return "supported", [], "in this session, no upload to a drone-vendor sync or sharing host"


def _us_logs_in_us(case: Case, conditions: dict[str, str]) -> Outcome:
    if (why := _needs("account-region", "us", conditions)) is not None:
        return NOT_TESTABLE, [], why
    synced = _vendor(_uploads(case), frozenset({"flight-log-sync"}))
    if not synced:
        return NOT_TESTABLE, [], "no flight-log upload in this case"
    abroad = [e for e in synced if e.country_geo != "US"]
    if abroad:
        return "contradicted", [_ev(e, "upload") for e in abroad], "geolocated outside the US (IP data)"
    return "supported", [_ev(e, "upload") for e in synced], "geolocated in the US (IP data)"


def _vendor_hosting_us(case: Case, conditions: dict[str, str]) -> Outcome:
    if (why := _needs("account-region", "us", conditions)) is not None:
        return NOT_TESTABLE, [], why
    sent = [e for e in _vendor(case.endpoints) if e.bytes_up > 0 and not e.local]
    if not sent:
        return NOT_TESTABLE, [], "no data sent to a drone-vendor host in this case"
    abroad = [e for e in sent if e.country_geo != "US"]
    if abroad:
        return "contradicted", [_ev(e, "egress") for e in abroad], "geolocated outside the US (IP data)"
    not_aws = [e for e in sent if "amazon" not in (e.org or "").lower()]
    if not_aws:
        note = "every drone-vendor host is in the US, but not all on Amazon: the hosting part does not hold"
        return NOT_TESTABLE, [_ev(e, "egress") for e in not_aws], note
    return "supported", [_ev(e, "egress") for e in sent], "US geolocation, Amazon AS (IP data)"


def _local_data_mode(case: Case, conditions: dict[str, str]) -> Outcome:
    if (why := _needs("local-data-mode", "on", conditions)) is not None:
        return NOT_TESTABLE, [], why
    status = case.verdict.status if case.verdict else None
    vendor = [e for e in _vendor(case.endpoints) if not e.local]
    if status == "fail" and vendor:
        return (
            "contradicted",
            [_ev(e, "egress") for e in vendor],
            "drone-vendor egress with Local Data Mode on",
        )
    if status == "pass":
        return "supported", [], "no internet egress in the capture with Local Data Mode on"
    return (
        NOT_TESTABLE,
        [_ev(e, "egress") for e in vendor],
        f"verdict {status}: no drone-vendor egress to judge",
    )


def _vendor_transmission(case: Case, conditions: dict[str, str]) -> Outcome:
    sent = _vendor(_uploads(case))
    if sent:
        return (
            "supported",
            [_ev(e, "upload") for e in sent],
            "transmission observed; PRC access is not testable",
        )
    return NOT_TESTABLE, [], "one session cannot show what a product cannot do"


Rule = Callable[[Case, dict[str, str]], Outcome]
RULES: dict[str, Rule] = {
    "auto-upload-asia": _auto_upload_asia,
    "geotagged-media": _geotagged,
    "operator-data": _operator_data,
    "no-upload-without-sync": _no_upload_without_sync,
    "us-logs-in-us": _us_logs_in_us,
    "vendor-hosting-us": _vendor_hosting_us,
    "local-data-mode": _local_data_mode,
    "vendor-transmission": _vendor_transmission,
}
