"""User-supplied DJI keychains for v13+ flight records.

No real keychain is public, so the tests play DJI's app: they write a v13/v14 log whose frame records are
XOR'd and AES-256-CBC-encrypted the way DJI's FlightRecordEngine reads them (per-feature-point keys, IV
chained across records, a new keychain group after each type-50 record), write the keychain in the JSON
shape of DJI's key service, and check that the reader gets back exactly what the test put in. The real
v14 sample checks the other side: without a keychain (or with a wrong one) nothing is fetched or guessed.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from droneaudit.errors import UsageError
from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog
from droneaudit.readers._registry import READERS
from droneaudit.readers.logs.dji_keychain import (
    NAMES,
    Keychain,
    KeychainError,
    descramble,
    feature_map,
    load_keychain,
    parse_keychain,
    xor_key,
)
from droneaudit.readers.logs.dji_record import DjiRecordReader, parse
from droneaudit.readers.logs.keychain_option import load_keychains, with_keychains

BASE, DJI_FLY_CUSTOM, GIMBAL = 1, 7, 10
START_MS = 1_725_195_349_477  # 2024-09-01T12:55:49.477Z
FIXES = [(45.471867 + i * 1e-4, 16.385342 - i * 2e-4, 1.5 * i) for i in range(6)]  # lat, lon, height (m)
OPERATOR = (45.4717, 16.3851)


# --- writing a v13+ log the way DJI's app does ---------------------------------------------------------


def scramble(plain: bytes, kind: int, first: int) -> bytes:
    """Inverse of the XOR layer: seed byte, XOR'd content, XOR'd check byte (first + type)."""
    body = plain + bytes([(first + kind) & 0xFF])
    key = xor_key(first, kind)
    return bytes([first]) + bytes(b ^ key[i % 8] for i, b in enumerate(body))


def record(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + struct.pack("<H", len(payload)) + payload + b"\xff"


def feature(fp: int) -> str:
    return f"FR_Standardization_Feature_{NAMES[fp]}_{fp}"


@dataclass
class Writer:
    """Encrypts records in file order; keys per (group, feature point); IVs chain per feature point."""

    version: int
    category: int
    groups: list[dict[int, tuple[bytes, bytes]]]  #: per segment: feature point -> (key, first IV)
    group: int = 0
    ivs: dict[int, bytes] = field(default_factory=dict)
    out: list[bytes] = field(default_factory=list)

    def add(self, kind: int, plain: bytes) -> None:
        fp = feature_map(self.version, self.category)[kind]
        key, first_iv = self.groups[self.group][fp]
        padder = padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(self.ivs.get(fp, first_iv))).encryptor()
        ciphertext = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
        self.ivs[fp] = ciphertext[-16:]
        self.out.append(record(kind, scramble(ciphertext, kind, first=(len(self.out) * 37 + 11) & 0xFF)))

    def plain(self, kind: int, plain: bytes) -> None:
        self.out.append(record(kind, scramble(plain, kind, first=0x5A)))

    def next_segment(self) -> None:
        self.plain(50, b"\x00" * 8)
        self.group, self.ivs = self.group + 1, {}


def details() -> bytes:
    block = bytearray(436)
    struct.pack_into("<qdd", block, 91, START_MS, FIXES[0][1], FIXES[0][0])
    struct.pack_into("<f", block, 267, 952.0)
    block[271] = 126  # Mini 4 Pro
    block[280:292] = b"test-aircft\0"
    block[312:322] = b"1581F6TEST"
    block[376:380] = bytes([6, 1, 13, 10])
    return bytes(block)


def header(version: int, category: int, records: bytes) -> bytes:
    inner = b"\x01" + struct.pack("<H", 436) + details() + struct.pack("<H", 0)
    info = scramble(inner, 0, first=0x41)
    aux = b"\x00" + struct.pack("<H", len(info)) + info
    aux += b"\x01" + struct.pack("<HHBB", 4, category, 3, 0)
    offset = 100 + len(aux)
    prefix = struct.pack("<QHB", offset, 436, version).ljust(100, b"\0")
    return prefix + aux + records


def osd(lat: float, lon: float, height: float) -> bytes:
    return struct.pack("<ddh", math.radians(lon), math.radians(lat), round(height * 10)) + bytes(35)


def custom(ms: int) -> bytes:
    return struct.pack("<BBffq", 0, 0, 1.0, 2.0, ms)


def write_log(version: int, category: int, groups: list[dict[int, tuple[bytes, bytes]]]) -> bytes:
    """Three OSD/CUSTOM frames per segment, a HOME, an APP_GPS, gimbal records in between (their own
    feature point on v14, Base on v13, either way interleaved in the Base chain's file order)."""
    w = Writer(version, category, groups)
    w.plain(56, struct.pack("<HH", BASE, 4) + b"wrap")  # KeyStorage: plain, never decrypted
    for i, (lat, lon, height) in enumerate(FIXES):
        if i == 3:
            w.next_segment()
        w.add(1, osd(lat, lon, height))
        w.add(5, custom(START_MS + 100 * i))  # the UTC time of the OSD record before it
        w.add(3, bytes(range(20)))  # gimbal
        if i == 0:
            w.add(2, struct.pack("<dd", math.radians(lon), math.radians(lat)) + bytes(20))
            w.add(14, struct.pack("<dd", *OPERATOR))
    return header(version, category, b"".join(w.out))


def keys(tag: int) -> dict[int, tuple[bytes, bytes]]:
    return {fp: (bytes([tag, fp]) * 16, bytes([fp, tag]) * 8) for fp in (BASE, DJI_FLY_CUSTOM, GIMBAL)}


def keychain_json(groups: list[dict[int, tuple[bytes, bytes]]], *, bare: bool = False) -> str:
    data = [
        [
            {
                "featurePoint": feature(fp),
                "aesKey": base64.b64encode(k).decode(),
                "aesIv": base64.b64encode(iv).decode(),
            }
            for fp, (k, iv) in group.items()
        ]
        for group in groups
    ]
    return json.dumps(data if bare else {"result": {"code": 0, "msg": "success"}, "data": data})


def _parse(data: bytes, *chains: Keychain) -> tuple[MediaRecords, ProblemLog]:
    problems = ProblemLog()
    return parse(data, "log.txt", "0" * 64, problems, chains), problems


GROUPS = [keys(1), keys(2)]


@pytest.fixture
def chain_file(tmp_path: Path) -> Path:
    path = tmp_path / "DJIFlightRecord_keychain.json"
    path.write_text(keychain_json(GROUPS), encoding="utf-8")
    return path


# --- decrypting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "category"), [(13, 3), (14, 4)])
def test_keychain_decrypts_to_the_values_written(version: int, category: int, chain_file: Path) -> None:
    rec, problems = _parse(write_log(version, category, GROUPS), load_keychain(chain_file))
    assert len(problems) == 0, problems.records()
    aircraft = [t for t in rec.tracks if t.kind == "aircraft" and t.index]
    assert len(aircraft) == len(FIXES)  # the second segment opened with the second keychain group
    for point, (lat, lon, height) in zip(aircraft, FIXES, strict=True):
        assert (point.lat, point.lon) == pytest.approx((lat, lon), abs=1e-9)
        assert point.alt_m == pytest.approx(height) and point.alt_ref == "relative"
    assert [t.time_utc for t in aircraft] == [f"2024-09-01T12:55:49.{477 + 100 * i}Z" for i in range(6)]
    home = next(t for t in rec.tracks if t.kind == "home" and t.index)
    operator = next(t for t in rec.tracks if t.kind == "operator")
    assert (home.lat, home.lon) == pytest.approx(FIXES[0][:2], abs=1e-9)
    assert (operator.lat, operator.lon) == OPERATOR and operator.source.endswith("APP_GPS")
    assert rec.item.extra["frames"].startswith(f"decrypted offline with the keychain {chain_file}")
    assert rec.item.serials["aircraft-serial"] == "1581F6TEST"  # the details, as without a keychain


def test_reader_takes_keychain_files_and_the_bare_data_list(tmp_path: Path) -> None:
    path = tmp_path / "cached.json"
    path.write_text(keychain_json(GROUPS, bare=True), encoding="utf-8")  # pydjirecord's cache shape
    log = tmp_path / "DJIFlightRecord_x.txt"
    log.write_bytes(write_log(14, 4, GROUPS))
    reader = DjiRecordReader(keychains=[path])
    rec = parse(log.read_bytes(), "x", "0" * 64, ProblemLog(), reader.keychains)
    assert len([t for t in rec.tracks if t.kind == "aircraft" and t.index]) == len(FIXES)


def test_wrong_key_is_a_problem_not_garbage(tmp_path: Path) -> None:
    wrong = parse_keychain(keychain_json([keys(7), keys(8)]).encode(), "other-flight.json")
    rec, problems = _parse(write_log(14, 4, GROUPS), wrong)
    (problem,) = problems.records()
    assert problem.code == "keychain-mismatch" and "keychain does not fit this log" in problem.detail
    assert "other-flight.json: 0 of " in problem.detail
    assert [t.source for t in rec.tracks] == ["details takeoff point"]
    assert "no supplied keychain fits this log" in rec.item.extra["frames"]


def test_the_fitting_keychain_among_several_is_used(chain_file: Path) -> None:
    wrong = parse_keychain(keychain_json([keys(7)]).encode(), "wrong.json")
    rec, problems = _parse(write_log(14, 4, GROUPS), wrong, load_keychain(chain_file))
    assert len(problems) == 0
    assert str(chain_file) in rec.item.extra["frames"]


def test_missing_feature_point_and_missing_segment_are_reported(chain_file: Path) -> None:
    """Base only, first segment only: the first three fixes decode (no time), the rest are named."""
    partial = parse_keychain(keychain_json([{BASE: GROUPS[0][BASE]}]).encode(), "partial.json")
    rec, problems = _parse(write_log(14, 4, GROUPS), partial)
    aircraft = [t for t in rec.tracks if t.kind == "aircraft" and t.index]
    assert len(aircraft) == 3 and all(t.time_utc is None for t in aircraft)
    (problem,) = problems.records()
    assert problem.code == "keychain-incomplete" and "DJIFlyCustom" in problem.detail
    assert "Gimbal x6" in problem.detail and "Base x3" in problem.detail  # the OSD of segment 2


def test_corrupt_record_under_a_fitting_keychain_is_counted(chain_file: Path) -> None:
    data = bytearray(write_log(14, 4, GROUPS))
    data[-10] ^= 0xFF  # inside the last record's last ciphertext block: its padding breaks
    _, problems = _parse(bytes(data), load_keychain(chain_file))
    assert {p.code for p in problems.records()} == {"decrypt-failed"}


def test_log_without_encrypted_records_needs_no_keychain(chain_file: Path) -> None:
    data = write_log(14, 4, GROUPS)
    rec, problems = _parse(data[: struct.unpack_from("<Q", data)[0]], load_keychain(chain_file))
    assert len(problems) == 0 and rec.item.extra["frames"] == "no encrypted frame records in this log"


# --- the keychain file ---------------------------------------------------------------------------------

GOOD = json.loads(keychain_json([keys(1)]))


def _broken(change: str) -> object:
    doc = json.loads(json.dumps(GOOD))
    entry = doc["data"][0][0]
    if change == "result-error":
        return {"result": {"code": 4001, "msg": "Invalid sdk key"}, "data": None}
    if change == "no-data":
        return {"result": {"code": 0, "msg": "ok"}}
    if change == "empty":
        return {"result": {"code": 0}, "data": [[]]}
    if change == "group-not-list":
        doc["data"][0] = entry
    elif change == "unknown-feature":
        entry["featurePoint"] = "FR_Standardization_Feature_Teleport_99"
    elif change == "not-base64":
        entry["aesKey"] = "not base64!"
    elif change == "short-key":
        entry["aesKey"] = base64.b64encode(bytes(16)).decode()
    elif change == "long-iv":
        entry["aesIv"] = base64.b64encode(bytes(32)).decode()
    elif change == "no-iv":
        del entry["aesIv"]
    elif change == "twice":
        doc["data"][0].append(dict(entry))
    return doc


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("result-error", "error answer from DJI's key service (4001: Invalid sdk key)"),
        ("no-data", 'an object with "data"'),
        ("empty", "holds no keys"),
        ("group-not-list", "data[0] is not a list"),
        ("unknown-feature", "'FR_Standardization_Feature_Teleport_99' is not a DJI feature point"),
        ("not-base64", "data[0][0].aesKey is not base64"),
        ("short-key", "data[0][0].aesKey decodes to 16 bytes, AES-256-CBC needs 32"),
        ("long-iv", "data[0][0].aesIv decodes to 32 bytes, AES-256-CBC needs 16"),
        ("no-iv", 'data[0][0] has no string "aesIv"'),
        ("twice", "data[0] names feature point Base twice"),
    ],
)
def test_malformed_keychain_is_one_clear_error(tmp_path: Path, change: str, why: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(_broken(change)), encoding="utf-8")
    with pytest.raises(KeychainError) as caught:
        load_keychain(path)
    message = str(caught.value)
    assert message.startswith(f"DJI keychain {path}: ") and why in message and "\n" not in message
    assert isinstance(caught.value, UsageError)  # the CLI prints it as one line, exit 2


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe{", "is not UTF-8 text"),
        (b'{"data": [', "is not JSON (Expecting value at line 1 column 11)"),
    ],
)
def test_not_a_json_keychain(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    with pytest.raises(KeychainError, match=re.escape(why)):
        load_keychain(path)


def test_missing_keychain_file_fails_when_the_reader_is_made(tmp_path: Path) -> None:
    with pytest.raises(KeychainError, match=r"keychain .*nope\.json: cannot be read"):
        DjiRecordReader(keychains=[tmp_path / "nope.json"])


# --- the CLI helper ------------------------------------------------------------------------------------


def test_cli_helper_swaps_in_a_keyed_record_reader(chain_file: Path) -> None:
    assert load_keychains(None) == () and with_keychains(READERS, ()) == READERS
    chains = load_keychains([chain_file, chain_file])
    readers = with_keychains(READERS, chains)
    assert [type(r) for r in readers] == [type(r) for r in READERS]
    keyed = next(r for r in readers if isinstance(r, DjiRecordReader))
    assert keyed.keychains == chains
    assert next(r for r in READERS if isinstance(r, DjiRecordReader)).keychains == ()  # registry untouched


# --- the real v14 sample -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v14(corpus: Path) -> bytes:
    return (corpus / "drone-media" / "pydjirecord" / "DJIFlightRecord_2024-09-01_[14-55-49].txt").read_bytes()


def test_v14_sample_without_keychain_is_encrypted_not_fetched(v14: bytes) -> None:
    rec, _ = _parse(v14)
    assert rec.item.extra["frames"] == "encrypted; keys only from DJI's server — not fetched"
    assert [t.kind for t in rec.tracks] == ["home"]


def test_v14_sample_with_a_foreign_keychain_does_not_fit(v14: bytes) -> None:
    every = {fp: (bytes([fp]) * 32, bytes(16)) for fp in NAMES}
    rec, problems = _parse(v14, parse_keychain(keychain_json([every]).encode(), "foreign.json"))
    assert "keychain-mismatch" in {p.code for p in problems.records()}
    assert [t.kind for t in rec.tracks] == ["home"]


def test_v14_sample_stores_keys_for_exactly_the_feature_points_its_records_need(v14: bytes) -> None:
    """The real log's KeyStorage records (56) name the feature points its keys are for; the map chosen
    by its version block (category 4, DJI's Version13_2 map) needs exactly those - the v13 map would not."""
    offset = struct.unpack_from("<Q", v14)[0]
    assert struct.unpack_from("<H", v14, offset - 4)[0] == 4  # category in the version block
    kinds, stored, pos = set(), set(), offset
    while pos + 3 < len(v14) and (length := struct.unpack_from("<H", v14, pos + 1)[0]) + pos + 3 < len(v14):
        kind, payload = v14[pos], v14[pos + 3 : pos + 3 + length]
        if kind == 56:
            stored.add(struct.unpack_from("<H", descramble(payload, 56))[0])
        kinds.add(kind)
        pos += length + 4
    needed = {fp for kind in kinds if (fp := feature_map(14, 4).get(kind)) not in (None, 8, 15)}
    assert needed == stored == {1, 2, 5, 6, 7, 10, 11, 12, 13, 14}
    assert {feature_map(13, 3).get(k) for k in kinds} - {None, 8, 15} != stored


def test_feature_point_maps_follow_djis_engine() -> None:
    """Spot checks against DJI's ``flight_record_feature_point_map.cpp`` (13_1 = v13, 13_2 = v14)."""
    v13, v14 = feature_map(13, 3), feature_map(14, 4)
    assert (v13[1], v13[3], v13[4], v13[5], v13[14], v13[22], v13[55]) == (1, 1, 1, 7, 1, 6, 6)
    assert (v14[1], v14[3], v14[4], v14[5], v14[14], v14[22], v14[55]) == (1, 10, 11, 7, 1, 13, 15)
    assert v13[53] == v14[53] == 9 and v13[49] == v14[49] == 5 and v13[40] == v14[40] == 1
    assert v13[50] == v14[50] == v13[56] == v14[56] == 8  # FlightRecordRecover, KeyStorage: plain
    assert feature_map(14, None) == v14 and feature_map(13, None) == v13  # no version block: by version
    assert feature_map(14, 3) == v13  # the version block decides, as in DJI's parser
