"""Wi-Fi carriers of Open Drone ID (ASTM F3411 / ASD-STAN EN 4709-002): where the Remote ID bytes sit.

Two carriers, both broadcast without any association, so a monitor-mode capture holds them:

* **Beacon** (802.11 management, subtype 8): a vendor-specific element (ID 221) with OUI FA-0B-BC
  (ASD-STAN) and OUI type 0x0D, whose data is a one-byte message counter and a Message Pack. The
  opendroneid Wireshark dissector also accepts Parrot's OUI 90-3A-E6 with the same layout, used by
  early firmware; so do we.
* **NAN** (Neighbor Awareness Networking) Service Discovery Frame: a public action frame (category 4,
  action 9 "vendor specific", OUI 50-6F-9A, type 0x13) whose Service Descriptor Attribute (ID 3)
  names the service ID ``88-69-19-9D-92-09`` (the first 6 bytes of SHA-256 of
  ``org.opendroneid.remoteid``); its service info is again a counter and a Message Pack.

Frames come as raw 802.11 (LINKTYPE 105) or behind a radiotap header (127). Radiotap tells whether the
FCS is appended (stripped here) and whether the frame failed its FCS check (dropped: its bytes are
damaged, and a damaged position or serial is worse than none). Every read is bounds-checked; a
malformed element or attribute ends the walk, keeping what was found before it.
"""

from __future__ import annotations

LINKTYPE_IEEE802_11 = 105
LINKTYPE_RADIOTAP = 127

ODID_OUIS = (b"\xfa\x0b\xbc", b"\x90\x3a\xe6")  # ASD-STAN, Parrot (legacy)
ODID_APP_CODE = 0x0D
NAN_SERVICE_ID = bytes.fromhex("8869199d9209")  # SHA-256("org.opendroneid.remoteid")[:6]
_WFA_NAN = b"\x50\x6f\x9a\x13"  # Wi-Fi Alliance OUI + NAN type

_FC_BEACON, _FC_ACTION = 0x80, 0xD0  # first frame-control byte: type 0 (management) + subtype
_MGMT_HEADER = 24
_BEACON_FIXED = 12  # timestamp (8), beacon interval (2), capability (2)
_RT_FLAG_FCS, _RT_FLAG_BAD_FCS = 0x10, 0x40
_MAX_ELEMENTS = 256  # a beacon body is < 2304 bytes; each element takes >= 2


def strip_radiotap(frame: bytes) -> bytes | None:
    """The 802.11 frame behind a radiotap header, without FCS; None when the header is bad or the
    capture marked the frame as failing its FCS check."""
    if len(frame) < 8 or frame[0] != 0:
        return None
    length = int.from_bytes(frame[2:4], "little")
    if length < 8 or length > len(frame):
        return None
    flags = _radiotap_flags(frame[:length])
    if flags & _RT_FLAG_BAD_FCS:
        return None
    body = frame[length:]
    return body[:-4] if flags & _RT_FLAG_FCS and len(body) >= 4 else body


def _radiotap_flags(header: bytes) -> int:
    """The Flags field (present bit 1), found after the chain of present words and the 8-byte-aligned
    TSFT (bit 0) if present; 0 when absent or out of bounds."""
    present = int.from_bytes(header[4:8], "little")
    pos, word = 8, present
    while word & 0x8000_0000 and pos + 4 <= len(header):  # extended present bitmaps
        word = int.from_bytes(header[pos : pos + 4], "little")
        pos += 4
    if not present & 0x02:
        return 0
    if present & 0x01:
        pos = (pos + 7) // 8 * 8 + 8
    return header[pos] if pos < len(header) else 0


def wifi_of_interest(frame: bytes, radiotap: bool) -> bool:
    """Cheap pre-filter: a beacon carrying an ODID OUI or an action frame naming the ODID service."""
    if radiotap:
        if len(frame) < 4 or frame[0] != 0:
            return False
        start = int.from_bytes(frame[2:4], "little")
    else:
        start = 0
    if start >= len(frame):
        return False
    fc = frame[start] & 0xFC
    if fc == _FC_BEACON:
        return any(oui + bytes([ODID_APP_CODE]) in frame for oui in ODID_OUIS)
    return fc == _FC_ACTION and NAN_SERVICE_ID in frame


def wifi_payloads(frame: bytes, radiotap: bool) -> list[tuple[str, bytes]]:
    """(transport, counter + message bytes) for every Open Drone ID block in one frame."""
    wlan = strip_radiotap(frame) if radiotap else frame
    if wlan is None or len(wlan) < _MGMT_HEADER:
        return []
    header = _MGMT_HEADER + (4 if wlan[1] & 0x80 else 0)  # +HTC/Order: HT Control field follows
    fc = wlan[0] & 0xFC
    if fc == _FC_BEACON:
        return [("wifi-beacon", p) for p in beacon_payloads(wlan[header + _BEACON_FIXED :])]
    if fc == _FC_ACTION:
        return [("wifi-nan", p) for p in nan_payloads(wlan[header:])]
    return []


def beacon_payloads(elements: bytes) -> list[bytes]:
    """Data of each ODID vendor-specific element (after OUI and OUI type) in a list of elements."""
    out: list[bytes] = []
    pos = 0
    for _ in range(_MAX_ELEMENTS):
        if pos + 2 > len(elements):
            break
        eid, length = elements[pos], elements[pos + 1]
        body = elements[pos + 2 : pos + 2 + length]
        if len(body) < length:
            break  # truncated element: nothing after it can be trusted
        if eid == 221 and length >= 5 and body[:3] in ODID_OUIS and body[3] == ODID_APP_CODE:
            out.append(body[4:])
        pos += 2 + length
    return out


def nan_payloads(action: bytes) -> list[bytes]:
    """Service info of each ODID Service Descriptor Attribute in a NAN public action frame body."""
    if len(action) < 6 or action[0] != 4 or action[1] != 9 or action[2:6] != _WFA_NAN:
        return []
    out: list[bytes] = []
    pos = 6
    for _ in range(_MAX_ELEMENTS):
        if pos + 3 > len(action):
            break
        attr_id, length = action[pos], int.from_bytes(action[pos + 1 : pos + 3], "little")
        body = action[pos + 3 : pos + 3 + length]
        if len(body) < length:
            break
        if attr_id == 3:
            info = _sda_service_info(body)
            if info is not None:
                out.append(info)
        pos += 3 + length
    return out


def _sda_service_info(sda: bytes) -> bytes | None:
    """Service info of a Service Descriptor Attribute body when it names the ODID service.

    Layout (NAN spec): service ID (6), instance ID, requestor instance ID, service control, then the
    optional binding bitmap (2, control bit 6), matching filter (bit 2) and service response filter
    (bit 3), each length-prefixed, and the length-prefixed service info (bit 4)."""
    if len(sda) < 9 or sda[:6] != NAN_SERVICE_ID:
        return None
    control, pos = sda[8], 9
    if control & 0x40:
        pos += 2
    for bit in (0x04, 0x08):
        if control & bit:
            if pos >= len(sda):
                return None
            pos += 1 + sda[pos]
    if not control & 0x10 or pos >= len(sda):
        return None
    info = sda[pos + 1 : pos + 1 + sda[pos]]
    return info if len(info) == sda[pos] else None
