"""SRT sidecars: every family in the corpus loses its positions, heights and home point, keeps its cues.

The judge is the inventory's own SRT reader (zero positions after cleaning, on a file it still reads as
an SRT), a search for the field names and coordinate text in the output, and a comparison of the cue
numbers and timing lines, taken from the raw text here rather than from the cleaner.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from droneaudit.readers._api import ProblemLog
from droneaudit.readers.media import srt as reader
from droneaudit.sanitize import srt
from droneaudit.sanitize.common import Options, parse_profile
from droneaudit.synth.media import DEMO_PHOTOS, write_srt

from . import POSITION_CODES, TIME_CODE, codes, inventory, sha256

FAMILIES = ("dji_srt_parser", "dji-drone-metadata-embedder")
POSITIONAL = re.compile(
    r"GPS\s*\(|HOME\s*\(|RTK\s*\(|latitude|longitude|longtitude|altitude|rel_alt|abs_alt|BAROMETER|Hb:|Hs:"
    r"|Distance:|(?:^|,)\s*[DH] -?\d+(?:\.\d+)?m\b(?!/)",
    re.IGNORECASE | re.MULTILINE,
)
TIMING = re.compile(r"^\s*(\d+|\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->.*)\s*$", re.MULTILINE)


def srt_files(corpus: Path) -> list[Path]:
    found = [
        p for family in FAMILIES for p in sorted((corpus / "drone-media" / family).glob("*.[sS][rR][tT]"))
    ]
    if not found:
        pytest.skip("no SRT samples in the corpus")
    return found


def parse(data: bytes) -> tuple[int, int]:
    """(aircraft positions, home points) the inventory reader finds in SRT bytes."""
    records = reader.parse(data, "x.srt", "0" * 64, "srt", ProblemLog())
    kinds = [t.kind for t in records.tracks]
    return kinds.count("aircraft"), kinds.count("home")


def test_every_corpus_family_loses_its_positions(corpus: Path) -> None:
    for path in srt_files(corpus):
        original = path.read_bytes()
        outcome = srt.clean(original, Options())
        assert outcome.data is not None, path.name
        text = outcome.data.decode("utf-8", "surrogateescape")
        assert POSITIONAL.search(text) is None, (path.name, POSITIONAL.search(text))
        assert parse(outcome.data) == (0, 0), path.name
        assert TIMING.findall(text) == TIMING.findall(original.decode("utf-8", "surrogateescape")), path.name
        for secret in outcome.removed.secrets:
            assert secret in original and secret not in outcome.data


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("old_format.SRT", {"SRT HOME(…)", "SRT GPS(…)", "SRT Hb:", "SRT Hs:"}),
        ("mavic_pro.SRT", {"SRT HOME(…)", "SRT GPS(…)", "SRT BAROMETER:"}),
        (
            "p4_rtk.SRT",
            {"SRT GPS(…)", "SRT HOME(…)", "SRT D (distance from home)", "SRT H (height above takeoff)"},
        ),
        ("matrice_300.srt", {"SRT GPS(…)", "SRT BAROMETER:"}),
        ("air2s.srt", {"SRT [latitude]", "SRT [longitude]", "SRT [altitude]"}),
        ("mavic_2_style.SRT", {"SRT [latitude]", "SRT [longtitude]"}),
    ],
)
def test_family_fields_named_in_the_manifest(corpus: Path, name: str, fields: set[str]) -> None:
    path = corpus / "drone-media" / "dji_srt_parser" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    before = parse(path.read_bytes())
    assert before[0] > 0  # the sample does carry a track
    outcome = srt.clean(path.read_bytes(), Options())
    assert fields <= set(outcome.removed.fields)


def test_p4_line_keeps_attitude_and_speeds(corpus: Path) -> None:
    path = corpus / "drone-media" / "dji_srt_parser" / "p4_rtk.SRT"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    outcome = srt.clean(path.read_bytes(), Options())
    assert outcome.data is not None
    first = outcome.data.decode().split("\n")[2]
    assert first.startswith("F/5.6, SS 400, ISO 100, EV 0, H.S 0.00m/s, V.S 0.00m/s, F.PRY (2.7°")


def test_rel_abs_pair_goes_as_one_and_commas_stay_tidy() -> None:
    line = (
        "[focal_len: 28.00] [dzoom_ratio: 1.00], [latitude: 53.365080] [longitude: 6.460739]"
        " [rel_alt: 5.400 abs_alt: -124.744] [gb_yaw: -162.8]"
    )
    out = srt.clean(f"1\n00:00:00,000 --> 00:00:00,041\n{line}\n".encode(), Options()).data
    assert out is not None
    assert out.decode().splitlines()[2] == "[focal_len: 28.00] [dzoom_ratio: 1.00] [gb_yaw: -162.8]"


def test_time_profile_keeps_the_date_and_drops_the_clock() -> None:
    cue = b"1\n00:00:01,000 --> 00:00:02,000\nHOME(149.0251,-20.2532) 2017.8.5 14:11:51\n\n"
    out = srt.clean(cue + b"2\n2020-08-12 08:55:21,745,078\n", Options(parse_profile("time"))).data
    assert out == cue.replace(b" 14:11:51", b"") + b"2\n2020-08-12\n"


def test_utc_times_are_no_longer_exact(tmp_path: Path) -> None:
    path = tmp_path / "z.SRT"
    path.write_bytes(b"1\n00:00:00,000 --> 00:00:01,000\n2022-06-21T16:06:17Z\nGPS(36.6146,-6.1120,0.0M)\n")
    assert {TIME_CODE} & codes(inventory(path))
    out = srt.clean(path.read_bytes(), Options(parse_profile("location,time"))).data
    assert out is not None
    path.write_bytes(out)
    assert not codes(inventory(path)) & (POSITION_CODES | {TIME_CODE})


def test_remove_all_drops_the_sidecar() -> None:
    outcome = srt.clean(b"1\n00:00:00,000 --> 00:00:01,000\nGPS(1.0,2.0,3)\n", Options(parse_profile("all")))
    assert outcome.data is None and "SRT sidecar (dropped whole: --remove all)" in outcome.removed.fields


def test_gzip_round_trip_is_deterministic() -> None:
    raw = b"1\n00:00:00,000 --> 00:00:01,000\n[latitude: 41.424724] [longitude: 2.234156] [iso : 100]\n"
    packed = gzip.compress(raw, mtime=0)
    first, second = srt.clean(packed, Options()), srt.clean(packed, Options())
    assert first.format == "srt.gz" and first.data == second.data and first.data is not None
    assert gzip.decompress(first.data) == b"1\n00:00:00,000 --> 00:00:01,000\n[iso : 100]\n"


def test_crlf_bom_and_odd_bytes_survive() -> None:
    head = b"\xef\xbb\xbf1\r\n00:00:00,000 --> 00:00:01,000\r\n"
    out = srt.clean(head + b"GPS(149.0251,-20.2533,16) BAROMETER:1.9 \xff\r\nISO:100\r\n", Options()).data
    assert out == head + b"\xff\r\nISO:100\r\n"


def test_demo_srt(tmp_path: Path) -> None:
    path = tmp_path / "DJI_0004_D.SRT"
    write_srt(path, DEMO_PHOTOS[0], 30)
    before = sha256(path)
    assert codes(inventory(path)) & POSITION_CODES
    outcome = srt.clean(path.read_bytes(), Options())
    assert outcome.data is not None and parse(outcome.data) == (0, 0)
    assert f"{DEMO_PHOTOS[0].lat:.6f}".encode() not in outcome.data and sha256(path) == before


# --- property test --------------------------------------------------------------------------------


_COORD = st.floats(min_value=-89.0, max_value=89.0).filter(lambda v: abs(v) > 0.01)


def _cue(family: str, n: int, lat: float, lon: float, alt: float) -> str:
    timing = f"{n}\n00:00:{n % 60:02d},000 --> 00:00:{n % 60:02d},500\n"
    if family == "legacy":
        home = f"HOME({lon + 0.001:.6f},{lat + 0.001:.6f}) 2017.8.5 14:11:51"
        body = f"{home}\nGPS({lon:.6f},{lat:.6f},16) BAROMETER:{alt:.1f}"
    elif family == "p4-oneline":
        body = f"F/3.2, SS 320, ISO 100, EV 0, GPS ({lon:.6f}, {lat:.6f}, 18), D 24.83m, H {alt:.2f}m"
    else:
        body = f"[iso: 100] [latitude: {lat:.6f}] [longitude: {lon:.6f}] "
        body += f"[rel_alt: {alt:.3f} abs_alt: {alt + 400:.3f}]"
    return timing + body + "\n"


@settings(max_examples=40, deadline=None)
@given(
    family=st.sampled_from(["legacy", "p4-oneline", "bracket-rel-abs"]),
    fixes=st.lists(st.tuples(_COORD, _COORD, st.floats(1.0, 120.0)), min_size=1, max_size=6),
    crlf=st.booleans(),
)
def test_property_sanitize_then_inventory_finds_no_position(
    family: str, fixes: list[tuple[float, float, float]], crlf: bool
) -> None:
    text = "\n".join(_cue(family, i + 1, lat, lon, alt) for i, (lat, lon, alt) in enumerate(fixes))
    data = (text.replace("\n", "\r\n") if crlf else text).encode()
    assert parse(data)[0] == len(fixes)  # the generated file does reveal every fix
    out = srt.clean(data, Options()).data
    assert out is not None
    assert parse(out) == (0, 0)
    assert not POSITIONAL.search(out.decode())
    for lat, lon, _alt in fixes:
        assert f"{lat:.6f}".encode() not in out and f"{lon:.6f}".encode() not in out
    assert TIMING.findall(out.decode()) == TIMING.findall(data.decode())  # cues and timings stay
