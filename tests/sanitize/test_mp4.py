"""MP4/MOV: telemetry tracks and location/serial user data leave, every video and audio byte stays.

Inputs: GoPro Karma ``karma.mp4`` from the corpus (GPMF ``gpmd`` track, ``fdsc`` serial block, ``CAME``/
``LENS``/``MUID`` user data), and a DJI-style movie built here: a real ffmpeg-encoded clip (video + audio)
into which a ``djmd`` track (``test_djmd``'s protobuf samples: serial, GPS) and a ``©xyz`` atom are
spliced, in both layouts (moov last, and moov first as ``+faststart`` writes it).

Judges, none of them the cleaner: our MP4 reader (no track points, no identities), ExifTool 13 ``-ee``
(no GPS or serial tag), a raw byte search for the serial and the GPS doubles, ffprobe (same codec,
duration and frame count per stream) and ``ffmpeg -f null`` (decodes without error). Tools missing →
the tests that need them skip with the reason.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from droneaudit.readers.media import mp4 as mp4_reader
from droneaudit.readers.media.mp4_boxes import Source
from droneaudit.readers.media.mp4_records import Movie
from droneaudit.readers.media.mp4_samples import samples
from droneaudit.sanitize import mp4, sanitize
from droneaudit.sanitize.common import Options, parse_profile
from readers.media.test_djmd import FIXES, SERIAL, Fix, dji_movie, wm261_sample
from readers.media.test_mp4 import TrackSpec, _trak, box, exiftool_runner, movie, qt_text, read_file

from . import sha256

FFMPEG_HINT = "ffmpeg/ffprobe not installed (Debian: apt-get install -y ffmpeg)"
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


# --- independent helpers: a top-level box splitter and a chunk-offset shifter -----------------------------


def top_boxes(raw: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 0
    while pos + 8 <= len(raw):
        size, kind = struct.unpack(">I4s", raw[pos : pos + 8])
        out.append((kind, raw[pos : pos + size]))
        pos += size
    return out


def shift_offsets(blob: bytes, delta: int) -> bytes:
    """Every stco/co64 entry inside ``blob`` (a box) moved by ``delta``."""
    size, kind = struct.unpack(">I4s", blob[:8])
    if kind in (b"stco", b"co64"):
        code = ">I" if kind == b"stco" else ">Q"
        (count,) = struct.unpack(">I", blob[12:16])
        values = struct.unpack(f">{count}{code[1]}", blob[16:])
        return blob[:16] + struct.pack(f">{count}{code[1]}", *(v + delta for v in values))
    if kind not in CONTAINERS:
        return blob
    parts, pos = [], 8
    while pos < size:
        (child,) = struct.unpack(">I", blob[pos : pos + 4])
        parts.append(shift_offsets(blob[pos : pos + child], delta))
        pos += child
    return blob[:8] + b"".join(parts)


def faststart(raw: bytes) -> bytes:
    """moov moved right after ftyp, chunk offsets shifted by its size (what ``+faststart`` does)."""
    boxes = top_boxes(raw)
    moov = next(b for k, b in boxes if k == b"moov")
    rest = [b for k, b in boxes if k not in (b"ftyp", b"moov")]
    return boxes[0][1] + shift_offsets(moov, len(moov)) + b"".join(rest)


# --- the tools ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None or shutil.which("ffprobe") is None:
        pytest.skip(FFMPEG_HINT)
    return found


def streams(path: Path) -> list[tuple[str, str, str, str]]:
    """(type, codec, duration, frames) of each video and audio stream, per ffprobe."""
    args = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,duration,nb_frames"]
    out = subprocess.run([*args, "-of", "json", str(path)], capture_output=True, check=True, timeout=60)
    found = json.loads(out.stdout)["streams"]
    keys = ("codec_type", "codec_name", "duration", "nb_frames")
    return [tuple(s.get(k, "") for k in keys) for s in found if s["codec_type"] in ("video", "audio")]


def decode_errors(path: Path) -> str:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, timeout=120
    )
    return out.stderr.decode(errors="replace") + ("" if out.returncode == 0 else f"rc={out.returncode}")


def exif_tags(path: Path) -> set[str]:
    return {key.rpartition(":")[2] for key in exiftool_runner()(path)}


def cleaned(tmp_path: Path, src: Path, profile: str | None = None) -> Path:
    """Sanitize one file through the driver (clean + verify); the cleaned path."""
    before = sha256(src)
    report = sanitize([src], tmp_path / "out", Options(parse_profile(profile)))
    (result,) = report.files
    assert result.status == "cleaned", result.reason
    assert sha256(src) == before
    assert result.output is not None
    return Path(result.output)


def assert_same_media(src: Path, out: Path) -> None:
    assert streams(out) == streams(src) and streams(src)
    assert decode_errors(out) == ""


# --- GoPro Karma ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", name="karma")
def karma_fixture(corpus: Path) -> Path:
    path = corpus / "drone-media" / "gpmf-parser" / "karma.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return path


def gpmd_ranges(path: Path) -> list[tuple[int, int]]:
    """(offset, size) of every gpmd sample, from the reader's sample tables of the original."""
    movie = Movie()
    with path.open("rb") as f:
        mp4_reader.inspect(Source(f, path.stat().st_size), movie, lambda *_: None)
    track = next(t for t in movie.tracks if t.sample_format == "gpmd")
    return [(s.offset, s.size) for s in samples(track)]


