"""One renderer per router tool for ``blocklists.render`` (semantics and limits: docs/export.md).

Each renderer gets a validated, sorted ``RuleSet`` and a ``Target`` (header lines, upstream resolvers)
and returns the file's lines. Rule values were checked when the ``Rule`` was built (DNS names of LDH
labels, canonical addresses), so they are written as they are; every free text (reasons, notes) goes
through ``comment_text`` and lands on a line of its own after the tool's comment marker, or, for
Suricata's ``msg``, is escaped the way the rule language asks.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from droneaudit.export.blocklists import ExportError, Rule, RuleSet, comment_text

#: nftables table and set names; the dnsmasq allow-only export fills the allow sets (``nftset=``).
TABLE = "droneaudit"
SID_BASE = 3_000_000_000  #: Suricata sids: 3e9 + hash, clear of the local (1e6) and ET (2e6) ranges
SID_SPAN = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Target:
    """What a renderer gets besides the rules: the shared header lines and the upstream resolvers
    (canonical ``ADDR`` or ``ADDR#PORT``) that allow-only profiles forward the listed names to."""

    header: tuple[str, ...]
    upstream: tuple[str, ...] = ()


def _comments(lines: list[str], indent: str = "") -> list[str]:
    return [f"{indent}# {comment_text(line)}" for line in lines]


def _by_name(rules: RuleSet) -> list[tuple[str, list[Rule]]]:
    """Domain rules grouped by name, for tools where ``x`` and ``*.x`` become the same line."""
    groups: dict[str, list[Rule]] = {}
    for rule in rules.domains:
        groups.setdefault(rule.value, []).append(rule)
    return list(groups.items())


def _reasons(group: list[Rule], indent: str = "") -> list[str]:
    return _comments([f"{r.pattern}: {r.reason}" for r in group], indent)


def _left_out_addresses(rules: RuleSet, tool: str) -> list[str]:
    count = len(rules.addresses())
    if not count:
        return []
    return [
        f"{count} address rule(s) left out: {tool} answers names, it cannot filter addresses "
        "(the nftables export carries them)"
    ]


def hosts(rules: RuleSet, target: Target) -> list[str]:
    """``0.0.0.0 NAME`` and ``:: NAME``. A hosts file has no wildcards and no default, so suffix rules
    shrink to the domain itself (said next to each) and allow-only cannot be written at all."""
    if rules.mode == "allow-only":
        raise ExportError(
            "a hosts file cannot express allow-only (it can only add names); use dnsmasq, unbound or pihole"
        )
    lines = _comments(
        [
            *target.header,
            "hosts file: each name answers 0.0.0.0 and :: so the app reaches nothing; "
            "no wildcards: a suffix rule lists only the domain itself",
            *_left_out_addresses(rules, "a hosts file"),
        ]
    )
    for name, group in _by_name(rules):
        lines += _reasons(group)
        if any(r.suffix for r in group):
            lines += _comments([f"not expressed: names under {name} (hosts files have no wildcards)"])
        lines += [f"0.0.0.0 {name}", f":: {name}"]
    return lines


def dnsmasq(rules: RuleSet, target: Target) -> list[str]:
    """``address=/NAME/`` (block), or ``server=/NAME/UPSTREAM`` behind a default ``address=/#/``
    (allow-only). dnsmasq matches a domain and every name under it, so exact rules cover subdomains."""
    notes = [
        *target.header,
        "dnsmasq matches a domain and every name under it (exact rules too)",
        *_left_out_addresses(rules, "dnsmasq"),
    ]
    if rules.mode == "block":
        notes.append(
            "address= answers 0.0.0.0 and ::; local= answers other types with no data, never upstream"
        )
        lines = _comments(notes)
        for name, group in _by_name(rules):
            lines += [*_reasons(group), f"address=/{name}/0.0.0.0", f"address=/{name}/::", f"local=/{name}/"]
        return lines
    return [*_comments(notes), *_dnsmasq_allow_only(rules, target.upstream)]


def _dnsmasq_allow_only(rules: RuleSet, upstream: tuple[str, ...]) -> list[str]:
    """Why ``no-resolv`` and explicit upstreams: dnsmasq treats ``/#/`` and its standard servers as one
    default, so with any standard server a name not listed would still be forwarded for every record
    type other than A/AAAA (TXT, HTTPS...), which is exactly the channel an allow-only profile closes."""
    if not upstream:
        raise ExportError(
            "dnsmasq allow-only needs the upstream resolver(s) the listed names go to (--upstream ADDR): "
            "dnsmasq would otherwise forward other record types of unlisted names to its usual servers"
        )
    notes = [
        "allow-only: no-resolv and address=/#/ answer every name not listed with 'no such domain', for "
        "every record type; remove other server= lines (they would forward unlisted names)",
        f"nftset= adds answers to the nftables allow sets: load the nftables export (table {TABLE}) first",
    ]
    lines = [*_comments(notes), "no-resolv", "address=/#/"]
    sets = f"4#inet#{TABLE}#allowed_v4,6#inet#{TABLE}#allowed_v6"
    for name, group in _by_name(rules):
        lines += [*_reasons(group), *(f"server=/{name}/{u}" for u in upstream), f"nftset=/{name}/{sets}"]
    return lines


def unbound(rules: RuleSet, target: Target) -> list[str]:
    """A ``server:`` clause of ``local-zone`` lines: ``always_nxdomain`` per name (block), or a ``"."``
    zone answering NXDOMAIN with a ``transparent`` zone per allowed name (allow-only). A local zone
    covers every name under it, so exact-name rules cover their subdomains too."""
    notes = [
        *target.header,
        "unbound local-zone covers a name and every name under it (exact rules too)",
        *_left_out_addresses(rules, "unbound"),
    ]
    if rules.mode == "allow-only":
        notes.append("allow-only: the '.' zone answers NXDOMAIN for every name not listed")
    lines = [*_comments(notes), "server:"]
    if rules.mode == "allow-only":
        lines.append('    local-zone: "." always_nxdomain')
    action = "transparent" if rules.mode == "allow-only" else "always_nxdomain"
    for name, group in _by_name(rules):
        lines += [*_reasons(group, "    "), f'    local-zone: "{name}." {action}']
    return lines


def pihole(rules: RuleSet, target: Target) -> list[str]:
    """A gravity-style list for a Pi-hole subscription: ``NAME`` is that exact name, ``||NAME^`` (ABP
    style) the name and every name under it; allow-only writes an allow list (``@@||NAME^``)."""
    allow = rules.mode == "allow-only"
    notes = [
        *target.header,
        "Pi-hole list: NAME = exactly that name; ||NAME^ = NAME and every name under it",
        *_left_out_addresses(rules, "Pi-hole"),
    ]
    if allow:
        notes += [
            "allow-only: subscribe to this as an ALLOW list (Pi-hole v6) and add the regex deny "
            "entry .* so every name not listed is blocked"
        ]
    lines = _comments(notes)
    for rule in rules.domains:
        entry = (f"@@||{rule.value}^" if allow else f"||{rule.value}^") if rule.suffix else rule.value
        lines += [*_reasons([rule]), entry]
    return lines


def nftables(rules: RuleSet, target: Target) -> list[str]:
    """``table inet droneaudit``: address sets and ``output``/``forward`` chains. Block mode drops the
    listed addresses; allow-only drops everything except the listed addresses and what a field router
    needs to keep working (loopback, replies, DHCP, IPv6 neighbour discovery, its resolver's upstream)."""
    allow = rules.mode == "allow-only"
    kind = "allowed" if allow else "blocked"
    notes = [
        *target.header,
        f"nftables: {len(rules.domains)} name rule(s) left out (nftables sees addresses; "
        "the DNS exports carry names)"
        if rules.domains
        else "nftables: addresses only",
        "load with: nft -f FILE (re-loading replaces the table)",
    ]
    lines = [*_comments(notes), f"table inet {TABLE}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]
    lines += _nft_set(f"{kind}_v4", "ipv4_addr", rules.addresses(4))
    lines += _nft_set(f"{kind}_v6", "ipv6_addr", rules.addresses(6))
    if allow:
        lines += _nft_upstream(target.upstream)
        lines += _nft_chain("forward", "drop", _NFT_FORWARD_ALLOW)
        lines += _nft_chain("output", "drop", _NFT_OUTPUT_ALLOW)
    else:
        drops = ["ip daddr @blocked_v4 counter drop", "ip6 daddr @blocked_v6 counter drop"]
        lines += _nft_chain("forward", "accept", drops) + _nft_chain("output", "accept", drops)
    return [*lines, "}"]


def _nft_set(name: str, type_: str, members: tuple[Rule, ...], extra: tuple[str, ...] = ()) -> list[str]:
    lines = [f"\tset {name} {{", f"\t\ttype {type_}", "\t\tflags interval", "\t\tauto-merge"]
    if members or extra:
        lines.append("\t\telements = {")
        for rule in members:
            lines += [*_comments([rule.reason], "\t\t\t"), f"\t\t\t{rule.value},"]
        lines += [f"\t\t\t{value}," for value in extra]
        lines.append("\t\t}")
    return [*lines, "\t}"]


def _nft_upstream(upstream: tuple[str, ...]) -> list[str]:
    """The resolvers the router itself may ask (port 53): the given upstreams, else any (say so)."""
    hosts = [ipaddress.ip_address(u.split("#")[0]) for u in upstream]
    v4 = tuple(str(h) for h in hosts if h.version == 4) or (() if hosts else ("0.0.0.0/0",))
    v6 = tuple(str(h) for h in hosts if h.version == 6) or (() if hosts else ("::/0",))
    note = "the router's resolver may ask these servers" + (
        "" if hosts else ": any, until you give --upstream"
    )
    return [
        *_comments([note], "\t"),
        *_nft_set("dns_upstream_v4", "ipv4_addr", (), v4),
        *_nft_set("dns_upstream_v6", "ipv6_addr", (), v6),
    ]


def _nft_chain(hook: str, policy: str, body: list[str]) -> list[str]:
    head = f"\t\ttype filter hook {hook} priority filter; policy {policy};"
    return [f"\tchain {hook} {{", head, *[f"\t\t{line}" for line in body], "\t}"]


_NFT_ALLOWED = ["ip daddr @allowed_v4 accept", "ip6 daddr @allowed_v6 accept"]
_NFT_DEFAULT_DENY = f'counter comment "{TABLE}: default deny"'
_NFT_FORWARD_ALLOW = [
    "# replies to connections the list allowed; DNS to outside resolvers is dropped like the rest",
    "ct state established,related accept",
    *_NFT_ALLOWED,
    _NFT_DEFAULT_DENY,
]
_NFT_OUTPUT_ALLOW = [
    'oifname "lo" accept',
    "ct state established,related accept",
    "meta l4proto { tcp, udp } th dport 53 ip daddr @dns_upstream_v4 accept",
    "meta l4proto { tcp, udp } th dport 53 ip6 daddr @dns_upstream_v6 accept",
    "# DHCP (client on the uplink, server on the LAN) and IPv6 neighbour discovery keep links up",
    "udp sport { 67, 68 } udp dport { 67, 68 } accept",
    "udp sport { 546, 547 } udp dport { 546, 547 } accept",
    "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept",
    *_NFT_ALLOWED,
    _NFT_DEFAULT_DENY,
]


def suricata(rules: RuleSet, target: Target) -> list[str]:
    """Rules on ``dns.query`` and ``tls.sni`` per name and on the destination per address: ``drop`` in
    block mode; ``pass`` per listed item then a ``drop`` for every other query and server name in
    allow-only mode. Suricata treats ``drop`` as ``alert`` unless it runs inline (IPS)."""
    allow = rules.mode == "allow-only"
    action = "pass" if allow else "drop"
    notes = [
        *target.header,
        f"suricata: '{action}' per name (dns.query, tls.sni) and address; sids = "
        f"{SID_BASE} + hash of the rule, stable across runs; 'drop' alerts only unless inline (IPS)",
    ]
    lines = _comments(notes)
    used: set[int] = set()
    for rule in rules.rules:
        lines += _comments([f"{rule.pattern}: {rule.reason}"])
        for proto, where, match in _suricata_match(rule):
            msg = _msg(f"droneaudit {'allow' if allow else 'block'} {rule.pattern} - {rule.reason}")
            sid = _sid(f"{action} {proto} {rule.pattern}", used)
            lines.append(f'{action} {proto} {where} (msg:"{msg}"; {match}sid:{sid}; rev:1;)')
    if allow:
        lines += _comments(["allow-only: every DNS query and TLS server name not passed above is dropped"])
        for proto, buffer in (("dns", "dns.query"), ("tls", "tls.sni")):
            msg = _msg(f"droneaudit allow-only: {proto} name not on the allow list")
            sid = _sid(f"drop {proto} default", used)
            lines.append(
                f'drop {proto} any any -> any any (msg:"{msg}"; {buffer}; bsize:>0; sid:{sid}; rev:1;)'
            )
    return lines


def _suricata_match(rule: Rule) -> list[tuple[str, str, str]]:
    """(protocol, addresses and ports, match options) for each rule line of ``rule``."""
    if rule.kind != "domain":
        return [("ip", f"any any -> {rule.value} any", "")]
    if rule.suffix:  # dotprefix turns "dji.com" into ".dji.com", so one rule covers it and its subdomains
        match = f'dotprefix; content:".{rule.value}"; nocase; endswith; '
    else:
        match = f'content:"{rule.value}"; nocase; bsize:{len(rule.value)}; '
    return [
        (proto, "any any -> any any", f"{buffer}; {match}")
        for proto, buffer in (("dns", "dns.query"), ("tls", "tls.sni"))
    ]


def _msg(text: str) -> str:
    """Suricata ``msg`` text: one escaped line, then ``\\``, ``"`` and ``;`` escaped as the rule
    language requires (docs: rules/intro, "Rule options")."""
    safe = comment_text(text, limit=200)
    return safe.replace("\\", "\\\\").replace('"', '\\"').replace(";", "\\;")


def _sid(key: str, used: set[int]) -> int:
    """A sid from the rule's text; on the (rare) collision the next free number, in rule order."""
    offset = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % SID_SPAN
    while SID_BASE + offset in used:
        offset = (offset + 1) % SID_SPAN
    used.add(SID_BASE + offset)
    return SID_BASE + offset


RENDERERS: dict[str, Callable[[RuleSet, Target], list[str]]] = {
    "hosts": hosts,
    "dnsmasq": dnsmasq,
    "unbound": unbound,
    "pihole": pihole,
    "nftables": nftables,
    "suricata": suricata,
}
