"""Personal and identifying data in one HTTP message: positions, drone/camera serials, phone numbers,
e-mail addresses, device ids and account tokens.

Precision over recall: an analyst acts on every hit, so a value counts only under a key that names it
(``home_lat``, ``aircraft_sn``, ``imei``) or in a shape nobody else uses (``+8613800138000``,
``1581F…``, ``a@b.example``, a JWT). Timestamps, prices, version numbers and hashes stay silent; tests
hold the negatives. Secrets are masked here, before any record exists: a hit never carries a whole
token or password. Hits come out in message order (URL, query, headers, body), one per kind and value.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import NamedTuple

from droneaudit.content import detect_keys as keys
from droneaudit.content import detect_values as values
from droneaudit.content.detect_fields import Leaf, leaves
from droneaudit.content.model import ContentHit, HttpMessage

KINDS = ("position", "serial", "phone", "email", "device-id", "token")


class _Found(NamedTuple):
    at: int  #: index of the leaf it came from: message order
    kind: str
    field: str
    value: str
    detail: str


#: More hits than this of one kind at one array path (a track's points) collapse into the first one.
MAX_REPEATS = 5
_INDEX = re.compile(r"\[\d+\]")


def detect(message: HttpMessage) -> list[ContentHit]:
    """Every hit in ``message``, in message order, without repeats of one kind and value; a long array
    of alike values (a track of 5 000 points) is one hit whose detail gives the count."""
    flat = leaves(message)
    found = [*_positions(flat)]
    for at, leaf in enumerate(flat):
        for rule in (_serials, _phones, _emails, _device_ids, _tokens):
            found += [_Found(at, *hit) for hit in rule(leaf)]
    found.sort(key=lambda f: (f.at, KINDS.index(f.kind)))
    first: dict[tuple[str, str], int] = {}
    for n, f in enumerate(found):
        first.setdefault((f.kind, f.value), n)
    unique = [found[n] for n in sorted(first.values())]
    repeats = Counter((f.kind, _INDEX.sub("[*]", f.field)) for f in unique)
    hits: list[ContentHit] = []
    shown: set[tuple[str, str]] = set()
    for f in unique:
        shape = (f.kind, _INDEX.sub("[*]", f.field))
        if repeats[shape] > MAX_REPEATS:
            if shape in shown:
                continue
            f = f._replace(detail=f"{f.detail}; first of {repeats[shape]} at {shape[1]}")
        shown.add(shape)
        hits.append(_hit(message, f))
    return hits


def _hit(message: HttpMessage, f: _Found) -> ContentHit:
    return ContentHit(
        f.kind, f.value, f.field, message.direction, message.host, message.url, message.where, f.detail
    )


Hit = tuple[str, str, str, str]  #: kind, field, value, detail


def _positions(flat: list[Leaf]) -> Iterator[_Found]:
    """Sibling lat/lon pairs, whole "lat,lon" values under place keys, and coordinates in URL paths."""
    groups: dict[str, list[int]] = defaultdict(list)
    for at, leaf in enumerate(flat):
        if leaf.keyed and (keys.lat_word(leaf.key) or keys.lon_word(leaf.key)):
            groups[leaf.group].append(at)
        elif leaf.keyed:
            yield from (_Found(at, *hit) for hit in _place(leaf))
        elif leaf.field == "url.path":
            yield from (_Found(at, *hit) for hit in _path(leaf.value))
    for members in groups.values():
        yield from _pairs(flat, members)


def _path(path: str) -> Iterator[Hit]:
    """Coordinates written into the URL path by map links and geo APIs."""
    for match in values.PATH_COORDS.finditer(path):
        lat_text, lon_text = (match[1], match[2]) if match[1] else (match[3], match[4])
        lat, lon = float(lat_text), float(lon_text)
        if values.valid_position(lat, lon):
            yield ("position", "url.path", f"{lat_text},{lon_text}", f"lat={lat} lon={lon} in the path")


def _pairs(flat: list[Leaf], members: list[int]) -> Iterator[_Found]:
    """Pair latitude and longitude keys of one object by their shared words (home_lat ↔ home_lng);
    a lone latitude and a lone longitude pair up whatever their words."""
    lats = [i for i in members if keys.lat_word(flat[i].key) and not keys.lon_word(flat[i].key)]
    lons = [i for i in members if keys.lon_word(flat[i].key) and not keys.lat_word(flat[i].key)]
    by_stem: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for j in lons:
        by_stem[keys.stem(flat[j].key)].append(j)
    for i in lats:
        same = by_stem.get(keys.stem(flat[i].key))
        if same:
            j = same.pop(0)
        elif len(lats) == 1 and len(lons) == 1:
            j = lons[0]
        else:
            continue
        hit = _pair(flat[i], flat[j])
        if hit is not None:
            yield _Found(i, *hit)


def _pair(lat_leaf: Leaf, lon_leaf: Leaf) -> Hit | None:
    lat, lon = values.number(lat_leaf.value), values.number(lon_leaf.value)
    if lat is None or lon is None:
        return None
    field = f"{lat_leaf.field},{lon_leaf.key}"
    pair = f"{lat_leaf.value.strip()},{lon_leaf.value.strip()}"
    if values.valid_position(lat, lon) and (lat, lon) != (0, 0):
        return ("position", field, pair, f"lat={lat} lon={lon} ({lat_leaf.key}/{lon_leaf.key})")
    scaled = values.e7(lat_leaf.value, lon_leaf.value)
    if scaled is not None:
        return ("position", field, pair, f"lat={scaled[0]} lon={scaled[1]} (degrees x 1e7)")
    return None


def _place(leaf: Leaf) -> Iterator[Hit]:
    """One value holding both coordinates ("22.5432,113.9588" or [22.5432, 113.9588]) under a place
    key (location, latlng, gps, coordinates…) with 3+ decimals each; GeoJSON "coordinates" is lon,lat.
    Without such a key a pair of decimals is as likely a price range or a ratio: not reported."""
    match = values.COORD_PAIR.fullmatch(leaf.value)
    if match is None or not keys.is_place(leaf.key):
        return
    first, second = match[1], match[2]
    if min(values.decimals(first), values.decimals(second)) < 3:
        return
    geojson = "coordinates" in keys.words(leaf.key)
    lat, lon = (second, first) if geojson else (first, second)
    if values.valid_position(float(lat), float(lon)):
        order = " (GeoJSON lon,lat)" if geojson else ""
        yield ("position", leaf.field, f"{lat},{lon}", f"lat={float(lat)} lon={float(lon)}{order}")


def _serials(leaf: Leaf) -> Iterator[Hit]:
    if leaf.keyed and keys.is_serial(leaf.key) and (shape := values.serial_shape(leaf.value)) is not None:
        yield ("serial", leaf.field, leaf.value.strip(), f"{shape} under key '{leaf.key}'")
        return
    for match in values.DJI_CTA_SERIAL.finditer(leaf.value):
        yield (
            "serial",
            leaf.field,
            match[0],
            f"DJI serial (CTA-2063 manufacturer code 1581, {len(match[0])} chars)",
        )


def _phones(leaf: Leaf) -> Iterator[Hit]:
    if leaf.keyed and keys.is_phone(leaf.key):
        digits = values.phone_digits(leaf.value, keyed=True)
        if digits is not None:
            yield ("phone", leaf.field, leaf.value.strip(), f"phone number under key '{leaf.key}' ({digits})")
            return
    if not leaf.number and "+" in leaf.value:
        for number in values.e164(leaf.value):
            yield ("phone", leaf.field, number, "international number (E.164)")


def _emails(leaf: Leaf) -> Iterator[Hit]:
    if "@" in leaf.value:
        for address in values.emails(leaf.value):
            yield ("email", leaf.field, address, "e-mail address")


def _device_ids(leaf: Leaf) -> Iterator[Hit]:
    kind = keys.device_id_kind(leaf.key) if leaf.keyed else None
    if kind is not None and (shape := values.device_id_shape(kind, leaf.value)) is not None:
        yield ("device-id", leaf.field, leaf.value.strip(), f"{shape} under key '{leaf.key}'")


def _tokens(leaf: Leaf) -> Iterator[Hit]:
    """Authorization headers, secrets under secret keys, and JWTs anywhere; always masked."""
    if leaf.keyed and keys.flat(leaf.key) in ("authorization", "proxyauthorization"):
        yield from _authorization(leaf)
    elif leaf.keyed and keys.is_secret(leaf.key):
        secret = leaf.value.strip()
        minimum = 4 if keys.is_password(leaf.key) else 12
        if len(secret) >= minimum and not values.empty(secret) and not any(c.isspace() for c in secret):
            what = "password" if keys.is_password(leaf.key) else "secret"
            shape = (
                values.jwt_detail(secret) if values.JWT.fullmatch(secret) else f"{what}, {len(secret)} chars"
            )
            yield ("token", leaf.field, values.mask(secret), f"{shape} under key '{leaf.key}'")
    for match in values.JWT.finditer(leaf.value):
        yield ("token", leaf.field, values.mask(match[0]), values.jwt_detail(match[0]))


def _authorization(leaf: Leaf) -> Iterator[Hit]:
    scheme, _, credentials = leaf.value.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        if len(scheme) >= 12:
            yield (
                "token",
                leaf.field,
                values.mask(scheme),
                f"credentials without a scheme, {len(scheme)} chars",
            )
        return
    kind = scheme.lower()
    if kind == "basic":
        detail = f"HTTP Basic credentials (user:password), {len(credentials)} chars"
    elif kind == "bearer" and values.JWT.fullmatch(credentials):
        detail = "Bearer " + values.jwt_detail(credentials)
    else:
        detail = f"{scheme[:20]} credentials, {len(credentials)} chars"
    yield ("token", leaf.field, values.mask(credentials), detail)
