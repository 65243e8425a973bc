"""Link layers, vectorised: for each frame, where its IP header starts (or why it has none).

One handler per link type works on the index subset of frames with that link type. Handlers return
the absolute offset of the network header, the outermost VLAN id, the direction the link layer states
(Linux cooked captures mark packets the host sent as "outgoing") and the SLL2 interface index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from droneaudit.readers.capture.batch import I64, PAD, U8, FrameBatch
from droneaudit.readers.capture.gather import u8, u16be, u16le, u32be

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
_TAGS_WITH_VLAN = (0x8100, 0x88A8, 0x9100, 0x9200)
_VNTAG = 0x8926
_MPLS = (0x8847, 0x8848)
_PPPOE_SESSION = 0x8864

#: Link types that never carry IP (Bluetooth LE, 802.15.4, USB, CAN): counted as non-IP frames, not as
#: problems. The private DLT_USERn types (147-162) are *not* here: DJI's DUML serial dumps use them, and a
#: user should be told those frames were not understood.
NON_IP_LINK_TYPES = frozenset({187, 189, 195, 201, 215, 220, 227, 230, 251, 256, 272})


@dataclass
class LinkResult:
    """Per frame: l3 offset into the buffer (-1: no IP), VLAN (-1: none), direction, SLL2 ifindex."""

    l3: I64
    vlan: I64
    direction: np.ndarray
    ifindex: I64
    unknown_link: np.ndarray  # bool: link type we cannot decode
    truncated: np.ndarray  # bool: frame shorter than its link-layer header

    @classmethod
    def empty(cls, n: int) -> LinkResult:
        return cls(
            l3=np.full(n, -1, dtype=np.int64),
            vlan=np.full(n, -1, dtype=np.int64),
            direction=np.zeros(n, dtype=np.int8),
            ifindex=np.full(n, -1, dtype=np.int64),
            unknown_link=np.zeros(n, dtype=bool),
            truncated=np.zeros(n, dtype=bool),
        )


Handler = Callable[[U8, I64, LinkResult, I64], None]


def decode(batch: FrameBatch, link_types: I64) -> LinkResult:
    """Run the handler of each link type present on its frames."""
    res = LinkResult.empty(len(batch))
    res.direction[:] = batch.direction
    one = link_types.shape[0] and (link_types == link_types[0]).all()  # the usual case: skip the sort
    for lt in link_types[:1] if one else np.unique(link_types):
        idx = np.arange(link_types.shape[0]) if one else np.flatnonzero(link_types == lt)
        handler = HANDLERS.get(int(lt))
        if handler is not None:
            handler(batch.buf, batch.data_off[idx], res, idx)
            res.truncated[idx] = batch.caplen[idx] < MIN_HEADER.get(int(lt), 1)
        elif int(lt) not in NON_IP_LINK_TYPES:
            res.unknown_link[idx] = True
    ends = batch.data_off + batch.caplen
    res.l3 = np.where((res.l3 >= 0) & (res.l3 < ends) & ~res.truncated, res.l3, -1)
    return res


def _ethertype_l3(buf: U8, et_off: I64, res: LinkResult, idx: I64, payload: I64 | None = None) -> None:
    """From an EtherType field and where its payload starts (default: right after it): skip VLAN,
    VN-Tag, MPLS and PPPoE shims and record where IP starts."""
    et = u16be(buf, et_off)
    l3 = et_off + 2 if payload is None else payload
    vlan = np.full(et.shape[0], -1, dtype=np.int64)
    for _ in range(4):
        vlan_tag = np.isin(et, _TAGS_WITH_VLAN)
        shim = vlan_tag | (et == _VNTAG)
        if not shim.any():
            break
        vlan = np.where(vlan_tag & (vlan < 0), u16be(buf, l3) & 0x0FFF, vlan)
        step = np.where(vlan_tag, 4, 6)  # 802.1Q: 2-byte TCI; VN-Tag: 4-byte tag; then the next EtherType
        et = np.where(shim, u16be(buf, l3 + step - 2), et)
        l3 = np.where(shim, l3 + step, l3)
    l3, et = _pop_mpls(buf, l3, et)
    l3, et = _pppoe(buf, l3, et)
    res.vlan[idx] = vlan
    res.l3[idx] = np.where((et == ETH_IPV4) | (et == ETH_IPV6), l3, -1)


def _pop_mpls(buf: U8, l3: I64, et: I64) -> tuple[I64, I64]:
    mpls = np.isin(et, _MPLS)
    if not mpls.any():
        return l3, et
    for _ in range(8):
        bottom = (u8(buf, l3 + 2) & 1) == 1
        l3 = np.where(mpls, l3 + 4, l3)
        mpls = mpls & ~bottom
        if not mpls.any():
            break
    version = u8(buf, l3) >> 4
    was_mpls = np.isin(et, _MPLS)
    guessed = np.where(version == 4, ETH_IPV4, np.where(version == 6, ETH_IPV6, 0))
    return l3, np.where(was_mpls, guessed, et)


def _pppoe(buf: U8, l3: I64, et: I64) -> tuple[I64, I64]:
    ppp = et == _PPPOE_SESSION
    if not ppp.any():
        return l3, et
    proto = u16be(buf, l3 + 6)
    mapped = np.where(proto == 0x0021, ETH_IPV4, np.where(proto == 0x0057, ETH_IPV6, 0))
    return np.where(ppp, l3 + 8, l3), np.where(ppp, mapped, et)


def _ethernet(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    _ethertype_l3(buf, off + 12, res, idx)


def _sll_direction(pkttype: I64) -> np.ndarray:
    """Linux packet types: 0 host, 1 broadcast, 2 multicast (inbound), 3 otherhost, 4 outgoing."""
    return np.where(pkttype == 4, 2, np.where(pkttype <= 2, 1, 0)).astype(np.int8)


def _sll(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    _ethertype_l3(buf, off + 14, res, idx)
    res.direction[idx] = _keep_or(res.direction[idx], _sll_direction(u16be(buf, off)))


def _sll2(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    _ethertype_l3(buf, off, res, idx, payload=off + 20)
    res.ifindex[idx] = u32be(buf, off + 4)
    res.direction[idx] = _keep_or(res.direction[idx], _sll_direction(u8(buf, off + 10)))


def _keep_or(existing: np.ndarray, derived: np.ndarray) -> np.ndarray:
    return np.where(existing != 0, existing, derived).astype(np.int8)


def _by_version(buf: U8, l3: I64, res: LinkResult, idx: I64) -> None:
    version = u8(buf, l3) >> 4
    res.l3[idx] = np.where((version == 4) | (version == 6), l3, -1)


def _raw(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    _by_version(buf, off, res, idx)


def _null(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    _by_version(buf, off + 4, res, idx)


def _ppp(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    hdlc = (u8(buf, off) == 0xFF) & (u8(buf, off + 1) == 0x03)
    proto_off = np.where(hdlc, off + 2, off)
    proto = u16be(buf, proto_off)
    ok = (proto == 0x0021) | (proto == 0x0057)
    res.l3[idx] = np.where(ok, proto_off + 2, -1)


def _ieee80211_at(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    """802.11 data frames with LLC/SNAP; management, control and protected (encrypted) frames carry no IP."""
    fc0, fc1 = u8(buf, off), u8(buf, off + 1)
    is_data = ((fc0 >> 2) & 3) == 2
    subtype = fc0 >> 4
    qos = (subtype & 8) != 0
    has_body = (subtype & 4) == 0
    protected = (fc1 & 0x40) != 0
    hdr = (
        24 + np.where((fc1 & 3) == 3, 6, 0) + np.where(qos, 2, 0) + np.where(qos & ((fc1 & 0x80) != 0), 4, 0)
    )
    llc = off + hdr
    snap = (u8(buf, llc) == 0xAA) & (u8(buf, llc + 1) == 0xAA) & (u8(buf, llc + 2) == 0x03)
    usable = is_data & has_body & ~protected & snap
    _ethertype_l3(buf, llc + 6, res, idx)
    res.l3[idx] = np.where(usable, res.l3[idx], -1)


def _radiotap(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    """The radiotap header states its own length (up to 64 KiB): one that runs past the buffer is
    clamped to its end (the padding reads as zeros), and ``decode`` then drops the frame's IP offset
    because it lies beyond the captured bytes."""
    at = np.minimum(off + u16le(buf, off + 2), len(buf) - PAD)
    _ieee80211_at(buf, at, res, idx)


def _ipv4_only(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    res.l3[idx] = np.where((u8(buf, off) >> 4) == 4, off, -1)


def _ipv6_only(buf: U8, off: I64, res: LinkResult, idx: I64) -> None:
    res.l3[idx] = np.where((u8(buf, off) >> 4) == 6, off, -1)


#: Shortest frame that holds the link-layer header (radiotap/802.11: the fixed parts only).
MIN_HEADER = {0: 4, 1: 14, 9: 2, 105: 24, 108: 4, 113: 16, 127: 8, 276: 20}

HANDLERS: dict[int, Handler] = {
    0: _null,
    1: _ethernet,
    9: _ppp,
    12: _raw,
    14: _raw,
    101: _raw,
    105: _ieee80211_at,
    108: _null,
    113: _sll,
    127: _radiotap,
    228: _ipv4_only,
    229: _ipv6_only,
    276: _sll2,
}
