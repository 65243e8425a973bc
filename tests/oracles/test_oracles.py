"""The oracles are tested on their own: if they are wrong, every test built on them is wrong.

The strongest check is that the two independent oracles agree: tshark's per-frame fields, aggregated
by :func:`tshark_flows`, must reproduce every outer conn.log row Zeek wrote for the same trace.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path

import pytest

from oracles import Counts, FlowKey, find_corpus, read_generator_description
from oracles.tshark import (
    TsharkFlows,
    capinfos_summary,
    run_tshark,
    tshark_flows,
    tshark_frame_count,
)
from oracles.zeek import (
    ZeekConnCase,
    ZeekConnRow,
    aggregate_rows,
    conn_expectations,
    ipv6_frag_expectations,
    read_zeek_log,
)

CORPUS = find_corpus()
CASES = conn_expectations(CORPUS) if CORPUS else []


@cache
def _tshark_flows_cached(trace: Path) -> TsharkFlows:
    """One tshark run per trace, however many of its flows are parametrized."""
    return tshark_flows(trace)


def _case(corpus: Path, test_name: str) -> ZeekConnCase:
    matches = [case for case in conn_expectations(corpus) if case.test_name == test_name]
    assert len(matches) == 1, f"expected exactly one {test_name} baseline, found {len(matches)}"
    return matches[0]


def _outer_rows() -> list[object]:
    """(case, key) pairs whose Zeek counts describe the outermost IP header, i.e. what tshark counts."""
    params: list[object] = []
    for case in CASES:
        if case.unusable or (case.tunnel and not case.marks_inner_flows):
            continue
        outer = [row for row in case.rows if not row.tunnel_parents]
        for key in aggregate_rows(outer):
            params.append(pytest.param(case, key, id=f"{case.test_name}:{key}"))
    return params or [pytest.param(None, None, marks=pytest.mark.skip(reason="shared corpus not found"))]


# --- Zeek log parsing -----------------------------------------------------------------------------


def test_reads_a_full_conn_log_with_types(corpus: Path) -> None:
    log = read_zeek_log(corpus / "zeek/baselines/core.pcapng-pktsrc/conn.log")
    assert log.log_path == "conn"
    assert log.types is not None and len(log.types) == len(log.fields)
    assert len(log.rows) == 3
    first = log.rows[0]
    assert first["id.orig_h"] == "172.17.0.2"
    assert first["id.orig_p"] == 36343
    assert first["orig_ip_bytes"] == 82
    assert first["duration"] == pytest.approx(0.013961)
    assert first["local_orig"] is True and first["local_resp"] is False
    assert first["ts"] is None, "btest's masked timestamp must read as unknown, not as a number"
    assert first["tunnel_parents"] is None, "'-' is unset"


def test_reads_cut_files_that_have_only_some_columns(corpus: Path) -> None:
    qinq = read_zeek_log(corpus / "zeek/baselines/scripts.base.protocols.vlan.vlan-0-qinq/conn.log.cut")
    assert qinq.types is None and qinq.log_path is None
    assert qinq.fields == ("id.ctx.vlan", "id.ctx.inner_vlan", "vlan", "inner_vlan")
    assert qinq.rows == ({"id.ctx.vlan": 0, "id.ctx.inner_vlan": 0, "vlan": 0, "inner_vlan": 0},)
    single = read_zeek_log(corpus / "zeek/baselines/scripts.base.protocols.vlan.vlan-0/conn.log.cut")
    assert single.rows[0]["vlan"] == 0 and single.rows[0]["inner_vlan"] is None
    quic = read_zeek_log(corpus / "zeek/baselines/scripts.base.protocols.quic.chromium/conn.log.cut")
    assert quic.rows == ({"ts": None, "uid": "CHhAvVGS1DHFjwGM9", "history": "Dd", "service": "quic,ssl"},)


def test_empty_sets_escapes_and_custom_directives(tmp_path: Path) -> None:
    log_file = tmp_path / "x.log"
    log_file.write_text(
        "#separator \\x09\n#set_separator\t;\n#empty_field\t(empty)\n#unset_field\t-\n#path\tx\n"
        "#fields\tnames\tcounts\ttext\tflag\tmissing\n"
        "#types\tset[string]\tvector[count]\tstring\tbool\tcount\n"
        "(empty)\t1;2;3\ta\\x09b\tF\t-\n"
        "x;y\t(empty)\t(empty)\tT\t7\n",
        encoding="utf-8",
    )
    log = read_zeek_log(log_file)
    assert log.rows[0] == {"names": (), "counts": (1, 2, 3), "text": "a\tb", "flag": False, "missing": None}
    assert log.rows[1] == {"names": ("x", "y"), "counts": (), "text": "", "flag": True, "missing": 7}


def test_a_row_with_the_wrong_number_of_values_is_an_error(tmp_path: Path) -> None:
    log_file = tmp_path / "bad.log"
    log_file.write_text("#fields\ta\tb\n#types\tcount\tcount\n1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="1 values for 2 fields"):
        read_zeek_log(log_file)


def test_conn_expectations_lists_every_baseline_with_ip_bytes(corpus: Path) -> None:
    cases = {case.test_name: case for case in conn_expectations(corpus)}
    required = {
        "core.pcapng-pktsrc",
        "core.q-in-q",
        "core.radiotap",
        "core.wlanmon",
        "core.vntag",
        "core.tcp.missing-syn",
        "core.history-flip",
        "scripts.base.protocols.irc.starttls",
        "scripts.policy.protocols.conn.vlan-logging",
        "core.tunnels.gre",
        "core.tunnels.teredo",
        "core.tunnels.vxlan",
        "core.skip_analyzer",
    }
    assert required <= set(cases), f"missing: {sorted(required - set(cases))}"
    assert not any(name.startswith("scripts.base.protocols.quic") for name in cases), ".cut without bytes"
    assert {name for name, case in cases.items() if case.tunnel} == {
        "core.tunnels.gre",
        "core.tunnels.teredo",
        "core.tunnels.vxlan",
        "core.skip_analyzer",
    }
    assert cases["core.print-bpf-filters"].unusable, "its row comes from a trace outside the corpus"
    assert all(case.trace.is_file() and case.rows for case in cases.values())


def test_conn_row_counts_read_from_either_end(corpus: Path) -> None:
    row = _case(corpus, "core.pcapng-pktsrc").rows[0]
    key = row.key()
    assert key == FlowKey.of(17, "1.1.1.1", 53, "172.17.0.2", 36343)
    assert row.counts().seen_from(key, "172.17.0.2", 36343) == (1, 82, 1, 200)
    assert row.counts().seen_from(key, "1.1.1.1", 53) == (1, 200, 1, 82)
    with pytest.raises(ValueError, match="not an end"):
        key.is_a("1.1.1.1", 54)


def test_vlan_columns_are_typed(corpus: Path) -> None:
    rows = _case(corpus, "scripts.policy.protocols.conn.vlan-logging").rows
    assert {(row.vlan, row.inner_vlan) for row in rows} == {(13, 10)}


def test_rows_zeek_split_are_summed_per_five_tuple(corpus: Path) -> None:
    """Teredo.pcap: Zeek logs 192.168.2.16:1576 -> 75.126.130.163:80 three times (^fA, R, ^r)."""
    grouped = aggregate_rows(_case(corpus, "core.tunnels.teredo").rows)
    key = FlowKey.of(6, "192.168.2.16", 1576, "75.126.130.163", 80)
    counts, rows = grouped[key]
    assert [row.history for row in rows] == ["^fA", "R", "^r"]
    assert counts.seen_from(key, "192.168.2.16", 1576) == (2, 80, 2, 80)


def test_icmp6_rows_get_protocol_58(corpus: Path) -> None:
    rows = _case(corpus, "core.tunnels.teredo").rows
    icmp = [row for row in rows if row.proto == "icmp"]
    assert icmp and all(row.ip_proto == 58 for row in icmp)
    assert ZeekConnRow.key(icmp[0]).ip_proto == 58


def test_ipv6_fragment_expectations_from_zeek_output(corpus: Path) -> None:
    case = ipv6_frag_expectations(corpus)
    assert len(case.packets) == 5
    assert max(packet.ip_bytes for packet in case.packets) == 40 + 3238
    key = FlowKey.of(17, "2001:470:1f11:81f:d138:5f55:6d4:1fe2", 51851, "2607:f740:b::f93", 53)
    assert case.flows()[key].seen_from(key, "2607:f740:b::f93", 53) == (1, 3278, 2, 244)


# --- pcapng generator answer keys ------------------------------------------------------------------


def test_generator_descriptions_agree_with_capinfos(corpus: Path, tshark: str) -> None:
    """capinfos counts packet blocks (EPB/SPB/PB) just as the .txt files do, for all 48 files."""
    descriptions = sorted((corpus / "pcap-formats/pcapng-test-generator").glob("output_*/*/*.txt"))
    assert len(descriptions) == 48
    disagreements = []
    for txt in descriptions:
        expected = read_generator_description(txt)
        summary = capinfos_summary(txt.with_suffix(".pcapng"))
        if summary.packets != expected.packets or summary.file_type != "pcapng":
            disagreements.append(f"{txt.name}: .txt {expected.packets}, capinfos {summary}")
    assert not disagreements


def test_generator_description_fields(corpus: Path) -> None:
    description = read_generator_description(
        corpus / "pcap-formats/pcapng-test-generator/output_le/difficult/test202.txt"
    )
    assert description.block_counts["SHB"] == 3
    assert (description.packets, description.interfaces) == (8, 5)
    assert description.block_sequence[:3] == ("SHB", "IDB", "NRB")


def test_tshark_shows_custom_blocks_as_frames(corpus: Path, tshark: str) -> None:
    """A known tshark 4.0 quirk, pinned so we notice when it changes: CB/DCB blocks become frames.

    test017 holds only an SHB and four custom blocks (no packets), yet tshark prints four frames.
    """
    txt = corpus / "pcap-formats/pcapng-test-generator/output_le/basic/test017.txt"
    description = read_generator_description(txt)
    count = tshark_frame_count(txt.with_suffix(".pcapng"))
    assert description.packets == 0
    assert count.frames == description.block_counts["CB"] + description.block_counts["DCB"] == 4


# --- tshark ----------------------------------------------------------------------------------------


def test_tshark_frame_count_of_a_clean_file(corpus: Path, tshark: str) -> None:
    count = tshark_frame_count(corpus / "zeek/traces/pcapng-multi-interface.pcapng")
    rows = _case(corpus, "core.pcapng-pktsrc").rows
    assert count.clean and not count.damaged
    assert count.frames == sum(row.orig_pkts + row.resp_pkts for row in rows) == 6


def test_tshark_frame_count_of_a_damaged_file(corpus: Path, tshark: str) -> None:
    count = tshark_frame_count(corpus / "suricata-verify/bug-6875-01/fuzz.pcap")
    assert count.damaged and not count.clean
    assert count.error is not None and "damaged or corrupt" in count.error
    assert count.frames == 2


def test_tshark_flows_match_zeek_on_multi_interface_pcapng(corpus: Path, tshark: str) -> None:
    flows = tshark_flows(corpus / "zeek/traces/pcapng-multi-interface.pcapng")
    key = FlowKey.of(17, "172.17.0.2", 36343, "1.1.1.1", 53)
    assert flows.frames == 6 and len(flows.flows) == 3
    assert flows.flows[key].seen_from("172.17.0.2", 36343) == (1, 82, 1, 200)
    assert flows.flows[key].initiator == ("a" if key.is_a("172.17.0.2", 36343) else "b")


@pytest.mark.corpus
@pytest.mark.parametrize(("case", "key"), _outer_rows())
def test_tshark_reproduces_zeek_outer_flows(case: ZeekConnCase, key: FlowKey, tshark: str) -> None:
    """Cross-check of the two oracles; inner (decapsulated) tunnel flows are not what tshark counts."""
    expected, rows = aggregate_rows(row for row in case.rows if not row.tunnel_parents)[key]
    flows = _tshark_flows_cached(case.trace)
    assert key in flows.flows, f"tshark has no {key}; it has {sorted(map(str, flows.flows))}"
    assert flows.flows[key].counts == expected, "\n".join(str(row) for row in rows)


def test_tshark_counts_a_fragmented_datagram_once(corpus: Path, tshark: str) -> None:
    """ipv6-fragmented-dns.pcap: Zeek delivered 5 datagrams from 8 frames; tshark must agree per flow."""
    zeek = ipv6_frag_expectations(corpus)
    flows = tshark_flows(zeek.trace)
    assert {key: flow.counts for key, flow in flows.flows.items()} == zeek.flows()
    assert len(flows.fragment_frames) + len(flows.unreassembled_frames) == flows.frames - len(zeek.packets)
    assert flows.unreassembled_frames, "the lone trailing fragment never completes and must be listed"


def test_tshark_counts_the_outer_header_of_a_gre_tunnel(corpus: Path, tshark: str) -> None:
    """Every frame of gre-sample.pcap is GRE; the outer flow carries Zeek's inner flows plus 24 bytes each
    (20-byte outer IPv4 header and the 4-byte basic GRE header)."""
    inner = _case(corpus, "core.tunnels.gre").rows
    inner_packets = sum(row.orig_pkts + row.resp_pkts for row in inner)
    inner_bytes = sum(row.orig_ip_bytes + row.resp_ip_bytes for row in inner)
    flows = tshark_flows(corpus / "zeek/traces/tunnels/gre-sample.pcap")
    assert [key.ip_proto for key in flows.flows] == [47]
    (outer,) = flows.flows.values()
    total = outer.counts + Counts()
    assert total.packets_ab + total.packets_ba == inner_packets == flows.frames
    assert total.bytes_ab + total.bytes_ba == inner_bytes + 24 * inner_packets


def test_tshark_keys_icmp_echo_like_zeek(corpus: Path, tshark: str) -> None:
    """Echo request (type 8) and reply (type 0) form one flow keyed (8, 0), as in Zeek's conn.log."""
    flows = tshark_flows(corpus / "zeek/traces/trunc/icmp-payload-trunc.pcap")
    key = FlowKey.of(1, "10.0.0.1", 8, "74.125.225.41", 0)
    assert key in flows.flows
    assert flows.flows[key].seen_from("10.0.0.1", 8) == (1, 84, 1, 84)


