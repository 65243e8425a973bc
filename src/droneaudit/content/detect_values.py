"""What a value looks like: coordinates, DJI serials, phone numbers, e-mail addresses, device ids, JWTs.

Shapes alone are weak evidence (a 15-digit number passes the Luhn check one time in ten, any float
pair may be a coordinate), so the strict shapes here are applied without a key only where they are
distinctive: DJI's CTA-2063 serials (``1581F…``), E.164 numbers with their ``+``, e-mail addresses,
JWTs and URL path coordinates with at least three decimals. Everything else needs a key.
"""

from __future__ import annotations

import base64
import json
import math
import re

#: DJI's ANSI/CTA-2063-A manufacturer code 1581, then the length character and the serial
#: (drone-formats.md: 1581F5FJD22740010156, 1581F6Z9C23CP003).
DJI_CTA_SERIAL = re.compile(r"(?<![0-9A-Za-z])1581F[0-9A-Z]{11,15}(?![0-9A-Za-z])")
#: DJI's 14-character serials (1W9DH8R000003K, 3NZCJ270048FFC, 5L4SK6A02AA064): judged only under a key.
DJI_14 = re.compile(r"[0-9][0-9A-Z]{13}")
EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9\-]{1,63}\.)+([A-Za-z]{2,24})(?![\w\-])"
)
#: File name extensions that end "name@2x.png"-style asset names, which are not addresses.
_NOT_TLD = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "js", "css", "json", "html", "htm", "xml"})
E164 = re.compile(r"(?<![\w+])\+[1-9]\d{0,3}(?:[ \-]?\d{2,5}){1,5}(?![\d\-])")
JWT = re.compile(r"(?<![\w\-])eyJ[\w\-]{8,}\.eyJ[\w\-]{8,}\.[\w\-]*")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAC = re.compile(r"[0-9a-fA-F]{2}([:\-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}|[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*")
COORD_PAIR = re.compile(r"\s*(-?\d{1,3}\.\d+)\s*,\s*(-?\d{1,3}\.\d+)(?:\s*,\s*-?\d+(?:\.\d+)?)?\s*")
#: "/@22.543,113.958" (map links, 3+ decimals) and "/22.5432/113.9588" or "/22.5432,113.9588" path
#: segments (4+ decimals: "/1.234/5.678" is more likely two versions than a place).
PATH_COORDS = re.compile(
    r"/@(-?\d{1,2}\.\d{3,}),(-?\d{1,3}\.\d{3,})(?=[/,?;z]|$)"
    r"|/(-?\d{1,2}\.\d{4,})[/,](-?\d{1,3}\.\d{4,})(?=[/?;]|$)"
)
_HASH_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})
_EMPTY = frozenset({"", "null", "none", "nil", "undefined", "unknown", "n/a", "na", "true", "false", "0"})
#: Unix times from 2000 to 2040 in seconds and milliseconds: numbers that look like phone numbers.
_EPOCH_S = (946_684_800, 2_208_988_800)


def decimals(text: str) -> int:
    return len(text.strip().split(".", 1)[1]) if "." in text else 0


def number(text: str) -> float | None:
    """A finite float from a plain decimal string, else None (no exponents, hex or words)."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def valid_position(lat: float, lon: float) -> bool:
    """In range and not the 0,0 placeholder."""
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0)


def e7(lat_text: str, lon_text: str) -> tuple[float, float] | None:
    """Degrees × 10⁷ integers (MAVLink ``lat``/``lon``) as degrees, when both look like that."""
    if not (re.fullmatch(r"-?\d{7,10}", lat_text.strip()) and re.fullmatch(r"-?\d{7,10}", lon_text.strip())):
        return None
    lat, lon = int(lat_text) / 1e7, int(lon_text) / 1e7
    return (lat, lon) if valid_position(lat, lon) else None


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def empty(value: str) -> bool:
    return value.strip().lower() in _EMPTY


def hash_like(value: str) -> bool:
    """Hex of a digest's length: a hash, not an identifier as issued."""
    return len(value) in _HASH_LENGTHS and bool(re.fullmatch(r"[0-9a-fA-F]+", value))


