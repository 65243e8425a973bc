"""The verdict and the egress checks on synthetic captures with fixed (injected) enrichment tables.

Each capture is built by the test, so the expected verdict follows from what it contains: pass for a
local-only session, fail for egress (with the catalog's category deciding severity), and inconclusive for
each reason the issue names: empty, one-way, no device traffic, drops reported, unreadable parts.
"""

from __future__ import annotations

from pathlib import Path

import droneaudit
from droneaudit.checks.policy import Policy
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import AsnTable, GeoTable, IpData
from droneaudit.synth import Frame, IfaceSpec, write_pcap, write_pcapng
from droneaudit.synth.app import dns_query, dns_response
from droneaudit.synth.link import ethernet
from droneaudit.synth.packets import ipv4, tcp, udp
from droneaudit.synth.tls import tls_client_hello

# Public addresses (documentation ranges count as local); owners come from the injected tables below.
PHONE, GW, SYNC, TILES, RAW = "192.168.43.23", "192.168.43.1", "47.88.61.146", "52.85.151.52", "8.209.1.1"
T0 = 1_773_480_600 * 1_000_000_000
MS = 1_000_000

CATALOG = Catalog.from_toml(
    """
[meta]
version = "test"
updated = 2026-01-01

[[entry]]
pattern = "logs.drone.example"
vendor = "DroneCo"
service = "flight log sync"
category = "flight-log-sync"
drone_vendor = true
confidence = "B"
sources = ["test fixture"]

[[entry]]
pattern = "*.tiles.example"
vendor = "MapCo"
service = "tiles"
category = "maps"
confidence = "B"
sources = ["test fixture"]

[[entry]]
pattern = "geo.drone.example"
vendor = "DroneCo"
service = "geofence"
category = "flysafe-geofence"
drone_vendor = true
confidence = "B"
sources = ["test fixture"]

[[entry]]
pattern = "beta.drone-staging.example"
vendor = "DroneCo"
service = "test backend"
category = "staging"
drone_vendor = true
confidence = "B"
sources = ["test fixture"]
"""
)
IPDATA = IpData.from_tables(
    asn4=AsnTable.from_rows(
        [
            ("47.88.0.0", "47.88.255.255", 64500, "Example Cloud"),
            ("52.85.0.0", "52.85.255.255", 64501, "Tile CDN"),
        ],
        v6=False,
    ),
    asn6=AsnTable.from_rows([], v6=True),
    geo4=GeoTable.from_rows([("47.88.0.0", "47.88.255.255", "CN")], v6=False),
    geo6=GeoTable.from_rows([], v6=True),
    registered=lambda ips: ["CN" if ip.startswith("47.88.") else None for ip in ips],
)


def _scan(path: Path, policy: Policy | None = None) -> droneaudit.Case:
    return droneaudit.scan([path], policy=policy, catalog=CATALOG, ipdata=IPDATA)


def _https(remote: str, sport: int, host: str | None, t: int, up: int, down: int) -> list[Frame]:
    hello = tls_client_hello(host) if host else b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"
    frames = [
        Frame(t, ipv4(PHONE, remote, 6, tcp(sport, 443, flags="S"))),
        Frame(t + MS, ipv4(remote, PHONE, 6, tcp(443, sport, flags="SA"))),
        Frame(t + 2 * MS, ipv4(PHONE, remote, 6, tcp(sport, 443, hello, flags="PA", seq=1))),
    ]
    for k in range(up):
        frames.append(
            Frame(t + (3 + k) * MS, ipv4(PHONE, remote, 6, tcp(sport, 443, b"u" * 1400, flags="A")))
        )
    for k in range(down):
        frames.append(
            Frame(t + (3 + up + k) * MS, ipv4(remote, PHONE, 6, tcp(443, sport, b"d" * 1400, flags="A")))
        )
    return frames


def _write(path: Path, frames: list[Frame]) -> Path:
    write_pcap(path, sorted(frames, key=lambda f: f.ts_ns), link_type=101)
    return path


def test_local_only_session_passes(tmp_path: Path) -> None:
    frames = [Frame(T0 + k * MS, ipv4(PHONE, GW, 17, udp(40006, 9003, b"c" * 40))) for k in range(5)]
    frames += [Frame(T0 + k * MS + 500, ipv4(GW, PHONE, 17, udp(9003, 40006, b"v" * 900))) for k in range(5)]
    case = _scan(_write(tmp_path / "ldm.pcap", frames))
    assert case.verdict is not None and case.verdict.status == "pass"
    assert case.exit_code == 0
    assert [e.local for e in case.endpoints] == [True]


