"""DJI SRT reader against upstream's own parse (preparedData.json) and the corpus READMEs, per family.

Expected values are copied from JuanIrache/DJI_SRT_Parser's ``preparedData.json`` (its parse of
``p4_rtk.SRT``), its test suite (mavic_pro home point) and the corpus READMEs' first-cue values -
never from this reader's output.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.media.srt import SrtReader

READER = SrtReader()


def _ctx() -> ScanContext:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    return ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))


def _read(path: Path) -> tuple[MediaRecords, ScanContext]:
    ctx = _ctx()
    fmt, digest = READER.read(path, path.name, ctx)
    assert fmt in ("srt", "srt.gz")
    assert len(digest) == 64
    assert len(ctx.media) == 1
    return ctx.media[0], ctx


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _codes(ctx: ScanContext) -> dict[str, tuple[int | None, int]]:
    return {p.code: (p.frame, p.count) for p in ctx.problems.records()}


@pytest.fixture(scope="module")
def srt_dir(corpus: Path) -> Path:
    return corpus / "drone-media" / "dji_srt_parser"


# --- upstream's own parse -----------------------------------------------------------------------------


def test_p4_rtk_matches_upstream_prepared_data(srt_dir: Path) -> None:
    """preparedData.json holds the raw tuples; upstream reads GPS/HOME as (lon, lat, …) in this family."""
    expected = json.loads((srt_dir / "preparedData.json").read_text())
    records, ctx = _read(srt_dir / "p4_rtk.SRT")
    aircraft = [t for t in records.tracks if t.kind == "aircraft"]
    assert len(aircraft) == len(expected) == 55
    for point, packet in zip(aircraft, expected, strict=True):
        assert (point.lat, point.lon) == (float(packet["GPS"][1]), float(packet["GPS"][0]))
        assert point.alt_m == float(packet["H"]) and point.alt_ref == "relative"
        assert packet["TIMECODE"] in point.source
        assert point.time_local is None and point.time_utc is None
    homes = [t for t in records.tracks if t.kind == "home"]
    home = expected[0]["HOME"]
    assert [(h.lat, h.lon, h.alt_m) for h in homes] == [
        (float(home[1]), float(home[0]), float(home[2].rstrip("m")))
    ]
    assert homes[0].alt_ref is None  # the file does not say what the HOME altitude refers to
    assert records.item.extra["cue_offsets"] == "00:00:00,000 to 00:00:54,000"
    assert records.item.captured_at is None
    assert len(ctx.problems) == 0


def test_mavic_pro_home_point_as_upstream_test_suite(srt_dir: Path) -> None:
    """index.test.js: stats.HOME[0] == {LATITUDE: -20.2532, LONGITUDE: 149.0251}; one home in the file."""
    records, _ = _read(srt_dir / "mavic_pro.SRT")
    homes = [t for t in records.tracks if t.kind == "home"]
    assert [(h.lat, h.lon) for h in homes] == [(-20.2532, 149.0251)]
    assert homes[0].time_local == "2017.08.05 14:11:51"


# --- one row per family: first-cue values from the corpus READMEs ------------------------------------

_P, _E, _REL, _BR = "dji_srt_parser", "dji-drone-metadata-embedder", "relative", "bracket"
#: (folder, file, cues, first aircraft (lat, lon) or None, family, alt_ref of the first fix, first date)
FAMILIES = [
    (_P, "p4p_sample.SRT", 5, (47.4692, 8.2090), "p4-oneline", _REL, None),
    (_P, "mavic_mini.SRT", 117, (48.0771, -121.7458), "p4-oneline", _REL, None),
    (_P, "p4_rtk.SRT", 55, (-34.237922, -58.851745), "p4-oneline", _REL, None),
    (_P, "old_format.SRT", 468, (-20.2533, 149.0251), "legacy", _REL, "2017.8.5 14:11:51"),
    (_P, "mavic_pro.SRT", 468, (-20.2533, 149.0251), "legacy", _REL, "2017.08.05 14:11:51"),
    (_P, "mavic_pro_buggy.SRT", 546, (42.4668, -1.2218), "legacy", _REL, "2018.08.19 08:00:36"),
    (_P, "broken_incomplete.SRT", 20, (-34.7383, -58.4563), "legacy", _REL, "2017.07.03 10:15:03"),
    (_P, "matrice_300.srt", 381, (36.6146, -6.1120), "m300", _REL, "2022.06.21 16:06:17"),
    (_P, "mavic_2_style.SRT", 468, (-20.2533, 149.0251), _BR, None, "2017.08.05 14:11:51,393,525"),
    (_P, "broken_incomplete2.SRT", 6, (-34.86995, -57.823395), _BR, None, "2020-08-12 08:55:21,745,078"),
    (_P, "mavic_air.SRT", 2, None, _BR, None, "2018-02-19 08:04:51,265,847"),
    (_P, "mavic_air2.srt", 25, (41.420684, 2.162162), _BR, None, "2022-05-01 15:01:58,531,716"),
    (_P, "air2s.srt", 17, (41.424724, 2.234156), _BR, None, "2022-08-07 13:40:40,774,808"),
    (_P, "mix_p4rtk_mavic2pro.srt", 12, (-34.650200, -59.409424), "bracket, p4-oneline", _REL, None),
    (_E, "air3S_clip.SRT", 5, (34.270373, -84.176160), "bracket-rel-abs", "msl", None),
    (_E, "Mini5PRO_clip.SRT", 5, (53.365108, 6.460719), "bracket-rel-abs", "msl", None),
    (_E, "neo2_clip.SRT", 5, (45.607181, 13.753860), "bracket-rel-abs", "msl", None),
    (_E, "Avata360_clip.SRT", 5, (53.365080, 6.460739), "bracket-rel-abs", "msl", None),
]  # fmt: skip


@pytest.mark.parametrize(("folder", "name", "cues", "first", "family", "alt_ref", "date"), FAMILIES)
def test_family_first_cue(
    corpus: Path,
    folder: str,
    name: str,
    cues: int,
    first: tuple[float, float] | None,
    family: str,
    alt_ref: str | None,
    date: str | None,
) -> None:
    path = corpus / "drone-media" / folder / name
    records, _ = _read(path)
    extra = records.item.extra
    assert extra["cues"] == str(cues)
    assert extra["srt_family"] == family
    aircraft = [t for t in records.tracks if t.kind == "aircraft"]
    if first is None:
        assert aircraft == [] and records.item.lat is None
        return
    assert (aircraft[0].lat, aircraft[0].lon) == pytest.approx(first, abs=1e-9)
    assert (records.item.lat, records.item.lon) == (aircraft[0].lat, aircraft[0].lon)
    assert aircraft[0].alt_ref == alt_ref
    assert aircraft[0].index == 1 and aircraft[0].file == name
    if date is not None:
        assert records.item.captured_at == date
    assert all(t.time_utc is None for t in records.tracks)  # SRT dates are local wall-clock


def test_third_gps_value_is_satellites_not_altitude(srt_dir: Path) -> None:
    """P4P ``GPS (8.2090, 47.4692, 18)``: 18 is satellites; height comes from ``H 45.60m``."""
    p4p, _ = _read(srt_dir / "p4p_sample.SRT")
    assert p4p.tracks[0].alt_m == 45.60
    legacy, _ = _read(srt_dir / "mavic_pro.SRT")  # GPS(…,16) BAROMETER:1.9
    assert legacy.tracks[0].alt_m == 1.9


def test_m300_reversed_order_and_barometer(srt_dir: Path) -> None:
    records, _ = _read(srt_dir / "matrice_300.srt")
    assert [t.alt_m for t in records.tracks[:6]] == [0.3, 0.3, 0.8, 1.3, 4.1, 8.4]
    assert records.tracks[-1].index == 381 and records.tracks[-1].time_local == "2022.06.21 16:12:37"


def test_rel_abs_family_gives_takeoff_elevation(corpus: Path) -> None:
    """Neo 2 first cue ``[rel_alt: 0.000 abs_alt: 113.900]``: MSL point, takeoff 113.9 m MSL."""
    records, _ = _read(corpus / "drone-media" / "dji-drone-metadata-embedder" / "neo2_clip.SRT")
    assert records.tracks[0].alt_m == 113.9
    assert records.item.extra["takeoff_alt_msl_m"] == "113.900"
    assert records.tracks[0].time_local == "2026-05-15 08:24:18.623"


# --- broken files -------------------------------------------------------------------------------------


def test_empty_files(srt_dir: Path) -> None:
    records, ctx = _read(srt_dir / "broken_empty.SRT")
    assert records.tracks == [] and records.item.format == "srt"
    assert "empty-file" in _codes(ctx)
    records, ctx = _read(srt_dir / "broken_empty2.SRT")  # just "1\n"
    assert records.tracks == []
    assert _codes(ctx)["truncated-record"] == (1, 1)


def test_cut_files_keep_the_readable_cues(srt_dir: Path) -> None:
    records, ctx = _read(srt_dir / "broken_incomplete.SRT")  # cue 20 stops after its HOME line
    assert len([t for t in records.tracks if t.kind == "aircraft"]) == 19
    assert _codes(ctx)["truncated-record"] == (20, 1)
    records, ctx = _read(srt_dir / "broken_incomplete2.SRT")  # cues 3 and 6 are cut mid-line
    assert [t.index for t in records.tracks] == [1, 2, 4, 5]
    assert _codes(ctx)["truncated-record"] == (3, 2)


def test_buggy_file_reports_cues_without_fix(srt_dir: Path) -> None:
    """mavic_pro_buggy.SRT has 16 cues with ``GPS(N/A,N/A,n)``, the first in cue 15."""
    records, ctx = _read(srt_dir / "mavic_pro_buggy.SRT")
    assert _codes(ctx)["gps-no-fix"] == (15, 16)
    assert len([t for t in records.tracks if t.kind == "aircraft"]) == 546 - 16


def test_cut_bytes_and_garbage_never_raise(srt_dir: Path, tmp_path: Path) -> None:
    data = (srt_dir / "mavic_pro.SRT").read_bytes()
    records, ctx = _read(_write(tmp_path, "cut.SRT", data[:1000]))
    assert records.tracks and "truncated-record" in _codes(ctx)
    records, ctx = _read(_write(tmp_path, "junk.SRT", b"\x00\xff\xfe" * 500))
    assert records.tracks == [] and {"bad-encoding", "no-cues"} <= set(_codes(ctx))


# --- synthetic variants the corpus lacks --------------------------------------------------------------

_KEYED_CUE = (
    '{n}\n00:00:0{n},000 --> 00:00:0{n},033\n<font size="36">SrtCnt : {n}, DiffTime : 33ms\n'
    "2022-08-07 13:40:4{n},774,808\n"
    "[iso : 100] [latitude: {lat}] [longitude: {lon}] [altitude: 117.0] </font>\n\n"
)


def test_radians_heuristic(tmp_path: Path) -> None:
    """Keyed coordinates in radians (Air 2 firmware bug) are converted, and extra says so."""
    lat, lon = math.radians(41.424724), math.radians(2.234156)
    text = "".join(_KEYED_CUE.format(n=n, lat=f"{lat:.9f}", lon=f"{lon:.9f}") for n in (1, 2))
    records, _ = _read(_write(tmp_path, "rad.SRT", text))
    assert (records.tracks[0].lat, records.tracks[0].lon) == pytest.approx((41.424724, 2.234156), abs=1e-6)
    assert records.item.extra["coordinate_units"].startswith("radians")


def test_degrees_are_not_mistaken_for_radians(tmp_path: Path) -> None:
    text = "".join(_KEYED_CUE.format(n=n, lat="1.2000", lon=f"{0.5 + n / 100}") for n in (1, 2))
    records, _ = _read(_write(tmp_path, "deg.SRT", text))  # spans 0.01 -> too far for radians
    assert records.tracks[0].lat == 1.2 and records.item.extra["coordinate_units"] == "degrees"


def test_utc_only_when_the_line_says_so(tmp_path: Path) -> None:
    text = "1\n00:00:00,000 --> 00:00:01,000\n2024-01-15T14:30:22.123Z\n[latitude: 59.3] [longitude: 18.2]\n"
    records, _ = _read(_write(tmp_path, "utc.SRT", text))
    point = records.tracks[0]
    assert (point.time_utc, point.time_basis, point.time_local) == ("2024-01-15T14:30:22.123Z", "utc", None)
    assert records.item.captured_at_utc == "2024-01-15T14:30:22.123Z"


def test_out_of_range_latitude_is_swapped_with_a_problem(tmp_path: Path) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nHOME(45.0,100.0) 2017.8.5 14:11:51\nGPS(45.0,100.0,16) Hb:1.9\n"
    records, ctx = _read(_write(tmp_path, "swap.SRT", text))
    assert (records.tracks[0].lat, records.tracks[0].lon) == (45.0, 100.0)
    assert "coordinate-order-guessed" in _codes(ctx)


def test_gzipped_srt(srt_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "p4p.SRT.gz", gzip.compress((srt_dir / "p4p_sample.SRT").read_bytes()))
    records, _ = _read(path)
    assert records.item.format == "srt.gz" and len(records.tracks) == 5
    head = gzip.decompress(path.read_bytes())[:64]  # the registry hands readers the decompressed head
    assert READER.sniff(head, path) == 0.6


# --- sniffing -----------------------------------------------------------------------------------------


def _sniff(path: Path) -> float:
    with path.open("rb") as f:
        return READER.sniff(f.read(64), path)


def test_sniff_by_content(corpus: Path, tmp_path: Path) -> None:
    media = corpus / "drone-media"
    for path in sorted(media.glob("*/*")):
        score = _sniff(path)
        if path.suffix.lower() == ".srt" and path.stat().st_size > 2:
            assert score == 0.6, path
        elif path.suffix.lower() != ".srt":
            assert score < 0, path  # READMEs, licences, logs, CSV, JSON, images
    renamed = _write(tmp_path, "telemetry.txt", (media / "dji_srt_parser" / "p4_rtk.SRT").read_bytes())
    assert _sniff(renamed) == 0.6
    movie = _write(tmp_path, "movie.srt", "1\n00:00:01,000 --> 00:00:02,000\nHello there\n")
    assert _sniff(movie) == 0.2
    assert _sniff(_write(tmp_path, "empty.srt", b"")) == 0.1
    assert _sniff(_write(tmp_path, "empty.bin", b"")) < 0


def test_cues_without_blank_separators(tmp_path: Path) -> None:
    text = (
        "1\n00:00:00,000 --> 00:00:01,000\nF/3.2, SS 160, GPS (8.2090, 47.4692, 18), H 45.60m\n"
        "2\n00:00:01,000 --> 00:00:02,000\nF/3.2, SS 160, GPS (8.2091, 47.4693, 18), H 45.70m\n"
    )
    records, _ = _read(_write(tmp_path, "tight.SRT", text))
    assert [(t.index, t.lat, t.lon) for t in records.tracks] == [(1, 47.4692, 8.209), (2, 47.4693, 8.2091)]


def test_millions_of_lines_stay_bounded_and_the_scan_goes_on(tmp_path: Path) -> None:
    """2 million lines in one cue: never held as a list of lines (that alone is ~120 MB), the cue is
    capped and reported, and the scan reads the next file. Memory is the peak RSS growth of a fresh
    interpreter reading the file, so earlier tests cannot hide it."""
    import subprocess
    import sys

    import droneaudit
    from droneaudit.readers.media import srt

    body = "[latitude: 47.3769] [longitude: 8.5417]\n" + "ab\n" * 2_000_000
    huge = _write(tmp_path, "a-huge.SRT", "1\n00:00:00,000 --> 00:00:01,000\n" + body)
    good = _write(
        tmp_path, "b-good.SRT", "1\n00:00:00,000 --> 00:00:01,000\n[latitude: 1.5] [longitude: 2.5]\n"
    )
    probe = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from droneaudit.readers._api import ProblemLog\n"
        "from droneaudit.readers.media import srt\n"
        "before, t = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic()\n"
        "srt.parse(Path(sys.argv[1]).read_bytes(), 'x', '0' * 64, 'srt', ProblemLog())\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, time.monotonic() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(huge)], capture_output=True, text=True, check=True)
    grown_kib, seconds = out.stdout.split()
    assert int(grown_kib) < 5 * huge.stat().st_size // 1024  # bytes + text (+ slack), not per-line objects
    assert float(seconds) < 60
    rec, ctx = _read(huge)
    assert _codes(ctx)["srt-cue-too-long"] == (1, 1) and srt.MAX_CUE_LINES < 2_000_000
    assert [(t.lat, t.lon) for t in rec.tracks] == [(47.3769, 8.5417)]
    case = droneaudit.scan([huge, good])
    assert {t.file for t in case.tracks} == {str(huge), str(good)}


def test_cue_numbers_int_cannot_take_are_not_cues(tmp_path: Path) -> None:
    """Found while bounding the reader: ``str.isdigit`` accepts "²" and 5000-digit runs, ``int`` does not."""
    text = "²\n00:00:00,000 --> 00:00:01,000\nx\n\n" + "9" * 5000 + "\n00:00:01,000 --> 00:00:02,000\ny\n"
    rec, ctx = _read(_write(tmp_path, "odd.SRT", text))
    assert rec.tracks == [] and "no-cues" in _codes(ctx)
