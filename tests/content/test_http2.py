"""HTTP/2 out of half-streams built with hyperframe and hpack (the peers' own libraries, used here as
the encoder), and tshark's HTTP/2 dissector as an independent oracle on a capture the test writes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import hpack
import pytest
from hyperframe import frame as f
from hypothesis import given, settings
from hypothesis import strategies as st

from droneaudit.content import http_body
from droneaudit.content.http import parse_http
from droneaudit.content.http2 import PREFACE, parse_http2
from droneaudit.content.model import RECEIVED, SENT, Where
from droneaudit.synth.session import Capture, TcpConversation
from droneaudit.synth.writers import write_pcap
from oracles.tshark import run_tshark

from ._http_streams import follow, half


class Side:
    """One peer's frame writer with its own HPACK encoder (a dynamic table per direction)."""

    def __init__(self) -> None:
        self.encoder = hpack.Encoder()

    def headers(
        self, stream: int, headers: list[tuple[str, str]], *, end: bool = False, split: int | None = None
    ) -> list[bytes]:
        """HEADERS (+ CONTINUATION when ``split`` cuts the block there), with a priority field and
        7 bytes of padding."""
        block = self.encoder.encode(headers)
        first = f.HeadersFrame(stream, data=block[:split] if split else block)
        first.flags.add("PRIORITY")
        first.flags.add("PADDED")
        first.depends_on, first.stream_weight, first.pad_length = 0, 200, 7
        if split is None:
            first.flags.add("END_HEADERS")
        if end:
            first.flags.add("END_STREAM")
        out = [first.serialize()]
        if split is not None:
            out.append(f.ContinuationFrame(stream, data=block[split:], flags=["END_HEADERS"]).serialize())
        return out

    @staticmethod
    def data(stream: int, payload: bytes, *, end: bool = False, pad: int = 0) -> bytes:
        frame = f.DataFrame(stream, data=payload)
        if pad:
            frame.flags.add("PADDED")
            frame.pad_length = pad
        if end:
            frame.flags.add("END_STREAM")
        return frame.serialize()


