"""DJI flight-record ciphers: the XOR layer every v7+ record has, and user-supplied keychains for the
AES layer of v13+ - the one road to v13+ frames that needs no network.

From format v13 the frame records of ``DJIFlightRecord_*.txt`` are AES-encrypted with per-log keys. The
log carries those keys only wrapped (``KeyStorage`` records, 256 bytes each); DJI's key service
(``POST dev.dji.com/openapi/v1/flight-records/keychains``, developer key required) unwraps them. droneaudit
never makes that call - it would send the log's key material and a developer identity to DJI - but a
user who obtained the answer elsewhere (dji-log-parser and pydjirecord both let it be stored) can pass it to
``DjiRecordReader(keychains=[...])`` / ``--dji-keychain FILE``, and the frames decode offline.

The scheme, from DJI's own FlightRecordEngine (``flight_record_decryption_13_layer.cpp``,
``flight_record_feature_point_map.cpp``, ``fr_standardization_parser_Imp.cpp``), cross-checked with
lvauvillier/dji-log-parser (``decoder.rs``, ``keychain/*.rs``) and rembish/pydjirecord (``decoder.py``):

* The answer is JSON: ``{"result": {"code": 0, "msg": ...}, "data": [[{"featurePoint":
  "FR_Standardization_Feature_Base_1", "aesKey": base64 (32 bytes), "aesIv": base64 (16 bytes)}, ...],
  ...]}``. One inner list per log segment; a ``FlightRecordRecover`` record (type 50) starts the next.
  The bare ``data`` list (how pydjirecord caches it) is accepted too.
* Each record type belongs to a "feature point" (Base, Gimbal, RC, Camera, ...) with its own key. Which
  map applies is named by the log's version block: category 3 ("Version13_1") or 4 ("Version13_2").
* XOR layer (v7+, every record; ``deEncryptData`` in DJI's engine): byte 0 of the payload seeds an 8-byte
  key, CRC-64/Jones(seed = byte 0 + type, data = byte 0 x 0x123456789ABCDEF0, little endian), repeated;
  the last byte is a check byte that decodes to (byte 0 + type) mod 256 (true for every record of both
  corpus logs). From v13 the bytes between are AES-256-CBC with PKCS#7 padding. The IV starts as
  ``aesIv`` and then runs on per feature point: the next record's IV is the last ciphertext block of the
  previous one (CBC chained across records). ``KeyStorage`` (56) and ``FlightRecordRecover`` (50) are
  plain; type 55 is never decrypted; types outside the map are skipped.

Whether a keychain belongs to a log cannot be read from either file, so it is tried: a fitting key turns
(nearly) every record into valid PKCS#7 padding, a wrong one about 1 in 256.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from droneaudit.errors import UsageError
from droneaudit.readers._api import ProblemLog

NAMES = {
    1: "Base", 2: "Vision", 3: "Waypoint", 4: "Agriculture", 5: "AirLink", 6: "AfterSales",
    7: "DJIFlyCustom", 8: "Plaintext", 9: "FlightHub", 10: "Gimbal", 11: "RC", 12: "Camera",
    13: "Battery", 14: "FlySafe", 15: "Security",
}  # fmt: skip
#: The ``featurePoint`` strings of DJI's API, e.g. ``FR_Standardization_Feature_Base_1`` -> 1.
FEATURE_POINTS = {f"FR_Standardization_Feature_{name}_{n}": n for n, name in NAMES.items()}
PLAINTEXT, SECURITY = 8, 15
_MASK64 = (1 << 64) - 1
_XOR_MAGIC = 0x123456789ABCDEF0
_CRC64_POLY = 0x95AC9329AC4BC9B5  #: CRC-64/Jones, reflected (the Rust ``crc64`` crate)
RECOVER = 50  #: FlightRecordRecover: the next keychain group starts after it
MAX_FILE = 4 << 20  #: a keychain is a few kilobytes; refuse to slurp something else by mistake
_FIT = 0.9  #: share of decrypted records with valid padding that marks a keychain as fitting
_PROBE = 32  #: records tried before a keychain is given up on

_COMMON = {
    2: (17, 18), 3: (31, 32, 34, 35, 36, 38, 39), 4: (21, 41, 43, 44, 45, 46, 47, 48), 5: (49,),
    7: (5, 9, 10, 20, 24, 30, 54), 8: (50, 56), 9: (53,),
}  # fmt: skip
#: DJI's ``Version13_1FeaturePointMap`` (v13 logs): almost everything under Base.
_V13_1 = _COMMON | {
    1: (1, 2, 3, 4, 6, 7, 8, 11, 13, 14, 15, 25, 29, 33, 40), 6: (12, 16, 19, 22, 26, 27, 28, 51, 52, 55),
}  # fmt: skip
#: DJI's ``Version13_2FeaturePointMap`` (v14 logs): gimbal, RC, camera, battery, fly-safe split off.
_V13_2 = _COMMON | {
    1: (1, 2, 6, 13, 14, 15, 40), 6: (12, 16, 19, 26, 27), 10: (3,), 11: (4, 11, 29, 33), 12: (25,),
    13: (7, 8, 22), 14: (28, 51, 52), 15: (55,),
}  # fmt: skip
#: Newer types DJI's published engine predates; dji-log-parser and pydjirecord place them so.
_LATER = {58: 1, 59: 1, 62: 11, 63: 1}


def _invert(groups: Mapping[int, tuple[int, ...]]) -> dict[int, int]:
    return {kind: fp for fp, kinds in groups.items() for kind in kinds} | _LATER


MAP_13_1, MAP_13_2 = _invert(_V13_1), _invert(_V13_2)


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def xor_key(first: int, record_type: int) -> bytes:
    """The 8-byte XOR key of one record, derived from its first payload byte and its type."""
    crc = (first + record_type) & 0xFF
    for byte in ((_XOR_MAGIC * first) & _MASK64).to_bytes(8, "little"):
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc.to_bytes(8, "little")


def descramble(payload: bytes, record_type: int) -> bytes:
    """XOR layer of v7+ payloads; the first byte only seeds the key and is dropped (the check byte stays)."""
    if not payload:
        return b""
    body = payload[1:]
    key = (xor_key(payload[0], record_type) * (len(body) // 8 + 1))[: len(body)]
    return (int.from_bytes(body, "little") ^ int.from_bytes(key, "little")).to_bytes(len(body), "little")


class KeychainError(UsageError):
    """A keychain file that cannot be used; the message names the file and says why, in one line."""


@dataclass(frozen=True)
class Keychain:
    """One keychain file: per log segment, feature point -> (AES-256 key, first IV)."""

    source: str  #: the file it came from, as the user named it
    groups: tuple[Mapping[int, tuple[bytes, bytes]], ...]


def load_keychain(path: str | os.PathLike[str]) -> Keychain:
    """Read and validate one keychain file; any fault raises ``KeychainError`` naming the file."""
    source = str(path)
    try:
        with Path(path).open("rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as exc:
        raise _error(source, f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_FILE:
        raise _error(source, "is larger than 4 MiB; a keychain is a few kilobytes of JSON")
    return parse_keychain(raw, source)


def parse_keychain(raw: bytes, source: str) -> Keychain:
    """Validate the JSON of DJI's keychain answer (or its bare ``data`` list) strictly."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _error(source, "is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise _error(source, f"is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    groups = tuple(_group(group, f"data[{i}]", source) for i, group in enumerate(_data(doc, source)))
    if not any(groups):
        raise _error(source, "holds no keys (every keychain group is empty)")
    return Keychain(source, groups)


