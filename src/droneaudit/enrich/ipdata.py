"""Offline owner (AS number, organisation) and country for any IPv4/IPv6 address.

* **Offline.** Answers come from tables shipped in ``droneaudit/data/ipdata/`` (built by the developer
  command ``scripts/refresh_ipdata.py`` from npm's ``@ip-location-db/asn`` and
  ``@ip-location-db/geo-whois-asn-country``) and from the ``iptocc`` wheel. Nothing opens a socket.
* **Two countries, labelled.** ``country_registered`` is where a Regional Internet Registry says the block
  is registered (iptocc); ``country_geo`` is where geofeeds and whois say it is used. They differ for a
  few percent of addresses, so a report shows both and says which is which.
* **Local is not "unknown".** Non-global addresses (private, CGNAT, link-local, multicast, documentation,
  ...) get ``local=True`` and never an owner: a drone on 192.168.2.1 belongs to nobody on the internet.
* **NAT64.** ``64:ff9b::/96`` embeds an IPv4 address (RFC 6052) that IPv6-only phones use to reach IPv4
  servers, so the embedded address is what gets enriched, and ``nat64_of`` names it.
* **Fast and injectable.** Ranges are sorted and disjoint, so ``numpy.searchsorted`` resolves a whole
  batch; IPv6 keys are 16-byte big-endian strings (``S16``), whose byte order is numeric order. Tests
  pass their own tables with ``IpData.from_tables``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from importlib import metadata, resources
from typing import Any, Final

import iptocc
import numpy as np
from numpy.typing import NDArray

#: Every scope an address can have; everything but "global" is local.
SCOPES: Final = (
    "global", "private", "cgnat", "link-local", "loopback", "multicast",
    "broadcast", "unspecified", "ula", "documentation", "reserved",
)  # fmt: skip
_DATA_FORMAT: Final = 1
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")

# (network, scope); applied broadest first, so a narrower rule overrides the one it sits inside.
_V4_RULES: Final = (
    ("0.0.0.0/8", "reserved"), ("0.0.0.0/32", "unspecified"), ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "cgnat"), ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"), ("192.0.0.0/24", "reserved"), ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"), ("198.18.0.0/15", "reserved"), ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
)  # fmt: skip
# Only 2000::/3 is global unicast; all else is reserved unless named here.
_V6_RULES: Final = (
    ("::/0", "reserved"), ("2000::/3", "global"), ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"), ("2001:2::/48", "reserved"), ("fc00::/7", "ula"),
    ("fe80::/10", "link-local"), ("ff00::/8", "multicast"), ("::/128", "unspecified"),
    ("::1/128", "loopback"),
)  # fmt: skip

Keys = NDArray[Any]  # uint32 for IPv4, S16 (big-endian bytes) for IPv6
RegisteredCountry = Callable[[Sequence[str]], Sequence[str | None]]


@dataclass(frozen=True, slots=True)
class IpInfo:
    """Everything droneaudit knows offline about one address. ``ip`` is the canonical text form."""

    ip: str
    scope: str
    local: bool
    asn: int | None
    org: str | None
    country_registered: str | None
    country_geo: str | None
    nat64_of: str | None = None


@dataclass(frozen=True)
class IpColumns:
    """IpInfo's fields as columns, one entry per input in input order: a frozen object per address costs
    more than the lookup itself, so bulk callers that fill a table (Arrow, DuckDB) skip the objects."""

    ip: list[str]
    scope: list[str]
    local: list[bool]
    asn: list[int | None]
    org: list[str | None]
    country_registered: list[str | None]
    country_geo: list[str | None]
    nat64_of: list[str | None]

    def records(self) -> list[IpInfo]:
        return [IpInfo(*row) for row in zip(*(getattr(self, f.name) for f in fields(self)), strict=True)]


class RangeTable:
    """Sorted, disjoint, inclusive ranges (checked on construction: a binary search over overlapping ones
    silently returns wrong rows); ``find`` gives each key's row or -1."""

    def __init__(self, starts: Keys, ends: Keys) -> None:
        if starts.shape != ends.shape or starts.ndim != 1:
            raise ValueError("range starts and ends must be 1-d arrays of one length")
        if bool(np.any(ends < starts)) or bool(np.any(starts[1:] <= ends[:-1])):
            raise ValueError("ranges must be sorted and disjoint, each with start <= end")
        self.starts = starts
        self.ends = ends

    def find(self, keys: Keys) -> NDArray[np.intp]:
        """Row index of the range holding each key, -1 where no range does."""
        row = np.searchsorted(self.starts, keys, side="right") - 1
        if not len(self.starts):
            return row
        hit = (row >= 0) & (keys <= self.ends[np.maximum(row, 0)])
        return np.where(hit, row, -1)

    @classmethod
    def from_text(cls, bounds: Sequence[tuple[str, str]], v6: bool) -> RangeTable:
        """From (first address, last address) pairs, already in order."""
        parse = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
        return cls(_keys([parse(a) for a, _ in bounds], v6), _keys([parse(b) for _, b in bounds], v6))


