"""Which side of a flow is the audited device ("up" = device → remote).

Evidence, strongest first (the first rule that decides wins, and its name is kept as ``device_basis``):

1. ``flag``        — the user said so (``--device IP|CIDR``);
2. ``interface``   — the address is one the capture interface declares as its own (pcapng if_IPv4addr/6addr);
3. ``direction``   — the link layer marks the side's packets outgoing (Linux cooked captures, epb_flags);
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
    out_a: int  # packets the link layer says A sent outgoing (or B received inbound)
    out_b: int
    initiator_is_a: bool


def decide(flows: Sequence[FlowSides], devices: Sequence[IPNet]) -> list[tuple[bool, str]]:
    """For each flow: (device is A, basis)."""
    first_pass = [_strong(f, devices) for f in flows]
    learned = {f.a if r[0] else f.b for f, r in zip(flows, first_pass, strict=True) if r is not None}
    peers = _peer_counts(flows)
    out: list[tuple[bool, str]] = []
    for f, strong in zip(flows, first_pass, strict=True):
        out.append(strong if strong is not None else _weak(f, learned, peers))
    return out


def _strong(f: FlowSides, devices: Sequence[IPNet]) -> tuple[bool, str] | None:
    for basis, test in (
        ("flag", lambda ip: _in_any(ip, devices)),
        ("interface", f.iface_addresses.__contains__),
    ):
        a, b = test(f.a), test(f.b)
        if a != b:
            return a, basis
    if (f.out_a > 0) != (f.out_b > 0):
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