def request_headers(method: str, path: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    base = [(":method", method), (":scheme", "https"), (":authority", "flysafe-api.dji.com"), (":path", path)]
    return base + list(extra)


UPLOAD = json.dumps({"sn": "1581F5FJD22740010156", "lat": 22.543210, "lng": 113.958870}).encode()


def conversation() -> tuple[list[bytes], list[bytes]]:
    """Two interleaved client streams (1: POST with a padded, split body; 3: GET), server answers
    stream 3 first (gzip), then stream 1."""
    client, server = Side(), Side()
    sent = [PREFACE + f.SettingsFrame(0, settings={f.SettingsFrame.HEADER_TABLE_SIZE: 4096}).serialize()]
    post = request_headers(
        "POST", "/api/v3/geofence_unlock/whitelist_license", ("content-type", "application/json")
    )
    sent += client.headers(1, post, split=12)
    sent += client.headers(
        3, request_headers("GET", "/api/v4/mobile/unlock_license_groups?area=CN"), end=True
    )
    sent += [Side.data(1, UPLOAD[:20], pad=17), Side.data(1, UPLOAD[20:], end=True)]
    received = [f.SettingsFrame(0).serialize(), f.SettingsFrame(0, flags=["ACK"]).serialize()]
    received += server.headers(
        3, [(":status", "200"), ("content-encoding", "gzip"), ("content-type", "application/json")]
    )
    received += [Side.data(3, gzip.compress(b'{"groups": []}'), end=True)]
    received += server.headers(1, [(":status", "201"), ("content-type", "application/json")])
    received += [Side.data(1, b'{"ok": true}', end=True)]
    return sent, received


def test_two_interleaved_streams() -> None:
    sent, received = conversation()
    messages, notes = parse_http2(
        half(sent), half(received, range(101, 101 + len(received))), scheme="https", server="x"
    )
    assert notes == []
    summary = [(m.stream_id, m.direction, m.method, m.status) for m in messages]
    assert summary == [
        (1, SENT, "POST", None),
        (1, RECEIVED, None, 201),
        (3, SENT, "GET", None),
        (3, RECEIVED, None, 200),
    ]
    post, created, get, groups = messages
    assert post.url == created.url == "https://flysafe-api.dji.com/api/v3/geofence_unlock/whitelist_license"
    assert get.url == "https://flysafe-api.dji.com/api/v4/mobile/unlock_license_groups?area=CN"
    assert post.host == "flysafe-api.dji.com" and post.protocol == "HTTP/2"
    assert post.body == UPLOAD and post.content_type == "application/json"
    assert post.headers == (("content-type", "application/json"),)  # pseudo-headers are method/url
    assert groups.body == b'{"groups": []}' and created.body == b'{"ok": true}'
    # frames: sent = [preface+settings, HEADERS, CONTINUATION, HEADERS(3), DATA, DATA] → 1..6
    assert post.where == Where("test.pcap", 2, 6) and get.where == Where("test.pcap", 4, 4)
    assert groups.where == Where("test.pcap", 103, 104) and created.where == Where("test.pcap", 105, 106)


def test_interim_response_and_trailers() -> None:
    client, server = Side(), Side()
    sent = [PREFACE, *client.headers(1, request_headers("PUT", "/x"))]
    sent += [Side.data(1, b"abc"), *client.headers(1, [("x-trailer", "t")], end=True)]
    received = server.headers(1, [(":status", "100")]) + server.headers(1, [(":status", "200")])
    received += [Side.data(1, b"done"), *server.headers(1, [("grpc-status", "0")], end=True)]
    messages, _ = parse_http2(half(sent), half(received), scheme="https", server="x")
    assert [(m.direction, m.status, m.body) for m in messages] == [
        (SENT, None, b"abc"),
        (RECEIVED, 100, b""),
        (RECEIVED, 200, b"done"),
    ]
    assert messages[0].headers == (("x-trailer", "t"),)
    assert messages[2].headers == (("grpc-status", "0"),)


def test_reset_goaway_and_unfinished_stream_are_tolerated() -> None:
    client, server = Side(), Side()
    sent = [PREFACE, *client.headers(1, request_headers("GET", "/a"), end=True)]
    sent += [*client.headers(3, request_headers("POST", "/b")), Side.data(3, b"part")]
    received = [*server.headers(1, [(":status", "200")]), Side.data(1, b"partial")]
    received += [
        f.RstStreamFrame(1, error_code=8).serialize(),
        f.GoAwayFrame(0, last_stream_id=1).serialize(),
    ]
    messages, notes = parse_http2(half(sent), half(received), scheme="https", server="x")
    assert [(m.stream_id, m.direction) for m in messages] == [(1, SENT), (1, RECEIVED), (3, SENT)]
    assert "stream reset by the server (error 8)" in messages[1].notes
    assert "stream not ended in the capture (no END_STREAM)" in messages[2].notes
    assert any(n.startswith("GOAWAY from the server") for n in notes)


def test_hpack_error_stops_only_that_direction() -> None:
    client = Side()
    sent = [PREFACE, *client.headers(1, request_headers("GET", "/a"), end=True)]
    sent += [f.HeadersFrame(3, data=b"\xff\xff\xff\xff\x7f", flags=["END_HEADERS", "END_STREAM"]).serialize()]
    sent += client.headers(5, request_headers("GET", "/never"), end=True)
    received = Side().headers(1, [(":status", "204")], end=True)
    messages, notes = parse_http2(half(sent), half(received), scheme="https", server="x")
    assert [(m.stream_id, m.direction, m.status) for m in messages] == [(1, SENT, None), (1, RECEIVED, 204)]
    assert any("HTTP/2 client frame at offset" in n and "the rest of this direction lost" in n for n in notes)


def test_cut_frame_and_body_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_body, "MAX_BODY", 10)
    client = Side()
    sent = [PREFACE, *client.headers(1, request_headers("POST", "/up")), Side.data(1, b"x" * 50, end=True)]
    sent.append(Side.data(3, b"y" * 30)[:20])
    messages, notes = parse_http2(half(sent), half([]), scheme="https", server="x")
    assert messages[0].body == b"x" * 10 and "body cut at 10 bytes" in messages[0].notes[0]
    assert any("cut by the end of the stream" in n for n in notes)


def test_alpn_h2_without_preface_and_dispatch() -> None:
    client = Side()
    frames = client.headers(1, request_headers("GET", "/"), end=True)
    messages, notes = parse_http(half(frames), half([]), scheme="https", server="x", alpn="h2")
    assert [m.method for m in messages] == ["GET"]
    assert notes == ["no HTTP/2 client preface: frames read from the first byte"]
    messages, notes = parse_http(half([PREFACE, *frames]), half([]), scheme="http", server="x")
    assert [m.protocol for m in messages] == ["HTTP/2"] and notes == []


