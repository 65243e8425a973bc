"""Remote ID broadcasts (ASTM F3411 / ASD-STAN EN 4709-002 "Open Drone ID") in captured frames.

What an aircraft tells anyone nearby, unencrypted: its serial number or session ID (Basic ID), its
position, altitude, speed and time (Location/Vector), a free-text Self-ID, the operator's position
(System) and the operator's registration (Operator ID). An audit wants all of it: it is the drone
disclosing identity and whereabouts over the air. Carriers are read by ``remoteid_wifi`` (beacon
vendor element, NAN service discovery) and ``remoteid_bt`` (BLE legacy and extended advertising).

Every message is 25 bytes, little-endian, header byte = type << 4 | protocol version. Encodings
(opendroneid-core-c): lat/lon int32 x 1e-7 deg (0/0 = unknown); altitudes uint16 x 0.5 - 1000 m
(-1000 = unknown); speed uint8 x 0.25 m/s, or x 0.75 + 63.75 with the multiplier flag (255 =
unknown); vertical speed int8 x 0.5 (63 = unknown); direction uint8 (+180 with the E/W flag, 361 =
unknown); Location time = tenths of a second since the full UTC hour (0xFFFF = unknown); System and
Authentication times = seconds since 2019-01-01T00:00:00Z. A Message Pack (type 0xF) holds up to 9
messages of 25 bytes. A damaged message (unknown type, out-of-range position, bad pack header) is
skipped; the others are kept. Nothing here raises on hostile bytes.

Choices in ``to_records`` (documented because they shape the report):

* Location time has no date or hour. It is placed in the hour of the capture timestamp (or the one
  before/after, whichever is nearest), and only kept when that lands within ``LOCATION_TIME_TOLERANCE_S``
  of the capture time; otherwise ``time_utc`` is None. Basis "capture-hour": a capture clock off by
  whole hours would shift it unnoticed.
* System time is absolute UTC (basis "utc"), but the field only exists from protocol version 2 (ASTM
  F3411-22); in older versions those bytes are reserved and ignored.
* The System position is the operator ("operator"), except when its location type says it is the
  take-off point, which is what "home" means elsewhere in droneaudit.
* Altitude: geodetic (WGS-84 ellipsoid) when known, else height above take-off ("relative"). Pressure
  altitude and height above ground have no matching reference and stay in the message fields only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from droneaudit.model import Identity, TrackPoint
from droneaudit.readers.protocols import remoteid_bt, remoteid_wifi

FieldValue = int | float | str | None

MESSAGE_SIZE = 25
PACK_MAX_MESSAGES = 9
LOCATION_TIME_TOLERANCE_S = 60
ODID_EPOCH = 1_546_300_800  # 2019-01-01T00:00:00Z
TYPE_NAMES = {0: "basic-id", 1: "location", 2: "auth", 3: "self-id", 4: "system", 5: "operator-id"}
ID_TYPES = {0: "none", 1: "serial number", 2: "CAA registration", 3: "UTM-assigned UUID", 4: "session ID"}
_ID_KINDS = {
    1: "remote-id-serial",
    2: "remote-id-caa-registration",
    3: "remote-id-utm-uuid",
    4: "remote-id-session",
}
_PACK = 0xF
_INVALID_ALT = -1000.0


@dataclass(frozen=True, slots=True)
class OdidMessage:
    """One decoded Open Drone ID message, as carried by one transport in one frame."""

    msg_type: int  #: 0 Basic ID, 1 Location/Vector, 2 Authentication, 3 Self-ID, 4 System, 5 Operator ID
    version: int  #: protocol version nibble: 0 F3411-19, 1 EN 4709-002 / F3411-20, 2 F3411-22
    transport: str  #: "wifi-beacon" | "wifi-nan" | "bt4" | "bt5"
    counter: int  #: the transport's message counter byte
    in_pack: bool  #: True when it came out of a Message Pack
    fields: dict[str, FieldValue] = field(hash=False)  #: decoded values; None = "unknown" on the wire
    raw: bytes = b""  #: the 25 message bytes, for evidence

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.msg_type, f"type-{self.msg_type}")


def frames_of_interest(link_type: int, frame: bytes) -> bool:
    """Cheap test whether ``decode`` could find anything (a header byte and a substring search), so the
    capture reader can skip the many beacons and advertisements that are not Remote ID."""
    if link_type == remoteid_wifi.LINKTYPE_RADIOTAP:
        return remoteid_wifi.wifi_of_interest(frame, radiotap=True)
    if link_type == remoteid_wifi.LINKTYPE_IEEE802_11:
        return remoteid_wifi.wifi_of_interest(frame, radiotap=False)
    return remoteid_bt.bt_of_interest(link_type, frame)


def decode(link_type: int, frame: bytes) -> list[OdidMessage]:
    """Every Remote ID message in one captured frame (packs flattened); [] when there is none. Link
    types: 105 (802.11), 127 (radiotap), 251/256 (BLE LL), 272 (nRF Sniffer); others give []."""
    if link_type in (remoteid_wifi.LINKTYPE_RADIOTAP, remoteid_wifi.LINKTYPE_IEEE802_11):
        carried = remoteid_wifi.wifi_payloads(frame, radiotap=link_type == remoteid_wifi.LINKTYPE_RADIOTAP)
    else:
        carried = remoteid_bt.bt_payloads(link_type, frame)
    out: list[OdidMessage] = []
    for transport, payload in carried:
        out.extend(decode_payload(transport, payload))
    return out


def decode_payload(transport: str, payload: bytes) -> list[OdidMessage]:
    """Counter byte then one message or a Message Pack, as every transport carries them."""
    if len(payload) < 2:
        return []
    counter, body = payload[0], payload[1:]
    if body[0] >> 4 != _PACK:
        single = _message(transport, counter, body[:MESSAGE_SIZE], in_pack=False)
        return [single] if single else []
    size, count = (body[1], body[2]) if len(body) >= 3 else (0, 0)
    if size != MESSAGE_SIZE or count > PACK_MAX_MESSAGES:
        return []
    out: list[OdidMessage] = []
    for i in range(count):
        raw = body[3 + i * MESSAGE_SIZE : 3 + (i + 1) * MESSAGE_SIZE]
        msg = _message(transport, counter, raw, in_pack=True)
        if msg:
            out.append(msg)
    return out


def _message(transport: str, counter: int, raw: bytes, *, in_pack: bool) -> OdidMessage | None:
    """One 25-byte message, or None when it is cut short, of an unknown type (a pack inside a pack
    included) or damaged beyond use."""
    if len(raw) < MESSAGE_SIZE:
        return None
    msg_type = raw[0] >> 4
    decoder = _DECODERS.get(msg_type)
    fields = decoder(raw, raw[0] & 0x0F) if decoder else None
    if fields is None:
        return None
    return OdidMessage(msg_type, raw[0] & 0x0F, transport, counter, in_pack, fields, bytes(raw))


# --- message bodies ------------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    """NUL-terminated ASCII; non-printable bytes (a damaged or binary field) become '?'."""
    data = raw.split(b"\x00", 1)[0]
    return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in data).strip()


def _identifier(raw: bytes, id_type: int) -> str:
    """Printable IDs as text; a session ID (binary by definition) or unprintable bytes as hex."""
    data = raw.split(b"\x00", 1)[0] if id_type != 4 else raw.rstrip(b"\x00")
    if id_type != 4 and all(0x20 <= b < 0x7F for b in data):
        return data.decode("ascii").strip()
    return data.hex()


def _alt(raw: bytes, pos: int) -> float | None:
    value = int.from_bytes(raw[pos : pos + 2], "little") * 0.5 - 1000
    return None if value == _INVALID_ALT else value


def _latlon(raw: bytes, pos: int) -> tuple[float | None, float | None] | None:
    """(lat, lon), (None, None) when 0/0 means "unknown"; None when out of range (damaged)."""
    lat_i, lon_i = struct.unpack_from("<ii", raw, pos)
    if lat_i == 0 and lon_i == 0:
        return None, None
    if abs(lat_i) > 900_000_000 or abs(lon_i) > 1_800_000_000:
        return None
    return round(lat_i / 1e7, 7), round(lon_i / 1e7, 7)


def _odid_time(seconds: int) -> str | None:
    return None if seconds == 0 else _iso(float(ODID_EPOCH + seconds), "seconds")


def _basic_id(raw: bytes, _version: int) -> dict[str, FieldValue]:
    id_type = raw[1] >> 4
    return {
        "id_type": id_type,
        "id_type_name": ID_TYPES.get(id_type, "reserved"),
        "ua_type": raw[1] & 0x0F,
        "uas_id": _identifier(raw[2:22], id_type),
    }


def _location(raw: bytes, _version: int) -> dict[str, FieldValue] | None:
    position = _latlon(raw, 5)
    if position is None:
        return None
    flags = raw[1]
    direction = raw[2] + (180 if flags & 0x02 else 0)
    speed = raw[3] * 0.75 + 63.75 if flags & 0x01 else raw[3] * 0.25
    vspeed = struct.unpack_from("<b", raw, 4)[0] * 0.5
    tenths = int.from_bytes(raw[21:23], "little")
    return {
        "status": flags >> 4,
        "height_type": "above-takeoff" if not flags & 0x04 else "above-ground",
        "direction_deg": direction if direction <= 360 else None,
        "speed_mps": speed if speed != 255 else None,
        "vertical_speed_mps": vspeed if vspeed != 63 else None,
        "lat": position[0],
        "lon": position[1],
        "alt_pressure_m": _alt(raw, 13),
        "alt_geodetic_m": _alt(raw, 15),
        "height_m": _alt(raw, 17),
        "horizontal_accuracy": raw[19] & 0x0F,
        "vertical_accuracy": raw[19] >> 4,
        "baro_accuracy": raw[20] >> 4,
        "speed_accuracy": raw[20] & 0x0F,
        "seconds_after_hour": tenths / 10 if tenths <= 36000 else None,
        "time_accuracy_s": (raw[23] & 0x0F) / 10 or None,
    }


def _auth(raw: bytes, _version: int) -> dict[str, FieldValue]:
    page = raw[1] & 0x0F
    out: dict[str, FieldValue] = {"auth_type": raw[1] >> 4, "page": page}
    if page == 0:
        out.update(last_page_index=raw[2], length=raw[3])
        out["time_utc"] = _odid_time(int.from_bytes(raw[4:8], "little"))
        out["data_hex"] = raw[8:25].hex()
    else:
        out["data_hex"] = raw[2:25].hex()
    return out


def _self_id(raw: bytes, _version: int) -> dict[str, FieldValue]:
    return {"description_type": raw[1], "description": _text(raw[2:25])}


def _system(raw: bytes, version: int) -> dict[str, FieldValue] | None:
    position = _latlon(raw, 2)
    if position is None:
        return None
    classification = (raw[1] >> 2) & 0x07
    return {
        "operator_location_type": raw[1] & 0x03,
        "classification_type": classification,
        "operator_lat": position[0],
        "operator_lon": position[1],
        "area_count": int.from_bytes(raw[10:12], "little"),
        "area_radius_m": raw[12] * 10,
        "area_ceiling_m": _alt(raw, 13),
        "area_floor_m": _alt(raw, 15),
        "category_eu": raw[17] >> 4 if classification == 1 else None,
        "class_eu": raw[17] & 0x0F if classification == 1 else None,
        "operator_alt_geodetic_m": _alt(raw, 18),
        "time_utc": _odid_time(int.from_bytes(raw[20:24], "little")) if version >= 2 else None,
    }


def _operator_id(raw: bytes, _version: int) -> dict[str, FieldValue]:
    return {"operator_id_type": raw[1], "operator_id": _text(raw[2:22])}


_DECODERS: dict[int, Callable[[bytes, int], dict[str, FieldValue] | None]] = {
    0: _basic_id,
    1: _location,
    2: _auth,
    3: _self_id,
    4: _system,
    5: _operator_id,
}


# --- records -------------------------------------------------------------------------------------


def to_records(
    messages: list[OdidMessage], file: str, frame: int, ts_ns: int
) -> tuple[list[TrackPoint], list[Identity]]:
    """Positions and identities one frame's messages disclose (``frame`` is 1-based, ``ts_ns`` the
    capture time in ns since the epoch). Identical identities repeat per frame; callers dedupe."""
    tracks: list[TrackPoint] = []
    identities: list[Identity] = []
    for msg in messages:
        if msg.msg_type == 1:
            tracks.extend(_aircraft_point(msg, file, frame, ts_ns))
        elif msg.msg_type == 4:
            tracks.extend(_operator_point(msg, file, frame))
        elif msg.msg_type in (0, 5):
            identities.extend(_identity(msg, file))
    return tracks, identities


def _aircraft_point(msg: OdidMessage, file: str, frame: int, ts_ns: int) -> list[TrackPoint]:
    f = msg.fields
    lat, lon = f.get("lat"), f.get("lon")
    if not isinstance(lat, float) or not isinstance(lon, float):
        return []
    alt, ref = _altitude(f)
    seconds = f.get("seconds_after_hour")
    when = location_time(seconds, ts_ns) if isinstance(seconds, float) else None
    basis = "capture-hour" if when else None
    source = f"Remote ID Location/Vector via {msg.transport}"
    return [TrackPoint(file, "aircraft", lat, lon, alt, ref, when, None, basis, source, frame)]


def _altitude(f: dict[str, FieldValue]) -> tuple[float | None, str | None]:
    geodetic, height = f.get("alt_geodetic_m"), f.get("height_m")
    if isinstance(geodetic, float):
        return geodetic, "ellipsoid"
    if isinstance(height, float) and f.get("height_type") == "above-takeoff":
        return height, "relative"
    return None, None


def _operator_point(msg: OdidMessage, file: str, frame: int) -> list[TrackPoint]:
    f = msg.fields
    lat, lon = f.get("operator_lat"), f.get("operator_lon")
    if not isinstance(lat, float) or not isinstance(lon, float):
        return []
    takeoff = f.get("operator_location_type") == 0
    kind, what = ("home", "take-off location") if takeoff else ("operator", "operator location")
    alt, when = f.get("operator_alt_geodetic_m"), f.get("time_utc")
    alt_m = alt if isinstance(alt, float) else None
    time_utc = when if isinstance(when, str) else None
    ref, basis = ("ellipsoid" if alt_m is not None else None), ("utc" if time_utc else None)
    source = f"Remote ID System {what} via {msg.transport}"
    return [TrackPoint(file, kind, lat, lon, alt_m, ref, time_utc, None, basis, source, frame)]


def _identity(msg: OdidMessage, file: str) -> list[Identity]:
    f = msg.fields
    if msg.msg_type == 5:
        value, id_type = f.get("operator_id"), f.get("operator_id_type")
        label = "" if id_type == 0 else f" (type {id_type})"
        kind, source = "operator-id", f"Remote ID Operator ID{label} via {msg.transport}"
    else:
        value, id_type = f.get("uas_id"), f.get("id_type")
        kind = _ID_KINDS.get(id_type, "remote-id") if isinstance(id_type, int) else "remote-id"
        source = f"Remote ID Basic ID ({f.get('id_type_name')}) via {msg.transport}"
    return [Identity(kind, value, file, source)] if isinstance(value, str) and value else []


# --- time ----------------------------------------------------------------------------------------


def location_time(seconds_after_hour: float, ts_ns: int) -> str | None:
    """UTC time of a Location message: its seconds-after-the-hour placed in the capture's hour (or the
    adjacent one, across an hour boundary), kept only within ``LOCATION_TIME_TOLERANCE_S`` of the
    capture time. Beyond that the two clocks disagree and the hour cannot be known."""
    capture_tenths = ts_ns // 100_000_000
    tenths = round(seconds_after_hour * 10)
    hour = capture_tenths // 36_000 * 36_000
    best = min((hour + k * 36_000 + tenths for k in (-1, 0, 1)), key=lambda t: abs(t - capture_tenths))
    if abs(best - capture_tenths) > LOCATION_TIME_TOLERANCE_S * 10:
        return None
    return _iso(best / 10, "milliseconds")


def _iso(seconds: float, timespec: str) -> str | None:
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None
