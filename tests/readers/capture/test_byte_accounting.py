"""Each byte-accounting and flow rule of docs/byte-accounting.md on a synthetic capture built in code.

Expected numbers come from the bytes the test itself wrote (the IP datagrams' own lengths), never from
the reader; tshark re-checks the same files where it is installed (see test_tshark_agreement.py).
"""

from __future__ import annotations

from pathlib import Path

import droneaudit
from droneaudit.synth import Frame, IfaceSpec, write_pcap, write_pcapng
from droneaudit.synth.link import ethernet, sll2
from droneaudit.synth.packets import fragment_ipv4, fragment_ipv6, icmp, ipv4, ipv6, tcp, udp

ETH, RAW, SLL2 = 1, 101, 276
PHONE, SERVER, GW = "192.168.1.20", "47.88.61.146", "192.168.1.1"
T0 = 1_700_000_000 * 1_000_000_000
MS = 1_000_000


def _udp4(src: str, dst: str, sport: int, dport: int, size: int) -> bytes:
    return ipv4(src, dst, 17, udp(sport, dport, b"x" * size, src_ip=src, dst_ip=dst))


def _flows(path: Path, **kw: object) -> list[dict[str, object]]:
    return droneaudit.scan([path], **kw).flow_records()  # type: ignore[arg-type]


def _codes(path: Path) -> dict[str, int]:
    return {p.code: p.count for p in droneaudit.scan([path]).problems}


def test_ip_bytes_are_total_length_even_when_snaplen_cuts(tmp_path: Path) -> None:
    pkt = _udp4(PHONE, SERVER, 40000, 443, 1200)
    path = tmp_path / "snap.pcap"
    write_pcap(path, [Frame(T0, ethernet(pkt, ethertype=0x0800))], link_type=ETH, snaplen=96)
    (flow,) = _flows(path)
    assert flow["bytes_up"] == len(pkt) == 1228
    assert _codes(path) == {"snaplen-cut-payload": 1}


def test_ethernet_padding_is_not_data(tmp_path: Path) -> None:
    pkt = _udp4(PHONE, SERVER, 40000, 443, 2)  # 30-byte datagram in a 60-byte padded frame
    frame = ethernet(pkt, ethertype=0x0800, min_size=60)
    assert len(frame) == 60
    path = tmp_path / "pad.pcap"
    write_pcap(path, [Frame(T0, frame)], link_type=ETH)
    (flow,) = _flows(path)
    assert flow["bytes_up"] == 30
    assert _codes(path) == {}


def test_tso_packet_with_zero_length_uses_frame_length(tmp_path: Path) -> None:
    body = tcp(40000, 443, b"y" * 5000, flags="PA", seq=1, ack=1)
    pkt = ipv4(PHONE, SERVER, 6, body, total_length=0)
    path = tmp_path / "tso.pcap"
    write_pcap(path, [Frame(T0, pkt)], link_type=RAW)
    (flow,) = _flows(path)
    assert flow["bytes_up"] == 20 + len(body)


def test_ipv4_fragments_count_once_per_datagram(tmp_path: Path) -> None:
    whole = _udp4(PHONE, SERVER, 40000, 443, 3000)
    frags = fragment_ipv4(whole, 1500)
    assert len(frags) == 3
    frames = [Frame(T0 + i * MS, f) for i, f in enumerate(reversed(frags))]  # out of order on purpose
    path = tmp_path / "frag4.pcap"
    write_pcap(path, frames, link_type=RAW)
    case = droneaudit.scan([path])
    (flow,) = case.flow_records()
    assert (flow["packets_up"], flow["bytes_up"]) == (1, len(whole))
    assert (flow["device_port"], flow["remote_port"]) == (40000, 443)
    assert case.stats.fragments == 3


def test_ipv6_fragments_count_once_per_datagram(tmp_path: Path) -> None:
    src, dst = "2001:db8::20", "2600:1f18::1"
    whole = ipv6(src, dst, 17, udp(5353, 53, b"z" * 2500, src_ip=src, dst_ip=dst))
    frags = fragment_ipv6(whole, 1280)
    path = tmp_path / "frag6.pcap"
    write_pcap(path, [Frame(T0 + i * MS, f) for i, f in enumerate(frags)], link_type=RAW)
    (flow,) = _flows(path)
    assert (flow["packets_up"] + flow["packets_down"], flow["bytes_up"] + flow["bytes_down"]) == (
        1,
        len(whole),
    )