def _error(source: str, why: str) -> KeychainError:
    return KeychainError(f"DJI keychain {source}: {why}")


def _data(doc: object, source: str) -> list[object]:
    """The list of keychain groups, from the whole answer or from the cached ``data`` list."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict) or "data" not in doc:
        raise _error(source, 'is not the JSON DJI\'s keychain service returns (an object with "data")')
    result = doc.get("result")
    if result is not None:
        code = result.get("code") if isinstance(result, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            raise _error(source, '"result" has no integer "code"')
        if code != 0:
            raise _error(source, f"is an error answer from DJI's key service ({code}: {result.get('msg')})")
    data = doc["data"]
    if not isinstance(data, list) or not data:
        raise _error(source, '"data" is not a non-empty list of keychain groups')
    return data


def _group(group: object, where: str, source: str) -> dict[int, tuple[bytes, bytes]]:
    if not isinstance(group, list):
        raise _error(source, f"{where} is not a list of feature-point entries")
    keys: dict[int, tuple[bytes, bytes]] = {}
    for j, entry in enumerate(group):
        fp, key, iv = _entry(entry, f"{where}[{j}]", source)
        if fp in keys:
            raise _error(source, f"{where} names feature point {NAMES[fp]} twice")
        keys[fp] = (key, iv)
    return keys


def _entry(entry: object, where: str, source: str) -> tuple[int, bytes, bytes]:
    if not isinstance(entry, dict):
        raise _error(source, f"{where} is not an object")
    for name in ("featurePoint", "aesKey", "aesIv"):
        if not isinstance(entry.get(name), str):
            raise _error(source, f'{where} has no string "{name}"')
    fp = FEATURE_POINTS.get(entry["featurePoint"])
    if fp is None:
        raise _error(source, f"{where}.featurePoint {entry['featurePoint']!r} is not a DJI feature point")
    key = _b64(entry["aesKey"], f"{where}.aesKey", 32, source)
    return fp, key, _b64(entry["aesIv"], f"{where}.aesIv", 16, source)


def _b64(text: str, where: str, size: int, source: str) -> bytes:
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _error(source, f"{where} is not base64") from exc
    if len(value) != size:
        raise _error(source, f"{where} decodes to {len(value)} bytes, AES-256-CBC needs {size}")
    return value


def feature_map(version: int, category: int | None) -> dict[int, int]:
    """Record type -> feature point: the version block's category decides, else the format version."""
    if category in (3, 4):
        return MAP_13_1 if category == 3 else MAP_13_2
    return MAP_13_1 if version == 13 else MAP_13_2


