"""HAR 1.2 files as mitmproxy, Charles and browsers write them (built here by the test)."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from droneaudit.content import har
from droneaudit.content.har import parse_har, sniff_har
from droneaudit.content.model import RECEIVED, SENT, Where

KEYS = ["request", "response", "url", "method", "headers", "name", "value", "postData", "text", "encoding"]
KEYS += ["params", "status", "content", "httpVersion", "mimeType"]
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\xff\xd9"


def document(*entries: dict[str, object], pages: int = 0) -> bytes:
    log = {
        "version": "1.2",
        "creator": {"name": "mitmproxy", "version": "10.1"},
        "pages": [{"id": f"page_{i}", "title": "x" * 50} for i in range(pages)],
        "entries": list(entries),
    }
    return json.dumps({"log": log}).encode()


def entry(request: dict[str, object], response: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "startedDateTime": "2024-09-01T14:55:49.000Z",
        "time": 12,
        "request": request,
        "response": response or {},
    }


def test_request_and_response_with_base64_body() -> None:
    data = document(
        entry(
            {
                "method": "POST",
                "url": "https://app-service.skypixel.com/api/upload?sn=1581F5FJD22740010156",
                "httpVersion": "HTTP/2.0",
                "headers": [
                    {"name": ":authority", "value": "app-service.skypixel.com"},
                    {"name": "X-Token", "value": "t"},
                ],
                "postData": {
                    "mimeType": "image/jpeg",
                    "text": base64.b64encode(PHOTO).decode(),
                    "encoding": "base64",
                },
            },
            {
                "status": 200,
                "httpVersion": "HTTP/2.0",
                "headers": [{"name": "Content-Type", "value": "application/json; charset=utf-8"}],
                "content": {"size": 11, "mimeType": "application/json", "text": '{"ok":true}'},
            },
        )
    )
    messages, notes = parse_har(data, "flights.har")
    assert notes == []
    request, response = messages
    assert (request.direction, request.method, request.status) == (SENT, "POST", None)
    assert request.url == "https://app-service.skypixel.com/api/upload?sn=1581F5FJD22740010156"
    assert request.host == "app-service.skypixel.com" and request.protocol == "HTTP/2"
    assert request.headers == (("x-token", "t"),)
    assert request.body == PHOTO and request.content_type == "image/jpeg"
    assert request.where == response.where == Where("flights.har", entry=0)
    assert (response.direction, response.status, response.body) == (RECEIVED, 200, b'{"ok":true}')
    assert response.url == request.url and response.content_type == "application/json"


def test_params_only_post_and_form_text() -> None:
    data = document(
        entry(
            {
                "method": "POST",
                "url": "http://a.example/form",
                "postData": {
                    "mimeType": "application/x-www-form-urlencoded",
                    "params": [{"name": "phone", "value": "+8613800138000"}, {"name": "a b", "value": "c&d"}],
                },
            }
        ),
        entry(
            {
                "method": "POST",
                "url": "http://a.example/t",
                "postData": {"mimeType": "text/plain", "text": "héllo"},
            }
        ),
    )
    messages, _ = parse_har(data, "f.har")
    assert messages[0].body == b"phone=%2B8613800138000&a+b=c%26d"
    assert messages[0].notes == ("body rebuilt from postData.params",)
    assert messages[1].body == "héllo".encode()
    assert [m.where.entry for m in messages] == [0, 1]


def test_missing_fields_are_tolerated() -> None:
    data = document(
        {},
        entry({"url": "https://x.example/a"}, {"status": 0}),  # blocked request: no response
        entry(
            {"method": "GET", "url": "/relative", "headers": [{"name": "Host", "value": "h.example:8443"}]}
        ),
        entry(
            {"method": "GET", "url": "http://b.example/", "headers": None}, {"status": "304", "content": None}
        ),
        "not an object",  # type: ignore[arg-type]
    )
    messages, notes = parse_har(data, "f.har")
    assert [(m.where.entry, m.direction, m.method, m.status) for m in messages] == [
        (0, SENT, None, None),
        (1, SENT, None, None),
        (2, SENT, "GET", None),
        (3, SENT, "GET", None),
        (3, RECEIVED, None, 304),
    ]
    assert messages[2].host == "h.example"
    assert notes == ["entry 4 is not an object: skipped"]


def test_gzip_content_left_encoded_by_an_exporter_is_inflated() -> None:
    text = base64.b64encode(gzip.compress(b"inner")).decode()
    response = {
        "status": 200,
        "headers": [{"name": "content-encoding", "value": "gzip"}],
        "content": {"text": text, "encoding": "base64"},
    }
    messages, _ = parse_har(document(entry({"method": "GET", "url": "http://a/"}, response)), "f.har")
    assert messages[1].body == b"inner"


def test_bad_base64_keeps_the_text_with_a_note() -> None:
    request = {
        "method": "POST",
        "url": "http://a/",
        "postData": {"text": "not base64 ✓", "encoding": "base64"},
    }
    messages, _ = parse_har(document(entry(request)), "f.har")
    assert messages[0].body == "not base64 ✓".encode()
    assert messages[0].notes[0].startswith("base64 body does not decode")


def test_refusals() -> None:
    assert parse_har(b"{not json", "f.har")[1][0].startswith("not valid JSON")
    assert parse_har(b'{"log": {"entries": 3}}', "f.har") == ([], ['no "log.entries" list: not a HAR file'])
    assert parse_har(b"[1, 2]", "f.har") == ([], [])


def test_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(har, "MAX_HAR", 100)
    messages, notes = parse_har(document(entry({"method": "GET", "url": "http://a/" + "x" * 200})), "big.har")
    assert messages == [] and "over the 100 bytes limit" in notes[0]


def test_sniff() -> None:
    assert sniff_har(document(entry({"method": "GET", "url": "http://a/"})))
    assert sniff_har(b"\xef\xbb\xbf" + document())
    long_pages = document(entry({"method": "GET", "url": "http://a/"}), pages=400)
    assert b'"entries"' not in long_pages[:8192] and sniff_har(long_pages[:8192])
    assert not sniff_har(b'{"data": {"log": {"entries": []}}}')
    assert not sniff_har(b'{"logs": {"entries": []}}')
    assert not sniff_har(b'{"log": "text", "entries": 1}')
    assert not sniff_har(b"\x89PNG\r\n\x1a\n")
    assert not sniff_har(b"")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_arbitrary_structures_never_raise(entries: object) -> None:
    messages, notes = parse_har(json.dumps({"log": {"entries": entries}}).encode(), "f.har")
    assert all(isinstance(n, str) for n in notes)
    assert all(m.where.file == "f.har" for m in messages)
