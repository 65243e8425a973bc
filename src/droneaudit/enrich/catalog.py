"""The endpoint catalog: which remote host a drone app talked to, who runs it, and how sure we are.

A capture only tells us host names (DNS, SNI, HTTP Host, proxy CONNECT lines). To say whether a flow went
to DJI's activation server, to a map-tile CDN or to the phone's own connectivity check, every name is
matched against a catalog of cited entries shipped in ``droneaudit/data/catalog.toml`` (docs/catalog.md).

Matching rules, chosen so that a result never depends on file order:

* names compare case-insensitively and a trailing dot (fully qualified form) is ignored;
* an exact pattern (``active.dji.com``) beats any suffix pattern;
* among suffix patterns (``*.dji.com``: the domain itself and every name under it) the longest wins, so a
  user's ``*.cloud.dji.com`` beats the built-in ``*.dji.com`` catch-all whatever the order of the files;
* IP literals never match: an address alone says nothing about the service behind it (CDNs, shared
  hosting), and pretending otherwise would put a confident label on guesswork.

Users extend the catalog with their own TOML file in the same format; a user entry with the same pattern
replaces the built-in one (``Catalog.merged``). Every entry is validated on load, with messages naming
the file and the entry, because users write these files by hand.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from droneaudit.errors import UsageError

#: Every category an entry may carry (docs/catalog.md explains each).
CATEGORIES: frozenset[str] = frozenset(
    {
        "activation",
        "flysafe-geofence",
        "flight-log-sync",
        "media-sharing",
        "account",
        "analytics",
        "remote-config",
        "app-update",
        "maps",
        "terrain",
        "firmware",
        "cdn",
        "staging",
        "third-party-sdk",
        "connectivity-check",
        "os-services",
        "push",
        "crash-reporting",
        "support",
        "content",
        "livestream",
        "other",
    }
)

#: Evidence grades: A seen on the wire in a published observation, B hard-coded in code or named in the
#: operator's own documentation, C hobbyist list / memory dump / otherwise unverified.
CONFIDENCES: tuple[str, ...] = ("A", "B", "C")

_REQUIRED = ("pattern", "vendor", "service", "category", "confidence", "sources")
_OPTIONAL = ("drone_vendor", "data", "notes")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_PACKAGE_FILE = ("droneaudit", "data/catalog.toml")


class CatalogError(UsageError, ValueError):
    """A catalog file is malformed; the message names the file and the entry so the user can fix it.

    It is a ``ValueError`` (bad data) and a ``UsageError`` (the CLI prints it as one line, exit 2).
    """


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One cited host or domain suffix. Field meanings are documented in docs/catalog.md."""

    pattern: str  #: ``host.example.com`` (exact) or ``*.example.com`` (domain and all subdomains)
    vendor: str  #: who operates it, e.g. "DJI", "Google", "Mapbox"
    service: str  #: short human name of what it is
    category: str  #: one of ``CATEGORIES``
    drone_vendor: bool  #: run by or for the drone maker itself
    data: tuple[str, ...]  #: what it is reported to carry; empty when unknown
    confidence: str  #: "A", "B" or "C" (see ``CONFIDENCES``)
    sources: tuple[str, ...]  #: public sources, at least one
    notes: str = ""

    @property
    def is_suffix(self) -> bool:
        return self.pattern.startswith("*.")

    @property
    def domain(self) -> str:
        """The name the pattern is anchored on: the pattern itself, or the suffix without ``*.``."""
        return self.pattern[2:] if self.is_suffix else self.pattern


@dataclass(frozen=True, slots=True)
class Match:
    """The catalog's answer for one host: the entry, the normalised host, and which pattern decided."""

    entry: CatalogEntry
    host: str  #: the host as compared: lower case, no trailing dot
    matched_pattern: str

    @property
    def is_exact(self) -> bool:
        return not self.entry.is_suffix


@dataclass(frozen=True, slots=True)
class CatalogMeta:
    """The ``[meta]`` table: which edition of the catalog classified a capture (for the report)."""

    version: str = ""
    updated: str = ""  #: ISO date


