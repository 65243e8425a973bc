"""HTTP/1.x request head: method, target and the host name (Host header, or the CONNECT authority).

Expected hosts follow RFC 9110/9112: the port is not part of the name, names compare case-insensitively,
and an IP literal (IPv4, or IPv6 in brackets) names no host.
"""

from __future__ import annotations

import random

import pytest

from droneaudit.readers.protocols import http
from droneaudit.synth.packets import http_request


def request(first_line: str, *headers: str) -> bytes:
    return ("\r\n".join([first_line, *headers]) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "TRACE"])
def test_methods(method: str) -> None:
    parsed = http.parse(http_request(method, "/v1/upload?x=1", "api.drone.example"))
    assert parsed == http.HttpRequest(method, "/v1/upload?x=1", "api.drone.example")
    assert http.looks_like_request(http_request(method, "/", "a.example"))


def test_connect_uses_the_authority() -> None:
    parsed = http.parse(request("CONNECT api.example.com:443 HTTP/1.1"))
    assert parsed == http.HttpRequest("CONNECT", "api.example.com:443", "api.example.com")


def test_connect_authority_beats_a_different_host_header() -> None:
    parsed = http.parse(request("CONNECT tunnel.example:8443 HTTP/1.1", "Host: proxy.example:3128"))
    assert parsed is not None and parsed.host == "tunnel.example"


@pytest.mark.parametrize(
    "authority",
    ["198.51.100.4:443", "[2001:db8::1]:443", "[::1]:443"],
)
def test_connect_to_an_ip_literal_names_nothing(authority: str) -> None:
    parsed = http.parse(request(f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"))
    assert parsed is not None and parsed.method == "CONNECT" and parsed.host is None


@pytest.mark.parametrize(
    ("host_header", "expected"),
    [
        ("api.example.com", "api.example.com"),
        ("api.example.com:8080", "api.example.com"),
        ("API.Example.COM", "api.example.com"),
        ("api.example.com.", "api.example.com"),
        ("api.example.com.:80", "api.example.com"),
        ("  spaced.example  ", "spaced.example"),
        ("localhost", "localhost"),
        ("198.51.100.4", None),
        ("198.51.100.4:8080", None),
        ("[2001:db8::1]", None),
        ("[2001:db8::1]:8080", None),
        ("[::ffff:192.0.2.1]:80", None),
        ("2001:db8::1", None),
        ("", None),
    ],
)
def test_host_header(host_header: str, expected: str | None) -> None:
    parsed = http.parse(request("GET / HTTP/1.1", f"Host: {host_header}", "Accept: */*"))
    assert parsed is not None and parsed.host == expected


def test_host_header_name_is_case_insensitive_and_first_wins() -> None:
    parsed = http.parse(
        request("GET / HTTP/1.1", "User-Agent: x", "HOST: first.example", "host: second.example")
    )
    assert parsed is not None and parsed.host == "first.example"


def test_no_host_header() -> None:
    assert http.parse(request("GET /status HTTP/1.0")) == http.HttpRequest("GET", "/status", None)


def test_header_value_that_only_mentions_host_is_not_host() -> None:
    parsed = http.parse(request("GET / HTTP/1.1", "X-Forwarded-Host: evil.example", "Host: good.example"))
    assert parsed is not None and parsed.host == "good.example"


def test_body_lines_are_not_headers() -> None:
    data = request("POST /log HTTP/1.1", "Content-Length: 22") + b"Host: body.example\r\n\r\n"
    parsed = http.parse(data)
    assert parsed is not None and parsed.host is None


def test_head_without_blank_line_is_still_read() -> None:
    parsed = http.parse(b"GET /partial HTTP/1.1\r\nHost: early.example\r\nAccept")
    assert parsed is not None and parsed.host == "early.example"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", id="response"),
        pytest.param(b"get / HTTP/1.1\r\nHost: a.example\r\n\r\n", id="lower-case-method"),
        pytest.param(b"PROPFIND / HTTP/1.1\r\nHost: a.example\r\n\r\n", id="unknown-method"),
        pytest.param(b"GET\r\nHost: a.example\r\n\r\n", id="no-target"),
        pytest.param(b"GET /\r\nHost: a.example\r\n\r\n", id="no-version"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", id="tls"),
        pytest.param(b"GETTING / HTTP/1.1\r\n\r\n", id="method-prefix-only"),
    ],
)
def test_not_a_request(data: bytes) -> None:
    assert http.parse(data) is None


def test_looks_like_request_needs_the_space() -> None:
    assert not http.looks_like_request(b"GETTING")
    assert not http.looks_like_request(b"")
    assert http.looks_like_request(b"CONNECT ")


def test_random_bytes_never_raise() -> None:
    rng = random.Random(9112)
    seed = http_request("GET", "/a", "fuzz.example")
    for _ in range(2000):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        http.parse(bytes(data))
        http.parse(b"GET " + rng.randbytes(rng.randint(0, 60)))
