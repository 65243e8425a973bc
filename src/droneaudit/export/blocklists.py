"""Block lists and allow lists for a field router, from observed endpoints, the catalog, or both.

A capture says where an app's traffic went; an operator then wants to stop it (``block``) or to let only
a chosen few endpoints through (``allow-only``, the default-deny profile of a "local data mode" router).
This module turns endpoints and catalog entries into one ``RuleSet`` and renders it for the tools such
routers run: hosts files, dnsmasq (OpenWrt), unbound, Pi-hole, nftables and Suricata (docs/export.md).

Three rules keep the files trustworthy:

* every rule carries its reason (the catalog source, or the capture file and frame it was seen in),
  written as a comment next to it, so a reviewer can check each line;
* host names come from captured traffic and are hostile until shown otherwise: only valid DNS names
  and IP addresses become rules (checked again when a ``Rule`` is built), and every comment is one line
  of printable ASCII with everything else escaped, so no input can add a configuration line;
* output is deterministic: rules are sorted (domains grouped by zone, addresses numerically), duplicate
  rules are merged with their reasons, and Suricata ``sid``s come from a hash of the rule.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from droneaudit import __version__
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import CATEGORIES, Catalog, CatalogEntry, normalise_host
from droneaudit.errors import UsageError

Kind = Literal["domain", "ip", "cidr"]
Mode = Literal["block", "allow-only"]
Source = Literal["observed", "catalog", "both"]
Format = Literal["hosts", "dnsmasq", "unbound", "nftables", "suricata", "pihole"]
FORMATS: tuple[str, ...] = get_args(Format)
MODES: tuple[str, ...] = get_args(Mode)
SOURCES: tuple[str, ...] = get_args(Source)
#: Pseudo-category for observed endpoints the catalog does not know.
UNCATALOGUED = "uncatalogued"

#: One DNS label; used with ``fullmatch``, since ``$`` would also match before a trailing newline.
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_UNSAFE = re.compile(r"[^\x20-\x5b\x5d-\x7e]")  # printable ASCII except the backslash


class ExportError(UsageError, ValueError):
    """A rule set cannot be built or rendered as asked (bad value, or a format that cannot express it)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One name or address to block (or to allow, in allow-only mode), with the reason it is listed.

    ``value`` is canonical: a lower-case DNS name without trailing dot, or an address or network in
    Python's ``ipaddress`` form. ``suffix`` (domains only) means the name and every name under it.
    Building a ``Rule`` re-checks the value, so no renderer ever sees a string it has to distrust.
    """

    kind: Kind
    value: str
    reason: str
    suffix: bool = False

    def __post_init__(self) -> None:
        if canonical(self.kind, self.value) != self.value:
            raise ExportError(f"not a canonical {self.kind}: {comment_text(self.value, limit=80)}")
        if self.suffix and self.kind != "domain":
            raise ExportError("only a domain rule can be a suffix rule")

    @property
    def pattern(self) -> str:
        """The name as the catalog writes it: ``*.dji.com`` for a suffix rule, else the value itself."""
        return f"*.{self.value}" if self.suffix else self.value

    @property
    def version(self) -> int:
        """IP version of an address rule (0 for a domain)."""
        return 0 if self.kind == "domain" else ipaddress.ip_network(self.value).version

    def sort_key(self) -> tuple[int, tuple[str, ...], int, int, int]:
        """Domains first, grouped by zone (``com.dji…``), a suffix before the names under it; then
        addresses by family and number. Independent of input order, so output is stable."""
        if self.kind == "domain":
            return (0, tuple(reversed(self.value.split("."))), 0, 0, 0 if self.suffix else 1)
        net = ipaddress.ip_network(self.value)
        return (1, (), net.version, int(net.network_address), net.prefixlen)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Sorted, de-duplicated rules plus notes on what was left out and why (rendered as comments)."""

    mode: Mode
    rules: tuple[Rule, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, mode: str, rules: Iterable[Rule], notes: Iterable[str] = ()) -> RuleSet:
        """Merge rules that name the same thing (their reasons joined) and sort rules and notes."""
        merged: dict[tuple[Kind, str, bool], set[str]] = {}
        for rule in rules:
            merged.setdefault((rule.kind, rule.value, rule.suffix), set()).add(rule.reason)
        out = [Rule(k, v, "; ".join(sorted(reasons)), s) for (k, v, s), reasons in merged.items()]
        return cls(_mode(mode), tuple(sorted(out, key=Rule.sort_key)), tuple(sorted(set(notes))))

    @property
    def domains(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind == "domain")

    def addresses(self, version: int | None = None) -> tuple[Rule, ...]:
        """Address and network rules, optionally of one IP version."""
        return tuple(r for r in self.rules if r.kind != "domain" and version in (None, r.version))


