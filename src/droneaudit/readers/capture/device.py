"""Which side of a flow is the audited device ("up" = device → remote).

Evidence, strongest first (the first rule that decides wins, and its name is kept as ``device_basis``):

1. ``flag``        — the user said so (``--device IP|CIDR``);
2. ``interface``   — the address is one the capture interface declares as its own (pcapng if_IPv4addr/6addr);
3. ``direction``   — the link layer marks the side's packets outgoing (Linux cooked captures, epb_flags).
                     Only on a capture taken on the device itself: when some address sends packets
                     marked outgoing *and* packets marked inbound, the capturing host forwards traffic
                     (a hotspot or router), its "outgoing" says nothing about endpoints, and the rule is off;
4. ``scope``       — a private/link-local/ULA address beats CGNAT (100.64/10), which beats a global one:
                     a CGNAT or VPN remote is not the LAN, but a phone on cellular may hold a CGNAT address;
5. ``learned``     — the address was found to be the device in another flow by rules 1–4 (phones often use
                     global IPv6 addresses, which rule 4 cannot tell apart);
6. ``hub``         — the address talks to more distinct peers in this capture (a capture is of one device);
7. ``initiator``   — the side that sent the first SYN, else the first packet.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@lru_cache(maxsize=65536)
def scope_rank(address: str) -> int:
    """3 private/link-local/ULA/loopback, 2 CGNAT, 1 global, 0 never a device (multicast, broadcast, any)."""
    ip = ipaddress.ip_address(address)
    if ip.is_multicast or ip.is_unspecified or address == "255.255.255.255":
        return 0
    if ip.version == 4 and ip in _CGNAT:
        return 2
    if ip.is_private or ip.is_link_local or ip.is_loopback:
        return 3
    return 1


@dataclass(frozen=True)
class FlowSides:
    """What the device decision needs to know about one flow (A/B as in the canonical key)."""

    a: str
    b: str
    iface_addresses: frozenset[str]
    out_a: int  # packets from A that the link layer marks outgoing
    out_b: int
    in_a: int  # packets from A that the link layer marks inbound
    in_b: int
    initiator_is_a: bool


def decide(flows: Sequence[FlowSides], devices: Sequence[IPNet]) -> list[tuple[bool, str]]:
    """For each flow: (device is A, basis)."""
    use_direction = not _forwarding(flows)
    first_pass = [_strong(f, devices, use_direction) for f in flows]
    learned = {f.a if r[0] else f.b for f, r in zip(flows, first_pass, strict=True) if r is not None}
    peers = _peer_counts(flows)
    out: list[tuple[bool, str]] = []
    for f, strong in zip(flows, first_pass, strict=True):
        out.append(strong if strong is not None else _weak(f, learned, peers))
    return out


def _forwarding(flows: Sequence[FlowSides]) -> bool:
    """True when an address is the source of both outgoing- and inbound-marked packets."""
    sent_out = {f.a for f in flows if f.out_a} | {f.b for f in flows if f.out_b}
    sent_in = {f.a for f in flows if f.in_a} | {f.b for f in flows if f.in_b}
    return bool(sent_out & sent_in)


def _strong(f: FlowSides, devices: Sequence[IPNet], use_direction: bool) -> tuple[bool, str] | None:
    for basis, test in (
        ("flag", lambda ip: _in_any(ip, devices)),
        ("interface", f.iface_addresses.__contains__),
    ):
        a, b = test(f.a), test(f.b)
        if a != b:
            return a, basis
    if use_direction and (f.out_a > 0) != (f.out_b > 0):
        return f.out_a > 0, "direction"
    ra, rb = scope_rank(f.a), scope_rank(f.b)
    if ra != rb:
        return ra > rb, "scope"
    return None


def _weak(f: FlowSides, learned: set[str], peers: Counter[str]) -> tuple[bool, str]:
    if (f.a in learned) != (f.b in learned):
        return f.a in learned, "learned"
    if peers[f.a] != peers[f.b]:
        return peers[f.a] > peers[f.b], "hub"
    return f.initiator_is_a, "initiator"


def _peer_counts(flows: Sequence[FlowSides]) -> Counter[str]:
    pairs = {(f.a, f.b) for f in flows}
    counts: Counter[str] = Counter()
    for a, b in pairs:
        counts[a] += 1
        counts[b] += 1
    return counts


def _in_any(address: str, nets: Sequence[IPNet]) -> bool:
    if not nets:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in nets)


def parse_device(spec: str) -> IPNet:
    """``--device`` value: an address or a CIDR block."""
    return ipaddress.ip_network(spec.strip(), strict=False)