def serial_shape(value: str) -> str | None:
    """A description when ``value`` can be a serial under a serial key, else None."""
    value = value.strip()
    if (
        not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.\-]{5,39}", value)
        or hash_like(value)
        or UUID.fullmatch(value)
    ):
        return None
    if not any(c.isdigit() for c in value) or len(set(value)) < 3:
        return None
    if value.isdigit() and len(value) < 8:
        return None
    if DJI_CTA_SERIAL.fullmatch(value):
        return f"DJI serial (CTA-2063 manufacturer code 1581, {len(value)} chars)"
    if DJI_14.fullmatch(value):
        return "DJI-style 14-character serial"
    return f"{len(value)} chars"


def phone_digits(value: str, *, keyed: bool) -> str | None:
    """The digits of a phone number ("+" kept), or None; keyed values may lack the "+"."""
    text = value.strip()
    if not re.fullmatch(r"\+?[\d\s\-().]{7,24}", text):
        return None
    digits = re.sub(r"\D", "", text)
    plus = text.startswith("+")
    if not 7 <= len(digits) <= 15 or len(set(digits)) < 3 or (not plus and not keyed):
        return None
    if not plus and _epoch_like(digits):
        return None
    return ("+" if plus else "") + digits


def _epoch_like(digits: str) -> bool:
    if len(digits) == 10:
        return _EPOCH_S[0] <= int(digits) <= _EPOCH_S[1]
    if len(digits) == 13:
        return _EPOCH_S[0] <= int(digits) // 1000 <= _EPOCH_S[1]
    return False


def emails(value: str) -> list[str]:
    return [m[0] for m in EMAIL.finditer(value) if m[1].lower() not in _NOT_TLD]


def e164(value: str) -> list[str]:
    """International numbers written with "+" in free text (8 to 15 digits)."""
    out = []
    for match in E164.finditer(value):
        digits = re.sub(r"\D", "", match[0])
        if 8 <= len(digits) <= 15 and len(set(digits)) >= 3:
            out.append("+" + digits)
    return out


def jwt_detail(token: str) -> str:
    """``JWT (alg HS256; claims exp, sub)``: the header's algorithm and the claim names, no values."""
    try:
        head, payload = (
            json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2]
        )
        claims = ", ".join(sorted(str(k) for k in payload)[:8]) if isinstance(payload, dict) else ""
        return f"JWT (alg {head.get('alg', '?')}; claims {claims})" if isinstance(head, dict) else "JWT"
    except (ValueError, TypeError, UnicodeDecodeError):
        return "JWT-shaped token"


def mask(secret: str) -> str:
    """First 4 and last 4 characters of a secret of 16+ characters; shorter ones are not shown at all."""
    secret = secret.strip()
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) >= 16 else "…"


def device_id_shape(kind: str, value: str) -> str | None:
    """A description when ``value`` fits the identifier ``kind`` names, else None."""
    value = value.strip()
    if kind == "imei":
        return "IMEI (Luhn check passes)" if re.fullmatch(r"\d{15}", value) and luhn(value) else None
    if kind == "android-id":
        ok = re.fullmatch(r"[0-9a-fA-F]{16}", value) and len(set(value)) > 2
        return "Android ID (16 hex digits)" if ok else None
    if kind in ("advertising-id", "vendor-id"):
        return f"{kind} UUID" if UUID.fullmatch(value) and value.strip("0-") else None
    if kind == "mac":
        return _mac(value)
    return _device_id(value)


def _mac(value: str) -> str | None:
    if not MAC.fullmatch(value):
        return None
    hexdigits = re.sub(r"[:\-]", "", value).lower()
    if hexdigits in ("000000000000", "ffffffffffff", "020000000000"):  # placeholders (Android's fake MAC)
        return None
    return "MAC address"


def _device_id(value: str) -> str | None:
    """A device id under a device-id key: UUID, IMEI, 16-64 hex, or a 16-64 character mixed token."""
    if UUID.fullmatch(value):
        return "device UUID" if value.strip("0-") else None
    if re.fullmatch(r"\d{15}", value) and luhn(value):
        return "IMEI (Luhn check passes)"
    if re.fullmatch(r"[0-9a-fA-F]{16,64}", value) and len(set(value)) > 3:
        return f"{len(value)} hex digits"
    if (
        re.fullmatch(r"[0-9A-Za-z_\-]{16,64}", value)
        and re.search(r"\d", value)
        and re.search("[A-Za-z]", value)
    ):
        return f"{len(value)}-character id"
    return None
