"""Link-layer framings for synthetic captures: Ethernet (with 802.1Q/QinQ), Linux cooked v1/v2,
BSD loopback (DLT_NULL / DLT_LOOP) and radiotap + 802.11 data.

Capture readers must find the IP header behind every framing a real phone, laptop or Wi-Fi monitor
capture can carry, so each one is built here byte for byte from its specification (tcpdump.org
link-layer header types), not through a packet library that could share a reader's misreading.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

#: EtherType values used by the builders and the tests.
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100
ETHERTYPE_QINQ = 0x88A8
ETHERTYPE_IPV6 = 0x86DD

#: Address-family values seen in DLT_NULL / DLT_LOOP headers (IPv6 differs between BSDs).
AF_INET = 2
AF_INET6_BSD = 24  # NetBSD, OpenBSD, BSD/OS
AF_INET6_FREEBSD = 28
AF_INET6_DARWIN = 30

#: Linux cooked-capture packet types (sll_pkttype).
PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3
PACKET_OUTGOING = 4

ARPHRD_ETHER = 1

DEFAULT_SRC_MAC = "02:00:00:00:00:01"
DEFAULT_DST_MAC = "02:00:00:00:00:02"


def mac(value: str | bytes) -> bytes:
    """Return a 6-byte MAC from ``"aa:bb:cc:dd:ee:ff"`` (or ``-`` separated) text or from bytes."""
    raw = bytes.fromhex(value.replace(":", "").replace("-", "")) if isinstance(value, str) else bytes(value)
    if len(raw) != 6:
        raise ValueError(f"a MAC address has 6 bytes, got {len(raw)}")
    return raw


def _default_tpids(count: int) -> list[int]:
    """802.1Q for a single tag; 802.1ad (S-tag 0x88a8) outside 802.1Q C-tags for a stack."""
    if count <= 1:
        return [ETHERTYPE_VLAN] * count
    return [ETHERTYPE_QINQ] + [ETHERTYPE_VLAN] * (count - 1)


def ethernet(
    payload: bytes,
    *,
    src_mac: str | bytes = DEFAULT_SRC_MAC,
    dst_mac: str | bytes = DEFAULT_DST_MAC,
    ethertype: int,
    vlans: Sequence[int] = (),
    vlan_tpids: Sequence[int] | None = None,
    min_size: int = 0,
) -> bytes:
    """Ethernet II frame, outermost VLAN tag first.

    ``vlans`` holds the 16-bit TCI of each tag (the VLAN id in the low 12 bits, so a plain id works).
    Without ``vlan_tpids`` a single tag uses 0x8100 and a stack uses 0x88a8 outside and 0x8100 inside
    (802.1ad QinQ). ``min_size`` pads the frame with zero bytes (e.g. 60 for the Ethernet minimum without
    FCS), so tests can check that readers count IP bytes from the IP header, not from the frame length.
    """
    if vlan_tpids is None:
        vlan_tpids = _default_tpids(len(vlans))
    if len(vlan_tpids) != len(vlans):
        raise ValueError("vlan_tpids needs one TPID per VLAN tag")
    tags = b"".join(
        struct.pack("!HH", tpid, tci & 0xFFFF) for tpid, tci in zip(vlan_tpids, vlans, strict=True)
    )
    frame = mac(dst_mac) + mac(src_mac) + tags + struct.pack("!H", ethertype) + payload
    return frame.ljust(min_size, b"\x00")


def _sll_addr(addr: str | bytes) -> tuple[int, bytes]:
    raw = mac(addr) if isinstance(addr, str) else bytes(addr)
    if len(raw) > 8:
        raise ValueError("a cooked-capture link address has at most 8 bytes")
    return len(raw), raw.ljust(8, b"\x00")


def sll(
    payload: bytes,
    *,
    pkttype: int,
    protocol: int,
    hatype: int = ARPHRD_ETHER,
    addr: str | bytes = DEFAULT_SRC_MAC,
) -> bytes:
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113): 16-byte header, all fields big-endian.

    This is what ``tcpdump -i any`` wrote before libpcap 1.10; ``pkttype`` 0 = to us, 4 = outgoing.
    """
    addr_len, addr_bytes = _sll_addr(addr)
    return struct.pack("!HHH8sH", pkttype, hatype, addr_len, addr_bytes, protocol) + payload


def sll2(
    payload: bytes,
    *,
    protocol: int,
    ifindex: int,
    pkttype: int,
    hatype: int = ARPHRD_ETHER,
    addr: str | bytes = DEFAULT_SRC_MAC,
) -> bytes:
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): 20-byte header with the interface index.

    Layout: protocol u16, reserved u16, ifindex u32, hatype u16, pkttype u8, addr len u8, 8-byte addr.
    """
    addr_len, addr_bytes = _sll_addr(addr)
    header = struct.pack("!HHIHBB8s", protocol, 0, ifindex, hatype, pkttype, addr_len, addr_bytes)
    return header + payload


def null_loop(payload: bytes, family: int, *, big_endian: bool = False) -> bytes:
    """BSD loopback header: a 4-byte address family.

    LINKTYPE_NULL (0) stores it in the capturing host's byte order (usually little-endian today), while
    LINKTYPE_LOOP (108, OpenBSD) stores it in network order: pass ``big_endian=True`` for the latter, or
    to model a big-endian host writing LINKTYPE_NULL.
    """
    return struct.pack(">I" if big_endian else "<I", family) + payload


def _radiotap_minimal() -> bytes:
    """Radiotap header with no fields: version 0, pad 0, length 8 (LE), present bitmap 0."""
    return struct.pack("<BBHI", 0, 0, 8, 0)


def _dot11_addresses(src: bytes, dst: bytes, bssid: bytes, to_ds: bool, from_ds: bool) -> bytes:
    """Address 1-3 of a data frame; their meaning depends on the ToDS/FromDS bits (802.11 table 9-26)."""
    if to_ds and from_ds:
        raise ValueError("ToDS+FromDS (WDS, four addresses) is not supported")
    if to_ds:
        return bssid + src + dst
    if from_ds:
        return dst + bssid + src
    return dst + src + bssid


def radiotap_80211_data(
    payload: bytes,
    *,
    ethertype: int = ETHERTYPE_IPV4,
    src_mac: str | bytes = DEFAULT_SRC_MAC,
    dst_mac: str | bytes = DEFAULT_DST_MAC,
    bssid: str | bytes = "02:00:00:00:00:ff",
    to_ds: bool = True,
    from_ds: bool = False,
    qos: bool = False,
    seq: int = 0,
) -> bytes:
    """Radiotap (LINKTYPE_IEEE802_11_RADIOTAP, 127) + unprotected 802.11 data frame + LLC/SNAP.

    What a monitor-mode capture of an open (or already decrypted) network looks like: minimal 8-byte
    radiotap header, frame control for Data (0x08) or QoS Data (0x88), three addresses, sequence control,
    an optional 2-byte QoS control field, then ``AA AA 03 00 00 00`` and the EtherType. No FCS.
    """
    fc0 = 0x88 if qos else 0x08
    fc1 = (0x01 if to_ds else 0) | (0x02 if from_ds else 0)
    addrs = _dot11_addresses(mac(src_mac), mac(dst_mac), mac(bssid), to_ds, from_ds)
    header = struct.pack("<BBH", fc0, fc1, 0) + addrs + struct.pack("<H", (seq & 0x0FFF) << 4)
    if qos:
        header += struct.pack("<H", 0)
    snap = b"\xaa\xaa\x03\x00\x00\x00" + struct.pack("!H", ethertype)
    return _radiotap_minimal() + header + snap + payload