def test_flight_log_upload_fails_with_high_findings(tmp_path: Path) -> None:
    frames = _https(SYNC, 50000, "logs.drone.example", T0, up=800, down=3)
    frames += _https(TILES, 50001, "a.tiles.example", T0 + 5000 * MS, up=1, down=20)
    case = _scan(_write(tmp_path / "upload.pcap", frames))
    v = case.verdict
    assert v is not None and (v.status, v.scope) == ("fail", "device")
    by_host = {e.host: e for e in case.endpoints}
    sync = by_host["logs.drone.example"]
    assert (sync.asn, sync.org, sync.country_registered, sync.country_geo) == (
        64500,
        "Example Cloud",
        "CN",
        "CN",
    )
    assert sync.entry is not None and sync.entry.category == "flight-log-sync"
    codes = {(f.code, f.host): f.severity for f in case.findings}
    assert codes[("internet-egress", "logs.drone.example")] == "high"
    assert codes[("upload-heavy", "logs.drone.example")] == "high"
    assert codes[("internet-egress", "a.tiles.example")] == "low"
    assert case.exit_code == 1


def test_vendor_scope_and_policy_allowances(tmp_path: Path) -> None:
    path = _write(tmp_path / "tiles.pcap", _https(TILES, 50001, "a.tiles.example", T0, up=1, down=5))
    assert _scan(path).verdict.status == "fail"  # type: ignore[union-attr]
    assert _scan(path, Policy(scope="vendor")).verdict.status == "pass"  # type: ignore[union-attr]
    assert _scan(path, Policy(allow_categories=("maps",))).verdict.status == "pass"  # type: ignore[union-attr]
    assert _scan(path, Policy(allow_hosts=("*.tiles.example",))).verdict.status == "pass"  # type: ignore[union-attr]


def test_unnamed_remote_counts_even_in_vendor_scope(tmp_path: Path) -> None:
    path = _write(tmp_path / "raw.pcap", _https(RAW, 50002, None, T0, up=2, down=2))
    case = _scan(path, Policy(scope="vendor"))
    assert case.verdict is not None and case.verdict.status == "fail"
    assert any(f.code == "unnamed-remote" and f.severity == "medium" for f in case.findings)


def test_lookup_without_connection_and_staging(tmp_path: Path) -> None:
    q = ipv4(PHONE, GW, 17, udp(53000, 53, dns_query("geo.drone.example", "A", 7)))
    r = ipv4(GW, PHONE, 17, udp(53, 53000, dns_response("geo.drone.example", [("A", SYNC, 60)], txid=7)))
    frames = [Frame(T0, q), Frame(T0 + MS, r)]
    frames += _https(SYNC, 50003, "beta.drone-staging.example", T0 + 10 * MS, up=1, down=1)
    case = _scan(_write(tmp_path / "lookup.pcap", frames))
    lookups = [f for f in case.findings if f.code == "lookup-without-connection"]
    assert [(f.host, f.severity, f.evidence[0]["frame"]) for f in lookups] == [
        ("geo.drone.example", "medium", 1)
    ]
    assert any(f.code == "staging-host" and f.severity == "high" for f in case.findings)


def _reasons(case: droneaudit.Case) -> tuple[str, ...]:
    assert case.verdict is not None and case.verdict.status == "inconclusive"
    return case.verdict.reasons


def test_inconclusive_empty_capture(tmp_path: Path) -> None:
    assert "no IP traffic" in _reasons(_scan(_write(tmp_path / "empty.pcap", [])))[0]


def test_inconclusive_one_way_capture(tmp_path: Path) -> None:
    frames = [Frame(T0 + k * MS, ipv4(PHONE, GW, 17, udp(40006, 9003, b"c"))) for k in range(3)]
    assert "one-way" in _reasons(_scan(_write(tmp_path / "oneway.pcap", frames)))[0]


def test_inconclusive_no_device_traffic(tmp_path: Path) -> None:
    path = tmp_path / "inbound.pcap"
    _write(path, [Frame(T0, ipv4(GW, PHONE, 17, udp(9003, 40006, b"v")))])
    case = droneaudit.scan([path], devices=[PHONE], catalog=CATALOG, ipdata=IPDATA)
    assert "no traffic from the device" in _reasons(case)[0]