def test_server_push_gives_the_pushed_response_its_url() -> None:
    client, server = Side(), Side()
    sent = [PREFACE, *client.headers(1, request_headers("GET", "/index"), end=True)]
    promise = f.PushPromiseFrame(1, promised_stream_id=2, flags=["END_HEADERS"])
    promise.data = server.encoder.encode(request_headers("GET", "/style.css"))
    received = [promise.serialize(), *server.headers(1, [(":status", "200")], end=True)]
    received += [*server.headers(2, [(":status", "200")]), Side.data(2, b"css", end=True)]
    messages, notes = parse_http2(half(sent), half(received), scheme="https", server="x")
    pushed = [m for m in messages if m.stream_id == 2]
    assert [(m.direction, m.url, m.body) for m in pushed] == [
        (RECEIVED, "https://flysafe-api.dji.com/style.css", b"css")
    ]
    assert notes == ["server push: stream 2 promised on 1"]


# --- tshark as the oracle: an h2c (prior knowledge) capture on port 80 -----------------------------------


def write_h2c_pcap(path: Path, sent: list[bytes], received: list[bytes]) -> None:
    """One TCP connection carrying each client part, then each server part, one segment per part."""
    cap = Capture("192.168.1.20", "02:00:00:00:00:01", "02:00:00:00:00:02", seed=11)
    conn = TcpConversation(cap, "198.51.100.80", 80, label="h2c")
    t = conn.handshake(1_000_000_000)
    for part in sent:
        t += 1_000_000
        conn.segment(t, True, part, "PA")
    for part in received:
        t += 1_000_000
        conn.segment(t, False, part, "PA")
    conn.close(t + 1_000_000)
    write_pcap(path, cap.frames(), link_type=1)


def _tshark_h2(pcap: Path) -> dict[tuple[int, bool], dict[str, object]]:
    """Per (stream id, from the client?): tshark's header fields, frames, and the last ``http2.data.data``
    (tshark shows the reassembled, decoded body on a stream's last DATA frame)."""
    fields = ["frame.number", "tcp.srcport", "http2.streamid", "http2.headers.method", "http2.headers.path"]
    fields += ["http2.headers.authority", "http2.headers.status", "http2.data.data"]
    args = ["-r", str(pcap), "-d", "tcp.port==80,http2", "-Y", "http2.streamid > 0", "-T", "json"]
    out = json.loads(run_tshark([*args, *[a for name in fields for a in ("-e", name)]]).stdout or "[]")
    streams: dict[tuple[int, bool], dict[str, object]] = {}
    for packet in out:
        layer = {k: v[0] for k, v in packet["_source"]["layers"].items()}
        key = (int(layer["http2.streamid"]), layer["tcp.srcport"] != "80")
        entry = streams.setdefault(key, {"frames": []})
        entry["frames"].append(int(layer["frame.number"]))  # type: ignore[attr-defined]
        entry.update(
            {k: v for k, v in layer.items() if k.startswith("http2.headers") or k == "http2.data.data"}
        )
    return streams


def test_against_tshark(tmp_path: Path, tshark: str) -> None:
    sent, received = conversation()
    pcap = tmp_path / "h2c.pcap"
    write_h2c_pcap(pcap, sent, received)
    expected = _tshark_h2(pcap)
    client, server = follow(pcap, 0)
    messages, notes = parse_http2(client, server, scheme="https", server="198.51.100.80")
    assert notes == []
    assert sorted((m.stream_id, m.direction == SENT) for m in messages) == sorted(expected)
    for message in messages:
        oracle = expected[(message.stream_id or 0, message.direction == SENT)]
        frames = oracle["frames"]
        assert (message.where.first_frame, message.where.last_frame) == (min(frames), max(frames))  # type: ignore[type-var]
        assert message.body == bytes.fromhex(str(oracle.get("http2.data.data", "")).replace(":", ""))
        if message.direction == SENT:
            authority, path = oracle["http2.headers.authority"], oracle["http2.headers.path"]
            assert (message.method, message.url) == (
                oracle["http2.headers.method"],
                f"https://{authority}{path}",
            )
        else:
            assert message.status == int(str(oracle["http2.headers.status"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6), st.binary(max_size=300))
def test_arbitrary_frames_never_raise(parts: list[bytes], received: bytes) -> None:
    messages, notes = parse_http2(half([PREFACE, *parts]), half([received]), scheme="https", server="x")
    assert all(isinstance(n, str) for n in notes)
    assert all(m.protocol == "HTTP/2" for m in messages)
