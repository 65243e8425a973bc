"""Byte-exact builders for IPv4/IPv6 (with fragmentation) and TCP/UDP/ICMP/ICMPv6, as pure functions.

Tests of the capture readers need packets whose every field is known, including the awkward ones
(fragments, extension headers, zero total length from TSO, bad checksums on purpose), so these are
written from the RFCs with the standard library only. Checksums are real unless a caller overrides a
field. The link-layer builders (``link``) and the application payloads (``app``, ``tls``) are
re-exported here so a test can take everything from one module.
"""

from __future__ import annotations

import ipaddress
import struct

from droneaudit.synth.app import dns_query, dns_response, http_request, http_response
from droneaudit.synth.link import ethernet, null_loop, radiotap_80211_data, sll, sll2
from droneaudit.synth.tls import tls_client_hello

__all__ = [
    "PROTO_ICMP",
    "PROTO_ICMPV6",
    "PROTO_TCP",
    "PROTO_UDP",
    "dns_query",
    "dns_response",
    "ethernet",
    "fragment_ipv4",
    "fragment_ipv6",
    "http_request",
    "http_response",
    "icmp",
    "icmpv6",
    "internet_checksum",
    "ipv4",
    "ipv6",
    "ipv6_fragment_header",
    "ipv6_hop_by_hop",
    "null_loop",
    "radiotap_80211_data",
    "sll",
    "sll2",
    "tcp",
    "tls_client_hello",
    "udp",
]

PROTO_HOPOPT = 0
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_IPV6_ROUTE = 43
PROTO_IPV6_FRAG = 44
PROTO_ICMPV6 = 58

_TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement checksum.

    Uses the identity 2**16 ≡ 1 (mod 0xFFFF): the one's-complement sum of the 16-bit words equals the
    whole buffer read as one big integer modulo 0xFFFF, which Python computes in C, so a 1.4 kB segment
    costs microseconds instead of a 700-step Python loop.
    """
    if len(data) % 2:
        data += b"\x00"
    value = int.from_bytes(data, "big")
    folded = value % 0xFFFF
    if folded == 0 and value != 0:
        folded = 0xFFFF
    return ~folded & 0xFFFF


def _addr(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def _pseudo_header(src_ip: str, dst_ip: str, proto: int, length: int) -> bytes:
    """RFC 793/768 (IPv4) or RFC 8200 section 8.1 (IPv6) pseudo header for transport checksums."""
    src, dst = _addr(src_ip), _addr(dst_ip)
    if len(src) != len(dst):
        raise ValueError("source and destination must be the same IP version")
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def _with_checksum(segment: bytes, offset: int, pseudo: bytes) -> bytes:
    csum = internet_checksum(pseudo + segment)
    return segment[:offset] + struct.pack("!H", csum) + segment[offset + 2 :]


# --- network layer -------------------------------------------------------------------------------------


def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
    dont_fragment: bool = False,
    more_fragments: bool = False,
    frag_offset_units: int = 0,
    options: bytes = b"",
    total_length: int | None = None,
    tos: int = 0,
) -> bytes:
    """IPv4 datagram with a correct header checksum.

    ``options`` is padded with zero (end-of-list) bytes to a 4-byte boundary. ``total_length`` overrides
    the header field only (0 models a TSO/GSO super-packet as captured on the sending host); the payload
    is always appended in full.
    """
    options = options + b"\x00" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    length = 4 * ihl + len(payload) if total_length is None else total_length
    flags = (0x4000 if dont_fragment else 0) | (0x2000 if more_fragments else 0)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        tos,
        length,
        ident & 0xFFFF,
        flags | (frag_offset_units & 0x1FFF),
        ttl,
        proto,
        0,
        _addr(src),
        _addr(dst),
    )
    header += options
    return header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:] + payload


def ipv6(
    src: str,
    dst: str,
    next_header: int,
    payload: bytes,
    *,
    ext_headers: bytes = b"",
    hop_limit: int = 64,
    payload_length: int | None = None,
    flow_label: int = 0,
) -> bytes:
    """IPv6 packet. ``next_header`` is the fixed header's field: with ``ext_headers`` it names the first
    extension header, and each extension header names the next (see ``ipv6_hop_by_hop``)."""
    length = len(ext_headers) + len(payload) if payload_length is None else payload_length
    first_word = (6 << 28) | (flow_label & 0xFFFFF)
    fixed = struct.pack("!IHBB16s16s", first_word, length, next_header, hop_limit, _addr(src), _addr(dst))
    return fixed + ext_headers + payload


def ipv6_hop_by_hop(next_header: int) -> bytes:
    """An 8-byte Hop-by-Hop Options header holding only padding (a PadN option of 4 bytes)."""
    return struct.pack("!BB", next_header, 0) + b"\x01\x04\x00\x00\x00\x00"


def ipv6_fragment_header(next_header: int, offset_units: int, more: bool, ident: int) -> bytes:
    """The 8-byte IPv6 Fragment header (RFC 8200 section 4.5); ``offset_units`` counts 8-byte units."""
    return struct.pack("!BBHI", next_header, 0, (offset_units << 3) | (1 if more else 0), ident & 0xFFFFFFFF)


def _copied_ipv4_options(options: bytes) -> bytes:
    """Options whose 'copied' bit is set: the only ones repeated in non-first fragments (RFC 791)."""
    kept = b""
    pos = 0
    while pos < len(options):
        kind = options[pos]
        if kind == 0:
            break
        size = 1 if kind == 1 else max(2, options[pos + 1])
        if kind & 0x80:
            kept += options[pos : pos + size]
        pos += size
    return kept


def fragment_ipv4(packet: bytes, mtu: int) -> list[bytes]:
    """Split an IPv4 datagram into fragments of at most ``mtu`` bytes each, as a router would.

    Keeps the identification, TTL, protocol and addresses; sets MF on all but the last piece and the
    offset in 8-byte units. Fragmenting a fragment works (the original offset and MF are carried over).
    """
    ihl = (packet[0] & 0x0F) * 4
    (tos, total, ident, flags_off, ttl, proto) = struct.unpack("!xBHHHBB", packet[:10])
    if flags_off & 0x4000:
        raise ValueError("the datagram has Don't Fragment set")
    payload = packet[ihl:total]
    src, dst = str(ipaddress.IPv4Address(packet[12:16])), str(ipaddress.IPv4Address(packet[16:20]))
    options, later_options = packet[20:ihl], _copied_ipv4_options(packet[20:ihl])
    base, last_mf = flags_off & 0x1FFF, bool(flags_off & 0x2000)
    fragments: list[bytes] = []
    start = 0
    while start < len(payload) or not fragments:
        step = (mtu - 20 - len(options) - (-len(options) % 4)) // 8 * 8  # data per fragment, 8-aligned
        if step <= 0:
            raise ValueError(f"mtu {mtu} leaves no room for data after the IPv4 header")
        chunk, more = payload[start : start + step], start + step < len(payload) or last_mf
        offset = base + start // 8
        packet_out = ipv4(
            src,
            dst,
            proto,
            chunk,
            ident=ident,
            ttl=ttl,
            tos=tos,
            options=options,
            more_fragments=more,
            frag_offset_units=offset,
        )
        fragments.append(packet_out)
        start, options = start + step, later_options
    return fragments


def _ipv6_unfragmentable(packet: bytes) -> tuple[int, int, int]:
    """Return (end of the unfragmentable part, offset of its last Next Header byte, that byte's value).

    Hop-by-Hop and Routing headers stay in every fragment (RFC 8200 section 4.5); the rest is split.
    """
    nh_offset, pos = 6, 40
    while packet[nh_offset] in (PROTO_HOPOPT, PROTO_IPV6_ROUTE):
        nh_offset, pos = pos, pos + (packet[pos + 1] + 1) * 8
    return pos, nh_offset, packet[nh_offset]


def fragment_ipv6(packet: bytes, mtu: int, *, ident: int = 0x5EED0001) -> list[bytes]:
    """Split an IPv6 packet into fragments of at most ``mtu`` bytes, each with a Fragment header.

    The source does this in IPv6 (no router fragmentation): the unfragmentable part is copied into
    every fragment with its last Next Header changed to 44, followed by the Fragment header and a piece
    of the rest, each but the last a multiple of 8 bytes.
    """
    end = 40 + struct.unpack("!H", packet[4:6])[0]
    unfrag_end, nh_offset, inner_next = _ipv6_unfragmentable(packet)
    unfrag = bytearray(packet[:unfrag_end])
    unfrag[nh_offset] = PROTO_IPV6_FRAG
    rest = packet[unfrag_end:end]
    step = (mtu - unfrag_end - 8) // 8 * 8
    if step <= 0:
        raise ValueError(f"mtu {mtu} leaves no room for fragment data")
    fragments = []
    for start in range(0, len(rest), step):
        chunk = rest[start : start + step]
        more = start + step < len(rest)
        body = bytes(unfrag[40:]) + ipv6_fragment_header(inner_next, start // 8, more, ident) + chunk
        fragments.append(bytes(unfrag[:4]) + struct.pack("!H", len(body)) + bytes(unfrag[6:40]) + body)
    return fragments


# --- transport layer -----------------------------------------------------------------------------------


def tcp_flag_bits(flags: str | int) -> int:
    """Turn ``"SA"``, ``"PA"``, ``"FA"``... (letters F S R P A U E C, any order) into the flag byte."""
    if isinstance(flags, int):
        return flags & 0xFF
    try:
        return sum(_TCP_FLAG_BITS[letter] for letter in set(flags.upper()))
    except KeyError as exc:
        raise ValueError(f"unknown TCP flag letter in {flags!r}") from exc


def tcp(
    sport: int,
    dport: int,
    payload: bytes = b"",
    *,
    seq: int = 0,
    ack: int = 0,
    flags: str | int = "S",
    window: int = 65535,
    options: bytes = b"",
    urgent: int = 0,
    src_ip: str | None = None,
    dst_ip: str | None = None,
) -> bytes:
    """TCP segment; the checksum is computed over the pseudo header when both IPs are given, else 0.

    ``options`` is padded with zero (end-of-list) bytes to a 4-byte boundary; ``flags`` takes letters
    (``"S"``, ``"SA"``, ``"PA"``, ``"FA"``, ``"R"``...) or the raw flag byte.
    """
    options = options + b"\x00" * (-len(options) % 4)
    offset = (5 + len(options) // 4) << 4
    header = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        offset,
        tcp_flag_bits(flags),
        window,
        0,
        urgent,
    )
    segment = header + options + payload
    if src_ip is None or dst_ip is None:
        return segment
    return _with_checksum(segment, 16, _pseudo_header(src_ip, dst_ip, PROTO_TCP, len(segment)))


def tcp_syn_options(mss: int = 1460, wscale: int = 8) -> bytes:
    """Typical SYN options (MSS, SACK permitted, window scale) as a modern phone sends them."""
    return struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + b"\x01" + struct.pack("!BBB", 3, 3, wscale)


def udp(
    sport: int, dport: int, payload: bytes, *, src_ip: str | None = None, dst_ip: str | None = None
) -> bytes:
    """UDP datagram; checksum over the pseudo header when both IPs are given (0 = none, IPv4 only)."""
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if src_ip is None or dst_ip is None:
        return datagram
    csum = internet_checksum(_pseudo_header(src_ip, dst_ip, PROTO_UDP, len(datagram)) + datagram)
    return datagram[:6] + struct.pack("!H", csum or 0xFFFF) + datagram[8:]


def icmp(type: int, code: int, payload: bytes = b"", ident: int = 0, seq: int = 0) -> bytes:
    """ICMPv4 message; the second header word is ident/seq (echo layout), which other types ignore."""
    message = struct.pack("!BBHHH", type, code, 0, ident, seq) + payload
    return message[:2] + struct.pack("!H", internet_checksum(message)) + message[4:]


def icmpv6(
    type: int, code: int, payload: bytes = b"", *, src_ip: str, dst_ip: str, ident: int = 0, seq: int = 0
) -> bytes:
    """ICMPv6 message; unlike ICMPv4 its checksum covers a pseudo header, so both IPs are required."""
    message = struct.pack("!BBHHH", type, code, 0, ident, seq) + payload
    return _with_checksum(message, 2, _pseudo_header(src_ip, dst_ip, PROTO_ICMPV6, len(message)))