@dataclass(frozen=True)
class AsnTable:
    """Ranges → AS number and an index into the deduplicated organisation names."""

    ranges: RangeTable
    asn: NDArray[np.uint32]
    org: NDArray[np.uint32]
    orgs: Sequence[str]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, int, str]], v6: bool) -> AsnTable:
        """From CSV-like rows (first, last, AS number, organisation), for tests and small fixtures."""
        orgs: dict[str, int] = {}
        idx = [orgs.setdefault(r[3], len(orgs)) for r in rows]
        ranges = RangeTable.from_text([(r[0], r[1]) for r in rows], v6)
        return cls(ranges, np.array([r[2] for r in rows], np.uint32), np.array(idx, np.uint32), list(orgs))


@dataclass(frozen=True)
class GeoTable:
    """Ranges → ISO 3166-1 alpha-2 country code as 2 ASCII bytes."""

    ranges: RangeTable
    cc: NDArray[np.bytes_]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, str]], v6: bool) -> GeoTable:
        """From CSV-like rows (first, last, country code)."""
        ranges = RangeTable.from_text([(r[0], r[1]) for r in rows], v6)
        return cls(ranges, np.array([r[2].encode("ascii") for r in rows], dtype="S2"))


@dataclass(frozen=True)
class _Tables:
    asn4: AsnTable
    asn6: AsnTable
    geo4: GeoTable
    geo6: GeoTable


def _keys(addrs: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address], v6: bool) -> Keys:
    """Search keys: uint32 for IPv4; big-endian 16-byte strings for IPv6 (byte order = numeric order)."""
    if v6:
        return np.frombuffer(b"".join(a.packed for a in addrs), dtype="S16").copy()
    return np.fromiter((int(a) for a in addrs), dtype=np.uint32)


def _rules(rules: Sequence[tuple[str, str]], v6: bool) -> list[tuple[Keys, Keys, int]]:
    nets = sorted(
        ((ipaddress.ip_network(n), SCOPES.index(s)) for n, s in rules), key=lambda r: r[0].prefixlen
    )
    return [(_keys([n[0]], v6), _keys([n[-1]], v6), code) for n, code in nets]


_RULES4: Final = _rules(_V4_RULES, v6=False)
_RULES6: Final = _rules(_V6_RULES, v6=True)


def _classify(keys: Keys, rules: Sequence[tuple[Keys, Keys, int]]) -> NDArray[np.uint8]:
    """Scope code per key; later (narrower) rules overwrite earlier (broader) ones."""
    codes = np.zeros(len(keys), dtype=np.uint8)
    for lo, hi, code in rules:
        codes[(keys >= lo[0]) & (keys <= hi[0])] = code
    return codes


def _key16(hi: NDArray[np.uint64], lo: NDArray[np.uint64]) -> Keys:
    both = np.empty((len(hi), 2), dtype=">u8")
    both[:, 0], both[:, 1] = hi, lo
    return both.view("S16").ravel()


def _ranges(z: Any, prefix: str, v6: bool) -> RangeTable:
    """Undo the refresh script's delta coding (scripts/refresh_ipdata.py, ``encode_bounds``)."""
    if not v6:
        starts = np.cumsum(z[f"{prefix}_start_d"], dtype=np.uint32)
        return RangeTable(starts, starts + z[f"{prefix}_span"])
    hi = np.cumsum(z[f"{prefix}_start_hi_d"], dtype=np.uint64)
    end_hi = hi + z[f"{prefix}_end_hi_d"]
    return RangeTable(_key16(hi, z[f"{prefix}_start_lo"]), _key16(end_hi, z[f"{prefix}_end_lo"]))


@functools.cache
def _load_packaged() -> _Tables:
    """Read ``ipdata.npz`` through importlib.resources, so it works from a wheel or a zip too.
    Loaded once per process: the tables are read-only."""
    with resources.files("droneaudit").joinpath("data/ipdata/ipdata.npz").open("rb") as f, np.load(f) as z:
        if int(z["format"][0]) != _DATA_FORMAT:
            raise ValueError(f"ipdata.npz has format {int(z['format'][0])}, this code reads {_DATA_FORMAT}")
        orgs = bytes(z["orgs"]).decode("utf-8").split("\n")
        a4, a6 = (
            AsnTable(_ranges(z, f"asn{v}", v == "6"), z[f"asn{v}_asn"], z[f"asn{v}_org"], orgs) for v in "46"
        )
        g4, g6 = (GeoTable(_ranges(z, f"geo{v}", v == "6"), z[f"geo{v}_cc"]) for v in "46")
    return _Tables(a4, a6, g4, g6)


