"""HTTP/1.x out of half-streams: framing (RFC 9112 §6.3), content codings, caps, damage, and tshark as an
independent oracle on real captures from the shared corpus.

Every expectation below is written from the bytes the test itself builds (or, for the corpus, from
tshark's own TCP reassembly and HTTP dissector), never from the parser's output.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from droneaudit.content import http_body
from droneaudit.content.http import parse_http
from droneaudit.content.http1 import parse_http1
from droneaudit.content.model import RECEIVED, SENT, HttpMessage, Where
from droneaudit.content.stream import Chunk, HalfStream
from oracles.tshark import run_tshark

from ._http_streams import alternate, follow, half


def chunked(body: bytes, size: int = 7, trailers: bytes = b"") -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n" + trailers + b"\r\n"


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def parse(
    sent: list[bytes], received: list[bytes], server: str = "192.0.2.7"
) -> tuple[list[HttpMessage], list[str]]:
    a, b = alternate(sent, received)
    return parse_http1(a, b, scheme="http", server=server)


def test_keep_alive_chunked_gzip_with_trailers() -> None:
    payload = json.dumps({"status": "ok", "areas": list(range(50))}).encode()
    sent = [
        b"GET /api/v2/geocoder_service/geoip?x=1 HTTP/1.1\r\nHost: mydjiflight.dji.com\r\n\r\n",
        b"POST /api/report HTTP/1.1\r\nHost: mydjiflight.dji.com\r\nContent-Length: 11\r\n\r\nhello=world",
    ]
    received = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        + chunked(gzip.compress(payload), 100, b"X-Checksum: abc\r\n"),
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]
    messages, notes = parse(sent, received)
    assert notes == []
    assert [(m.direction, m.method, m.status) for m in messages] == [
        (SENT, "GET", None),
        (RECEIVED, None, 200),
        (SENT, "POST", None),
        (RECEIVED, None, 204),
    ]
    get, ok, post, empty = messages
    assert get.url == ok.url == "http://mydjiflight.dji.com/api/v2/geocoder_service/geoip?x=1"
    assert get.host == "mydjiflight.dji.com"
    assert ok.body == payload and ok.content_type == "application/json"
    assert ("x-checksum", "abc") in ok.headers and ok.headers[-1] == ("x-checksum", "abc")
    assert post.body == b"hello=world" and empty.body == b""
    assert get.where == Where("test.pcap", 1, 1) and ok.where == Where("test.pcap", 2, 2)
    assert post.where == Where("test.pcap", 3, 3) and empty.where == Where("test.pcap", 4, 4)


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # RFC 9110: zlib-wrapped
        ("deflate", raw_deflate),  # what some servers send instead
        ("br", brotli.compress),
        ("identity", lambda d: d),
        ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),  # applied left to right
        ("deflate,gzip", lambda d: gzip.compress(zlib.compress(d))),
    ],
)
def test_content_codings(coding: str, encode: object) -> None:
    body = b'{"home_lat": 22.543210, "home_lng": 113.958870}' * 20
    wire = encode(body)  # type: ignore[operator]
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        coding.encode(),
        len(wire),
        wire,
    )
    messages, _ = parse([b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"], [response])
    assert messages[1].body == body and messages[1].notes == ()


def test_gzip_request_body() -> None:
    body = b"aircraft_sn=1581F5FJD22740010156"
    wire = gzip.compress(body)
    request = (
        b"POST /up HTTP/1.1\r\nHost: a.example\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % len(wire)
    )
    messages, _ = parse([request + wire], [])
    assert messages[0].body == body


def test_pipelining_in_one_segment_each_way() -> None:
    sent = [b"".join(b"GET /%d HTTP/1.1\r\nHost: a.example\r\n\r\n" % i for i in range(3))]
    received = [b"".join(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % i for i in range(3))]
    messages, notes = parse(sent, received)
    assert notes == []
    assert [m.url for m in messages] == [f"http://a.example/{i // 2}" for i in range(6)]
    assert [m.body for m in messages[1::2]] == [b"0", b"1", b"2"]


def test_head_and_304_have_no_body_even_with_a_length() -> None:
    sent = [
        b"HEAD /firmware.bin HTTP/1.1\r\nHost: dl.djicdn.com\r\n\r\n",
        b'GET /x HTTP/1.1\r\nHost: dl.djicdn.com\r\nIf-None-Match: "1"\r\n\r\n',
        b"GET /y HTTP/1.1\r\nHost: dl.djicdn.com\r\n\r\n",
    ]
    received = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 123456\r\n\r\n"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ]
    messages, notes = parse(sent, received)
    assert notes == []
    assert [(m.status, m.body) for m in messages if m.direction == RECEIVED] == [
        (200, b""),
        (304, b""),
        (200, b"ok"),
    ]
    assert messages[5].url == "http://dl.djicdn.com/y"


def test_interim_100_continue_answers_the_same_request() -> None:
    sent = [b"POST /u HTTP/1.1\r\nHost: a.example\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"]
    received = [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"]
    messages, _ = parse(sent, received)
    assert [(m.direction, m.status, m.url) for m in messages] == [
        (SENT, None, "http://a.example/u"),
        (RECEIVED, 100, "http://a.example/u"),
        (RECEIVED, 201, "http://a.example/u"),
    ]


def test_response_without_length_reads_until_close_and_http10() -> None:
    received = [b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ", b"second"]
    messages, _ = parse([b"GET / HTTP/1.0\r\n\r\n"], received, server="203.0.113.9")
    response = messages[1]
    assert response.body == b"first second" and response.protocol == "HTTP/1.0"
    assert response.where == Where("test.pcap", 2, 4)
    assert messages[0].url == "http://203.0.113.9/" and messages[0].host == "203.0.113.9"


def test_truncated_body_is_kept_with_a_note() -> None:
    received = [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40]
    messages, _ = parse([b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"], received)
    assert messages[1].body == b"x" * 40
    assert any("40 of 100" in n for n in messages[1].notes)


def test_truncated_chunked_and_capture_hole() -> None:
    stream = half([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456"])
    stream.gap_at, stream.dropped = len(stream.data), 500
    messages, _ = parse_http1(half([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"]), stream, scheme="http", server="s")
    assert messages[1].body == b"0123456"
    assert any("truncated inside a chunk" in n and "hole" in n for n in messages[1].notes)


def test_corrupted_gzip_keeps_what_inflated() -> None:
    """Two deflate blocks split by a full flush; the second block's header is made invalid (BTYPE 11)."""
    first = b"".join(b"line %05d of the flight log\n" % i for i in range(2000))
    c = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    head = c.compress(first) + c.flush(zlib.Z_FULL_FLUSH)
    tail = bytearray(c.compress(b"second half " * 500) + c.flush())
    tail[0] = 0x07  # BFINAL=1, BTYPE=11 (reserved): "invalid block type"
    wire = head + bytes(tail)
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(wire) + wire
    messages, _ = parse([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], [response])
    assert messages[1].body == first
    assert messages[1].notes[0].startswith(f"gzip body corrupt at byte {len(head)} of {len(wire)}")