def test_karma_loses_gps_and_serials(tmp_path: Path, karma: Path) -> None:
    _fmt, rec, _problems = read_file(karma)
    secrets = [i.value.encode() for i in rec.identities if i.value.encode() in karma.read_bytes()]
    assert rec.tracks and rec.identities and secrets
    out = cleaned(tmp_path, karma)
    _fmt, after, problems = read_file(out)
    assert after.tracks == [] and after.identities == [] and problems == []
    data, original = out.read_bytes(), karma.read_bytes()
    assert len(data) == len(original)
    assert not [s for s in secrets if s in data]
    for offset, size in gpmd_ranges(karma):
        assert data[offset : offset + size] == bytes(size)
        assert original[offset : offset + 4] == b"DEVC"
        assert original[offset : offset + min(size, 256)] not in data


def test_karma_exiftool_finds_no_gps_or_serial(tmp_path: Path, karma: Path) -> None:
    before = exif_tags(karma)
    assert any(t.startswith("GPS") for t in before) and any("Serial" in t for t in before)
    after = exif_tags(cleaned(tmp_path, karma))
    assert not [t for t in after if t.startswith("GPS") or "Serial" in t or t == "MediaUID"]


def test_karma_video_and_audio_unchanged(tmp_path: Path, karma: Path, ffmpeg: str) -> None:
    assert_same_media(karma, cleaned(tmp_path, karma))


# --- DJI: a real encoded clip with a djmd track and a ©xyz atom spliced in --------------------------------


def encoded_clip(tmp_path: Path) -> bytes:
    path = tmp_path / "clip.mp4"
    args = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", "-f", "lavfi"]
    args += ["-i", "sine=frequency=440", "-t", "2", "-c:v", "mpeg4", "-c:a", "aac", str(path)]
    subprocess.run(args, check=True, timeout=60, capture_output=True)
    return path.read_bytes()


def with_djmd(clip: bytes) -> bytes:
    """The clip (moov last) plus an mdat of djmd samples and their trak and a ©xyz udta in moov."""
    boxes = top_boxes(clip)
    assert boxes[-1][0] == b"moov"
    prefix = b"".join(b for _k, b in boxes[:-1])
    spec = TrackSpec(b"meta", b"djmd", [wm261_sample(f) for f in FIXES], name="DJI meta", delta=1001)
    offsets, pos = [], len(prefix) + 8
    for sample in spec.samples:
        offsets.append(pos)
        pos += len(sample)
    mdat = box(b"mdat", *spec.samples)
    moov = boxes[-1][1]
    trak = _trak(spec, 9, offsets)
    udta = box(b"udta", qt_text(b"\xa9xyz", "+47.3977+008.5456/"))
    return prefix + mdat + struct.pack(">I", len(moov) + len(trak) + len(udta)) + moov[4:] + trak + udta


def gps_doubles() -> list[bytes]:
    return [struct.pack("<d", math.radians(f.lat)) for f in FIXES]


@pytest.mark.parametrize("layout", ["moov-last", "faststart"])
def test_dji_clip_loses_track_and_location(tmp_path: Path, ffmpeg: str, layout: str) -> None:
    raw = with_djmd(encoded_clip(tmp_path))
    src = tmp_path / "DJI_0001.MP4"
    src.write_bytes(raw if layout == "moov-last" else faststart(raw))
    _fmt, rec, problems = read_file(src)
    assert len(rec.tracks) == len(FIXES) + 1 and rec.identities and problems == []
    assert decode_errors(src) == ""
    out = cleaned(tmp_path, src)
    _fmt, after, problems = read_file(out)
    assert after.tracks == [] and after.identities == [] and problems == []
    data = out.read_bytes()
    assert SERIAL.encode() not in data and not [g for g in gps_doubles() if g in data]
    assert b"+47.3977" not in data
    tags = exif_tags(out)
    assert not [t for t in tags if t.startswith("GPS") or "Serial" in t]
    assert_same_media(src, out)


# --- the same rules without ffmpeg, and the edges ---------------------------------------------------------


def test_synthetic_djmd_movie_both_layouts(tmp_path: Path) -> None:
    raw = dji_movie([wm261_sample(f) for f in FIXES])
    for layout, data in (("last", raw), ("first", faststart(raw))):
        src = tmp_path / f"{layout}.mp4"
        src.write_bytes(data)
        out = cleaned(tmp_path / layout, src)
        _fmt, after, _problems = read_file(out)
        cleaned_bytes = out.read_bytes()
        assert after.tracks == [] and after.identities == []
        assert SERIAL.encode() not in cleaned_bytes and not [g for g in gps_doubles() if g in cleaned_bytes]


