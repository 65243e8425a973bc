"""Merged segments into the public flow table (model.FLOW_SCHEMA), seen from the device.

Also folds duplicate sightings: when one connection (same 5-tuple and VLAN) is seen on several capture
interfaces at overlapping times — a hotspot's ``tcpdump -i any`` sees it on both the Wi-Fi and the bridge —
it is counted once, on the device-side interface (the one declaring the device's address, else the one
that saw it first); the other rows stay in the table with ``duplicate_of`` set and a problem says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pyarrow as pa

from droneaudit.model import FLOW_SCHEMA
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.capture.aggregate import Partials
from droneaudit.readers.capture.device import FlowSides, IPNet, decide, scope_rank
from droneaudit.readers.capture.interfaces import InterfaceRegistry

_PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}
_FLAG_LETTERS = (("S", 0x02), ("A", 0x10), ("P", 0x08), ("F", 0x01), ("R", 0x04), ("U", 0x20))
_V4_MAPPED_HI_MASK = 0xFFFFFFFF00000000
DUPLICATE_SLACK_NS = 1_000_000_000


@lru_cache(maxsize=1 << 16)
def address_text(hi: int, lo: int) -> str:
    """Two 64-bit halves (IPv4 as ::ffff:a.b.c.d) to the usual text form."""
    if hi == 0 and (lo & _V4_MAPPED_HI_MASK) == 0x0000FFFF00000000:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def flag_text(bits: int) -> str:
    return "".join(letter for letter, mask in _FLAG_LETTERS if bits & mask)


def tcp_state(orig: int, resp: int, resp_packets: int) -> str:
    """A Zeek-like conn_state from the flags each side sent (orig = initiator)."""
    o_syn, r_syn = bool(orig & 0x02), bool(resp & 0x02)
    if not o_syn:
        return "OTH"
    if resp_packets == 0:
        return "S0"
    if not r_syn:
        return "REJ" if resp & 0x04 else "OTH"
    if orig & 0x04 or resp & 0x04:
        return "RSTO" if orig & 0x04 else "RSTR"
    closes = (bool(orig & 0x01), bool(resp & 0x01))
    return {(True, True): "SF", (True, False): "S2", (False, True): "S3"}.get(closes, "S1")


def build_table(
    p: Partials | None,
    files: list[str],
    interfaces: InterfaceRegistry,
    devices: Sequence[IPNet],
    problems: ProblemLog,
    app_names: dict[int, str] | None = None,
) -> pa.Table:
    if p is None or len(p) == 0:
        return FLOW_SCHEMA.empty_table()
    keys = p.keys
    a = [address_text(int(h), int(lo)) for h, lo in zip(keys["a_hi"], keys["a_lo"], strict=True)]
    b = [address_text(int(h), int(lo)) for h, lo in zip(keys["b_hi"], keys["b_lo"], strict=True)]
    sides = _sides(p, a, b, interfaces)
    decisions = decide(sides, devices)
    dev_a = np.asarray([d[0] for d in decisions], dtype=bool)
    order = np.lexsort((p.first_frame, np.asarray([files[i] for i in p.first_file]), p.first_ts))
    cols = _columns(p, a, b, dev_a, [d[1] for d in decisions], files, interfaces)
    names = app_names or {}
    cols["app"] = [names.get(int(u), f"uid {int(u)}") if u >= 0 else None for u in p.app]
    cols = {name: [values[i] for i in order] for name, values in cols.items()}
    dups: list[object] = list(_duplicates(cols, interfaces, p.first_iface[order], problems))
    cols["duplicate_of"] = dups
    return pa.Table.from_pydict(cols, schema=FLOW_SCHEMA)


def _sides(p: Partials, a: list[str], b: list[str], interfaces: InterfaceRegistry) -> list[FlowSides]:
    out = []
    for i in range(len(p)):
        iface = interfaces.get(int(p.first_iface[i]))
        initiator = int(p.syn_dir[i]) if p.syn_dir[i] >= 0 else int(p.first_dir[i])
        out.append(
            FlowSides(
                a[i],
                b[i],
                frozenset(iface.addresses),
                int(p.outbound[i, 0]),
                int(p.outbound[i, 1]),
                int(p.inbound[i, 0]),
                int(p.inbound[i, 1]),
                initiator == 0,
            )
        )
    return out


def _columns(
    p: Partials,
    a: list[str],
    b: list[str],
    dev_a: np.ndarray,
    basis: list[str],
    files: list[str],
    interfaces: InterfaceRegistry,
) -> dict[str, list[object]]:
    up = np.where(dev_a, 0, 1)
    down = 1 - up
    rows = np.arange(len(p))
    proto = p.keys["proto"].astype(np.int64)
    initiator_dir = np.where(p.syn_dir >= 0, p.syn_dir, p.first_dir)
    flags_up, flags_down = p.flags[rows, up], p.flags[rows, down]
    is_tcp = proto == 6
    init_is_dev = initiator_dir == up
    orig_flags = np.where(init_is_dev, flags_up, flags_down)
    resp_flags = np.where(init_is_dev, flags_down, flags_up)
    resp_pk = np.where(init_is_dev, p.packets[rows, down], p.packets[rows, up])
    return {
        "proto": [_PROTO_NAMES.get(int(x), f"ip-{int(x)}") for x in proto],
        "ip_proto": proto.tolist(),
        "device_ip": [a[i] if dev_a[i] else b[i] for i in rows],
        "device_port": np.where(dev_a, p.keys["a_port"], p.keys["b_port"]).astype(np.int64).tolist(),
        "remote_ip": [b[i] if dev_a[i] else a[i] for i in rows],
        "remote_port": np.where(dev_a, p.keys["b_port"], p.keys["a_port"]).astype(np.int64).tolist(),
        "first_seen": p.first_ts.tolist(),
        "last_seen": p.last_ts.tolist(),
        "packets_up": p.packets[rows, up].tolist(),
        "packets_down": p.packets[rows, down].tolist(),
        "bytes_up": p.nbytes[rows, up].tolist(),
        "bytes_down": p.nbytes[rows, down].tolist(),
        "first_frame": p.first_frame.tolist(),
        "file": [files[int(i)] for i in p.first_file],
        "interface": [
            iface_label(interfaces, int(i), int(x))
            for i, x in zip(p.first_iface, p.keys["ifindex"], strict=True)
        ],
        "vlan": [None if v < 0 else int(v) for v in p.keys["vlan"]],
        "initiator": ["device" if init_is_dev[i] else "remote" for i in rows],
        "device_basis": basis,
        "tcp_flags_up": [flag_text(int(f)) if is_tcp[i] else None for i, f in enumerate(flags_up)],
        "tcp_flags_down": [flag_text(int(f)) if is_tcp[i] else None for i, f in enumerate(flags_down)],
        "tcp_state": [
            tcp_state(int(o), int(r), int(n)) if is_tcp[i] else None
            for i, (o, r, n) in enumerate(zip(orig_flags, resp_flags, resp_pk, strict=True))
        ],
    }


def iface_label(interfaces: InterfaceRegistry, number: int, ifindex: int) -> str:
    name = interfaces.get(number).name
    return f"{name}#{ifindex}" if ifindex >= 0 else name


_SAME_TUPLE = ("proto", "device_ip", "device_port", "remote_ip", "remote_port", "vlan")
#: The two sides of a NAT (a hotspot's ``-i any`` sees the phone's connection on the Wi-Fi and again,
#: from the hotspot's own address, on the uplink): same remote and the same packets each way.
_NAT_HALVES = ("proto", "remote_ip", "remote_port", "packets_up", "packets_down")


def _duplicates(
    cols: dict[str, list[object]],
    interfaces: InterfaceRegistry,
    first_iface: np.ndarray,
    problems: ProblemLog,
) -> list[int | None]:
    """Mark later sightings of one connection on another interface as duplicates of the device-side one."""
    out: list[int | None] = [None] * len(cols["proto"])

    def rank(i: int) -> tuple[int, bool]:
        address = str(cols["device_ip"][i])
        return scope_rank(address), address in interfaces.get(int(first_iface[i])).addresses

    for fields, what in ((_SAME_TUPLE, "one connection"), (_NAT_HALVES, "both sides of a NAT")):
        groups: dict[tuple[object, ...], list[int]] = {}
        for i in (i for i in range(len(out)) if out[i] is None):
            groups.setdefault(tuple(cols[c][i] for c in fields), []).append(i)
        for members in groups.values():
            if len(members) > 1:
                keep = max(members, key=lambda i: (rank(i), -i))
                _fold(keep, members, cols, out, problems, what)
    return out


def _fold(
    keep: int,
    members: list[int],
    cols: dict[str, list[object]],
    out: list[int | None],
    problems: ProblemLog,
    what: str,
) -> None:
    start, end = cols["first_seen"][keep], cols["last_seen"][keep]
    slack = DUPLICATE_SLACK_NS  # the same packet reaches two interfaces microseconds apart
    for i in members:
        if i == keep or cols["interface"][i] == cols["interface"][keep]:
            continue
        if cols["first_seen"][i] <= end + slack and cols["last_seen"][i] >= start - slack:  # type: ignore[operator]
            out[i] = keep
            problems.add(
                str(cols["file"][i]),
                "duplicate-across-interfaces",
                f"{what} seen on several interfaces; counted once, on the device-side interface",
                frame=int(cols["first_frame"][i]),  # type: ignore[call-overload]
            )