def test_gzip_bomb_stops_at_the_ratio_cap() -> None:
    bomb = gzip.compress(b"\0" * (20 << 20))
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    messages, _ = parse([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], [response])
    assert len(messages[1].body) <= 3 * http_body.RATIO_FLOOR
    assert any(n.startswith("decompression bomb") for n in messages[1].notes)


def test_decoded_body_cap_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_body, "MAX_BODY", 1000)
    text = bytes(range(256)) * 40
    wire = zlib.compress(text)
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(wire) + wire
    )
    messages, _ = parse([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], [response])
    assert messages[1].body == text[:1000]
    assert any("truncated at 1000 bytes" in n for n in messages[1].notes)


def test_unknown_coding_is_kept_raw_with_a_note() -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: 4\r\n\r\n\x28\xb5\x2f\xfd"
    messages, _ = parse([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], [response])
    assert messages[1].body == b"\x28\xb5\x2f\xfd"
    assert messages[1].notes == ("content-encoding 'zstd' not decoded",)


def test_connect_tunnel_stops_both_directions() -> None:
    sent = [b"CONNECT api.dji.com:443 HTTP/1.1\r\nHost: api.dji.com:443\r\n\r\n", b"\x16\x03\x01\x02\x00\x01"]
    received = [b"HTTP/1.1 200 Connection established\r\n\r\n", b"\x16\x03\x03\x00\x5a\x02"]
    messages, notes = parse(sent, received)
    assert [(m.method, m.status) for m in messages] == [("CONNECT", None), (None, 200)]
    assert messages[0].url == "http://api.dji.com:443" and messages[0].host == "api.dji.com"
    assert any("CONNECT" in n for n in notes) and any("tunnel" in n for n in notes)


def test_absolute_form_and_host_with_port() -> None:
    sent = [
        b"GET http://proxy.example:8080/a?b=c HTTP/1.1\r\nHost: ignored.example\r\n\r\n",
        b"GET /d HTTP/1.1\r\nHost: API.Example.com:8443\r\n\r\n",
    ]
    messages, _ = parse(sent, [])
    assert messages[0].url == "http://proxy.example:8080/a?b=c" and messages[0].host == "proxy.example"
    assert messages[1].url == "http://API.Example.com:8443/d" and messages[1].host == "api.example.com"


def test_request_over_several_frames_is_located_by_its_frames() -> None:
    request = b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\n" + b"z" * 30
    parts = [request[:10], request[10:50], request[50:]]
    sent = half(parts, [5, 9, 14])
    messages, _ = parse_http1(sent, half([]), scheme="http", server="s")
    assert messages[0].where == Where("test.pcap", 5, 14)
    assert messages[0].body == b"z" * 30


def test_oversized_header_block_is_refused_with_a_note() -> None:
    huge = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * (70 * 1024) + b"\r\n\r\n"
    messages, notes = parse([huge], [])
    assert messages == []
    assert any("over 64 KiB" in n for n in notes)


