"""DNS message parser (RFC 1035): questions, A/AAAA/CNAME answers, compression, hostile and cut-off input.

Messages are written byte by byte here (or with ``droneaudit.synth.app``, itself written from the RFC),
so every expected value is something the test put on the wire. Damaged input must give None or the
records read before the damage, never an exception.
"""

from __future__ import annotations

import ipaddress
import random
import struct

import pytest

from droneaudit.readers.protocols import dns
from droneaudit.synth.packets import dns_query, dns_response

QR, TC, RD, RA = 0x8000, 0x0200, 0x0100, 0x0080
RESPONSE_FLAGS = QR | RD | RA


def header(*, flags: int = RESPONSE_FLAGS, qd: int = 1, an: int = 0, txid: int = 0x1234) -> bytes:
    return struct.pack(">HHHHHH", txid, flags, qd, an, 0, 0)


def name(text: str) -> bytes:
    """Uncompressed wire form of a dotted name."""
    labels = [label.encode() for label in text.split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def pointer(offset: int) -> bytes:
    return struct.pack(">H", 0xC000 | offset)


def question(owner: bytes, qtype: int = dns.A) -> bytes:
    return owner + struct.pack(">HH", qtype, 1)


def record(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def a_rdata(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


# --- well-formed messages ---------------------------------------------------------------------------


def test_query_has_question_and_no_answers() -> None:
    msg = header(flags=RD, an=0, txid=0xBEEF) + question(name("api.example.com"), dns.AAAA)
    parsed = dns.parse(msg)
    assert parsed == dns.DnsMessage(0xBEEF, False, 0, "api.example.com", dns.AAAA, (), False)


def test_response_with_cname_chain_and_compression_pointers() -> None:
    # question at 12; the CNAME owner points at the question, its target shares "cdn.example" with
    # nothing before it, and the A record owner points into the CNAME's RDATA.
    q = question(name("cdn-alias.example"))
    cname_rdata = b"\x04edge" + b"\x03cdn" + b"\x07example\x00"
    first = record(pointer(12), dns.CNAME, cname_rdata, ttl=60)
    cname_rdata_at = 12 + len(q) + 2 + 10
    second = record(pointer(cname_rdata_at), dns.A, a_rdata("203.0.113.7"), ttl=30)
    parsed = dns.parse(header(an=2) + q + first + second)
    assert parsed is not None
    assert (parsed.is_response, parsed.qname, parsed.qtype, parsed.rcode) == (True, "cdn-alias.example", 1, 0)
    assert parsed.answers == (
        dns.DnsRecord("cdn-alias.example", dns.CNAME, 60, "edge.cdn.example"),
        dns.DnsRecord("edge.cdn.example", dns.A, 30, "203.0.113.7"),
    )


def test_synth_response_round_trips_in_order() -> None:
    answers = [("CNAME", "b.example.net", 60), ("AAAA", "64:ff9b::cb00:7107", 20), ("A", "192.0.2.9", 20)]
    parsed = dns.parse(dns_response("A.Example.COM", answers, qtype="AAAA", txid=7))
    assert parsed is not None
    assert parsed.qname == "a.example.com", "names are compared lower case"
    assert [(r.rtype, r.name, r.value) for r in parsed.answers] == [
        (dns.CNAME, "a.example.com", "b.example.net"),
        (dns.AAAA, "b.example.net", "64:ff9b::cb00:7107"),
        (dns.A, "b.example.net", "192.0.2.9"),
    ]


def test_uncompressed_response_parses_like_compressed() -> None:
    answers = [("CNAME", "x.example.org", 5), ("A", "198.51.100.1", 5)]
    compressed = dns.parse(dns_response("q.example", answers))
    plain = dns.parse(dns_response("q.example", answers, compress=False))
    assert compressed is not None and plain is not None
    assert compressed.answers == plain.answers


def test_nxdomain_rcode_and_tc_bit() -> None:
    nx = dns.parse(dns_response("missing.example", [], rcode=3))
    assert nx is not None and (nx.rcode, nx.answers, nx.truncated) == (3, (), False)
    cut = bytearray(dns_response("big.example", [("A", "192.0.2.1", 1)]))
    cut[2] |= TC >> 8
    parsed = dns.parse(bytes(cut))
    assert parsed is not None and parsed.truncated


def test_other_record_types_are_skipped_but_not_the_records_after_them() -> None:
    q = question(name("mixed.example"))
    txt = record(pointer(12), 16, b"\x05hello")
    a_bad_length = record(pointer(12), dns.A, b"\x01\x02\x03")
    aaaa = record(pointer(12), dns.AAAA, a_rdata("2001:db8::7"))
    parsed = dns.parse(header(an=3) + q + txt + a_bad_length + aaaa)
    assert parsed is not None
    assert [(r.rtype, r.value) for r in parsed.answers] == [(dns.AAAA, "2001:db8::7")]


def test_query_built_by_synth() -> None:
    parsed = dns.parse(dns_query("cloud.dji.example", "HTTPS", txid=99))
    assert parsed is not None
    assert (parsed.txid, parsed.is_response, parsed.qname, parsed.qtype) == (
        99,
        False,
        "cloud.dji.example",
        65,
    )


def test_root_name_question() -> None:
    parsed = dns.parse(header(flags=RD) + question(b"\x00", 2))
    assert parsed is not None and parsed.qname == ""


# --- compression loops and bad pointers ------------------------------------------------------------


@pytest.mark.parametrize(
    "qname_bytes",
    [
        pytest.param(pointer(12), id="points-at-itself"),
        pytest.param(b"\x01a" + pointer(12), id="label-then-pointer-back"),
        pytest.param(pointer(14) + pointer(12), id="two-pointers-ping-pong"),
        pytest.param(pointer(0x3FFF), id="points-past-the-end"),
        pytest.param(b"\x01a\x01b\x01c" + pointer(12), id="long-cycle"),
    ],
)
def test_compression_loop_in_question_gives_none(qname_bytes: bytes) -> None:
    assert dns.parse(header(flags=RD) + qname_bytes + struct.pack(">HH", 1, 1)) is None


def test_compression_loop_in_an_answer_keeps_the_question() -> None:
    q = question(name("loop.example"))
    looping_owner_at = 12 + len(q)
    good = record(pointer(12), dns.A, a_rdata("192.0.2.1"))
    bad = record(pointer(looping_owner_at + len(good)), dns.A, a_rdata("192.0.2.2"))
    parsed = dns.parse(header(an=2) + q + good + bad)
    assert parsed is not None
    assert parsed.qname == "loop.example"
    assert [r.value for r in parsed.answers] == ["192.0.2.1"]


def test_cname_rdata_loop_is_dropped() -> None:
    q = question(name("c.example"))
    rdata_at = 12 + len(q) + 2 + 10
    parsed = dns.parse(header(an=1) + q + record(pointer(12), dns.CNAME, pointer(rdata_at)))
    assert parsed is not None and parsed.answers == ()


def test_read_name_hop_limit_on_long_pointer_chain() -> None:
    # The root name at 12, then 200 pointers each to the one before: no cycle, but far more hops than
    # any real name needs (a 255-byte name has at most 127 labels).
    body = bytearray(b"\x00")
    for i in range(200):
        body += pointer(12 if i == 0 else 13 + 2 * (i - 1))
    msg = header(flags=RD) + bytes(body)
    assert dns.read_name(msg, 13) == ("", 15), "one hop is fine"
    assert dns.read_name(msg, len(msg) - 2) is None


def test_reserved_label_types_are_rejected() -> None:
    for first in (0x40, 0x80):
        msg = header(flags=RD) + bytes([first | 3]) + b"abc\x00" + struct.pack(">HH", 1, 1)
        assert dns.parse(msg) is None


# --- truncated and garbage input -------------------------------------------------------------------


def _three_answer_response() -> bytes:
    answers = [("A", "192.0.2.1", 60), ("A", "192.0.2.2", 60), ("A", "192.0.2.3", 60)]
    return dns_response("cut.example", answers)


def test_every_prefix_parses_without_exception_and_keeps_a_prefix_of_the_answers() -> None:
    full = _three_answer_response()
    whole = dns.parse(full)
    assert whole is not None and len(whole.answers) == 3
    for cut in range(len(full)):
        parsed = dns.parse(full[:cut])
        if parsed is None:
            continue
        assert parsed.qname == "cut.example"
        assert parsed.answers == whole.answers[: len(parsed.answers)]
        assert len(parsed.answers) < 3


def test_shorter_than_header_is_none() -> None:
    assert dns.parse(b"") is None
    assert dns.parse(b"\x00" * 11) is None


def test_question_cut_off_is_none() -> None:
    msg = header(flags=RD) + question(name("short.example"))
    assert dns.parse(msg[:-1]) is None


def test_rdlength_past_the_end_drops_that_record() -> None:
    q = question(name("rd.example"))
    good = record(pointer(12), dns.A, a_rdata("192.0.2.1"))
    lying = pointer(12) + struct.pack(">HHIH", dns.A, 1, 60, 400) + a_rdata("192.0.2.2")
    parsed = dns.parse(header(an=2) + q + good + lying)
    assert parsed is not None and [r.value for r in parsed.answers] == ["192.0.2.1"]


def test_huge_counts_on_a_tiny_message_are_cheap_and_none() -> None:
    msg = struct.pack(">HHHHHH", 1, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF) + b"\x00\x00\x01\x00\x01"
    assert dns.parse(msg) is None


def test_answer_count_larger_than_records_gives_the_records_present() -> None:
    q = question(name("count.example"))
    parsed = dns.parse(header(an=50) + q + record(pointer(12), dns.A, a_rdata("192.0.2.5")))
    assert parsed is not None and [r.value for r in parsed.answers] == ["192.0.2.5"]


def test_non_ascii_label_does_not_raise() -> None:
    msg = header(flags=RD) + b"\x03\xff\xfe\xfd\x07example\x00" + struct.pack(">HH", 1, 1)
    parsed = dns.parse(msg)
    assert parsed is not None and parsed.qname is not None and parsed.qname.endswith(".example")


def test_random_mutations_never_raise() -> None:
    rng = random.Random(1035)
    seeds = [
        _three_answer_response(),
        dns_response("m.example", [("CNAME", "n.example", 1), ("A", "192.0.2.9", 1)]),
    ]
    for _ in range(3000):
        msg = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            msg[rng.randrange(len(msg))] = rng.randrange(256)
        dns.parse(bytes(msg[: rng.randint(0, len(msg))]))
    for _ in range(500):
        dns.parse(rng.randbytes(rng.randint(0, 80)))


# --- DNS over TCP framing ------------------------------------------------------------------------


def _framed(message: bytes) -> bytes:
    return struct.pack(">H", len(message)) + message


def test_split_tcp_stream_two_messages_and_a_cut_off_third() -> None:
    first, second = dns_query("one.example"), _three_answer_response()
    stream = _framed(first) + _framed(second) + _framed(dns_query("three.example"))[:-3]
    assert dns.split_tcp_stream(stream) == [first, second]


def test_split_tcp_stream_edge_cases() -> None:
    assert dns.split_tcp_stream(b"") == []
    assert dns.split_tcp_stream(b"\x00") == []
    assert dns.split_tcp_stream(b"\x00\x00") == [b""]
    assert dns.split_tcp_stream(b"\xff\xff" + b"\x00" * 10) == []