def canonical(kind: str, value: str) -> str | None:
    """The canonical form of ``value`` as a ``kind`` rule, or ``None`` when it is not one.

    Domains need two or more LDH labels (underscore allowed, as in SRV-style names): a rule for a bare
    top-level domain would black-hole a whole country, and anything else could not be written safely.
    """
    if kind == "domain":
        name = normalise_host(value) if value.isascii() else None
        if name is None or len(name) > 253 or "." not in name:
            return None
        return name if all(_LABEL.fullmatch(label) for label in name.split(".")) else None
    if "%" in value:
        return None  # scoped IPv6 (fe80::1%eth0): meaningless outside the capturing host
    try:
        if kind == "ip":
            return str(ipaddress.ip_address(value.strip()))
        if kind == "cidr":
            return str(ipaddress.ip_network(value.strip(), strict=True))
    except ValueError:
        return None
    return None


def comment_text(text: str, *, limit: int = 400) -> str:
    """``text`` as one line of printable ASCII: newlines, controls, non-ASCII and the backslash escaped
    (``\\x0a``, ``\\u202e``, ``\\x5c``), so ``unicode_escape`` gives the text back.

    Comment syntax differs per tool but every one of them ends a comment at a newline, so a single
    escaped line cannot become configuration whatever a host or file name in the evidence contains.
    A raw backslash never appears, so no line can end in one (Suricata joins such a line to the next).
    """
    out = _UNSAFE.sub(_escape_char, text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def rules_from(
    endpoints: Iterable[Endpoint],
    catalog: Catalog,
    *,
    source: str,
    categories: set[str] | None,
    mode: str,
    include_local: bool = False,
) -> RuleSet:
    """Rules from observed ``endpoints`` (names and addresses), from ``catalog`` entries, or both.

    ``categories`` keeps the catalog entries, and the observed endpoints whose catalog entry, has one
    of those categories; ``uncatalogued`` selects observed endpoints the catalog does not know. Without it,
    every observed endpoint is kept but only catalog entries run by or for the drone maker: the full
    catalog also lists phone connectivity checks and OS services whose loss breaks the phone itself.
    Local endpoints and non-global addresses (the LAN, the router) are left out unless
    ``include_local``: blocking them would cut the operator off from the aircraft or the router.
    """
    if source not in SOURCES:
        raise ExportError(f"unknown source {source!r}; expected one of: {', '.join(SOURCES)}")
    _check_categories(categories)
    rules: list[Rule] = []
    notes: list[str] = []
    if source in ("catalog", "both"):
        rules += _catalog_rules(catalog, categories, notes)
    if source in ("observed", "both"):
        for ep in endpoints:
            category = ep.entry.category if ep.entry else UNCATALOGUED
            if categories is None or category in categories:
                rules += _endpoint_rules(ep, include_local, notes)
    return RuleSet.of(mode, rules, notes + _warnings(rules, catalog, mode))


def _mode(mode: str) -> Mode:
    if mode == "block":
        return "block"
    if mode == "allow-only":
        return "allow-only"
    raise ExportError(f"unknown mode {mode!r}; expected one of: {', '.join(MODES)}")


def _check_categories(categories: set[str] | None) -> None:
    unknown = sorted((categories or set()) - CATEGORIES - {UNCATALOGUED})
    if unknown:
        allowed = ", ".join(sorted(CATEGORIES | {UNCATALOGUED}))
        raise ExportError(
            f"unknown categor{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"expected one of: {allowed}"
        )


def _warnings(rules: list[Rule], catalog: Catalog, mode: str) -> list[str]:
    """Blocking a phone's connectivity check looks harmless but is not: say so in the file itself."""
    matches = (catalog.match(r.value) for r in rules if r.kind == "domain" and mode == "block")
    checks = sorted({m.host for m in matches if m is not None and m.entry.category == "connectivity-check"})
    if not checks:
        return []
    return [
        f"warning: blocking connectivity checks ({', '.join(checks)}) makes phones call the Wi-Fi offline "
        "and send traffic over mobile data instead; leave them out by choosing categories"
    ]


def _catalog_rules(catalog: Catalog, categories: set[str] | None, notes: list[str]) -> list[Rule]:
    if categories is None:
        notes.append("catalog: only entries run by or for the drone maker (choose categories to change)")
    chosen = [
        e for e in catalog.entries() if (e.drone_vendor if categories is None else e.category in categories)
    ]
    for bad in (e for e in chosen if canonical("domain", e.domain) != e.domain):
        notes.append(f"left out catalog pattern {bad.pattern}: not a DNS name a resolver rule can carry")
    return [
        Rule("domain", e.domain, _catalog_reason(e), e.is_suffix)
        for e in chosen
        if canonical("domain", e.domain) == e.domain
    ]


def _catalog_reason(entry: CatalogEntry) -> str:
    more = f" (+{len(entry.sources) - 1} more)" if len(entry.sources) > 1 else ""
    return (
        f"catalog {entry.pattern}: {entry.vendor} {entry.service} ({entry.category}, confidence "
        f"{entry.confidence}); source: {entry.sources[0]}{more}"
    )


def _endpoint_rules(ep: Endpoint, include_local: bool, notes: list[str]) -> list[Rule]:
    """A domain rule for the endpoint's name and an address rule for each global address it used."""
    label = ep.label  # raw: reasons and notes are escaped when rendered, once
    if ep.local and not include_local:
        notes.append(f"left out local endpoint {label} (include local endpoints to list it)")
        return []
    seen = _seen(ep)
    out: list[Rule] = []
    if ep.host is not None:
        name = canonical("domain", ep.host)
        if name is None:
            notes.append(f"left out host {label}: not a DNS name a resolver rule can carry")
        else:
            known = f"; catalog {ep.entry.pattern}: {ep.entry.vendor} {ep.entry.service}" if ep.entry else ""
            out.append(Rule("domain", name, f"{seen}{known}"))
    for raw in ep.ips:
        addr = canonical("ip", raw)
        if addr is None:
            notes.append(f"left out address {raw} of {label}: not an IP address")
        elif not include_local and not ipaddress.ip_address(addr).is_global:
            notes.append(f"left out non-global address {addr} of {label}")
        else:
            out.append(Rule("ip", addr, f"address of {label}, {seen}" if ep.host else seen))
    return out


def _seen(ep: Endpoint) -> str:
    """``seen in FILE frame N`` from the endpoint's first flow, and which record named it, if any."""
    flows = [e for e in ep.evidence if e.get("kind") == "flow"] or ep.evidence
    if not flows:
        return "seen in the scanned evidence"
    first = flows[0]
    text = f"seen in {first.get('file')} frame {first.get('frame')}"
    named = next((e for e in ep.evidence if e.get("kind") not in (None, "flow")), None)
    return text + (f" (named by {named.get('kind')} in frame {named.get('frame')})" if named else "")


def render(fmt: str, rules: RuleSet, *, upstream: Iterable[str] = ()) -> str:
    """The rule set as a file for ``fmt`` (one of ``FORMATS``); deterministic for the same input.

    ``upstream`` (``ADDR`` or ``ADDR#PORT``) names the resolvers an allow-only profile forwards the
    listed names to: dnsmasq needs it in that mode, and nftables then lets the router reach only them.
    """
    from droneaudit.export import blocklist_formats  # the renderers import this module's types

    renderer = blocklist_formats.RENDERERS.get(fmt)
    if renderer is None:
        raise ExportError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    counts = f"{len(rules.domains)} name rule(s), {len(rules.addresses())} address rule(s)"
    header = [f"droneaudit {__version__} export: {fmt}, mode {rules.mode}; {counts}"]
    header += [f"note: {n}" for n in rules.notes]
    target = blocklist_formats.Target(tuple(header), tuple(_upstream(u) for u in upstream))
    return "\n".join(renderer(rules, target)) + "\n"


def _upstream(value: str) -> str:
    """``ADDR`` or ``ADDR#PORT`` (dnsmasq's spelling) in canonical form; anything else is refused."""
    addr, _, port = value.strip().partition("#")
    host = canonical("ip", addr)
    if host is None or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ExportError(
            f"upstream must be an IP address, optionally #PORT: {comment_text(value, limit=80)}"
        )
    return f"{host}#{int(port)}" if port else host