def packaged_source() -> dict[str, Any]:
    """The shipped SOURCE.json, verbatim (package versions, dates, licences, row counts)."""
    text = resources.files("droneaudit").joinpath("data/ipdata/SOURCE.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _iptocc_registered(ips: Sequence[str]) -> list[str | None]:
    return iptocc.country_code(list(ips))


_V4_CHARS: Final = re.compile(r"[0-9.\n]+")


def _v4_keys(texts: list[str]) -> NDArray[np.uint32]:
    """Dotted quads to integers in bulk, exactly as strict as ``ipaddress`` (checked with array operations
    over the joined text). Anything else takes the one-by-one path, which raises ``ipaddress``'s
    ValueError naming the bad input."""
    blob = "\n".join(texts)
    if (
        texts
        and _V4_CHARS.fullmatch(blob)
        and _plain_quads(np.frombuffer(blob.encode("ascii"), np.uint8), len(texts))
    ):
        o = np.fromstring(blob.replace("\n", "."), dtype=np.uint32, sep=".").reshape(-1, 4)
        if len(o) == len(texts) and not np.any(o > 255):
            return ((o[:, 0] << 24) | (o[:, 1] << 16) | (o[:, 2] << 8) | o[:, 3]).astype(np.uint32)
    return np.array([int(ipaddress.IPv4Address(t)) for t in texts], dtype=np.uint32)


def _plain_quads(b: NDArray[np.uint8], n: int) -> bool:
    """True when the bytes (digits, dots, newlines only) are ``n`` lines of four dot-separated fields,
    each of 1-3 digits without a leading zero (so each fits ``uint32`` and only "<= 255" is left)."""
    sep = (b == ord(".")) | (b == ord("\n"))
    digit = ~sep
    field_start = np.concatenate(([True], sep[:-1]))
    empty_field = sep[1:] & sep[:-1]
    leading_zero = field_start[:-1] & (b[:-1] == ord("0")) & digit[1:]
    four_digits = digit[:-3] & digit[1:-2] & digit[2:-1] & digit[3:]
    if sep[0] or sep[-1] or any(np.any(m) for m in (empty_field, leading_zero, four_digits)):
        return False
    newlines = np.flatnonzero(b == ord("\n"))
    dots_per_line = np.bincount(np.searchsorted(newlines, np.flatnonzero(b == ord("."))), minlength=n)
    return len(newlines) == n - 1 and bool(np.all(dots_per_line == 3))


@dataclass(frozen=True)
class _Parsed:
    """The inputs by family; NAT64 addresses travel with the IPv4 ones (``pos4``/``keys4``)."""

    canon: list[str]
    query: list[str]  # what iptocc is asked: the canonical form, or the embedded IPv4
    nat64_of: list[str | None]
    pos4: NDArray[np.intp]
    keys4: NDArray[np.uint32]
    pos6: NDArray[np.intp]
    keys6: Keys


def _parse(ips: Sequence[str]) -> _Parsed:
    """Validate and split the inputs; IPv4 text is already canonical once ``_v4_keys`` accepts it."""
    if not all(issubclass(kind, str) for kind in set(map(type, ips))):
        raise ValueError(f"not an IP address: {next(t for t in ips if not isinstance(t, str))!r}")
    canon, query = list(ips), list(ips)
    nat64_of: list[str | None] = [None] * len(ips)
    six = [(i, ipaddress.IPv6Address(t)) for i, t in enumerate(ips) if ":" in t]  # raises ValueError
    nat = [(i, ipaddress.IPv4Address(int(a) & 0xFFFFFFFF)) for i, a in six if a in _NAT64]
    pure6 = [(i, a) for i, a in six if a not in _NAT64]
    for i, a in six:
        canon[i] = str(a)
    for i, embedded in nat:
        query[i] = nat64_of[i] = str(embedded)
    pos4 = [i for i, t in enumerate(ips) if ":" not in t] if six else list(range(len(ips)))
    keys4 = np.concatenate([_v4_keys([ips[i] for i in pos4]), np.array([int(a) for _, a in nat], np.uint32)])
    keys6 = np.frombuffer(b"".join(a.packed for _, a in pure6), dtype="S16")
    pos6 = np.array([i for i, _ in pure6], np.intp)
    return _Parsed(canon, query, nat64_of, np.array(pos4 + [i for i, _ in nat], np.intp), keys4, pos6, keys6)


class IpData:
    """Owner and country lookups over shipped (or injected) tables; the shipped ones load on first use."""

    def __init__(self, registered: RegisteredCountry = _iptocc_registered) -> None:
        self._loader: Callable[[], _Tables] = _load_packaged
        self._source_loader: Callable[[], dict[str, Any]] = packaged_source
        self._registered = registered

    @classmethod
    def from_tables(
        cls,
        *,
        asn4: AsnTable,
        asn6: AsnTable,
        geo4: GeoTable,
        geo6: GeoTable,
        registered: RegisteredCountry = _iptocc_registered,
        source: dict[str, Any] | None = None,
    ) -> IpData:
        """Fixed tables instead of the shipped ones (tests, or a user's own data)."""
        data = cls(registered)
        tables = _Tables(asn4, asn6, geo4, geo6)
        data._loader = lambda: tables  # before the first lookup, so _tables never sees the packaged loader
        data._source_loader = lambda: dict(source or {})
        return data

    @functools.cached_property
    def _tables(self) -> _Tables:
        """Loaded on first lookup, once per instance (two racing threads may both load; one result wins)."""
        return self._loader()

    def source(self) -> dict[str, Any]:
        """Per data set: what it is, its licence, its date, and the attribution to print with results."""
        raw = self._source_loader()
        out: dict[str, Any] = {}
        for key, role in (("asn", "AS number and organisation"), ("geo", "geolocated country")):
            e = raw.get(key, {})
            what = f"{e.get('package', 'injected table')} {e.get('version', '')}".strip()
            out[key] = {"role": role, "source": what, "licence": e.get("licence"), "date": e.get("data_date")}
            out[key]["attribution"] = e.get("attribution")
        what = f"iptocc {metadata.version('iptocc')} (RIR delegated statistics)"
        out["registered"] = {
            "role": "registered (RIR) country",
            "source": what,
            "licence": "MIT OR Apache-2.0",
        }
        out["registered"] |= {"date": None, "attribution": None}
        return out

    def lookup(self, ip: str) -> IpInfo:
        """One address; raises ValueError for anything that is not an IPv4/IPv6 address."""
        return self.lookup_many([ip])[0]

    def lookup_many(self, ips: Sequence[str]) -> list[IpInfo]:
        """Many addresses at once; each distinct address is looked up once and its IpInfo shared."""
        distinct = list(dict.fromkeys(ips))
        records = self.lookup_columns(distinct).records()
        if len(distinct) == len(ips):
            return records
        found = dict(zip(distinct, records, strict=True))
        return [found[ip] for ip in ips]

    def lookup_columns(self, ips: Sequence[str]) -> IpColumns:
        """The vectorised core: scope, owner and countries for every input, as columns."""
        p = _parse(ips)
        scope, asn, org, cc = _owners(p, self._tables)
        glob = np.flatnonzero(scope == 0).tolist()
        registered: list[str | None] = [None] * len(ips)
        for i, country in zip(glob, self._registered([p.query[i] for i in glob]), strict=True):
            registered[i] = country
        codes = scope.tolist()
        return IpColumns(
            ip=p.canon,
            scope=[SCOPES[s] for s in codes],
            local=[s != 0 for s in codes],
            asn=[a if a >= 0 else None for a in asn.tolist()],
            org=org,
            country_registered=registered,
            country_geo=[c or None for c in cc.astype("U2").tolist()],
            nat64_of=p.nat64_of,
        )


def _owners(p: _Parsed, t: _Tables) -> tuple[NDArray[np.uint8], NDArray[np.int64], list[str | None], Keys]:
    """Scope code, AS number (-1: none), organisation and geo country (b"": none) per input.
    Only global addresses are looked up: a stray upstream row must not give a private address an owner."""
    scope = np.zeros(len(p.canon), dtype=np.uint8)
    asn = np.full(len(p.canon), -1, dtype=np.int64)
    org: list[str | None] = [None] * len(p.canon)
    cc = np.zeros(len(p.canon), dtype="S2")
    for pos, keys, rules, asn_t, geo_t in (
        (p.pos4, p.keys4, _RULES4, t.asn4, t.geo4),
        (p.pos6, p.keys6, _RULES6, t.asn6, t.geo6),
    ):
        codes = _classify(keys, rules)
        scope[pos] = codes
        pos, keys = pos[codes == 0], keys[codes == 0]
        row = asn_t.ranges.find(keys)
        pos_hit, row_hit = pos[row >= 0], row[row >= 0]
        asn[pos_hit] = asn_t.asn[row_hit]
        for i, k in zip(pos_hit.tolist(), asn_t.org[row_hit].tolist(), strict=True):
            org[i] = asn_t.orgs[k]
        row = geo_t.ranges.find(keys)
        cc[pos[row >= 0]] = geo_t.cc[row[row >= 0]]
    return scope, asn, org, cc
