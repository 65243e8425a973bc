"""DJI ``.DAT`` flight-controller logs: identification, what reads offline, what is said not to.

No real DAT is in the shared corpus (the public ones are multi-megabyte or of unclear licence), so every
file here is synthetic, written from the layout notes the reader cites. The record CRC is checked against
an independent, table-driven implementation of the plaso parser's checksum loop.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.logs.dji_dat import GPS, DjiDatReader, crc16, layout, parse

READER = DjiDatReader()
BUILD = b"BUILD 2017.08.29 10:11:12"
FIXES = [
    (20170829, 185812 + i, -1062164000 - 300 * i, 399612000 + 200 * i, 2_745_000 + 500 * i) for i in range(5)
]


def _crc_oracle(data: bytes) -> int:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        table.append(c)
    value = 13970
    for byte in data:
        value = (value >> 8) ^ table[(byte ^ value) & 0xFF]
    return value


def rec(kind: int, tick: int, payload: bytes, *, good_crc: bool = True) -> bytes:
    key = tick & 0xFF
    body = bytes([0x55, 12 + len(payload), 0, 0x42]) + struct.pack("<HI", kind, tick)
    body += bytes(b ^ key for b in payload)
    crc = _crc_oracle(body) ^ (0 if good_crc else 0x0101)
    return body + struct.pack("<H", crc)


def gps(date: int, hms: int, lon: int, lat: int, height: int) -> bytes:
    return struct.pack("<IIiiifff", date, hms, lon, lat, height, 0.5, -0.25, 0.0) + bytes(8)


def plain_dat(code: int, *, v3: bool, records: bytes) -> bytes:
    head = bytearray(256 if v3 else 128)
    head[0] = code
    head[16 : 16 + len(BUILD)] = BUILD
    if v3:
        head[242:253] = b"DJI_LOG_V3T"
    return bytes(head) + records


def flight(ticks: int = 1000) -> bytes:
    out = [rec(12, ticks - 5, bytes(range(40)))]
    for i, fix in enumerate(FIXES):
        tick = ticks + 200 * i
        out.append(rec(GPS, tick, gps(*fix)))
        out.append(rec(32768, tick + 1, b"[L-FMU/MOTOR]Start.\0"))  # event text
        if i == 2:
            out.append(b"\x00" * 7 + b"\x55\x99garbage")  # zero fill and a stray 0x55: resync, no record
            out.append(rec(12, tick + 2, bytes(40), good_crc=False))  # damaged where a record belongs
    out.append(rec(GPS, ticks + 2000, gps(0, 0, 0, 0, 0)))  # before lock: no fix
    return b"".join(out)


def _parse(data: bytes) -> tuple[MediaRecords, dict[str, str]]:
    problems = ProblemLog()
    records = parse(data, "FLY005.DAT", "0" * 64, problems)
    return records, {p.code: p.detail for p in problems.records()}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- plain DATs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("v3", [False, True])
def test_plain_dat_reports_header_counts_and_gps(v3: bool) -> None:
    rec, problems = _parse(plain_dat(16, v3=v3, records=flight()))
    extra = rec.item.extra
    assert extra["layout"].startswith(f"plain DAT, {'V3' if v3 else 'V1'} layout")
    assert (rec.item.make, rec.item.model, extra["aircraft_type_code"]) == ("DJI", "Mavic Pro", "16")
    assert extra["build"] == BUILD.decode()
    assert extra.get("log_header") == ("DJI_LOG_V3T" if v3 else None)
    assert (extra["records"], extra["records_failed_crc"], extra["gps_records"]) == ("12", "1", "6")
    assert extra["record_types"] == "2096x6, 32768x5, 12x1"
    assert extra["gps_fixes"] == "5" and "GPS fixes" in extra["readable_offline"]
    assert "IMU, battery" in extra["not_readable"]
    assert set(problems) == {"bad-record"}
    points = rec.tracks
    assert [(p.lat, p.lon) for p in points] == [(f[3] / 1e7, f[2] / 1e7) for f in FIXES]
    assert points[0].alt_m == pytest.approx(2745.0) and points[0].alt_ref == "msl"
    assert points[0].time_utc == "2017-08-29T18:58:12Z" and points[0].time_basis == "utc"
    assert points[0].source == "DAT record 2 GPS(2096)" and points[0].index == 2
    assert (rec.item.captured_at_utc, rec.item.lat) == ("2017-08-29T18:58:12Z", 39.9612)


def test_unknown_aircraft_code_is_reported_as_a_code() -> None:
    rec, _ = _parse(plain_dat(200, v3=True, records=b""))
    assert rec.item.model is None and rec.item.extra["aircraft_type_code"] == "200"
    assert rec.item.extra["records"] == "0" and rec.tracks == []


def test_gps_records_that_do_not_decode_are_called_encrypted() -> None:
    """A Mini 2 (code 63) V3 DAT whose framing holds but whose payloads are ciphertext."""
    rng = random.Random(3)
    noise = b"".join(rec(GPS, 500 + i, rng.randbytes(56)) for i in range(40))
    rec_, problems = _parse(plain_dat(63, v3=True, records=noise))
    assert rec_.item.model == "Mini 2" and rec_.tracks == []
    assert rec_.item.extra["gps_records"] == "40" and rec_.item.extra["gps_fixes"] == "0"
    assert "payloads look encrypted" in rec_.item.extra["not_readable"]
    assert "encrypted-dat" in problems


def test_cut_header_is_reported() -> None:
    _, problems = _parse(plain_dat(16, v3=False, records=b"")[:100])
    assert "truncated-file-header" in problems


# --- encrypted and unrecognised DATs ------------------------------------------------------------------------


def logh(model: bytes, serial: bytes, payload: bytes) -> bytes:
    head = bytearray(b"LOGH\x00\x00\x00\x00")
    head += struct.pack("<QQ", 128, len(payload)) + model.ljust(16, b"\0") + serial.ljust(16, b"\0")
    return bytes(head.ljust(128, b"\0")) + payload


def test_logh_container_gives_its_header_and_says_the_rest_is_encrypted() -> None:
    rec, problems = _parse(logh(b"wm169", b"1581F4QWE123", bytes(range(256)) * 4))
    extra = rec.item.extra
    assert extra["layout"] == "LOGH container (encrypted)"
    assert (extra["device_model_code"], extra["encrypted_bytes"]) == ("wm169", "1024")
    assert rec.item.serials == {"device-serial": "1581F4QWE123"}
    assert rec.identities[0].source == "LOGH header serial"
    assert "AES-encrypted" in extra["not_readable"] and rec.tracks == []
    assert "encrypted-dat" in problems


def test_logh_with_binary_fields_names_nothing() -> None:
    rec, _ = _parse(logh(b"\x01\x02", b"\xff" * 16, b""))
    assert rec.identities == [] and "device_model_code" not in rec.item.extra


def test_unrecognised_fly_dat_is_taken_and_declared_unreadable(tmp_path: Path) -> None:
    data = random.Random(5).randbytes(4096)
    assert layout(data) == "unknown"
    assert READER.sniff(data[:64], _write(tmp_path, "FLY123.DAT", data)) == 0.05
    assert READER.sniff(data[:64], _write(tmp_path, "notes.dat", data)) < 0
    rec, problems = _parse(data)
    assert rec.item.extra["layout"].startswith("not recognised")
    assert rec.item.extra["readable_offline"] == "nothing but the file's name and size"
    assert "the whole file" in rec.item.extra["not_readable"] and "encrypted-dat" in problems


# --- sniffing and robustness -----------------------------------------------------------------------------


def test_sniff_by_content(tmp_path: Path) -> None:
    plain = plain_dat(16, v3=False, records=flight())
    assert READER.sniff(plain[:64], _write(tmp_path, "anything.bin", plain)) == 0.7
    v3 = plain_dat(16, v3=True, records=b"")
    assert READER.sniff(v3[:64], _write(tmp_path, "x", v3)) == 0.7
    encrypted = logh(b"wm169", b"SN", b"")
    assert READER.sniff(encrypted[:64], _write(tmp_path, "y.DAT", encrypted)) == 0.7
    assert READER.sniff(b"", _write(tmp_path, "empty", b"")) < 0


def test_no_corpus_file_is_a_dat(corpus: Path) -> None:
    """There is no real DAT in the corpus; nothing in it may be taken for one."""
    for path in sorted((corpus / "drone-media").glob("*/*")):
        assert READER.sniff(path.read_bytes()[:64], path) < 0, path


def test_crc_matches_the_table_loop() -> None:
    rng = random.Random(1)
    for size in (0, 1, 9, 62, 253):
        data = rng.randbytes(size)
        assert crc16(data) == _crc_oracle(data)


def test_scrambled_bytes_never_raise() -> None:
    rng = random.Random(9)
    for base in (plain_dat(16, v3=True, records=flight()), logh(b"wm169", b"SN1", bytes(64))):
        for _ in range(30):
            damaged = bytearray(base)
            for _ in range(rng.randint(1, 30)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            _parse(bytes(damaged[: rng.randrange(len(damaged) + 1)]))