def decrypt_block(ciphertext: bytes, key: bytes, iv: bytes) -> bytes | None:
    """AES-256-CBC then PKCS#7; None when the padding is not valid (the mark of a wrong key)."""
    if not ciphertext or len(ciphertext) % 16:
        return None
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        return None
    return plain[:-pad]


@dataclass
class _Run:
    """One keychain tried on one log's records."""

    plain: list[bytes | None] = field(default_factory=list)  #: per record: plaintext, or None
    attempted: int = 0  #: records that needed a key and had one
    ok: int = 0  #: ... of which the padding came out valid
    missing: Counter[int] = field(default_factory=Counter)  #: feature point -> records with no key

    def fits(self) -> bool:
        """Nearly all records open: a wrong key gives valid padding to about 1 record in 256."""
        return self.attempted > 0 and self.ok >= _FIT * self.attempted


def _run(bodies: Sequence[tuple[int, bytes]], fmap: Mapping[int, int], chain: Keychain, limit: int) -> _Run:
    """Decrypt ``(type, XOR-decoded body)`` records in file order, keeping the per-feature IV chain."""
    run, group = _Run(), 0
    ivs: dict[int, bytes] = {}
    for kind, body in bodies:
        fp = fmap.get(kind)
        keys = chain.groups[group] if group < len(chain.groups) else {}
        if kind == RECOVER:  # the next segment: its own keys, its IVs start afresh
            group, ivs = group + 1, {}
        if fp == PLAINTEXT:
            run.plain.append(body[:-1])
        elif fp is None or fp == SECURITY or fp not in keys:
            run.plain.append(None)
            if fp is not None and fp != SECURITY:
                run.missing[fp] += 1
        else:
            key, first_iv = keys[fp]
            ciphertext = body[:-1]  # the last byte is the XOR layer's check byte
            run.plain.append(decrypt_block(ciphertext, key, ivs.get(fp, first_iv)))
            if ciphertext and not len(ciphertext) % 16:
                ivs[fp] = ciphertext[-16:]
            run.attempted += 1
            run.ok += run.plain[-1] is not None
            if run.attempted >= limit:
                break
    return run


def decrypt_records(
    walked: Sequence[tuple[int, int, bytes]],
    version: int,
    category: int | None,
    keychains: Iterable[Keychain],
    display: str,
    problems: ProblemLog,
) -> tuple[list[tuple[int, int, bytes]], str]:
    """``(record number, type, plaintext)`` of the records a keychain opens, and a line on the outcome.

    ``walked`` is the log's ``(offset, type, raw payload)`` in file order. The first keychain that fits
    is used; none fitting is a ``keychain-mismatch`` problem, not an error (the details stay readable).
    """
    bodies = [(kind, descramble(raw, kind)) for _, kind, raw in walked]
    fmap = feature_map(version, category)
    if all(fmap.get(kind) in (None, PLAINTEXT, SECURITY) for kind, _ in bodies):
        return [], "no encrypted frame records in this log"
    tried: list[str] = []
    for chain in keychains:
        probe = _run(bodies, fmap, chain, _PROBE)
        run = _run(bodies, fmap, chain, len(bodies) + 1) if probe.fits() else probe
        if run.fits():
            _report_gaps(run, chain, display, problems)
            opened = enumerate(zip(bodies, run.plain, strict=True), 1)
            plain = [(n, kind, p) for n, ((kind, _), p) in opened if p is not None]
            return plain, f"decrypted offline with the keychain {chain.source} (OSD, HOME, APP_GPS)"
        tried.append(f"{chain.source}: {run.ok} of {run.attempted} records decrypt")
    if not tried:
        return [], "encrypted; keys only from DJI's server — not fetched"
    problems.add(display, "keychain-mismatch", "keychain does not fit this log (" + "; ".join(tried) + ")")
    return [], "encrypted; no supplied keychain fits this log — keys not fetched"


def _report_gaps(run: _Run, chain: Keychain, display: str, problems: ProblemLog) -> None:
    if run.ok < run.attempted:
        detail = f"{run.attempted - run.ok} of {run.attempted} records did not decrypt with {chain.source}"
        problems.add(display, "decrypt-failed", detail, count=run.attempted - run.ok)
    lacking = {fp: n for fp, n in run.missing.items() if n}
    if lacking:
        names = ", ".join(f"{NAMES.get(fp, fp)} x{n}" for fp, n in sorted(lacking.items()))
        detail = f"{sum(lacking.values())} encrypted records have no key in {chain.source} ({names})"
        problems.add(display, "keychain-incomplete", detail, count=sum(lacking.values()))
