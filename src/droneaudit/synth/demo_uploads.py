"""What the SYNTHETIC demo app sends inside its TLS sessions (see demo.py): analytics reports with the
aircraft's position and the phone's Android ID, and the flight-record sync, a multipart upload of the
flight log, a JSON summary (serial, home point, account) and a photo thumbnail with EXIF GPS.

Everything is made up, modelled on the kinds of fields published analyses of drone apps describe
(../shared/reference/endpoints-and-peers.md); none of it is a real request, account or device.
"""

from __future__ import annotations

import json
import random

from droneaudit.synth.media import DEMO_PHOTOS, DEMO_SERIAL, photo_bytes

ANDROID_ID = "3f2a9c81d4b7e605"
ACCOUNT = "pilot.demo@example.org"
#: A JWT-shaped bearer token (header.payload.signature, base64url); the content audit masks it.
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZW1vLXBpbG90In0.ZGVtby1zaWduYXR1cmUtbm90LXJlYWw"
FLIGHT_RECORD = "DJIFlightRecord_2026-03-14_[10-31-12].txt"
RECORD_BYTES = 3_550_000
_BOUNDARY = "----dji-sync-7f3a91"
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"code":0}\n'


def _request(path: str, host: str, content_type: str, body: bytes, token: bool = False) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: DJI-Fly/1.13 (synthetic demo)\r\n"
    if token:
        head += f"Authorization: Bearer {TOKEN}\r\n"
    head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


def analytics_report(n: int, host: str) -> bytes:
    """The n-th 15-second status report: where the aircraft is, which phone reports it."""
    start = DEMO_PHOTOS[0]
    report = {
        "event": "flight_status",
        "seq": n,
        "aircraft_sn": DEMO_SERIAL,
        "android_id": ANDROID_ID,
        "aircraft": {
            "latitude": round(start.lat + 0.00021 * n, 7),
            "longitude": round(start.lon + 0.00017 * n, 7),
            "height_m": round(start.rel_alt + 2.5 * n, 1),
        },
    }
    return _request("/v1/report", host, "application/json", json.dumps(report, sort_keys=True).encode())


def flight_record_upload(rng: random.Random, host: str) -> bytes:
    """The sync after landing: summary JSON, the flight log itself, and the last photo's thumbnail."""
    home = DEMO_PHOTOS[0]
    summary = {
        "aircraft_sn": DEMO_SERIAL,
        "account": {"email": ACCOUNT},
        "home_lat": home.lat,
        "home_lng": home.lon,
        "takeoff_utc": "2026-03-14T09:30:12Z",
    }
    parts = [
        ('name="summary"', "application/json", json.dumps(summary, sort_keys=True).encode()),
        (
            f'name="record"; filename="{FLIGHT_RECORD}"',
            "application/octet-stream",
            rng.randbytes(RECORD_BYTES),
        ),
        ('name="thumbnail"; filename="thumb.jpg"', "image/jpeg", photo_bytes(DEMO_PHOTOS[-1], DEMO_SERIAL)),
    ]
    body = b"".join(_part(disposition, ctype, data) for disposition, ctype, data in parts)
    body += f"--{_BOUNDARY}--\r\n".encode()
    return _request("/api/v2/flight-records", host, f"multipart/form-data; boundary={_BOUNDARY}", body, True)


def _part(disposition: str, content_type: str, data: bytes) -> bytes:
    head = f"--{_BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n"
    return (head + f"Content-Type: {content_type}\r\n\r\n").encode() + data + b"\r\n"
