"""Offline IP owner/country lookups: shipped data, scopes, NAT64, bad input, batch vs single, provenance.

Expectations come from outside our code: the owner table in shared/reference/ip-data.md, the research
note's iptocc results (test-corpora.md §3), and the upstream CSV rows below, copied verbatim from the npm
packages ``@ip-location-db/asn`` / ``@ip-location-db/geo-whois-asn-country`` version 2.3.2026061719 and
parsed here with ``csv`` + ``ipaddress`` only. Set DRONEAUDIT_IPDATA_NPM to a folder holding the two
unpacked packages (``asn/package``, ``geo/package``) to re-check those pinned rows against the real CSVs.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import os
import random
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from droneaudit.enrich.ipdata import (
    SCOPES,
    AsnTable,
    GeoTable,
    IpData,
    IpInfo,
    _v4_keys,
)

PINNED_VERSION = "2.3.2026061719"

# From ip-data.md, "Sample lookups with the 2026-06 ASN data". For 52.80.1.1 the note adds
# "(operator of AWS's China Beijing region)": commentary, not part of the organisation name.
OWNERS = [
    ("8.8.8.8", 15169, "Google LLC"),
    ("1.1.1.1", 13335, "Cloudflare, Inc."),
    ("47.88.1.1", 45102, "Alibaba (US) Technology Co., Ltd."),
    ("120.55.1.1", 37963, "Hangzhou Alibaba Advertising Co.,Ltd."),
    ("3.208.0.1", 14618, "Amazon.com, Inc."),
    ("54.239.28.85", 16509, "Amazon.com, Inc."),
    ("52.80.1.1", 55960, "Beijing Guanghuan Xinwang Digital"),
    ("101.32.1.1", 132203, "Shenzhen Tencent Computer Systems Company Limited"),
    ("2001:4860:4860::8888", 15169, "Google LLC"),
    ("240e::1", 4134, "Chinanet"),
]

# The one row of each upstream CSV holding the address (asn-ipv{4,6}.csv, geo-whois-asn-country-ipv{4,6}.csv).
ASN_ROWS = """\
8.8.8.0,8.8.8.255,15169,Google LLC
1.1.1.0,1.1.1.255,13335,"Cloudflare, Inc."
47.88.0.0,47.89.63.255,45102,"Alibaba (US) Technology Co., Ltd."
120.55.0.0,120.55.255.255,37963,"Hangzhou Alibaba Advertising Co.,Ltd."
3.208.0.0,3.239.255.255,14618,"Amazon.com, Inc."
54.238.0.0,54.240.7.255,16509,"Amazon.com, Inc."
52.80.0.0,52.81.255.255,55960,Beijing Guanghuan Xinwang Digital
101.32.0.0,101.32.79.255,132203,Shenzhen Tencent Computer Systems Company Limited
8.209.36.0,8.209.121.255,45102,"Alibaba (US) Technology Co., Ltd."
2001:4860:480d::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC
240e::,240e:108:3fff:ffff:ffff:ffff:ffff:ffff,4134,Chinanet
"""
GEO_ROWS = """\
6.0.0.0,8.10.5.255,US
1.1.1.0,1.1.1.255,AU
47.74.0.0,47.91.255.255,US
120.52.0.0,120.55.255.255,CN
3.128.0.0,3.247.255.255,US
54.239.8.0,54.239.31.255,US
52.80.0.0,52.83.255.255,CN
101.32.0.0,101.32.79.255,HK
8.208.0.0,8.209.255.255,SG
2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,US
240e::,240e:3fff:ffff:ffff:ffff:ffff:ffff:ffff,CN
"""
FIXTURE_IPS = [ip for ip, _, _ in OWNERS] + ["8.209.64.1"]

LOCAL = [
    ("192.168.2.1", "private"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("100.64.0.1", "cgnat"),
    ("169.254.1.1", "link-local"),
    ("224.0.0.251", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("0.0.0.0", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("192.0.2.1", "documentation"),
    ("fe80::1", "link-local"),
    ("fd00::1", "ula"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("ff02::fb", "multicast"),
    ("2001:db8::1", "documentation"),
]

GARBAGE = ["", "hello", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4\n", " 1.2.3.4", "1..2.3",
           "1.2.3.-4", "١.٢.٣.٤", "::g", "1:2:3:4:5:6:7:8:9", "8.8.8.8/32", "8.8.8.8:53"]  # fmt: skip


@pytest.fixture(scope="module")
def data() -> IpData:
    return IpData()


def rows_holding(ip: str, text: str) -> list[list[str]]:
    """The CSV rows whose inclusive range holds ``ip``, found without any droneaudit code."""
    addr = int(ipaddress.ip_address(ip))
    version = ipaddress.ip_address(ip).version
    return [
        row
        for row in csv.reader(io.StringIO(text))
        if ipaddress.ip_address(row[0]).version == version
        and int(ipaddress.ip_address(row[0])) <= addr <= int(ipaddress.ip_address(row[1]))
    ]


def shipped_version(key: str) -> str:
    text = resources.files("droneaudit").joinpath("data/ipdata/SOURCE.json").read_text(encoding="utf-8")
    return str(json.loads(text)[key]["version"])


@pytest.mark.parametrize(("ip", "asn", "org"), OWNERS)
def test_owner_matches_the_reference_note(data: IpData, ip: str, asn: int, org: str) -> None:
    info = data.lookup(ip)
    assert (info.asn, info.org, info.scope, info.local) == (asn, org, "global", False)


@pytest.mark.parametrize("ip", FIXTURE_IPS)
def test_lookup_matches_the_upstream_csv_row(data: IpData, ip: str) -> None:
    if shipped_version("asn") != PINNED_VERSION or shipped_version("geo") != PINNED_VERSION:
        pytest.skip(f"shipped data is not {PINNED_VERSION}; re-pin ASN_ROWS/GEO_ROWS from the new CSVs")
    [asn_row] = rows_holding(ip, ASN_ROWS)
    [geo_row] = rows_holding(ip, GEO_ROWS)
    info = data.lookup(ip)
    assert (info.asn, info.org, info.country_geo) == (int(asn_row[2]), asn_row[3], geo_row[2])


@pytest.mark.skipif(not os.environ.get("DRONEAUDIT_IPDATA_NPM"), reason="DRONEAUDIT_IPDATA_NPM not set")
@pytest.mark.parametrize("ip", FIXTURE_IPS)
def test_pinned_rows_are_the_real_csv_rows(ip: str) -> None:
    root = Path(os.environ["DRONEAUDIT_IPDATA_NPM"])
    fam = ipaddress.ip_address(ip).version
    real_asn = (root / "asn/package" / f"asn-ipv{fam}.csv").read_text(encoding="utf-8")
    real_geo = (root / "geo/package" / f"geo-whois-asn-country-ipv{fam}.csv").read_text(encoding="utf-8")
    assert rows_holding(ip, real_asn) == rows_holding(ip, ASN_ROWS)
    assert rows_holding(ip, real_geo) == rows_holding(ip, GEO_ROWS)


def test_registered_and_geolocated_country_are_kept_apart(data: IpData) -> None:
    """Research note §3: iptocc puts 8.209.64.1 in SG (RIR). The geo CSV row 8.208.0.0-8.209.255.255 says
    SG too (GeoLite2's DE is a different data set we do not ship). 101.32.1.1 shows the split: registered
    in SG (iptocc), used in HK (geo CSV row 101.32.0.0-101.32.79.255)."""
    alibaba = data.lookup("8.209.64.1")
    assert (alibaba.country_registered, alibaba.country_geo, alibaba.asn) == ("SG", "SG", 45102)
    tencent = data.lookup("101.32.1.1")
    assert (tencent.country_registered, tencent.country_geo) == ("SG", "HK")
    assert data.lookup("8.8.8.8").country_registered == "US"
    assert data.lookup("1.1.1.1").country_registered == "AU"


def test_nat64_is_enriched_as_the_embedded_ipv4(data: IpData) -> None:
    via_nat64 = data.lookup("64:ff9b::808:808")
    direct = data.lookup("8.8.8.8")
    assert via_nat64.ip == "64:ff9b::808:808" and via_nat64.nat64_of == "8.8.8.8"
    assert (via_nat64.scope, via_nat64.asn, via_nat64.org) == ("global", 15169, "Google LLC")
    assert via_nat64.country_registered == direct.country_registered == "US"
    assert via_nat64.country_geo == direct.country_geo == "US"
    assert data.lookup("64:ff9b::c0a8:201").scope == "private"  # 192.168.2.1 inside NAT64 is still local


@pytest.mark.parametrize(("ip", "scope"), LOCAL)
def test_local_addresses_have_no_owner(data: IpData, ip: str, scope: str) -> None:
    assert data.lookup(ip) == IpInfo(ip, scope, True, None, None, None, None, None)


@pytest.mark.parametrize("bad", [*GARBAGE, None, 12345, b"1.2.3.4"])
def test_garbage_is_a_value_error(data: IpData, bad: object) -> None:
    with pytest.raises(ValueError):
        data.lookup(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        data.lookup_many(["8.8.8.8", bad, "1.1.1.1"])  # type: ignore[list-item]


def random_addresses(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.6:
            out.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        elif pick < 0.9:
            out.append(
                str(ipaddress.IPv6Address((0x2000 + rng.getrandbits(13)) << 112 | rng.getrandbits(112)))
            )
        else:
            out.append(str(ipaddress.IPv6Address(rng.getrandbits(128))))
    return [*out, "64:ff9b::808:808", "fe80::1%eth0", *[ip for ip, _ in LOCAL], *FIXTURE_IPS, "8.8.8.8"]


def test_lookup_many_agrees_with_lookup(data: IpData) -> None:
    ips = random_addresses(10_000, seed=20261126)
    many = data.lookup_many(ips)
    assert many == [data.lookup(ip) for ip in ips]
    assert sum(info.asn is not None for info in many) > 3000  # most random IPv4 space has an owner
    columns = data.lookup_columns(ips)
    assert columns.records() == many and columns.ip == [info.ip for info in many]


def test_injected_tables_and_registry() -> None:
    """from_tables: a fixed table, a stray upstream row for private space, and a fake registry."""
    asked: list[str] = []

    def registry(ips: Sequence[str]) -> list[str | None]:
        asked.extend(ips)
        return ["ZZ"] * len(ips)

    asn4 = [("9.0.0.0", "9.0.0.255", 7, "Seven"), ("10.0.0.0", "10.255.255.255", 64512, "stray")]
    data = IpData.from_tables(
        asn4=AsnTable.from_rows(asn4, v6=False),
        asn6=AsnTable.from_rows([("2a00::", "2a00::ffff", 8, "Eight")], v6=True),
        geo4=GeoTable.from_rows([("9.0.0.128", "9.0.0.128", "FR")], v6=False),
        geo6=GeoTable.from_rows([], v6=True),
        registered=registry,
        source={
            "asn": {"package": "fixture", "version": "1", "licence": "CC0-1.0", "data_date": "2026-01-01"}
        },
    )
    assert data.lookup("9.0.0.128") == IpInfo("9.0.0.128", "global", False, 7, "Seven", "ZZ", "FR", None)
    assert data.lookup("9.0.0.1").country_geo is None and data.lookup("9.0.1.0").asn is None
    assert data.lookup("10.1.2.3").asn is None  # the stray row must not give private space an owner
    assert data.lookup("2a00::1").org == "Eight" and data.lookup("2a00::1:0").org is None
    assert "10.1.2.3" not in asked
    assert data.source()["asn"]["source"] == "fixture 1" and data.source()["asn"]["licence"] == "CC0-1.0"


def test_tables_must_be_disjoint() -> None:
    with pytest.raises(ValueError, match="disjoint"):
        GeoTable.from_rows([("1.0.0.0", "1.0.0.255", "AU"), ("1.0.0.128", "1.0.1.0", "CN")], v6=False)


def near_miss(rng: random.Random) -> str:
    """A dotted quad, often damaged the way real input is: a leading zero, 256+, a missing or extra field,
    a doubled dot, a stray newline."""
    fields = [
        str(rng.choice([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, rng.randrange(256)])) for _ in range(4)
    ]
    damage = rng.randrange(8)
    if damage == 1:
        fields[rng.randrange(4)] = "0" + fields[rng.randrange(4)]
    elif damage == 2:
        fields[rng.randrange(4)] = str(rng.choice([256, 300, 999, 1000, 4294967296]))
    elif damage == 3:
        fields.pop(rng.randrange(4))
    elif damage == 4:
        fields.insert(rng.randrange(5), str(rng.randrange(256)))
    elif damage == 5:
        fields[rng.randrange(4)] = ""
    text = ".".join(fields)
    if damage == 6:
        spot = rng.randrange(len(text) + 1)
        text = text[:spot] + rng.choice(["\n", ".", "0"]) + text[spot:]
    return text


def test_bulk_ipv4_parser_is_exactly_as_strict_as_ipaddress() -> None:
    rng = random.Random(4)
    for _ in range(3000):
        texts = [near_miss(rng) for _ in range(rng.randrange(1, 6))]
        try:
            expected = [int(ipaddress.IPv4Address(t)) for t in texts]
        except ValueError:
            with pytest.raises(ValueError):
                _v4_keys(texts)
            continue
        assert _v4_keys(texts).tolist() == expected, texts


def test_bulk_ipv4_parser_reads_every_address() -> None:
    rng = random.Random(5)
    texts = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(20_000)] + [
        "0.0.0.0",
        "255.255.255.255",
    ]
    assert _v4_keys(texts).tolist() == [int(ipaddress.IPv4Address(t)) for t in texts]


def test_shipped_tables_match_source_json() -> None:
    folder = resources.files("droneaudit").joinpath("data/ipdata")
    source = json.loads(folder.joinpath("SOURCE.json").read_text(encoding="utf-8"))
    rows = source["rows"]
    with folder.joinpath("ipdata.npz").open("rb") as f, np.load(f) as z:
        assert int(z["format"][0]) == source["format"]
        for table, width in (("asn4", "_span"), ("asn6", "_end_lo"), ("geo4", "_span"), ("geo6", "_end_lo")):
            last = "_asn" if table.startswith("asn") else "_cc"
            assert len(z[table + width]) == len(z[table + last]) == rows[f"{table}_rows"]
            assert rows[f"{table}_rows"] <= rows[f"{table}_csv_rows"] + 1000  # only overlaps split rows
        assert len(bytes(z["orgs"]).decode("utf-8").split("\n")) == rows["orgs"]
    assert (source["asn"]["package"], source["geo"]["package"]) == (
        "@ip-location-db/asn",
        "@ip-location-db/geo-whois-asn-country",
    )
    assert source["asn"]["licence"] == "CC-BY-4.0" and source["geo"]["licence"].startswith("CC0-1.0")
    notice = folder.joinpath("NOTICE").read_text(encoding="utf-8")
    for credit in ("routeviews.org", "db-ip.com", "nro.net", "CC BY 4.0", "sapics"):
        assert credit in notice
    total = sum(len(folder.joinpath(n).read_bytes()) for n in ("ipdata.npz", "SOURCE.json", "NOTICE"))
    assert total <= 12 * 1024 * 1024


def test_source_names_every_data_set(data: IpData) -> None:
    source = data.source()
    assert set(source) == {"asn", "geo", "registered"}
    assert source["asn"]["source"].startswith("@ip-location-db/asn ") and source["asn"]["date"]
    assert "db-ip.com" in source["asn"]["attribution"]
    assert source["registered"]["source"].startswith("iptocc ")
    assert SCOPES[0] == "global" and len(set(SCOPES)) == 11
