"""Capture interfaces across all files of a scan.

Each (file, interface id) gets a global number for output, and an *identity* used in flow keys so
that a rotated capture set (the same interface written to several files) merges into one flow table:
the identity is the link type plus the interface name (or its index when the file names none).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from droneaudit.model import Interface

LINK_TYPE_NAMES: dict[int, str] = {
    0: "NULL",
    1: "ETHERNET",
    9: "PPP",
    12: "RAW",
    14: "RAW",
    101: "RAW",
    105: "IEEE802_11",
    108: "LOOP",
    113: "LINUX_SLL",
    127: "IEEE802_11_RADIOTAP",
    228: "IPV4",
    229: "IPV6",
    272: "NORDIC_BLE",
    276: "LINUX_SLL2",
}


def link_type_name(link_type: int) -> str:
    return LINK_TYPE_NAMES.get(link_type, f"LINKTYPE_{link_type}")


@dataclass
class _Entry:
    iface: Interface
    identity: int


@dataclass
class InterfaceRegistry:
    """Hands out global interface numbers; keeps the per-file declarations for the report."""

    _entries: list[_Entry] = field(default_factory=list)
    _identities: dict[tuple[int, str], int] = field(default_factory=dict)

    def add(self, iface: Interface) -> int:
        """Register an interface; return its global number."""
        ident_key = (iface.link_type, iface.name)
        identity = self._identities.setdefault(ident_key, len(self._identities))
        self._entries.append(_Entry(iface, identity))
        return len(self._entries) - 1

    def update_stats(self, number: int, received: int | None, dropped: int | None) -> None:
        entry = self._entries[number]
        entry.iface = replace(
            entry.iface,
            received=received if received is not None else entry.iface.received,
            dropped=dropped if dropped is not None else entry.iface.dropped,
        )

    def get(self, number: int) -> Interface:
        return self._entries[number].iface

    def identity(self, number: int) -> int:
        return self._entries[number].identity

    def all(self) -> list[Interface]:
        return [e.iface for e in self._entries]

    def addresses(self) -> set[str]:
        """Every address any interface declares as its own (pcapng if_IPv4addr / if_IPv6addr)."""
        return {a for e in self._entries for a in e.iface.addresses}
