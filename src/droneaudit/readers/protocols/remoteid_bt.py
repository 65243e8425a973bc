"""Bluetooth LE carriers of Open Drone ID (ASTM F3411 / ASD-STAN EN 4709-002): where the bytes sit.

An aircraft advertises an AD structure of type 0x16 (Service Data - 16-bit UUID) with UUID 0xFFFA
(ASTM Remote ID), then application code 0x0D (Open Drone ID), a one-byte message counter and the
message: one 25-byte message in a legacy advertising PDU (Bluetooth 4 "bt4"), or a Message Pack in
the AdvData of an extended advertising PDU (Bluetooth 5 Long Range, "bt5").

Link types read here, all of which end in the Link Layer packet (access address, [coding indicator
on LE Coded PHY], 2-byte PDU header, payload, 3-byte CRC):

* 251 ``BLUETOOTH_LE_LL``: the LL packet alone (PHY unknown, taken as uncoded).
* 256 ``BLUETOOTH_LE_LL_WITH_PHDR``: a 10-byte radio header whose flags give the PHY and CRC state.
* 272 ``NORDIC_BLE`` (nRF Sniffer): a 17-byte header in every protocol version (board ID, UART
  header, then length, flags, channel, RSSI, event counter, time) with the CRC verdict in flags bit 0
  and the PHY in bits 4-6.

Frames whose capture says the CRC failed are dropped: a bit error in a serial number or position
would be reported as fact otherwise. Only advertising-channel packets (access address 0x8E89BED6)
are read. All reads are bounds-checked; a malformed AD structure ends the walk.
"""

from __future__ import annotations

LINKTYPE_BLUETOOTH_LE_LL = 251
LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR = 256
LINKTYPE_NORDIC_BLE = 272
BT_LINK_TYPES = (LINKTYPE_BLUETOOTH_LE_LL, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, LINKTYPE_NORDIC_BLE)

ADV_ACCESS_ADDRESS = b"\xd6\xbe\x89\x8e"  # 0x8E89BED6, little-endian on the wire
_ODID_SERVICE_DATA = b"\xfa\xff\x0d"  # UUID 0xFFFA little-endian, application code 0x0D
_AD_SERVICE_DATA_16 = 0x16
_LEGACY_WITH_ADVA = (0, 2, 4, 6)  # ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND: AdvA then AdvData
_EXTENDED = 7  # ADV_EXT_IND / AUX_ADV_IND / AUX_CHAIN_IND / AUX_SCAN_RSP / AUX_SYNC_IND
_PHY_CODED = 2
_NORDIC_LL_OFFSET = 17
_PHDR_LEN = 10
_MAX_AD = 128  # AdvData is at most 254 bytes; each AD structure takes >= 1


def bt_of_interest(link_type: int, frame: bytes) -> bool:
    """Cheap pre-filter: an advertising-channel packet whose bytes contain the ODID service data tag."""
    return link_type in BT_LINK_TYPES and ADV_ACCESS_ADDRESS in frame[:32] and _ODID_SERVICE_DATA in frame


def bt_payloads(link_type: int, frame: bytes) -> list[tuple[str, bytes]]:
    """(transport, counter + message bytes) for every Open Drone ID service data in one frame."""
    located = _link_layer(link_type, frame)
    if located is None:
        return []
    ll, coded = located
    if ll[:4] != ADV_ACCESS_ADDRESS:
        return []
    pos = 5 if coded else 4  # the coding indicator byte follows the access address on LE Coded PHY
    if pos + 2 > len(ll):
        return []
    pdu_type, length = ll[pos] & 0x0F, ll[pos + 1]
    payload = ll[pos + 2 : pos + 2 + length]
    if len(payload) < length:
        return []
    if pdu_type in _LEGACY_WITH_ADVA:
        return [("bt4", p) for p in odid_service_data(payload[6:])]
    if pdu_type == _EXTENDED and payload:
        header_len = payload[0] & 0x3F  # extended header length; AdvMode in the top two bits
        return [("bt5", p) for p in odid_service_data(payload[1 + header_len :])]
    return []


def _link_layer(link_type: int, frame: bytes) -> tuple[bytes, bool] | None:
    """The LL packet and whether it was received on LE Coded PHY; None if the CRC is known bad."""
    if link_type == LINKTYPE_BLUETOOTH_LE_LL:
        return frame, False
    if link_type == LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR:
        if len(frame) < _PHDR_LEN:
            return None
        flags = int.from_bytes(frame[8:10], "little")
        if flags & 0x0400 and not flags & 0x0800:  # CRC checked and not valid
            return None
        return frame[_PHDR_LEN:], (flags >> 14) & 0x3 == _PHY_CODED
    if link_type == LINKTYPE_NORDIC_BLE:
        if len(frame) < _NORDIC_LL_OFFSET:
            return None
        flags = frame[8]
        if not flags & 0x01:  # CRC incorrect
            return None
        return frame[_NORDIC_LL_OFFSET:], (flags >> 4) & 0x7 == _PHY_CODED
    return None


def odid_service_data(adv_data: bytes) -> list[bytes]:
    """Counter + message bytes of each ODID service data AD structure in AdvData."""
    out: list[bytes] = []
    pos = 0
    for _ in range(_MAX_AD):
        if pos >= len(adv_data):
            break
        length = adv_data[pos]
        if length == 0:  # early termination / padding
            break
        body = adv_data[pos + 1 : pos + 1 + length]
        if len(body) < length:
            break
        if body[0] == _AD_SERVICE_DATA_16 and body[1:4] == _ODID_SERVICE_DATA and len(body) > 4:
            out.append(body[4:])
        pos += 1 + length
    return out