def test_inconclusive_when_capture_dropped_packets(tmp_path: Path) -> None:
    path = tmp_path / "drops.pcapng"
    frames = [
        Frame(T0, ipv4(PHONE, GW, 17, udp(1, 2, b"a"))),
        Frame(T0 + MS, ipv4(GW, PHONE, 17, udp(2, 1, b"b"))),
    ]
    write_pcapng(path, [IfaceSpec(101, name="wlan0")], frames, interface_stats=[(0, 100, 7)])
    assert _reasons(_scan(path)) == ("the capture reports 7 dropped packets",)


def test_inconclusive_when_part_is_unreadable(tmp_path: Path) -> None:
    frames = [
        Frame(T0, ipv4(PHONE, GW, 17, udp(1, 2, b"a"))),
        Frame(T0 + MS, ipv4(GW, PHONE, 17, udp(2, 1, b"b"))),
    ]
    path = _write(tmp_path / "cut.pcap", frames)
    path.write_bytes(path.read_bytes()[:-5])
    frames2 = [Frame(T0 + 2 * MS, ipv4(PHONE, GW, 17, udp(1, 2, b"a")))] * 1
    _write(tmp_path / "other.pcap", [*frames2, Frame(T0 + 3 * MS, ipv4(GW, PHONE, 17, udp(2, 1, b"c")))])
    case = droneaudit.scan([path, tmp_path / "other.pcap"], catalog=CATALOG, ipdata=IPDATA)
    assert _reasons(case) == (f"unreadable parts in 1 file(s): {path}",)


def test_fail_beats_inconclusive_but_keeps_the_caveat(tmp_path: Path) -> None:
    path = tmp_path / "both.pcapng"
    frames = _https(SYNC, 50000, "logs.drone.example", T0, up=1, down=1)
    write_pcapng(path, [IfaceSpec(101, name="wlan0")], frames, interface_stats=[(0, 10, 2)])
    v = _scan(path).verdict
    assert v is not None and v.status == "fail"
    assert v.reasons[-1] == "the capture reports 2 dropped packets"


def _pcapdroid(frame_ip: bytes, uid: int, app: str) -> bytes:
    """An Ethernet frame with PCAPdroid's trailer (layout from its tools/pcapdroid.lua dissector)."""
    trailer = (0x01072021).to_bytes(4, "big") + uid.to_bytes(4, "big") + app.encode().ljust(16, b"\0")
    return ethernet(frame_ip, ethertype=0x0800) + trailer + b"\0\0\0\0"


def test_app_scope_uses_pcapdroid_labels(tmp_path: Path) -> None:
    dji = [
        Frame(f.ts_ns, _pcapdroid(f.data, 10234, "dji.go.v5"))
        for f in _https(SYNC, 50000, "logs.drone.example", T0, up=1, down=1)
    ]
    maps = [
        Frame(f.ts_ns, _pcapdroid(f.data, 10077, "com.google.maps"))
        for f in _https(TILES, 50001, "a.tiles.example", T0 + 50 * MS, up=1, down=1)
    ]
    path = tmp_path / "pcapdroid.pcap"
    write_pcap(path, sorted(dji + maps, key=lambda f: f.ts_ns), link_type=1)
    case = _scan(path)
    assert {f["app"] for f in case.flow_records()} == {"dji.go.v5", "com.google.maps"}
    only_maps = _scan(path, Policy(scope="app:com.google.maps"))
    assert [e.host for e in only_maps.endpoints] == ["a.tiles.example"]
    assert only_maps.verdict is not None and only_maps.verdict.status == "fail"
    flows = only_maps.flow_records()
    assert (
        sum(f["bytes_up"] for f in flows if f["host"] == "logs.drone.example") > 0
    )  # all flows stay reported
    unlabelled = _scan(
        _write(tmp_path / "plain.pcap", _https(TILES, 50001, "a.tiles.example", T0, 1, 1)),
        Policy(scope="app:dji.go.v5"),
    )
    assert unlabelled.verdict is not None and unlabelled.verdict.status == "inconclusive"
    assert "no per-app labels" in unlabelled.verdict.reasons[0]