class Catalog:
    """An immutable set of entries with exact and suffix lookup tables built once."""

    __slots__ = ("_entries", "_exact", "_meta", "_suffix")

    def __init__(self, entries: Iterable[CatalogEntry], meta: CatalogMeta | None = None) -> None:
        exact: dict[str, CatalogEntry] = {}
        suffix: dict[str, CatalogEntry] = {}
        for entry in entries:
            _check_entry(entry)
            table = suffix if entry.is_suffix else exact
            if entry.domain in table:
                raise CatalogError(f"duplicate pattern {entry.pattern!r}: each pattern may appear once")
            table[entry.domain] = entry
        self._exact = exact
        self._suffix = suffix
        self._meta = meta or CatalogMeta()
        self._entries = tuple(sorted((*exact.values(), *suffix.values()), key=_order))

    @classmethod
    def load_default(cls) -> Catalog:
        """The catalog shipped inside the package (read once; works from a wheel or a zip)."""
        return _default_catalog()

    @classmethod
    def from_toml(cls, text_or_path: str | Path) -> Catalog:
        """Parse a catalog from TOML text, or from a file when given a ``Path`` or a one-line path string."""
        if isinstance(text_or_path, Path) or _looks_like_path(text_or_path):
            path = Path(text_or_path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CatalogError(f"{path}: cannot read catalog: {exc}") from exc
            return cls._parse(text, str(path))
        return cls._parse(text_or_path, "<catalog text>")

    @classmethod
    def _parse(cls, text: str, source: str) -> Catalog:
        meta, entries = _parse_document(text, source)
        try:
            return cls(entries, meta)
        except CatalogError as exc:
            raise CatalogError(f"{source}: {exc}") from None

    @property
    def meta(self) -> CatalogMeta:
        return self._meta

    def entries(self) -> tuple[CatalogEntry, ...]:
        """All entries grouped by domain (``com.dji`` order), a suffix before the hosts under it."""
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def merged(self, other: Catalog) -> Catalog:
        """This catalog plus ``other``'s entries; where both have a pattern, ``other``'s entry wins.

        The built-in catalog's meta is kept: it is the edition a report should name.
        """
        overridden = {e.pattern for e in other.entries()}
        kept = [e for e in self._entries if e.pattern not in overridden]
        return Catalog((*kept, *other.entries()), self._meta)

    def match(self, host: str) -> Match | None:
        """Classify one host name; ``None`` when nothing in the catalog covers it (or it is an IP)."""
        name = normalise_host(host)
        if name is None:
            return None
        entry = self._exact.get(name)
        if entry is not None:
            return Match(entry, name, entry.pattern)
        labels = name.split(".")
        for start in range(len(labels)):  # left to right = longest suffix first
            entry = self._suffix.get(".".join(labels[start:]))
            if entry is not None:
                return Match(entry, name, entry.pattern)
        return None


def normalise_host(host: str) -> str | None:
    """Lower case, no surrounding space or trailing dot; ``None`` for IP literals and empty names.

    A name whose last label is all digits is treated as an address too (``1.2.3``, ``0x7f.1``): no real
    top-level domain is numeric, and such forms are exactly what resolvers accept as IPv4 shorthand.
    """
    name = host.strip().lower().rstrip(".")
    if not name or ":" in name or name.startswith("["):
        return None  # IPv6 literal (bracketed or not), or host:port, which is not a host name
    if _is_ipv4_like(name):
        return None
    return name


def _is_ipv4_like(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _order(entry: CatalogEntry) -> tuple[tuple[str, ...], bool]:
    return tuple(reversed(entry.domain.split("."))), not entry.is_suffix


def _looks_like_path(value: str) -> bool:
    """A single line without ``=`` or ``[`` cannot be a catalog document, so it must be a file name."""
    return bool(value.strip()) and not any(c in value for c in "\n=[")


@functools.lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    package, name = _PACKAGE_FILE
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return Catalog._parse(text, f"built-in {name}")


def _parse_document(text: str, source: str) -> tuple[CatalogMeta, list[CatalogEntry]]:
    """TOML text to meta and entries; every problem becomes a ``CatalogError`` naming ``source``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"meta", "entry"})
    if unknown:
        raise CatalogError(f"{source}: unknown top-level key(s) {unknown}; expected [meta] and [[entry]]")
    meta = _parse_meta(doc.get("meta", {}), source)
    raw_entries = doc.get("entry", [])
    if not isinstance(raw_entries, list):
        raise CatalogError(f"{source}: 'entry' must be an array of tables written [[entry]]")
    entries = [_parse_entry(raw, i, source) for i, raw in enumerate(raw_entries, start=1)]
    _check_duplicates(entries, source)
    return meta, entries


def _check_duplicates(entries: list[CatalogEntry], source: str) -> None:
    """Two entries for one pattern would make the answer depend on file order, so name both."""
    first: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        if entry.pattern in first:
            raise CatalogError(
                f"{source}: entry #{index} ({entry.pattern!r}): duplicate pattern, "
                f"already defined by entry #{first[entry.pattern]}"
            )
        first[entry.pattern] = index


def _parse_meta(raw: Any, source: str) -> CatalogMeta:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{source}: [meta] must be a table")
    unknown = sorted(set(raw) - {"version", "updated"})
    if unknown:
        raise CatalogError(f"{source}: [meta] has unknown key(s) {unknown}; expected version, updated")
    version, updated = raw.get("version", ""), raw.get("updated", "")
    if not isinstance(version, str):
        raise CatalogError(f'{source}: [meta] version must be a string such as "2026.11.1"')
    return CatalogMeta(version=version, updated=str(updated))  # TOML dates print as ISO


def _parse_entry(raw: Any, index: int, source: str) -> CatalogEntry:
    """One ``[[entry]]`` table to a ``CatalogEntry``, or a ``CatalogError`` saying which and why."""
    where = f"{source}: entry #{index}"
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where}: must be a table")
    if isinstance(raw.get("pattern"), str):
        where += f" ({raw['pattern']!r})"
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise CatalogError(f"{where}: missing required field(s) {missing}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {unknown}; allowed: {[*_REQUIRED, *_OPTIONAL]}")
    entry = CatalogEntry(
        pattern=_check_pattern(_string(raw, "pattern", where), where),
        vendor=_string(raw, "vendor", where),
        service=_string(raw, "service", where),
        category=_string(raw, "category", where),
        drone_vendor=_boolean(raw, "drone_vendor", where),
        data=_strings(raw, "data", where),
        confidence=_string(raw, "confidence", where),
        sources=_strings(raw, "sources", where),
        notes=_string(raw, "notes", where, default=""),
    )
    _check_values(entry, where)
    return entry


def _check_entry(entry: CatalogEntry) -> None:
    """Entries built in code get the same checks as parsed ones, so a ``Catalog`` is always valid."""
    where = f"entry {entry.pattern!r}"
    if _check_pattern(entry.pattern, where) != entry.pattern:
        raise CatalogError(f"{where}: pattern must be lower case without a trailing dot")
    _check_values(entry, where)


def _check_values(entry: CatalogEntry, where: str) -> None:
    if entry.category not in CATEGORIES:
        allowed = ", ".join(sorted(CATEGORIES))
        raise CatalogError(f"{where}: unknown category {entry.category!r}; expected one of: {allowed}")
    if entry.confidence not in CONFIDENCES:
        raise CatalogError(
            f"{where}: confidence must be one of {', '.join(CONFIDENCES)} "
            f"(A seen on the wire, B in code/vendor docs, C unverified), not {entry.confidence!r}"
        )
    if not entry.sources:
        raise CatalogError(f"{where}: needs at least one source (a public write-up, code, doc or issue)")
    if not entry.vendor or not entry.service:
        raise CatalogError(f"{where}: vendor and service must not be empty")


def _check_pattern(pattern: str, where: str) -> str:
    """Normalise a pattern and reject what the matcher cannot honour (inner wildcards, IPs, junk)."""
    value = pattern.strip().lower().rstrip(".")
    name = value[2:] if value.startswith("*.") else value
    if "*" in name:
        raise CatalogError(
            f"{where}: pattern {pattern!r}: only a leading '*.' wildcard is supported "
            "(write '*.example.com' for example.com and all its subdomains)"
        )
    if normalise_host(name) is None:
        raise CatalogError(f"{where}: pattern {pattern!r} is empty or an IP address; IPs are never matched")
    if "." not in name or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise CatalogError(f"{where}: pattern {pattern!r} is not a DNS name with at least two labels")
    return value


def _string(raw: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise CatalogError(f"{where}: {key} must be a string, not {type(value).__name__}")
    return value.strip()


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _boolean(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise CatalogError(f"{where}: {key} must be true or false, not {value!r}")
    return value