def test_missing_first_fragment_is_a_problem_not_a_flow(tmp_path: Path) -> None:
    frags = fragment_ipv4(_udp4(PHONE, SERVER, 40000, 443, 3000), 1500)
    path = tmp_path / "lost.pcap"
    write_pcap(path, [Frame(T0, frags[1]), Frame(T0 + MS, frags[2])], link_type=RAW)
    assert _flows(path) == []
    assert "incomplete-fragmented-datagram" in _codes(path)


def test_vlan_and_qinq_are_part_of_the_key(tmp_path: Path) -> None:
    pkt = _udp4(PHONE, SERVER, 40000, 443, 10)
    frames = [
        Frame(T0, ethernet(pkt, ethertype=0x0800, vlans=[10])),
        Frame(T0 + MS, ethernet(pkt, ethertype=0x0800, vlans=[20, 30])),
    ]
    path = tmp_path / "vlan.pcap"
    write_pcap(path, frames, link_type=ETH)
    assert sorted(f["vlan"] for f in _flows(path)) == [10, 20]  # type: ignore[type-var]


def test_session_splits_after_udp_idle_timeout_and_syn_after_fin(tmp_path: Path) -> None:
    u = _udp4(PHONE, GW, 40000, 53, 20)
    syn = ipv4(PHONE, SERVER, 6, tcp(40001, 443, flags="S"))
    fin = ipv4(PHONE, SERVER, 6, tcp(40001, 443, flags="FA", seq=1))
    frames = [
        Frame(T0, u),
        Frame(T0 + 59_000 * MS, u),
        Frame(T0 + 200_000 * MS, u),  # 59 s: same; +141 s: new
        Frame(T0, syn),
        Frame(T0 + MS, fin),
        Frame(T0 + 2 * MS, syn),  # SYN after FIN: new connection
    ]
    path = tmp_path / "sessions.pcap"
    write_pcap(path, sorted(frames, key=lambda f: f.ts_ns), link_type=RAW)
    flows = _flows(path)
    udp_counts = sorted(f["packets_up"] for f in flows if f["proto"] == "udp")  # type: ignore[type-var]
    tcp_counts = sorted(f["packets_up"] for f in flows if f["proto"] == "tcp")  # type: ignore[type-var]
    assert udp_counts == [1, 2]
    assert tcp_counts == [1, 2]


def test_icmp_echo_pairs_into_one_flow_with_type_and_code(tmp_path: Path) -> None:
    req = ipv4(PHONE, SERVER, 1, icmp(8, 0, b"ping", ident=7, seq=1))
    rep = ipv4(SERVER, PHONE, 1, icmp(0, 0, b"ping", ident=7, seq=1))
    path = tmp_path / "icmp.pcap"
    write_pcap(path, [Frame(T0, req), Frame(T0 + MS, rep)], link_type=RAW)
    (flow,) = _flows(path)
    assert (flow["proto"], flow["device_port"], flow["remote_port"]) == ("icmp", 8, 0)
    assert (flow["packets_up"], flow["packets_down"]) == (1, 1)


def test_rotated_files_merge_into_one_flow_ordered_by_time(tmp_path: Path) -> None:
    pkt = _udp4(PHONE, SERVER, 40000, 443, 100)
    first, second = tmp_path / "cap1.pcap", tmp_path / "cap0.pcap"  # names sort against time on purpose
    write_pcap(first, [Frame(T0, pkt), Frame(T0 + MS, pkt)], link_type=RAW)
    write_pcap(second, [Frame(T0 + 2 * MS, pkt)], link_type=RAW)
    (flow,) = droneaudit.scan([second, first]).flow_records()
    assert flow["packets_up"] == 3
    assert (flow["file"], flow["first_frame"]) == (str(first), 1)


