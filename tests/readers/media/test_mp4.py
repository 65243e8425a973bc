"""MP4 reader: the real GoPro/Karma ``karma.mp4`` against ExifTool 13 ``-ee``, and MP4s built here box
by box for every other case.

ExifTool runs at test time (``DRONEAUDIT_EXIFTOOL`` or a known install path; tests skip with the reason
when it is absent). Synthetic files come from the small writer below, which follows ISO 14496-12 field
layouts and imports nothing from droneaudit, so every expected value is either ExifTool's or one the
test wrote. ``test_gpmf.py`` and ``test_djmd.py`` reuse the writer.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from droneaudit.model import MediaRecords, Problem
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.media import mp4_boxes, mp4_meta, mp4_samples
from droneaudit.readers.media.mp4 import Mp4Reader
from droneaudit.readers.media.mp4_samples import Track, samples

# --- a deterministic MP4 writer --------------------------------------------------------------------------

#: 2017-04-17 19:27:57 as seconds since 1904-01-01 (the QuickTime epoch).
CREATED = 3575302077
MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def qt_text(kind: bytes, text: str) -> bytes:
    """A QuickTime user-data text atom: 2-byte length, 2-byte language (0x15C7 = "und"), text."""
    raw = text.encode()
    return box(kind, struct.pack(">HH", len(raw), 0x15C7), raw)


@dataclass
class TrackSpec:
    """One track: handler, sample format and samples (written into mdat in order)."""

    handler: bytes
    fmt: bytes
    samples: list[bytes]
    name: str = "test meta"
    timescale: int = 1000
    delta: int = 1000  #: sample duration in timescale units
    per_chunk: int = 1  #: samples per chunk (exercises stsc)
    co64: bool = False
    entry_extra: bytes = b""  #: sample-entry bytes after the 8-byte base (e.g. tx3g display fields)
    offsets: list[int] = field(default_factory=list)  #: where each sample landed, filled in by ``movie``


def _stbl(spec: TrackSpec, chunk_offsets: list[int]) -> bytes:
    n = len(spec.samples)
    entry = box(spec.fmt, b"\x00" * 6, struct.pack(">H", 1), spec.entry_extra)
    stsd = full(b"stsd", 0, 0, struct.pack(">I", 1), entry)
    stts = full(b"stts", 0, 0, struct.pack(">III", 1, n, spec.delta))
    stsc = full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, spec.per_chunk, 1))
    stsz = full(b"stsz", 0, 0, struct.pack(">II", 0, n), *(struct.pack(">I", len(s)) for s in spec.samples))
    kind, code = (b"co64", ">Q") if spec.co64 else (b"stco", ">I")
    offsets = b"".join(struct.pack(code, o) for o in chunk_offsets)
    stco = full(kind, 0, 0, struct.pack(">I", len(chunk_offsets)), offsets)
    return box(b"stbl", stsd, stts, stsc, stsz, stco)


def _trak(spec: TrackSpec, track_id: int, chunk_offsets: list[int]) -> bytes:
    duration = spec.delta * len(spec.samples)
    head = struct.pack(">IIIII", CREATED, CREATED, track_id, 0, duration)
    tkhd = full(b"tkhd", 0, 7, head, b"\x00" * 16, MATRIX, struct.pack(">II", 0, 0))
    mdhd = full(b"mdhd", 0, 0, struct.pack(">IIIIHH", CREATED, CREATED, spec.timescale, duration, 0x55C4, 0))
    hdlr = full(b"hdlr", 0, 0, b"\x00" * 4, spec.handler, b"\x00" * 12, spec.name.encode() + b"\x00")
    dinf = box(b"dinf", full(b"dref", 0, 0, struct.pack(">I", 1), full(b"url ", 0, 1)))
    minf = box(b"minf", full(b"nmhd", 0, 0), dinf, _stbl(spec, chunk_offsets))
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))


def mvhd(created: int = CREATED, duration: int = 1000, next_id: int = 2) -> bytes:
    head = struct.pack(">IIIIIH", created, created, 1000, duration, 0x10000, 0x100)
    return full(b"mvhd", 0, 0, head, b"\x00" * 10, MATRIX, b"\x00" * 24, struct.pack(">I", next_id))


def movie(
    tracks: list[TrackSpec], udta: list[bytes] | None = None, created: int = CREATED, brand: bytes = b"isom"
) -> bytes:
    """ftyp + mdat (every track's samples, in order) + moov with real sample tables."""
    ftyp = box(b"ftyp", brand, struct.pack(">I", 512), brand, b"iso2mp41")
    pos = len(ftyp) + 8
    payload = bytearray()
    chunks: list[list[int]] = []
    for spec in tracks:
        spec.offsets, offs = [], []
        for i, sample in enumerate(spec.samples):
            if i % spec.per_chunk == 0:
                offs.append(pos)
            spec.offsets.append(pos)
            payload += sample
            pos += len(sample)
        chunks.append(offs)
    duration = max((t.delta * len(t.samples) * 1000 // t.timescale for t in tracks), default=0)
    parts = [mvhd(created, duration, len(tracks) + 1)]
    parts += [_trak(spec, i + 1, chunks[i]) for i, spec in enumerate(tracks)]
    if udta:
        parts.append(box(b"udta", *udta))
    return ftyp + box(b"mdat", bytes(payload)) + box(b"moov", *parts)


#: tx3g sample-entry fields after the base: display flags, justification, background colour, default
#: text box and default style record (3GPP TS 26.245 §5.16).
TX3G_ENTRY = b"".join(
    (
        struct.pack(">IbbI", 0, 1, -1, 0),
        struct.pack(">4h", 0, 0, 0, 0),
        struct.pack(">HHHBBI", 0, 0, 1, 0, 18, 0),
    )
)


def tx3g_sample(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


# --- ExifTool as the oracle -----------------------------------------------------------------------------

#: Where `npm install --prefix DIR exiftool-vendored.pl@13.59` puts the script.
EXIFTOOL_PATHS = (
    Path("/tmp/droneaudit-et/node_modules/exiftool-vendored.pl/bin/exiftool"),
    Path("/tmp/et/node_modules/exiftool-vendored.pl/bin/exiftool"),
    Path("/tmp/package/bin/exiftool"),
)
EXIFTOOL_HINT = (
    "ExifTool 13 not found: set DRONEAUDIT_EXIFTOOL to its `exiftool` script "
    "(npm install --prefix /tmp/droneaudit-et exiftool-vendored.pl@13.59)"
)
ExifTool = Callable[[Path], dict[str, list[Any]]]


def exiftool_command() -> list[str] | None:
    configured = os.environ.get("DRONEAUDIT_EXIFTOOL")
    perl = shutil.which("perl")
    scripts = [Path(configured)] if configured else list(EXIFTOOL_PATHS)
    return next(([perl, str(s)] for s in scripts if s.is_file() and perl), None)


@cache
def _exiftool_ee(command: tuple[str, ...], path: Path) -> dict[str, list[Any]]:
    """``-ee -a -u -n -G3:1`` as {"Doc1-2:Track4:GPSLatitude": [values…]} (every occurrence kept)."""
    args = [*command, "-j", "-n", "-a", "-u", "-ee", "-G3:1", str(path)]
    out = subprocess.run(args, capture_output=True, timeout=120, check=True)
    tags: dict[str, list[Any]] = {}

    def keep(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        for key, value in pairs:
            tags.setdefault(key, []).extend(value if isinstance(value, list) else [value])
        return {}

    json.loads(out.stdout, object_pairs_hook=keep)
    return tags


def exiftool_runner() -> ExifTool:
    """The oracle, or a skip with the install hint (shared by test_gpmf and test_djmd)."""
    command = exiftool_command()
    if command is None:
        pytest.skip(EXIFTOOL_HINT)
    return lambda path: _exiftool_ee(tuple(command), path)


@pytest.fixture(scope="session", name="exiftool")
def exiftool_fixture() -> ExifTool:
    return exiftool_runner()


def tagged(tags: dict[str, list[Any]], name: str) -> list[tuple[tuple[int, ...], Any]]:
    """Every value of one tag, ordered by ExifTool's document numbers (Doc2-3 = sample 2, record 4)."""
    found = []
    for key, values in tags.items():
        group, _, tag = key.rpartition(":")
        if tag != name:
            continue
        doc = group.split(":")[0]
        order = tuple(int(n) for n in doc[3:].split("-")) if doc.startswith("Doc") else (0,)
        found += [(order, v) for v in values]
    return sorted(found, key=lambda item: item[0])


def exif_seconds(text: str) -> float:
    """``2017:04:17 19:27:57.52602`` (UTC) or ISO 8601 with Z, to POSIX seconds."""
    from datetime import UTC, datetime

    clean = text.rstrip("Z").replace("T", " ")
    day, _, clock = clean.partition(" ")
    stamp = datetime.fromisoformat(day.replace(":", "-") + "T" + clock).replace(tzinfo=UTC)
    return stamp.timestamp()


# --- reading --------------------------------------------------------------------------------------------


def scan_context() -> ScanContext:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    return ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))


Read = tuple[str, MediaRecords, list[Problem]]


def read_file(path: Path) -> Read:
    ctx = scan_context()
    fmt, sha = Mp4Reader().read(path, path.name, ctx)
    assert len(ctx.media) == 1 and len(sha) == 64 and ctx.media[0].item.format == fmt
    return fmt, ctx.media[0], ctx.problems.records()


def read_bytes(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> Read:
    path = tmp_path / name
    path.write_bytes(data)
    return read_file(path)


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


@pytest.fixture(scope="module")
def karma(corpus: Path) -> Path:
    path = corpus / "drone-media" / "gpmf-parser" / "karma.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return path


# --- karma.mp4 against ExifTool -------------------------------------------------------------------------


def _points(rec: MediaRecords, stream: str) -> list[Any]:
    return [t for t in rec.tracks if t.source.startswith(f"GPMF {stream}")]


def test_karma_position_track_matches_exiftool(karma: Path, exiftool: ExifTool) -> None:
    """GLPI ("Position") is what ExifTool calls GPSLatitude/…/GPSDateTime in a Karma file: 47 fixes."""
    tags = exiftool(karma)
    _fmt, rec, problems = read_file(karma)
    points = _points(rec, "GLPI")
    lats, lons = tagged(tags, "GPSLatitude"), tagged(tags, "GPSLongitude")
    alts, times = tagged(tags, "GPSAltitude"), tagged(tags, "GPSDateTime")
    assert len(points) == len(lats) == len(lons) == len(alts) == len(times) == 47
    for point, lat, lon, alt, when in zip(points, lats, lons, alts, times, strict=True):
        assert point.kind == "aircraft" and point.time_basis == "utc"
        assert point.lat == pytest.approx(lat[1], abs=1e-6) and point.lon == pytest.approx(lon[1], abs=1e-6)
        assert point.alt_m == pytest.approx(alt[1], abs=1e-6)
        assert point.time_utc is not None
        assert exif_seconds(point.time_utc) == pytest.approx(exif_seconds(when[1]), abs=2e-3)
    assert problems == []


def test_karma_raw_gps_matches_exiftool(karma: Path, exiftool: ExifTool) -> None:
    """GPRI ("GPS RAW"): ExifTool shows it only with -u, as GPSLatitudeRaw/…/GPSDateTimeRaw."""
    tags = exiftool(karma)
    _fmt, rec, _problems = read_file(karma)
    points = _points(rec, "GPRI")
    lats, lons = tagged(tags, "GPSLatitudeRaw"), tagged(tags, "GPSLongitudeRaw")
    alts, times = tagged(tags, "GPSAltitudeRaw"), tagged(tags, "GPSDateTimeRaw")
    assert len(points) == len(lats) == len(times) == 47
    for point, lat, lon, alt, when in zip(points, lats, lons, alts, times, strict=True):
        assert (point.lat, point.lon, point.alt_m) == pytest.approx((lat[1], lon[1], alt[1]), abs=1e-6)
        assert point.time_utc is not None
        assert exif_seconds(point.time_utc) == pytest.approx(exif_seconds(when[1]), abs=2e-3)


def test_karma_operator_matches_exiftool_controller(karma: Path, exiftool: ExifTool) -> None:
    """BPOS is ExifTool's (unknown, -u) ``Controller`` tag: lat lon alt then five more numbers."""
    expected = [tuple(map(float, v.split()[:3])) for _doc, v in tagged(exiftool(karma), "Controller")]
    _fmt, rec, _problems = read_file(karma)
    operator = [t for t in rec.tracks if t.kind == "operator"]
    assert len(operator) == len(expected) == 12
    for point, (lat, lon, alt) in zip(operator, expected, strict=True):
        assert (point.lat, point.lon, point.alt_m) == pytest.approx((lat, lon, alt), abs=1e-6)
        assert point.time_utc is None and point.source.startswith("GPMF BPOS (Controller)")
    # the corpus README's reading of the first controller fix
    assert (operator[0].lat, operator[0].lon) == pytest.approx((33.125979, -117.3313116), abs=1e-7)


def test_karma_identity_matches_exiftool(karma: Path, exiftool: ExifTool) -> None:
    tags = exiftool(karma)
    _fmt, rec, _problems = read_file(karma)
    item = rec.item
    assert item.serials["camera-serial"] == tagged(tags, "SerialNumber")[0][1] == "LAE6101112400243"
    assert item.serials["aircraft-serial"] == tagged(tags, "OtherSerialNumber")[0][1] == "C3161325750003"
    assert item.serials["lens-serial"] == tags["UserData:LensSerialNumber"][0]
    assert item.serials["capture-uuid"] == tags["UserData:MediaUID"][0]
    assert item.model == tagged(tags, "Model")[0][1] == "HERO5 Black" and item.make == "GoPro"
    devices = {v for _doc, v in tagged(tags, "DeviceName")}
    assert set(item.extra["gpmf_devices"].split("; ")) == devices == {"Camera", "GoPro Karma v1.0"}
    assert item.extra["firmware"] == tags["UserData:FirmwareVersion"][0]
    assert item.extra["gpmf_accessory_firmware"] == tagged(tags, "OtherFirmware")[0][1]
    created = tags["QuickTime:CreateDate"][0]
    assert item.captured_at == created.replace(":", "-", 2).replace(" ", "T") and item.captured_at_utc
    assert item.extra["tracks"].count("meta/") == 2 and "4:meta/gpmd" in item.extra["tracks"]
    assert {i.source.split()[1] for i in rec.identities} >= {"fdsc", "udta"}


def test_karma_reads_headers_and_metadata_samples_only(karma: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """4.1 MB file, 4.1 MB of mdat: the reader reads moov plus the 13 GPMF and 1 fdsc samples."""
    total = 0
    original = mp4_boxes.Source.read_at

    def counting(self: mp4_boxes.Source, offset: int, n: int) -> bytes:
        nonlocal total
        data = original(self, offset, n)
        total += len(data)
        return data

    monkeypatch.setattr(mp4_boxes.Source, "read_at", counting)
    read_file(karma)
    assert 0 < total < 200_000


# --- udta, subtitles, structure ---------------------------------------------------------------------------


def test_udta_location_matches_exiftool(tmp_path: Path, exiftool: ExifTool) -> None:
    udta = [qt_text(b"\xa9xyz", "+47.3977+008.5456+435.250/"), qt_text(b"\xa9mak", "DJI")]
    path = tmp_path / "osmo.mp4"
    path.write_bytes(movie([], udta=udta))
    lat, lon, alt = map(float, exiftool(path)["UserData:GPSCoordinates"][0].split())
    _fmt, rec, problems = read_file(path)
    (point,) = rec.tracks
    assert (point.lat, point.lon, point.alt_m) == pytest.approx((lat, lon, alt), abs=1e-9)
    assert (point.lat, point.lon, point.alt_m) == (47.3977, 8.5456, 435.25)
    assert point.source == "MP4 udta ©xyz (ISO 6709)" and rec.item.make == "DJI"
    assert rec.item.extra["udta_location"] == "+47.3977+008.5456+435.250/" and problems == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+33.1254-117.3311/", (33.1254, -117.3311, None)),
        ("-3330.5+15130.0/", (-33.508333333, 151.5, None)),
        ("+333000.0-1171800.0+10.5CRSWGS_84/", (33.5, -117.3, 10.5)),
        ("+91.0+000.0/", None),
        ("garbage", None),
    ],
)
def test_iso6709_forms(text: str, expected: tuple[float, float, float | None] | None) -> None:
    got = mp4_meta.parse_iso6709(text)
    assert got == (pytest.approx(expected) if expected else None)


def test_dji_subtitle_track_goes_through_the_srt_rules(tmp_path: Path) -> None:
    """A DJI-style tx3g track (Mavic 3 family text); values are the ones written."""
    cues = [
        f"FrameCnt: {i}, DiffTime: 33ms\n2024-05-01 12:34:5{i}.100\n[iso: 100] [latitude: 47.10{i}] "
        f"[longitude: 8.50{i}] [rel_alt: 12.{i}00 abs_alt: 512.{i}00]"
        for i in range(1, 4)
    ]
    samples_ = [tx3g_sample(c) for c in cues]
    spec = TrackSpec(b"sbtl", b"tx3g", samples_, name="DJI.Subtitle", entry_extra=TX3G_ENTRY)
    spec_other = TrackSpec(b"sbtl", b"tx3g", [tx3g_sample("Hello")], entry_extra=TX3G_ENTRY)
    _fmt, rec, problems = read_bytes(tmp_path, movie([spec, spec_other]))
    assert [(t.lat, t.lon, t.alt_m, t.alt_ref) for t in rec.tracks] == [
        (47.101, 8.501, 512.1, "msl"), (47.102, 8.502, 512.2, "msl"), (47.103, 8.503, 512.3, "msl")
    ]  # fmt: skip
    assert rec.tracks[0].time_local == "2024-05-01 12:34:51.100" and rec.tracks[0].time_utc is None
    where = 'MP4 subtitle track 1:sbtl/tx3g "DJI.Subtitle", SRT cue 1 @ 00:00:00,000'
    assert rec.tracks[0].source.startswith(where)
    assert "(1 cues)" in rec.item.extra["subtitle_tracks"] and problems == []


def test_chunked_co64_samples_are_located(tmp_path: Path) -> None:
    """Three samples per chunk and 64-bit chunk offsets: each sample found at the offset it was written."""
    data = [bytes([i]) * (10 + i) for i in range(7)]
    spec = TrackSpec(b"meta", b"zzzz", data, per_chunk=3, co64=True)
    raw = movie([spec])
    path = tmp_path / "chunks.mp4"
    path.write_bytes(raw)
    from droneaudit.readers.media.mp4_samples import read_track

    with path.open("rb") as f:
        src = mp4_boxes.Source(f, len(raw))
        problems: list[tuple[str, str, int]] = []
        walker = mp4_boxes.Walker(src, lambda *p: problems.append(p))
        moov = next(b for b in walker.children(0, len(raw), 0) if b.type == "moov")
        trak = next(b for b in walker.children(moov.start, moov.end, 1) if b.type == "trak")
        track = read_track(src, walker, trak, lambda *p: problems.append(p))
    assert [(s.offset, s.size, s.time_s) for s in samples(track)] == [
        (spec.offsets[i], len(d), float(i)) for i, d in enumerate(data)
    ]
    assert track.label == '1:meta/zzzz "test meta"' and problems == []


def test_quicktime_movie_without_ftyp_is_a_mov(tmp_path: Path) -> None:
    raw = box(b"wide") + box(b"mdat", b"\x00" * 32) + box(b"moov", mvhd())
    assert Mp4Reader().sniff(raw[:64], Path("x")) == 0.7
    fmt, rec, problems = read_bytes(tmp_path, raw, "clip.mov")
    assert fmt == "mov" and rec.item.captured_at == "2017-04-17T19:27:57" and problems == []
    assert rec.item.extra["mvhd_time_basis"].startswith("QuickTime epoch (1904); zone unknown")


def test_cut_recording_without_moov(tmp_path: Path) -> None:
    raw = box(b"ftyp", b"isom", b"\x00\x00\x02\x00isom") + box(b"mdat", b"\x00" * 64)
    fmt, rec, problems = read_bytes(tmp_path, raw)
    assert fmt == "mp4" and rec.tracks == [] and codes(problems) == {"mp4-no-moov"}


@pytest.mark.parametrize(
    ("head", "score"),
    [
        (box(b"ftyp", b"mp41\x00\x00\x00\x00mp41"), 0.9),
        (box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic"), 0.2),
        (b"\x00\x00\x00\x00mdat", 0.7),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00", -1.0),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 16, -1.0),
        (b"1\n00:00:00,000 --> 00:00:01,000\n", -1.0),
        (b"\x00\x00\x00\x04ftyp", -1.0),
        (b"", -1.0),
    ],
)
def test_sniff(head: bytes, score: float) -> None:
    assert Mp4Reader().sniff(head[:64], Path("whatever.mp4")) == score


# --- hostile inputs ---------------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    fmt, rec, problems = read_bytes(tmp_path, b"")
    assert fmt == "mp4" and rec.tracks == [] and codes(problems) == {"mp4-no-moov"}


def _gpmd_movie() -> bytes:
    gps = box(b"xxxx")  # samples are not GPMF: only the structure matters here
    return movie([TrackSpec(b"meta", b"gpmd", [gps, gps])], udta=[qt_text(b"\xa9xyz", "+10.0+020.0/")])


def test_truncated_at_every_offset_never_raises(tmp_path: Path) -> None:
    raw = _gpmd_movie()
    path = tmp_path / "cut.mp4"
    for cut in range(0, len(raw), 7):
        path.write_bytes(raw[:cut])
        _fmt, _rec, problems = read_file(path)
        assert problems, cut  # a cut file always says so


def test_truncated_mid_moov_keeps_what_was_read(tmp_path: Path) -> None:
    raw = _gpmd_movie()
    cut = raw.index(b"udta") + 20
    _fmt, rec, problems = read_bytes(tmp_path, raw[:cut])
    assert "mp4-truncated" in codes(problems)
    assert rec.item.captured_at == "2017-04-17T19:27:57"


def test_box_claiming_2_pow_63_bytes(tmp_path: Path) -> None:
    huge = struct.pack(">I4sQ", 1, b"moov", 1 << 63) + mvhd()
    _fmt, rec, problems = read_bytes(tmp_path, box(b"ftyp", b"isom\x00\x00\x00\x00") + huge)
    assert "mp4-truncated" in codes(problems)
    assert rec.item.captured_at == "2017-04-17T19:27:57"  # the mvhd inside is still read


def test_box_smaller_than_its_header(tmp_path: Path) -> None:
    raw = box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4s", 3, b"moov") + b"\x00" * 32
    _fmt, _rec, problems = read_bytes(tmp_path, raw)
    assert codes(problems) == {"mp4-bad-box-size", "mp4-no-moov"}


def test_child_overruns_its_parent(tmp_path: Path) -> None:
    inner = struct.pack(">I4s", 4096, b"udta") + qt_text(b"\xa9xyz", "+10.0+020.0/")
    raw = box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"moov", mvhd(), inner)
    _fmt, rec, problems = read_bytes(tmp_path, raw)
    assert "mp4-box-overrun" in codes(problems)
    assert [(t.lat, t.lon) for t in rec.tracks] == [(10.0, 20.0)]


def test_deeply_nested_boxes_stop_at_the_depth_limit() -> None:
    nested = b""
    for _ in range(mp4_boxes.MAX_DEPTH + 5):
        nested = box(b"udta", nested)
    seen: list[str] = []

    class Fake:
        def seek(self, n: int) -> None:
            self.pos = n

        def read(self, n: int) -> bytes:
            return nested[self.pos : self.pos + n]

    walker = mp4_boxes.Walker(mp4_boxes.Source(Fake(), len(nested)), lambda c, d, o: seen.append(c))  # type: ignore[arg-type]
    level, depth = walker.children(0, len(nested), 0), 0
    while level:
        depth += 1
        level = walker.children(level[0].start, level[0].end, depth)
    assert seen == ["mp4-depth-limit"] and depth == mp4_boxes.MAX_DEPTH + 1


def test_many_boxes_stop_at_the_box_budget(tmp_path: Path) -> None:
    raw = box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"moov", mvhd(), box(b"udta", box(b"free") * 300_000))
    _fmt, _rec, problems = read_bytes(tmp_path, raw)
    assert "mp4-box-limit" in codes(problems)


def test_lying_sample_tables(tmp_path: Path) -> None:
    """stsz claims 2^32-1 samples, stsc 2^32-1 per chunk, a chunk points past the file: bounded, reported."""
    spec = TrackSpec(b"meta", b"gpmd", [b"\x00" * 8, b"\x00" * 8])
    raw = bytearray(movie([spec]))
    at = raw.index(b"stsz") + 8
    raw[at + 4 : at + 8] = struct.pack(">I", 0xFFFFFFFF)
    at = raw.index(b"stsc") + 8
    raw[at + 8 : at + 12] = struct.pack(">I", 0xFFFFFFFF)
    at = raw.index(b"stco") + 8
    raw[at + 4 : at + 8] = struct.pack(">I", 0xFFFFFF00)
    _fmt, _rec, problems = read_bytes(tmp_path, bytes(raw))
    assert {"mp4-bad-sample-table", "mp4-sample-out-of-bounds"} <= codes(problems)


def test_uniform_sample_size_claiming_billions_is_cut(tmp_path: Path) -> None:
    """stsz "every sample is 1 byte, 2^32-1 of them" with one chunk holding them all: cut to what fits."""
    raw = bytearray(movie([TrackSpec(b"meta", b"gpmd", [b"\x00" * 8])]))
    at = raw.index(b"stsz") + 8
    raw[at : at + 8] = struct.pack(">II", 1, 0xFFFFFFFF)
    at = raw.index(b"stsc") + 8
    raw[at + 8 : at + 12] = struct.pack(">I", 0xFFFFFFFF)
    _fmt, _rec, problems = read_bytes(tmp_path, bytes(raw))
    assert "mp4-bad-sample-table" in codes(problems)


def test_tracks_share_one_read_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many tracks may point at the same bytes; the file-wide budget stops them all."""
    monkeypatch.setattr(mp4_samples, "MAX_FILE_BYTES", 40)
    spec = TrackSpec(b"meta", b"djmd", [b"\x08\x01" * 8] * 2)
    _fmt, _rec, problems = read_bytes(tmp_path, movie([spec, spec]))
    limit = next(p for p in problems if p.code == "mp4-track-limit")
    assert "read limit reached at sample 1" in limit.detail and limit.count == 1


def test_sample_offsets_looping_into_moov(tmp_path: Path) -> None:
    """A chunk offset that points back at the moov box: decoded as (bad) GPMF, nothing followed."""
    spec = TrackSpec(b"meta", b"gpmd", [b"\x00" * 16])
    raw = bytearray(movie([spec]))
    moov = raw.index(b"moov") - 4
    at = raw.index(b"stco") + 8
    raw[at + 4 : at + 8] = struct.pack(">I", moov)
    _fmt, rec, problems = read_bytes(tmp_path, bytes(raw))
    assert "gpmf-bad-klv" in codes(problems) and rec.tracks == []


def test_zero_size_box_runs_to_the_end(tmp_path: Path) -> None:
    raw = box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"moov", mvhd())
    raw += struct.pack(">I4s", 0, b"mdat") + b"x" * 99
    _fmt, rec, problems = read_bytes(tmp_path, raw)
    assert problems == [] and rec.item.captured_at == "2017-04-17T19:27:57"


def test_random_damage_never_raises(tmp_path: Path) -> None:
    rng = random.Random(20170417)
    base = _gpmd_movie()
    path = tmp_path / "fuzz.mp4"
    for _ in range(300):
        raw = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
        read_file(path)


def test_track_label_without_handler() -> None:
    assert Track().label == "?:/"


def test_deep_and_many_boxes_are_bounded_and_the_scan_goes_on(tmp_path: Path) -> None:
    import time

    import droneaudit

    nested = b""
    for _ in range(10_000):
        nested = box(b"udta", nested)
    deep = tmp_path / "a-deep.mp4"
    deep.write_bytes(box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"moov", mvhd(), nested))
    many = tmp_path / "b-many.mp4"
    many.write_bytes(box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"free") * (mp4_boxes.MAX_BOXES + 10))
    good = tmp_path / "c-good.mp4"
    good.write_bytes(
        box(b"ftyp", b"isom\x00\x00\x00\x00")
        + box(b"moov", mvhd(), box(b"udta", qt_text(b"\xa9xyz", "+10.0+020.0/")))
    )
    started = time.monotonic()
    case = droneaudit.scan([deep, many, good])
    assert time.monotonic() - started < 60
    assert "mp4-box-limit" in {p.code for p in case.problems if p.file == str(many)}
    assert [(t.file, t.lat, t.lon) for t in case.tracks] == [(str(good), 10.0, 20.0)]
    assert {i.path: i.format for i in case.inputs}[str(deep)] == "mp4"