def test_small_chunks_give_the_same_output(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = faststart(dji_movie([wm261_sample(f) for f in FIXES]))
    whole = mp4.clean(raw, Options()).data
    monkeypatch.setattr(mp4, "CHUNK", 7)
    assert mp4.clean(raw, Options()).data == whole and whole is not None and len(whole) == len(raw)


def test_time_profile_cuts_the_creation_clock(tmp_path: Path) -> None:
    src = tmp_path / "t.mp4"
    src.write_bytes(dji_movie([wm261_sample(FIXES[0])]))
    _fmt, rec, _ = read_file(cleaned(tmp_path, src, "all"))
    assert rec.item.captured_at == "2017-04-17T00:00:00"


def test_location_only_keeps_make_and_identity_atoms(tmp_path: Path) -> None:
    udta = [qt_text(b"\xa9mak", "DJI"), qt_text(b"\xa9xyz", "+47.3977+008.5456/"), box(b"CAME", b"X" * 16)]
    src = tmp_path / "u.mp4"
    src.write_bytes(movie([TrackSpec(b"vide", b"avc1", [])], udta=udta))
    data = cleaned(tmp_path, src, "location").read_bytes()
    assert b"\xa9mak" in data and b"X" * 16 in data and b"+47.3977" not in data


def _skipped(tmp_path: Path, raw: bytes) -> str:
    tmp_path.mkdir(exist_ok=True)
    src = tmp_path / "bad.mp4"
    src.write_bytes(raw)
    report = sanitize([src], tmp_path / "out", Options())
    (result,) = report.files
    assert result.status == "skipped" and result.output is None
    assert not (tmp_path / "out" / "bad.mp4").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "droneaudit-sanitize.json"]
    return result.reason or ""


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9, 0.99])
def test_truncated_movie_is_skipped(tmp_path: Path, cut: float) -> None:
    raw = dji_movie([wm261_sample(f) for f in FIXES])
    assert "damaged or unsupported" in _skipped(tmp_path, raw[: int(len(raw) * cut)])


def test_sample_outside_mdat_is_skipped(tmp_path: Path) -> None:
    spec = TrackSpec(b"meta", b"djmd", [wm261_sample(FIXES[0])], name="DJI meta")
    raw = bytearray(movie([spec]))
    stco = raw.rindex(b"stco")
    struct.pack_into(">I", raw, stco + 12, 2)  # the chunk now starts inside ftyp
    assert "outside the media data" in _skipped(tmp_path, bytes(raw))


def test_fragmented_and_moovless_files_are_skipped(tmp_path: Path) -> None:
    ftyp = box(b"ftyp", b"isom", b"\x00\x00\x02\x00isom")
    assert "fragmented" in _skipped(tmp_path / "a", ftyp + box(b"moov") + box(b"moof") + box(b"mdat"))
    assert "moov" in _skipped(tmp_path / "b", ftyp + box(b"mdat", b"\x00" * 64))


def test_rewrite_streams_to_a_file(tmp_path: Path) -> None:
    raw = dji_movie([wm261_sample(f) for f in FIXES])
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    src.write_bytes(raw)
    with src.open("rb") as f, dst.open("wb") as out:
        fmt, removed = mp4.rewrite(f, len(raw), out, Options())
    assert fmt == "mp4" and removed.fields["track meta/djmd"] == 1
    assert dst.read_bytes() == mp4.clean(raw, Options()).data


# --- property test --------------------------------------------------------------------------------

_LAT = st.floats(min_value=-80.0, max_value=80.0).filter(lambda v: abs(v) > 0.01)
_LON = st.floats(min_value=-170.0, max_value=170.0).filter(lambda v: abs(v) > 0.01)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fixes=st.lists(st.tuples(_LAT, _LON, st.integers(1_000, 900_000)), min_size=1, max_size=4),
    with_xyz=st.booleans(),
)
def test_property_sanitize_then_inventory_finds_nothing_removed(
    tmp_path: Path, fixes: list[tuple[float, float, int]], with_xyz: bool
) -> None:
    """djmd samples (positions, altitudes, times, serial) and a ©xyz atom: after cleaning, our reader
    finds no position and no serial, and the ©xyz text and the serial are gone from the bytes."""
    samples = [
        wm261_sample(Fix(lat, lon, alt, 1000.0, f"2024-05-01 12:34:5{i}", 0))
        for i, (lat, lon, alt) in enumerate(fixes)
    ]
    xyz = f"{fixes[0][0]:+08.4f}{fixes[0][1]:+09.4f}/"
    spec = TrackSpec(b"meta", b"djmd", samples, name="DJI meta", timescale=30000, delta=1001)
    raw = movie([spec], udta=[qt_text(b"\xa9xyz", xyz)] if with_xyz else None)
    src = tmp_path / "p.mp4"
    src.write_bytes(raw)
    _fmt, before, _ = read_file(src)
    assert len(before.tracks) >= len(fixes) and before.identities
    outcome = mp4.clean(raw, Options())
    assert outcome.data is not None
    src.write_bytes(outcome.data)
    _fmt, after, _ = read_file(src)
    assert after.tracks == [] and not [i for i in after.identities if i.kind.endswith("serial")]
    assert SERIAL.encode() not in outcome.data and xyz.encode() not in outcome.data
