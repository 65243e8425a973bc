"""The endpoint catalog: matching rules, validation messages, user overrides, and the shipped data.

Expectations about specific hosts come from the research note (shared/reference/endpoints-and-peers.md),
quoted next to each case, not from reading catalog.toml back: the test checks the TOML against the note.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from droneaudit.enrich.catalog import (
    CATEGORIES,
    CONFIDENCES,
    Catalog,
    CatalogEntry,
    CatalogError,
    normalise_host,
)
from droneaudit.errors import UsageError


def entry_toml(pattern: str, category: str = "other", confidence: str = "B", **extra: str) -> str:
    """One [[entry]] table; ``extra`` values are written verbatim (already TOML)."""
    lines = [
        "[[entry]]",
        f'pattern = "{pattern}"',
        'vendor = "Example"',
        f'service = "service for {pattern}"',
        f'category = "{category}"',
        f'confidence = "{confidence}"',
        'sources = ["a public write-up"]',
    ]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def catalog_of(*tables: str) -> Catalog:
    return Catalog.from_toml("\n".join(tables))


def category_of(catalog: Catalog, host: str) -> str | None:
    match = catalog.match(host)
    return None if match is None else match.entry.category


@pytest.fixture(scope="module")
def small() -> Catalog:
    return catalog_of(
        entry_toml("*.example.com", "cdn"),
        entry_toml("*.api.example.com", "analytics"),
        entry_toml("login.api.example.com", "account"),
        entry_toml("example.net", "maps"),
    )


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load_default()


# --- matching rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("login.api.example.com", "login.api.example.com"),  # exact beats both suffixes
        ("x.login.api.example.com", "*.api.example.com"),  # exact patterns cover only themselves
        ("other.api.example.com", "*.api.example.com"),  # longest suffix wins
        ("api.example.com", "*.api.example.com"),  # a suffix matches its own domain
        ("example.com", "*.example.com"),
        ("a.b.example.com", "*.example.com"),
        ("example.net", "example.net"),
    ],
)
def test_match_picks_exact_then_longest_suffix(small: Catalog, host: str, pattern: str) -> None:
    match = small.match(host)
    assert match is not None
    assert match.matched_pattern == pattern
    assert match.entry.pattern == pattern
    assert match.is_exact == (not pattern.startswith("*."))


@pytest.mark.parametrize(
    "host",
    [
        "LOGIN.Api.Example.COM",
        "login.api.example.com.",
        "  login.api.example.com  ",
        "Login.API.example.com.",
    ],
)
def test_match_ignores_case_and_trailing_dot(small: Catalog, host: str) -> None:
    match = small.match(host)
    assert match is not None and match.matched_pattern == "login.api.example.com"
    assert match.host == "login.api.example.com"


@pytest.mark.parametrize(
    "host", ["badexample.com", "example.com.evil.org", "www.example.net", "net", "", "."]
)
def test_suffix_is_label_aligned_and_exact_is_exact(small: Catalog, host: str) -> None:
    assert small.match(host) is None


@pytest.mark.parametrize(
    "host",
    ["121.43.186.94", "::1", "[2001:db8::1]", "2001:db8::1", "10.0.0.1.", "1.2.3", "0x7f.1", "fe80::1%eth0"],
)
def test_ip_literals_never_match(host: str) -> None:
    catch_all = catalog_of(entry_toml("*.in-addr.arpa"), entry_toml("*.example.com"))
    assert normalise_host(host) is None
    assert catch_all.match(host) is None


def test_entries_are_in_a_stable_grouped_order(small: Catalog) -> None:
    assert [e.pattern for e in small.entries()] == [
        "*.example.com",
        "*.api.example.com",
        "login.api.example.com",
        "example.net",
    ]
    shuffled = catalog_of(*(entry_toml(e.pattern, e.category) for e in reversed(small.entries())))
    assert shuffled.entries() == small.entries()


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (entry_toml("a.example.com", category="geo"), "unknown category 'geo'"),
        (entry_toml("a.example.com", confidence="D"), "confidence must be one of A, B, C"),
        (entry_toml("a.example.com", confidence="a"), "not 'a'"),
        (
            entry_toml("a.example.com").replace('sources = ["a public write-up"]', "sources = []"),
            "at least one",
        ),
        (entry_toml("a.example.com").replace('sources = ["a public write-up"]\n', ""), "['sources']"),
        (entry_toml("a.example.com", catagory='"maps"'), "unknown field(s) ['catagory']"),
        (entry_toml("a.example.com", drone_vendor='"yes"'), "drone_vendor must be true or false"),
        (entry_toml("a.example.com", data='"serial"'), "data must be a list"),
        (entry_toml("spro-*.s3.example.com"), "only a leading '*.' wildcard"),
        (entry_toml("121.43.186.94"), "IP address"),
        (entry_toml("*.com"), "at least two labels"),
        (entry_toml("bad host.example.com"), "not a DNS name"),
    ],
)
def test_bad_entries_raise_a_message_naming_the_entry(text: str, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        Catalog.from_toml(entry_toml("ok.example.com") + "\n" + text)
    message = str(info.value)
    assert needle in message
    assert "entry #2" in message


def test_message_names_pattern_when_it_has_one() -> None:
    with pytest.raises(CatalogError, match=r"entry #1 \('a\.example\.com'\): unknown category 'geo'"):
        Catalog.from_toml(entry_toml("a.example.com", category="geo"))


@pytest.mark.parametrize("second", ["a.example.com", "A.Example.com.", "a.example.com."])
def test_duplicate_pattern_names_both_entries(second: str) -> None:
    with pytest.raises(ValueError, match=r"entry #3 .*duplicate pattern, already defined by entry #1"):
        catalog_of(entry_toml("a.example.com"), entry_toml("*.a.example.com"), entry_toml(second))


def test_exact_and_suffix_on_same_domain_are_not_duplicates() -> None:
    cat = catalog_of(entry_toml("example.com", "maps"), entry_toml("*.example.com", "cdn"))
    assert category_of(cat, "example.com") == "maps"
    assert category_of(cat, "www.example.com") == "cdn"


def test_catalog_error_is_both_value_and_usage_error() -> None:
    assert issubclass(CatalogError, ValueError)
    assert issubclass(CatalogError, UsageError)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[entry]\npattern = 1", "not valid TOML"),
        ('[entries]\npattern = "x"', "unknown top-level key(s) ['entries']"),
        ('entry = "x"', "array of tables"),
        ("[meta]\nversion = 3\n", "version must be a string"),
        ('[meta]\nrelease = "1"\n', "unknown key(s) ['release']"),
    ],
)
def test_bad_documents_raise(text: str, needle: str) -> None:
    with pytest.raises(CatalogError) as info:
        Catalog.from_toml(text + "\n")
    assert needle in str(info.value)


def test_from_toml_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text('[meta]\nversion = "x"\nupdated = 2026-01-02\n' + entry_toml("a.example.com"), "utf-8")
    for arg in (good, str(good)):
        cat = Catalog.from_toml(arg)
        assert len(cat) == 1 and cat.meta.version == "x" and cat.meta.updated == "2026-01-02"
    bad = tmp_path / "bad.toml"
    bad.write_text(entry_toml("a.example.com", category="nope"), "utf-8")
    with pytest.raises(CatalogError, match=r"bad\.toml: entry #1"):
        Catalog.from_toml(bad)
    with pytest.raises(CatalogError, match="cannot read catalog"):
        Catalog.from_toml(tmp_path / "missing.toml")


def test_optional_fields_default() -> None:
    (entry,) = catalog_of(entry_toml("a.example.com")).entries()
    assert entry == CatalogEntry(
        pattern="a.example.com",
        vendor="Example",
        service="service for a.example.com",
        category="other",
        drone_vendor=False,
        data=(),
        confidence="B",
        sources=("a public write-up",),
    )


# --- user catalogs --------------------------------------------------------------------------------


def test_merged_adds_and_overrides_without_touching_the_original(small: Catalog) -> None:
    user = catalog_of(
        entry_toml("login.api.example.com", "support", "A"),  # same pattern: replaces the built-in entry
        entry_toml("cloud.my-company.test", "livestream"),  # new
        entry_toml("*.x.example.com", "staging"),  # longer than the built-in *.example.com
    )
    merged = small.merged(user)
    assert len(merged) == len(small) + 2
    assert category_of(merged, "login.api.example.com") == "support"
    assert category_of(merged, "cloud.my-company.test") == "livestream"
    assert category_of(merged, "a.x.example.com") == "staging"
    assert category_of(merged, "a.example.com") == "cdn"
    assert category_of(small, "login.api.example.com") == "account"


def test_user_file_overrides_shipped_entry(shipped: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "ours.toml"
    path.write_text(entry_toml("flysafe-api.dji.com", "other", "A", notes='"allowed on our fleet"'), "utf-8")
    merged = shipped.merged(Catalog.from_toml(path))
    match = merged.match("flysafe-api.dji.com")
    assert match is not None and match.entry.notes == "allowed on our fleet"
    assert merged.meta == shipped.meta
    assert len(merged) == len(shipped)


# --- the shipped catalog --------------------------------------------------------------------------


def raw_shipped_entries() -> list[dict[str, object]]:
    text = resources.files("droneaudit").joinpath("data/catalog.toml").read_text("utf-8")
    entries = tomllib.loads(text)["entry"]
    assert isinstance(entries, list)
    return entries


def test_shipped_catalog_loads_from_package_data(shipped: Catalog) -> None:
    assert len(shipped) >= 100
    assert shipped.meta.version and shipped.meta.updated
    assert Catalog.load_default() is shipped  # parsed once per process


def test_shipped_entries_are_cited_and_valid(shipped: Catalog) -> None:
    for entry in shipped.entries():
        assert entry.sources and all(len(s) > 10 for s in entry.sources), entry.pattern
        assert entry.category in CATEGORIES, entry.pattern
        assert entry.confidence in CONFIDENCES, entry.pattern
        assert entry.vendor and entry.service, entry.pattern


def test_shipped_patterns_are_unique_as_written() -> None:
    patterns = Counter(str(raw["pattern"]).lower().rstrip(".") for raw in raw_shipped_entries())
    assert [p for p, n in patterns.items() if n > 1] == []


def test_shipped_catalog_covers_every_dji_domain_in_the_note(shipped: Catalog) -> None:
    # Note §0: dji.com, djiservice.org, djicdn.com, dji-services.com, djigate.com, skypixel.com, the
    # uav.com / uavservice.org rebrand twins and the staging domains must all be attributed to DJI.
    for domain in (
        "dji.com",
        "djiservice.org",
        "djicdn.com",
        "dji-services.com",
        "djigate.com",
        "skypixel.com",
        "uav.com",
        "uavservice.org",
        "djicorp.com",
        "dbeta.me",
        "aasky.net",
    ):
        match = shipped.match(f"never-seen-before.{domain}")
        assert match is not None and match.entry.vendor == "DJI" and match.entry.drone_vendor, domain


@pytest.mark.parametrize(
    ("host", "category"),
    [
        # note §0: "active.dji.com | dji-activation (device activation, SN ...)"
        ("active.dji.com", "activation"),
        # note §0: "dev.dji.com (/sdk) | dji-sdk-registration (MSDK app key check ...)"
        ("dev.dji.com", "activation"),
        # note §1: "mydjiflight.dji.com ... /api/v2/flight_log/profile ... Category: firmware/geo-IP/
        # flight-log profile"; the catalog files the host under its flight-log role
        ("mydjiflight.dji.com", "flight-log-sync"),
        # note §0: "flysafe-api.dji.com ... | flysafe-geofence"
        ("flysafe-api.dji.com", "flysafe-geofence"),
        # note §0: "spro-dji-service-usa02-*.s3.amazonaws.com (zones_db_files/) | flysafe-db-download"
        ("spro-dji-service-usa02-k0v3.s3.amazonaws.com", "flysafe-geofence"),
        # note §0: "service-adhoc.dji.com, adhoc.djiservice.org | app-self-update"
        ("service-adhoc.dji.com", "app-update"),
        ("adhoc.djiservice.org", "app-update"),
        # note §0: "statistical-report.djiservice.org, apigateway.djiservice.org ... | dji-analytics"
        ("statistical-report.djiservice.org", "analytics"),
        ("apigateway.djiservice.org", "analytics"),
        # note §1: "api.uavservice.org ... api/cloudcontrol/config | dji-remote-config"
        ("api.uavservice.org", "remote-config"),
        # note §0: "account-api.dji.com, account.dji.com, accounts.dji.com, member-api.dji.com | dji-account"
        ("account-api.dji.com", "account"),
        ("member-api.dji.com", "account"),
        # note §0: "www.skypixel.com, app-service.skypixel.com, ... light-*/picasso*.skypixel.com |
        # media-sharing (SkyPixel)"
        ("www.skypixel.com", "media-sharing"),
        ("app-service.skypixel.com", "media-sharing"),
        ("light-01.skypixel.com", "media-sharing"),
        # note §0: "repair./service./support.dji.com | dji-support"
        ("repair.dji.com", "support"),
        # note §0: "app-h5.dji.com ... | dji-content"
        ("app-h5.dji.com", "content"),
        # note §0: "digital-elevation.djigate.com | map-terrain (DEM)"
        ("digital-elevation.djigate.com", "terrain"),
        # note §0: "*.djicdn.com (dl., terra-1-g., www-dl., ...) | dji-cdn"
        ("dl.djicdn.com", "cdn"),
        ("terra-1-g.djicdn.com", "cdn"),
        # note §0: "*.djicorp.com, *.dbeta.me, *.aasky.net | dji-staging"; §1: report-t.djicorp.com
        ("report-t.djicorp.com", "staging"),
        ("r-account-api.dbeta.me", "staging"),
        ("flysafe.aasky.net", "staging"),
        ("adhoc-staging.aasky.net", "staging"),
        # note §0: "api.mapbox.com / *.mapbox.com | map-tiles"; "maps.googleapis.com ... | map-tiles"
        ("api.mapbox.com", "maps"),
        ("maps.googleapis.com", "maps"),
        # note §0: "*.amap.com, *.autonavi.com ... | map/location SDK"
        ("webapi.amap.com", "maps"),
        # note §0: "djigo4-f53cb.firebaseio.com, firebase | firebase (Google)"
        ("djigo4-f53cb.firebaseio.com", "third-party-sdk"),
        # note §0: "api.weibo.com (Weibo SDK) | social-sdk"
        ("api.weibo.com", "third-party-sdk"),
        # note §0: "channels.weixin.qq.com ... | china social live-stream"
        ("channels.weixin.qq.com", "livestream"),
        # phone OS background traffic (brief; AOSP / Apple documentation)
        ("connectivitycheck.gstatic.com", "connectivity-check"),
        ("clients3.google.com", "connectivity-check"),
        ("captive.apple.com", "connectivity-check"),
        ("time.android.com", "os-services"),
        ("2.android.pool.ntp.org", "os-services"),
    ],
)
def test_hosts_from_the_note_resolve_to_the_expected_category(
    shipped: Catalog, host: str, category: str
) -> None:
    match = shipped.match(host)
    assert match is not None, host
    assert match.entry.category == category


@pytest.mark.parametrize(
    ("host", "confidence"),
    [
        ("active.dji.com", "A"),  # note: "A,B" (MSDK-iOS#243 proxy log); the strongest grade is kept
        ("dev.dji.com", "A"),  # note: "A,B" (MSDK-iOS#249)
        ("www.skypixel.com", "A"),  # note: "A,B"
        ("flysafe-api.dji.com", "B"),  # note: "B"
        ("mydjiflight.dji.com", "B"),  # note: "B"
        ("factory.fffsky.net", "C"),  # note: "C" (FTI 2020 list only)
        ("spro-dji-service-usa02-k0v3.s3.amazonaws.com", "C"),  # note: "C" (memory-strings note)
        ("adash.man.aliyuncs.com", "C"),  # note: "C"
        ("stormsend1.djicdn.com", "C"),  # note: "stormsend labelled 'telemetry' only by a hobbyist list"
    ],
)
def test_confidence_follows_the_note(shipped: Catalog, host: str, confidence: str) -> None:
    match = shipped.match(host)
    assert match is not None and match.entry.confidence == confidence


@pytest.mark.parametrize(
    ("host", "drone_vendor"),
    [
        ("active.dji.com", True),
        ("statistical-report.djiservice.org", True),
        ("account-api.uav.com", True),
        ("api.mapbox.com", False),
        ("connectivitycheck.gstatic.com", False),
        ("adash.man.aliyuncs.com", False),
    ],
)
def test_drone_vendor_flag(shipped: Catalog, host: str, drone_vendor: bool) -> None:
    match = shipped.match(host)
    assert match is not None and match.entry.drone_vendor is drone_vendor


def test_shipped_catalog_leaves_the_raw_flysafe_ip_unmatched(shipped: Catalog) -> None:
    # note §1: old DJI GO fell back to "raw IP 121.43.186.94 over http" — an IP needs another attribution
    assert shipped.match("121.43.186.94") is None


def test_entries_built_in_code_are_validated_too() -> None:
    (entry,) = catalog_of(entry_toml("a.example.com")).entries()
    with pytest.raises(CatalogError, match=r"duplicate pattern 'a\.example\.com'"):
        Catalog([entry, entry])
    with pytest.raises(CatalogError, match="lower case"):
        Catalog([dataclasses.replace(entry, pattern="A.example.com")])
    with pytest.raises(CatalogError, match="at least one source"):
        Catalog([dataclasses.replace(entry, sources=())])