def test_device_side_rules_in_order(tmp_path: Path) -> None:
    """Interface address beats scope; SLL2 'outgoing' beats initiator; --device beats everything."""
    a, b = "203.0.113.5", "198.51.100.7"  # both global: scope cannot decide
    out = ipv4(a, b, 17, udp(1000, 2000, b"q"))
    back = ipv4(b, a, 17, udp(2000, 1000, b"r"))
    sll_path = tmp_path / "sll2.pcap"
    write_pcap(
        sll_path,
        [
            Frame(T0, sll2(back, protocol=0x0800, ifindex=3, pkttype=0)),
            Frame(T0 + MS, sll2(out, protocol=0x0800, ifindex=3, pkttype=4)),
        ],
        link_type=SLL2,
    )
    (flow,) = _flows(sll_path)
    assert (flow["device_ip"], flow["device_basis"], flow["initiator"]) == (a, "direction", "remote")
    assert flow["interface"] == "if0#3"
    (flagged,) = _flows(sll_path, devices=[b])
    assert (flagged["device_ip"], flagged["device_basis"]) == (b, "flag")

    ng = tmp_path / "iface.pcapng"
    spec = IfaceSpec(RAW, name="wlan0", ipv4_addrs=[(SERVER, "255.255.255.255")])
    write_pcapng(ng, [spec], [Frame(T0, _udp4(SERVER, PHONE, 443, 40000, 5))])
    (flow,) = _flows(ng)
    assert (flow["device_ip"], flow["device_basis"], flow["interface"]) == (SERVER, "interface", "wlan0")


def test_private_side_is_the_device_and_cgnat_remote_is_not_lan(tmp_path: Path) -> None:
    path = tmp_path / "scope.pcap"
    write_pcap(path, [Frame(T0, _udp4("100.72.1.9", PHONE, 41641, 41641, 5))], link_type=RAW)
    (flow,) = _flows(path)
    assert (flow["device_ip"], flow["remote_ip"], flow["device_basis"]) == (PHONE, "100.72.1.9", "scope")


def test_same_connection_on_two_interfaces_counts_once(tmp_path: Path) -> None:
    pkt = _udp4(PHONE, SERVER, 40000, 443, 50)
    specs = [IfaceSpec(RAW, name="br0"), IfaceSpec(RAW, name="wlan0", ipv4_addrs=[(PHONE, "255.255.255.0")])]
    frames = [Frame(T0, pkt, interface=0), Frame(T0 + 1000, pkt, interface=1)]
    path = tmp_path / "any.pcapng"
    write_pcapng(path, specs, frames)
    case = droneaudit.scan([path])
    flows = case.flow_records()
    kept = [f for f in flows if f["duplicate_of"] is None]
    assert len(flows) == 2 and len(kept) == 1
    assert kept[0]["interface"] == "wlan0"
    assert "duplicate-across-interfaces" in {p.code for p in case.problems}


def test_nanosecond_pcapng_times_and_drop_counts(tmp_path: Path) -> None:
    spec = IfaceSpec(RAW, name="eth0", tsresol_exp10=9)
    path = tmp_path / "ns.pcapng"
    write_pcapng(
        path, [spec], [Frame(T0 + 123_456_789, _udp4(PHONE, SERVER, 1, 2, 3))], interface_stats=[(0, 10, 4)]
    )
    case = droneaudit.scan([path])
    (flow,) = case.flow_records()
    assert flow["first_seen"] == "2023-11-14T22:13:20.123456Z"
    assert case.stats.dropped_by_capture == 4


def test_both_sides_of_a_hotspot_nat_count_once(tmp_path: Path) -> None:
    """``tcpdump -i any`` on a hotspot: the phone's flow on wlan0 and its NATed twin on the uplink."""
    uplink = "100.88.4.2"  # the hotspot's own CGNAT address
    frames = []
    for k in range(3):
        t = T0 + k * MS
        frames.append(
            Frame(t, sll2(_udp4(PHONE, SERVER, 40000, 443, 80), protocol=0x0800, ifindex=4, pkttype=0))
        )
        frames.append(
            Frame(
                t + 50_000, sll2(_udp4(uplink, SERVER, 61000, 443, 80), protocol=0x0800, ifindex=2, pkttype=4)
            )
        )
    path = tmp_path / "hotspot-any.pcap"
    write_pcap(path, frames, link_type=SLL2)
    case = droneaudit.scan([path])
    kept = [f for f in case.flow_records() if f["duplicate_of"] is None]
    assert [(f["device_ip"], f["interface"], f["packets_up"]) for f in kept] == [(PHONE, "if0#4", 3)]
    assert "duplicate-across-interfaces" in {p.code for p in case.problems}