def test_message_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_body, "MAX_MESSAGES", 5)
    sent = [b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(8)]
    received = [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"] * 8
    messages, notes = parse(sent, received)
    assert len(messages) == 5
    assert any("first 5" in n or "more than 5" in n for n in notes)


def test_garbage_after_messages_stops_that_direction() -> None:
    messages, notes = parse([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\x00\x01binary"], [])
    assert len(messages) == 1
    assert any("not an HTTP/1 request" in n for n in notes)


def test_parse_http_picks_http1_or_says_not_http() -> None:
    a, b = alternate(
        [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    )
    messages, notes = parse_http(a, b, scheme="http", server="s")
    assert len(messages) == 2 and notes == []
    a, b = alternate([b"SSH-2.0-OpenSSH_9.6\r\n"], [b"SSH-2.0-OpenSSH_8.7\r\n"])
    assert parse_http(a, b, scheme="http", server="s") == ([], ["not HTTP"])
    assert parse_http(HalfStream("x"), HalfStream("x"), scheme="http", server="s") == ([], ["not HTTP"])


# --- tshark as the oracle on real captures ---------------------------------------------------------------

ORACLE_CAPTURES = (
    "zeek/traces/http-vlan-0.pcap",
    "zeek/traces/http-qinq-0.pcap",
    "zeek/traces/web.pcap",
    "zeek/traces/conn-size.pcap",
    "zeek/traces/tcp/missing-syn.pcap",
    "zeek/traces/tunnels/Teredo.pcap",
)


def _tshark_http(pcap: Path) -> list[dict[str, str]]:
    fields = ["frame.number", "tcp.stream", "http.request.method", "http.request.uri", "http.host"]
    fields += ["http.response.code", "http.file_data"]
    args = ["-r", str(pcap), "-Y", "http.request || http.response", "-T", "json"]
    out = json.loads(run_tshark([*args, *[a for f in fields for a in ("-e", f)]]).stdout or "[]")
    return [{k: v[0] for k, v in p["_source"]["layers"].items()} for p in out]


@pytest.mark.parametrize("relative", ORACLE_CAPTURES)
def test_against_tshark(corpus: Path, tshark: str, relative: str) -> None:
    pcap = corpus / relative
    if not pcap.exists():
        pytest.skip(f"{relative} not in the corpus")
    expected = _tshark_http(pcap)
    streams = sorted({int(row["tcp.stream"]) for row in expected}) or [0]
    ours: list[HttpMessage] = []
    for stream in streams:
        sent, received = follow(pcap, stream)
        ours += parse_http1(sent, received, scheme="http", server="server.invalid")[0]
    requests = [row for row in expected if "http.request.method" in row]
    responses = [row for row in expected if "http.response.code" in row]
    assert [(m.method, m.url) for m in ours if m.direction == SENT] == [
        (r["http.request.method"], f"http://{r['http.host']}{r['http.request.uri']}") for r in requests
    ]
    assert [m.status for m in ours if m.direction == RECEIVED] == [
        int(r["http.response.code"]) for r in responses
    ]
    for message, row in zip([m for m in ours if m.direction == SENT], requests, strict=True):
        assert message.where.last_frame == int(
            row["frame.number"]
        )  # tshark shows a message where it completes
    for message, row in zip([m for m in ours if m.direction == RECEIVED], responses, strict=True):
        assert message.where.last_frame == int(row["frame.number"])
        if "http.file_data" in row:
            assert message.body.decode("utf-8", "replace") == row["http.file_data"]


def test_get_to_ssh_server_request_still_parsed(corpus: Path, tshark: str) -> None:
    """tshark does not dissect HTTP on port 22; its reassembly still shows the GET and the SSH banner."""
    pcap = corpus / "zeek/traces/http/get-to-ssh-server.pcap"
    if not pcap.exists():
        pytest.skip("get-to-ssh-server.pcap not in the corpus")
    sent, received = follow(pcap, 0)
    messages, notes = parse_http1(sent, received, scheme="http", server="130.74.164.231")
    assert [(m.method, m.url, m.where.first_frame) for m in messages] == [("GET", "http://128.3.50.246/", 4)]
    assert notes == ["not HTTP: no status line at the start of the stream"]


def test_chunk_list_starts_at_zero() -> None:
    """The helper builds streams the way the model documents them (chunks[0].offset == 0)."""
    stream = half([b"ab", b"cd"], [3, 4])
    assert stream.chunks == [Chunk(0, 3, 3_000_000), Chunk(2, 4, 4_000_000)]


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=600),
    st.binary(max_size=600),
    st.sampled_from([b"", b"GET / HTTP/1.1\r\n", b"HTTP/1.1 "]),
)
def test_arbitrary_bytes_never_raise(sent: bytes, received: bytes, prefix: bytes) -> None:
    messages, notes = parse_http(half([prefix + sent]), half([prefix + received]), scheme="http", server="s")
    assert all(isinstance(n, str) for n in notes) and len(messages) <= http_body.MAX_MESSAGES
