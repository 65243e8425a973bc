"""What a key name says about its value: latitude, serial, phone, device id, secret.

Keys are split into lower-case words (``aircraftLatitude`` → aircraft, latitude; ``home_lat`` → home,
lat) and judged by their words, never by substrings: "flat", "hotel", "snr" and "hmac" must not
look like a latitude, a phone, a serial number or a MAC address.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

LAT_WORDS = frozenset({"lat", "latitude", "latitue", "lati"})
LON_WORDS = frozenset({"lon", "lng", "long", "longitude", "longtitude", "longi"})
#: Keys whose value may be a whole "lat,lon" (or, for "coordinates", GeoJSON's "lon,lat").
PLACE_WORDS = frozenset(
    {"location", "loc", "latlng", "latlon", "ll", "coords", "coord", "coordinate", "coordinates"}
    | {"position", "pos", "gps", "point", "center", "centre", "home", "geo", "geolocation", "place"}
)
_SERIAL_TAIL = frozenset({"number", "no", "num", "code", "id", "str"})
_PHONE_WORDS = frozenset({"phone", "mobile", "tel", "telephone", "msisdn", "cellphone", "phonenumber"})
_PHONE_NOT = frozenset({"id", "imei", "model", "version", "type", "os", "brand", "system", "name", "ver"})
_SECRET_LAST = frozenset(
    {"token", "secret", "jwt", "password", "passwd", "pwd", "session", "sessionid", "sessid", "sid", "apikey"}
)
_SECRET_EXACT = frozenset(
    {"phpsessid", "jsessionid", "aspnetsessionid", "connectsid", "xapikey", "apikey", "accesskey"}
    | {"secretkey", "privatekey", "appsecret", "clientsecret", "authorization", "proxyauthorization"}
)
_SECRET_PAIRS = (("api", "key"), ("secret", "key"), ("access", "key"), ("private", "key"))
_SECRET_NOT = frozenset(
    {"type", "expire", "expires", "expiry", "expiration", "ttl", "time", "timeout", "length", "len"}
    | {"count", "name", "url", "uri", "path", "enabled", "valid", "status", "at", "in", "version"}
)


def words(key: str) -> tuple[str, ...]:
    """``aircraft_SN`` → ("aircraft", "sn"); ``GpsLatitude`` → ("gps", "latitude")."""
    return tuple(w.lower() for w in _WORD.findall(key))


def flat(key: str) -> str:
    """Lower case, letters and digits only: ``X-Api-Key`` → "xapikey"."""
    return re.sub(r"[^a-z0-9]", "", key.lower())


def lat_word(key: str) -> str | None:
    """The latitude word of a key, or None (``home_lat`` → "lat")."""
    return next((w for w in words(key) if w in LAT_WORDS), None)


def lon_word(key: str) -> str | None:
    return next((w for w in words(key) if w in LON_WORDS), None)


def stem(key: str) -> tuple[str, ...]:
    """The key without its latitude/longitude word: ``home_lat`` and ``home_lng`` share ("home",)."""
    return tuple(w for w in words(key) if w not in LAT_WORDS and w not in LON_WORDS)


def is_place(key: str) -> bool:
    parts = words(key)
    return bool(parts) and (parts[-1] in PLACE_WORDS or flat(key) in PLACE_WORDS)


def is_serial(key: str) -> bool:
    """``sn``/``serial`` as the last word, or followed only by number/no/code/id: aircraft_sn,
    serialNumber, sn_code, uas_id; not sn_time or serial_port."""
    parts = words(key)
    if flat(key) in ("uasid", "serialno", "serialnumber", "sn"):
        return True
    for i, word in enumerate(parts):
        if word in ("sn", "serial", "serialno", "serialnumber") and set(parts[i + 1 :]) <= _SERIAL_TAIL:
            return True
    return False


def is_phone(key: str) -> bool:
    parts = set(words(key))
    return bool(parts & _PHONE_WORDS or flat(key) in _PHONE_WORDS) and not parts & _PHONE_NOT


def is_secret(key: str) -> bool:
    """Session cookies, access/refresh tokens, API keys, secrets and passwords."""
    parts = words(key)
    name = flat(key)
    if name in _SECRET_EXACT or name in _SECRET_LAST:
        return True
    if not parts or set(parts) & _SECRET_NOT:
        return False
    pair = parts[-2:]
    return parts[-1] in _SECRET_LAST or name.endswith(("token", "sessionid")) or pair in _SECRET_PAIRS


def is_password(key: str) -> bool:
    return bool(set(words(key)) & {"password", "passwd", "pwd"})


def device_id_kind(key: str) -> str | None:
    """Which device identifier a key names: "imei", "android-id", "advertising-id", "vendor-id",
    "mac", "device-id", or None."""
    parts, name = set(words(key)), flat(key)
    if parts & {"imei", "meid"} or name.startswith("imei"):
        return "imei"
    if name in ("androidid", "ssaid") or {"android", "id"} <= parts:
        return "android-id"
    if name in ("idfa", "gaid", "aaid", "adid", "oaid", "advertisingid", "identifierforadvertising", "adsid"):
        return "advertising-id"
    if {"advertising", "id"} <= parts:
        return "advertising-id"
    if name in ("idfv", "vendorid", "identifierforvendor") or {"vendor", "id"} <= parts:
        return "vendor-id"
    if parts & {"mac", "bssid", "macaddr", "macaddress"} or name in ("wifimac", "btmac", "bluetoothaddress"):
        return "mac"
    if name in ("udid", "deviceid", "deviceuuid", "did", "hwid", "hardwareid") or (
        "device" in parts and parts & {"id", "uuid", "udid", "guid"}
    ):
        return "device-id"
    return None
