"""Carving files out of bodies (multipart parts, raw bodies, ZIP members, gzip files) and storing them.

The photo is built with the project's synthetic DJI media writer (EXIF GPS + drone-dji XMP); flight logs
are the corpus's real DJI records and PX4 ULog, read in place. Archives are built here, bombs included.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from droneaudit.content import carve as carving
from droneaudit.content.carve import carve, sniff_kind, store
from droneaudit.content.model import RECEIVED, SENT, CarvedFile, HttpMessage, Where
from droneaudit.synth.media import DemoPhoto, write_photo

WHERE = Where("upload.pcap", 7, 31)
BOUNDARY = "dji-upload-7MA4YWxkTrZu0gW"


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("photo") / "DJI_0001.JPG"
    write_photo(
        path,
        DemoPhoto("DJI_0001", 47.5727, -122.6266, 120.5, 60.0, "2024:09:01 14:55:49", "+02:00"),
        "1581F5FHD22A0000DEMO",
    )
    return path.read_bytes()


def zip_of(*members: tuple[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def part(name: str, data: bytes, filename: str | None = None, content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"Content-Disposition: {disposition}\r\n" + (
        f"Content-Type: {content_type}\r\n" if content_type else ""
    )
    return f"--{BOUNDARY}\r\n{head}\r\n".encode() + data + b"\r\n"


def upload(*parts: bytes, boundary: str = BOUNDARY, direction: str = SENT) -> HttpMessage:
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = (("content-type", f"multipart/form-data; boundary={boundary}"),)
    url = "https://www.skypixel.com/api/v1/upload"
    return HttpMessage(
        direction,
        "www.skypixel.com",
        "POST",
        url,
        None,
        headers,
        body,
        WHERE,
        content_type="multipart/form-data",
    )


def raw(
    body: bytes,
    url: str = "https://mydjiflight.dji.com/api/v2/flight_log/zipupload",
    *,
    direction: str = SENT,
    headers: tuple[tuple[str, str], ...] = (),
) -> HttpMessage:
    return HttpMessage(direction, "mydjiflight.dji.com", "POST", url, None, headers, body, WHERE)


def test_jpeg_upload_is_carved_byte_identical(photo: bytes) -> None:
    carved = carve(
        upload(part("sn", b"1581F5FHD22A0000DEMO"), part("file", photo, "DJI_0001.JPG", "image/jpeg"))
    )
    assert [(c.kind, c.name, c.origin) for c in carved] == [("jpeg", "DJI_0001.JPG", "multipart")]
    assert carved[0].data == photo
    assert (carved[0].direction, carved[0].host, carved[0].where) == (SENT, "www.skypixel.com", WHERE)


def test_store_by_hash_read_only_and_never_overwrite(photo: bytes, tmp_path: Path) -> None:
    carved = carve(upload(part("file", photo, "DJI_0001.JPG", "image/jpeg")))[0]
    digest = hashlib.sha256(photo).hexdigest()
    path = store(carved, tmp_path / "extracted")
    assert path == tmp_path / "extracted" / f"{digest}.jpg"
    assert path.read_bytes() == photo
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store(carved, tmp_path / "extracted") == path  # same content: kept, no error
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left behind
    other = CarvedFile(b"other", "jpeg", None, "body", SENT, "h", "u", WHERE)
    squatter = tmp_path / "extracted" / f"{hashlib.sha256(b'other').hexdigest()}.jpg"
    squatter.write_bytes(b"tampered")
    with pytest.raises(FileExistsError, match="other content"):
        store(other, tmp_path / "extracted")
    assert squatter.read_bytes() == b"tampered"


def test_store_does_not_follow_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    carved = CarvedFile(b"payload", "zip", "x.zip", "body", SENT, "h", "u", WHERE)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / f"{hashlib.sha256(b'payload').hexdigest()}.zip").symlink_to(victim)
    with pytest.raises(FileExistsError, match="not a regular file"):
        store(carved, folder)
    assert victim.read_bytes() == b"keep me"


def test_store_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*_args: object) -> None:
        raise PermissionError("operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    carved = CarvedFile(b"%PDF-1.7 report", "pdf", "r.pdf", "body", SENT, "h", "u", WHERE)
    path = store(carved, tmp_path)
    assert path.read_bytes() == b"%PDF-1.7 report" and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert store(carved, tmp_path) == path


def test_extension_comes_from_the_kind_never_the_app(tmp_path: Path) -> None:
    carved = CarvedFile(b"MZ\x90\x00", "unknown", "evil.exe", "multipart", SENT, "h", "u", WHERE)
    path = store(carved, tmp_path)
    assert path.suffix == ".bin" and not os.access(path, os.X_OK)


def test_zip_bomb_inside_a_multipart_upload(photo: bytes) -> None:
    archive = zip_of(("logs/bomb.bin", b"\0" * (40 << 20)), ("DJI_0001.JPG", photo), ("notes.txt", b"hello"))
    carved = carve(upload(part("logs", archive, "logs.zip", "application/zip")))
    assert [(c.kind, c.name, c.origin) for c in carved] == [
        ("zip", "logs.zip", "multipart"),
        ("jpeg", "DJI_0001.JPG", "zip"),
        ("unknown", "notes.txt", "zip"),
    ]
    assert carved[0].data == archive and carved[1].data == photo
    assert len(carved[0].notes) == 1 and carved[0].notes[0].startswith("zip bomb: member 'logs/bomb.bin'")


def test_zip_caps_members_total_and_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    many = zip_of(*[(f"f{i}.bin", bytes([i]) * 100) for i in range(5)], method=zipfile.ZIP_STORED)
    monkeypatch.setattr(carving, "ZIP_MAX_MEMBERS", 2)
    carved = carve(raw(many))
    assert [c.name for c in carved] == [None, "f0.bin", "f1.bin"]
    assert carved[0].notes == ("zip bomb: 5 members, only the first 2 read",)
    monkeypatch.setattr(carving, "ZIP_MAX_MEMBERS", 1000)
    monkeypatch.setattr(carving, "ZIP_MAX_TOTAL", 250)
    carved = carve(raw(many))
    assert [c.name for c in carved] == [None, "f0.bin", "f1.bin"]
    assert carved[0].notes[0].startswith("zip bomb: over 250 bytes uncompressed at 'f2.bin'")
    monkeypatch.setattr(carving, "ZIP_RATIO_FLOOR", 1000)
    carved = carve(raw(zip_of(("zeros", b"\0" * 200_000))))  # declared ratio ~ 200:1 > 100:1
    assert len(carved) == 1 and carved[0].notes[0].startswith(
        "zip bomb: member 'zeros' declares 200000 bytes"
    )


def test_nested_zips_open_two_levels(photo: bytes) -> None:
    level3 = zip_of(("deep.jpg", photo))
    level2 = zip_of(("level3.zip", level3))
    level1 = zip_of(("level2.zip", level2))
    carved = carve(raw(level1))
    assert [(c.kind, c.name, c.origin) for c in carved] == [
        ("zip", None, "body"),
        ("zip", "level2.zip", "zip"),
        ("zip", "level3.zip", "zip"),
    ]
    assert carved[2].notes == ("zip nested deeper than 2 containers: members not opened",)


def test_damaged_and_encrypted_zips_become_notes() -> None:
    assert carve(raw(b"PK\x03\x04" + b"\0" * 40))[0].notes[0].startswith("zip unreadable")
    archive = bytearray(zip_of(("secret.txt", b"x" * 100)))
    archive[6] |= 1  # local header: encrypted
    central = archive.index(b"PK\x01\x02")
    archive[central + 8] |= 1  # central directory: encrypted
    carved = carve(raw(bytes(archive)))
    assert len(carved) == 1 and carved[0].notes == ("zip member 'secret.txt' is encrypted: not read",)


def test_cut_upload_keeps_the_partial_file_with_a_note(photo: bytes) -> None:
    body = part("file", photo, "DJI_0001.JPG", "image/jpeg")[: -len(photo) // 2]
    carved = carve(_cut(upload(body)))
    assert [(c.kind, c.name) for c in carved] == [("jpeg", "DJI_0001.JPG")]
    assert photo.startswith(carved[0].data)
    assert carved[0].notes == ("multipart part 1 cut by the end of the body",)


def _cut(message: HttpMessage) -> HttpMessage:
    """The message without its closing boundary (a capture that stopped mid-upload)."""
    return dataclasses.replace(message, body=message.body[: message.body.rindex(b"--" + BOUNDARY.encode())])


def test_nested_multipart_mixed(photo: bytes) -> None:
    inner_boundary = "inner-b0undary"
    inner = (
        (
            f'--{inner_boundary}\r\nContent-Disposition: attachment; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{inner_boundary}--\r\n".encode()
    )
    mixed = part("files", inner, None, f"multipart/mixed; boundary={inner_boundary}")
    carved = carve(upload(part("caption", b"my flight"), mixed))
    assert [(c.kind, c.name, c.data == photo) for c in carved] == [("jpeg", "a.jpg", True)]


def flight_record(corpus: Path, which: str) -> bytes:
    path = corpus / "drone-media" / which
    if not path.exists():
        pytest.skip(f"{which} not in the corpus")
    return path.read_bytes()


@pytest.mark.parametrize(
    "which",
    [
        "pydjirecord/DJIFlightRecord_2024-09-01_[14-55-49].txt",
        "drop/DJIFlightRecord_2016-09-15_[13-51-18].txt",
    ],
)
def test_raw_dji_flight_record_upload(corpus: Path, which: str) -> None:
    record = flight_record(corpus, which)
    carved = carve(raw(record, "https://mydjiflight.dji.com/api/v2/flight_log/upload/DJIFlightRecord_x.txt"))
    assert [(c.kind, c.name, c.origin, c.data == record) for c in carved] == [
        ("dji-flight-record", "DJIFlightRecord_x.txt", "body", True)
    ]


def test_zipped_flight_record_and_gzipped_ulog(corpus: Path) -> None:
    record = flight_record(corpus, "pydjirecord/DJIFlightRecord_2024-09-01_[14-55-49].txt")
    carved = carve(raw(zip_of(("DJIFlightRecord_2024-09-01_[14-55-49].txt", record))))
    assert [(c.kind, c.origin) for c in carved] == [("zip", "body"), ("dji-flight-record", "zip")]
    assert carved[1].data == record
    ulog = flight_record(corpus, "pyulog/sample_log_small.ulg")
    headers = (("content-disposition", 'attachment; filename="log_12.ulg.gz"'),)
    carved = carve(raw(gzip.compress(ulog), "https://logs.example/upload", headers=headers))
    assert [(c.kind, c.name, c.origin) for c in carved] == [
        ("gzip", "log_12.ulg.gz", "body"),
        ("px4-ulog", "log_12.ulg", "gzip"),
    ]
    assert carved[1].data == ulog


def test_text_files_only_from_uploads_and_only_when_large() -> None:
    summary = (
        b'{"flights": ['
        + b",".join(b'{"id": %d, "lat": 22.5432, "lng": 113.9588}' % i for i in range(40))
        + b"]}"
    )
    assert [c.kind for c in carve(raw(summary))] == ["json"]
    assert carve(raw(summary, direction=RECEIVED)) == []  # an API answer is not a file
    assert carve(raw(b'{"ok": true}')) == []
    table = b"time,lat,lon,alt\n" + b"".join(b"%d,22.54%02d,113.95%02d,100\n" % (i, i, i) for i in range(80))
    assert [c.kind for c in carve(raw(table))] == ["csv"]
    assert carve(raw(b"just some words " * 200)) == []


def test_magic_numbers_and_received_binary_files() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    assert [(c.kind, c.direction) for c in carve(raw(png, direction=RECEIVED))] == [("png", RECEIVED)]
    assert sniff_kind(b"%PDF-1.7\n") == "pdf"
    assert sniff_kind(b"\x00\x00\x00\x18ftypmp42" + bytes(100)) == "mp4"
    assert sniff_kind(bytes(range(256)) * 4) is None
    assert carve(raw(b"")) == []


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=400), st.sampled_from([b"", b"PK\x03\x04", b"\x1f\x8b", f"--{BOUNDARY}\r\n".encode()])
)
def test_arbitrary_bodies_never_raise(body: bytes, prefix: bytes) -> None:
    for message in (raw(prefix + body), upload(prefix + body)):
        for carved in carve(message):
            assert isinstance(carved.data, bytes) and all(isinstance(n, str) for n in carved.notes)
