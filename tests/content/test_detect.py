"""Detectors on realistic DJI-like uploads. Expected hits are written by hand from the bodies below (field
by field: what a careful analyst would mark), and the negatives are the look-alikes that must stay
silent: timestamps, version numbers, prices, hashes, placeholders and generic ids."""

from __future__ import annotations

import base64
import json

import pytest

from droneaudit.content.detect import detect
from droneaudit.content.model import RECEIVED, SENT, ContentHit, HttpMessage, Where

WHERE = Where("drone.pcap", 40, 44)

JWT = (
    base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    + "."
    + base64.urlsafe_b64encode(b'{"sub":"88231","exp":1725206149}').rstrip(b"=").decode()
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

FLIGHT_UPLOAD = """{
  "app": {"platform": "android", "version": "1.13.10", "build": 20240901, "ts": 1725202549123},
  "account": {"user_id": 88231, "email": "pilot.one@example.com", "phone": "+44 7700 900123",
              "access_token": "dGhpc0lzQVNlY3JldFRva2VuMTIzNDU2", "token_type": "bearer", "expires_in": 7200},
  "device": {"imei": "490154203237518", "android_id": "5f2c8a1b9e7d3c40",
             "advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d", "model": "Pixel 8 Pro",
             "wifi_mac": "02:00:00:00:00:00"},
  "flight_record": {
    "aircraft_name": "Yuhe's Phantom3", "aircraft_sn": "1581F5FJD22740010156", "camera_sn": "5L4SK6A02AA064",
    "rc_sn": "05LD102XHR", "battery_sn": "1153516293",
    "home_lat": 22.543210, "home_lng": 113.958870, "takeoff_alt": 45.2,
    "start_time": "2024-09-01T14:55:49Z", "duration_s": 612.5, "max_height_m": 119.8,
    "moment_pics": [{"latitude": 22.544100, "longitude": 113.960150}, {"latitude": 0.0, "longitude": 0.0}],
    "file_md5": "9e107d9d372bb6826bd81d3542a419d6", "price": 12.99, "ratio": "0.1234,0.5678"
  }
}"""


def message(
    body: bytes | str = b"",
    *,
    url: str = "https://mydjiflight.dji.com/api/v2/flight_log/upload",
    headers: tuple[tuple[str, str], ...] = (),
    content_type: str | None = None,
    direction: str = SENT,
) -> HttpMessage:
    raw = body.encode() if isinstance(body, str) else body
    return HttpMessage(
        direction, "mydjiflight.dji.com", "POST", url, None, headers, raw, WHERE, content_type=content_type
    )


def triples(hits: list[ContentHit]) -> list[tuple[str, str, str]]:
    return [(h.kind, h.field, h.value) for h in hits]


def test_flight_record_upload() -> None:
    url = (
        "https://mydjiflight.dji.com/api/v2/flight_log/zipupload"
        "?did=3f9a2c1e7b6d4a8f9e0c1b2a3d4e5f60&lat=22.5432&lon=113.9588&app_ver=1.13.10&t=1725202549"
    )
    headers = (
        ("host", "mydjiflight.dji.com"),
        ("authorization", f"Bearer {JWT}"),
        ("cookie", "JSESSIONID=A1B2C3D4E5F6A7B8C9D0E1F2; theme=dark"),
        ("user-agent", "DJI Fly/1.13.10 (Android 14; Pixel 8 Pro)"),
        ("x-request-time", "1725202549123"),
        ("x-signature", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
        ("content-type", "application/json; charset=utf-8"),
    )
    hits = detect(message(FLIGHT_UPLOAD, url=url, headers=headers, content_type="application/json"))
    assert triples(hits) == [
        ("device-id", "query:did", "3f9a2c1e7b6d4a8f9e0c1b2a3d4e5f60"),
        ("position", "query:lat,lon", "22.5432,113.9588"),
        ("token", "header:authorization", "eyJh…sw5c"),
        ("token", "cookie:JSESSIONID", "A1B2…E1F2"),
        ("email", "json:$.account.email", "pilot.one@example.com"),
        ("phone", "json:$.account.phone", "+44 7700 900123"),
        ("token", "json:$.account.access_token", "dGhp…NDU2"),
        ("device-id", "json:$.device.imei", "490154203237518"),
        ("device-id", "json:$.device.android_id", "5f2c8a1b9e7d3c40"),
        ("device-id", "json:$.device.advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d"),
        ("serial", "json:$.flight_record.aircraft_sn", "1581F5FJD22740010156"),
        ("serial", "json:$.flight_record.camera_sn", "5L4SK6A02AA064"),
        ("serial", "json:$.flight_record.rc_sn", "05LD102XHR"),
        ("serial", "json:$.flight_record.battery_sn", "1153516293"),
        ("position", "json:$.flight_record.home_lat,home_lng", "22.543210,113.958870"),
        ("position", "json:$.flight_record.moment_pics[0].latitude,longitude", "22.544100,113.960150"),
    ]
    by_field = {h.field: h for h in hits}
    assert by_field["header:authorization"].detail == "Bearer JWT (alg HS256; claims exp, sub)"
    assert by_field["json:$.flight_record.aircraft_sn"].detail.startswith("DJI serial (CTA-2063")
    assert by_field["json:$.flight_record.camera_sn"].detail.startswith("DJI-style 14-character serial")
    assert by_field["json:$.device.imei"].detail.startswith("IMEI (Luhn check passes)")
    assert {(h.direction, h.host, h.url, h.where) for h in hits} == {
        (SENT, "mydjiflight.dji.com", url, WHERE)
    }


def test_tokens_are_never_stored_whole() -> None:
    secrets = [
        JWT,
        "dGhpc0lzQVNlY3JldFRva2VuMTIzNDU2",
        "A1B2C3D4E5F6A7B8C9D0E1F2",
        "hunter2!",
        "c3VwZXI6c2VjcmV0",
    ]
    body = json.dumps({"id_token": JWT, "refresh_token": secrets[1], "password": "hunter2!"})
    headers = (
        ("authorization", "Basic c3VwZXI6c2VjcmV0"),
        ("set-cookie", f"sid={secrets[2]}; Path=/; HttpOnly"),
    )
    hits = detect(message(body, headers=headers, content_type="application/json", direction=RECEIVED))
    assert [h.kind for h in hits] == ["token"] * 5
    dumped = json.dumps([h.to_dict() for h in hits])
    for secret in secrets:
        assert secret not in dumped
    assert [h.value for h in hits] == ["c3Vw…cmV0", "A1B2…E1F2", "eyJh…sw5c", "dGhp…NDU2", "…"]
    assert hits[0].detail == "HTTP Basic credentials (user:password), 16 chars"
    assert hits[-1].detail == "password, 8 chars under key 'password'" and hits[-1].direction == RECEIVED


def test_form_multipart_xml_and_text_bodies() -> None:
    form = "aircraftSn=1W9DH8R000003K&mobile=13800138000&note=hello&gps=22.5432%2C113.9588"
    hits = detect(message(form, content_type="application/x-www-form-urlencoded"))
    assert triples(hits) == [
        ("serial", "form:aircraftSn", "1W9DH8R000003K"),
        ("phone", "form:mobile", "13800138000"),
        ("position", "form:gps", "22.5432,113.9588"),
    ]
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="drone_sn"\r\n\r\n3NZCJ270048FFC\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n'
        "Content-Type: application/json\r\n\r\n"
        '{"home": {"latitude": 47.5727, "longitude": -122.6266}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\x00\x01serial=1581F6Z9C23CP003\r\n"
        f"--{boundary}--\r\n"
    )
    hits = detect(
        message(
            multipart,
            content_type="multipart/form-data",
            headers=(("content-type", f"multipart/form-data; boundary={boundary}"),),
        )
    )
    assert triples(hits) == [
        ("serial", "multipart:drone_sn", "3NZCJ270048FFC"),
        ("position", "multipart:meta>json:$.home.latitude,longitude", "47.5727,-122.6266"),
    ]
    xml = (
        '<?xml version="1.0"?><rdf:Description drone-dji:DroneSerialNumber="1581F5FHD22A0000DEMO">'
        "<drone-dji:GpsLatitude>+22.5432100</drone-dji:GpsLatitude>"
        "<drone-dji:GpsLongitude>+113.9588700</drone-dji:GpsLongitude>"
        "<contact>ops@drone-team.example.org</contact></rdf:Description>"
    )
    assert triples(detect(message(xml, content_type="application/xml"))) == [
        ("serial", "xml:DroneSerialNumber", "1581F5FHD22A0000DEMO"),
        ("position", "xml:GpsLatitude,GpsLongitude", "+22.5432100,+113.9588700"),
        ("email", "xml:contact", "ops@drone-team.example.org"),
    ]
    text = 'device="x"\nhome_lat=22.54321\nhome_lon=113.95887\nrc_sn = 05LD102XHR\nsee +8613800138000 later'
    assert triples(detect(message(text, content_type="text/plain"))) == [
        ("position", "text:home_lat,home_lon", "22.54321,113.95887"),
        ("serial", "text:rc_sn", "05LD102XHR"),
        ("phone", "body", "+8613800138000"),
    ]


def test_url_paths_and_geojson() -> None:
    hits = detect(message(url="https://www.google.com/maps/@22.543,113.958,15z"))
    assert triples(hits) == [("position", "url.path", "22.543,113.958")]
    hits = detect(message(url="https://geo.example/v1/point/22.5432/113.9588/weather?sn=1581F6Z9C23CP003"))
    assert triples(hits) == [
        ("position", "url.path", "22.5432,113.9588"),
        ("serial", "query:sn", "1581F6Z9C23CP003"),
    ]
    geojson = '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.958870, 22.543210]}}'
    hits = detect(message(geojson, content_type="application/geo+json"))
    assert triples(hits) == [("position", "json:$.geometry.coordinates", "22.543210,113.958870")]
    assert hits[0].detail.endswith("(GeoJSON lon,lat)")


def test_mavlink_style_degrees_e7_and_camel_case() -> None:
    hits = detect(message('{"homeLat": 225432100, "homeLon": 1139588700}', content_type="application/json"))
    assert triples(hits) == [("position", "json:$.homeLat,homeLon", "225432100,1139588700")]
    assert "degrees x 1e7" in hits[0].detail


NEGATIVES = [
    # timestamps under phone-ish keys, plain timestamps
    '{"phone_time": 1725202549, "mobile_ts": "1725202549123", "tel": "1725202549", "ts": 1725202549123}',
    # version numbers and build ids
    '{"version": "1.13.10", "sn_version": "01.02.0300", "app_ver": "4.3.64", "fw": "v01.04.0500"}',
    # prices, amounts, ranges and ratios that look like coordinate pairs
    '{"price": "12.99", "amount": 1299.00, "range": "12.9900,45.5000", "total": "+1234.56",'
    ' "w": [0.1234, 0.5678]}',
    # hashes, including one under a serial key, and a hash-named key
    '{"md5": "9e107d9d372bb6826bd81d3542a419d6",'
    ' "sn": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",'
    ' "sn_hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}',
    # generic ids, placeholder ids and MACs
    '{"uuid": "38400000-8cf0-11bd-b23e-10b96e40000d", "request_id": "38400000-8cf0-11bd-b23e-10b96e40000d",'
    ' "idfa": "00000000-0000-0000-0000-000000000000", "wifi_mac": "02:00:00:00:00:00", "device_id": "12345",'
    ' "order_id": "490154203237518", "imei": "490154203237519", "device_model": "Pixel 8"}',
    # coordinates that are placeholders, hemisphere refs or out of range, and lone lat/long words
    '{"lat": 0, "lng": 0, "latitude_ref": "N", "longitude_ref": "E", "gps": {"lat": 95.1, "lon": 10.0},'
    ' "flat": 3.14159, "long": 2.71828}',
    # token metadata, not tokens
    '{"token_type": "bearer", "expires_in": 3600, "tokenExpire": 1725202549, "session": "active",'
    ' "hmac": "ab12"}',
    # asset names that contain "@", SRT-like times, serial-ish words without a serial key
    '{"icon": "logo@2x.png", "srt": "00:00:01,000 --> 00:00:02,000", "name": "FC3582",'
    ' "mac_os_version": "14.2"}',
]


@pytest.mark.parametrize("body", NEGATIVES)
def test_negatives(body: str) -> None:
    assert detect(message(body, content_type="application/json")) == []


def test_negative_urls_and_headers() -> None:
    for url in (
        "https://tiles.example/15/27000/14000.png",
        "https://dl.djicdn.com/v1.2.300/app/4.3.64/DJI_Fly_1.13.10.apk",
        "https://cdn.example/assets/img@2x.png?v=1725202549123",
        "https://api.example/1.234/5.678/",
    ):
        assert detect(message(url=url)) == [], url
    headers = (
        ("date", "Sun, 01 Sep 2024 14:55:49 GMT"),
        ("etag", '"9e107d9d372bb6826bd81d3542a419d6"'),
        ("x-timezone", "+0800"),
        ("user-agent", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Pro Build/AP2A.240805.005)"),
        ("cookie", "theme=dark; lang=en-US; _ga=GA1.2.1234567890.1725202549"),
    )
    assert detect(message(headers=headers)) == []


def test_deterministic_and_deduplicated() -> None:
    body = '{"sn": "1581F5FJD22740010156", "again": {"aircraft_sn": "1581F5FJD22740010156"}}'
    first = detect(
        message(body, url="https://a.example/x?sn=1581F5FJD22740010156", content_type="application/json")
    )
    assert triples(first) == [("serial", "query:sn", "1581F5FJD22740010156")]
    assert first == detect(
        message(body, url="https://a.example/x?sn=1581F5FJD22740010156", content_type="application/json")
    )


def test_binary_and_huge_bodies_stay_quiet() -> None:
    assert detect(message(bytes(range(256)) * 100, content_type="application/octet-stream")) == []
    assert detect(message(b"{" * 100_000, content_type="application/json")) == []


def test_a_long_track_is_one_hit_with_a_count() -> None:
    points = ",".join(
        f'{{"lat": 22.{5000 + i}, "lng": 113.{9000 + i}, "t": {1725202549 + i}}}' for i in range(40)
    )
    batteries = '[{"sn": "1153516293"}, {"sn": "1153516294"}]'
    hits = detect(
        message(f'{{"track": [{points}], "batteries": {batteries}}}', content_type="application/json")
    )
    assert triples(hits) == [
        ("position", "json:$.track[0].lat,lng", "22.5000,113.9000"),
        ("serial", "json:$.batteries[0].sn", "1153516293"),
        ("serial", "json:$.batteries[1].sn", "1153516294"),
    ]
    assert hits[0].detail.endswith("; first of 40 at json:$.track[*].lat,lng")