def test_tshark_misreads_the_truncated_suricata_pcap(corpus: Path, tshark: str) -> None:
    """Pins the evidence behind TSHARK_MISCOUNTS in test_corpus_robustness.py.

    Read by the pcap spec (16-byte record headers), record 1 is a consistent Ethernet frame between two
    VirtualBox NICs (08:00:27:...) carrying a 174-byte IPv4 packet, and record 2 claims 1.4 GB. tshark
    instead picks another pcap variant: its frame 1 shows the IPv4 header bytes as a MAC address and its
    frame 2 is one byte long with a negative timestamp.
    """
    path = corpus / "suricata-verify/bug-6875-01/fuzz.pcap"
    data = path.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4 and struct.unpack("<I", data[20:24])[0] == 1
    _ts, _us, captured, original = struct.unpack("<IIII", data[24:40])
    assert captured == original == 188
    assert data[40:46].hex(":") == "08:00:27:a1:27:e8" and data[52:54] == b"\x08\x00"
    assert struct.unpack(">H", data[56:58])[0] == 188 - 14, "IPv4 total length fills the frame"
    assert struct.unpack("<I", data[228 + 8 : 228 + 12])[0] == 1409179648 > 262144
    result = run_tshark(["-r", str(path), "-T", "fields", "-e", "eth.src", "-e", "frame.cap_len"])
    frames = [line.split("\t") for line in result.stdout.splitlines()]
    assert frames == [["45:00:00:ae:11:16", "188"], ["", "1"]]
