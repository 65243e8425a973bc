"""PX4 ULog reader against pyulog's own data and upstream's expected outputs.

Oracles: the corpus README (values read with pyulog 1.3.0), ``sample_log_small_messages.txt``
(upstream's expected ``ulog_messages`` output) and pyulog's raw arrays for the same file. The newer
topic layout (``latitude_deg``…, ``home_position``, ``vehicle_global_position``) has no real sample
here, so it is checked on a stand-in log object with the field names of PX4's message definitions.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from pyulog import ULog

from droneaudit.model import MediaRecords
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.logs.ulog import UlogReader, records

READER = UlogReader()


def _read(path: Path) -> tuple[MediaRecords, ScanContext]:
    problems = ProblemLog()
    interfaces = InterfaceRegistry()
    ctx = ScanContext(problems, interfaces, FlowBuilder(interfaces, problems))
    assert READER.read(path, path.name, ctx)[0] == "ulog"
    assert len(ctx.media) == 1
    return ctx.media[0], ctx


def _codes(ctx: ScanContext) -> set[str]:
    return {p.code for p in ctx.problems.records()}


@pytest.fixture(scope="module")
def sample(corpus: Path) -> Path:
    return corpus / "drone-media" / "pyulog" / "sample_log_small.ulg"


def test_gps_track_as_the_readme_says(sample: Path) -> None:
    """README: 32 fixes, the first at 63.4170622 N 10.4082151 E, time_utc_usec 1618986658600345."""
    rec, ctx = _read(sample)
    assert len(rec.tracks) == 32 and all(t.kind == "aircraft" for t in rec.tracks)
    first = rec.tracks[0]
    assert (first.lat, first.lon) == (63.4170622, 10.4082151)
    assert first.time_utc == "2021-04-21T06:30:58.600345Z" and first.time_basis == "utc"
    assert rec.item.captured_at_utc == first.time_utc
    assert _codes(ctx) == set()


def test_every_fix_matches_pyulogs_arrays(sample: Path) -> None:
    gps = ULog(str(sample), ["vehicle_gps_position"]).get_dataset("vehicle_gps_position").data
    rec, _ = _read(sample)
    assert [(t.lat, t.lon) for t in rec.tracks] == [
        (int(a) / 1e7, int(b) / 1e7) for a, b in zip(gps["lat"], gps["lon"], strict=True)
    ]
    assert [t.alt_m for t in rec.tracks] == [int(a) / 1000 for a in gps["alt"]]  # PX4: mm above MSL
    assert {t.alt_ref for t in rec.tracks} == {"msl"}


def test_identity_as_the_readme_says(sample: Path) -> None:
    """README: ver_hw CUBEPILOT_CUBEORANGE; sys_uuid 000600000000383638393239510d0035002d; MAV_SYS_ID 1."""
    rec, _ = _read(sample)
    found = {(i.kind, i.value) for i in rec.identities}
    assert {
        ("hardware-uuid", "000600000000383638393239510d0035002d"),
        ("hardware-model", "CUBEPILOT_CUBEORANGE"),
        ("autopilot", "PX4"),
        ("mavlink-system-id", "1"),
    } <= found
    assert next(v for k, v in found if k == "firmware-version").startswith("8583f1da")
    assert (rec.item.make, rec.item.model) == ("PX4", "CUBEPILOT_CUBEORANGE")
    assert rec.item.serials == {"hardware-uuid": "000600000000383638393239510d0035002d"}


def test_logged_messages_count_matches_upstream_output(sample: Path) -> None:
    expected = (sample.parent / "sample_log_small_messages.txt").read_text().strip().splitlines()
    rec, _ = _read(sample)
    assert rec.item.extra["logged_messages"] == str(len(expected)) == "3"


def test_sniff_by_magic(corpus: Path, tmp_path: Path) -> None:
    for path in sorted((corpus / "drone-media").glob("*/*")):
        score = READER.sniff(path.read_bytes()[:64], path)
        assert (score > 0) == (path.suffix == ".ulg"), path
    renamed = tmp_path / "log.bin"
    renamed.write_bytes((corpus / "drone-media" / "pyulog" / "sample_log_small.ulg").read_bytes()[:4096])
    assert READER.sniff(renamed.read_bytes()[:64], renamed) > 0


# --- damaged input ------------------------------------------------------------------------------------


def _scramble(data: bytes) -> bytes:
    return bytes(b ^ 0x5A for b in data)


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("empty", lambda d: b"", "unreadable-log"),
        ("wrong-format", lambda d: b"hello world" * 100, "unreadable-log"),
        ("junk-after-magic", lambda d: d[:7] + b"\xff" * 3000, "unreadable-log"),
        ("header-only", lambda d: d[:16], "truncated-file-header"),
        ("cut-in-definitions", lambda d: d[:5000], "truncated-record"),
        ("cut-in-data", lambda d: d[: len(d) // 2], "truncated-record"),
        (
            "scrambled-middle",
            lambda d: d[:100_000] + _scramble(d[100_000:200_000]) + d[200_000:],
            "corrupt-data",
        ),
    ],
)
def test_damaged_logs_become_problems(sample: Path, tmp_path: Path, name: str, make: Any, code: str) -> None:
    path = tmp_path / f"{name}.ulg"
    path.write_bytes(make(sample.read_bytes()))
    rec, ctx = _read(path)
    assert code in _codes(ctx)
    assert len(rec.tracks) <= 32


def test_cut_log_keeps_the_fixes_before_the_cut(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "half.ulg"
    path.write_bytes(sample.read_bytes()[: sample.stat().st_size // 2])
    rec, _ = _read(path)
    full, _ = _read(sample)
    assert 0 < len(rec.tracks) < 32 and rec.tracks == [
        t.__class__(**{**t.to_dict(), "file": "half.ulg"}) for t in full.tracks[: len(rec.tracks)]
    ]


# --- newer topic layout on a stand-in log ----------------------------------------------------------------


def _dataset(name: str, **fields: Any) -> SimpleNamespace:
    return SimpleNamespace(name=name, multi_id=0, data={k: np.asarray(v) for k, v in fields.items()})


def test_global_position_home_and_new_gps_fields() -> None:
    """PX4 >= 1.14 ``sensor_gps`` uses latitude_deg/altitude_msl_m; other topics get UTC by GPS offset."""
    log = SimpleNamespace(
        data_list=[
            _dataset(
                "sensor_gps",
                timestamp=np.array([1_000_000, 2_000_000], dtype=np.uint64),
                latitude_deg=[47.3977, 47.3978],
                longitude_deg=[8.5456, 8.5457],
                altitude_msl_m=[488.0, 489.0],
                fix_type=np.array([3, 1], dtype=np.uint8),
                time_utc_usec=np.array([1_700_000_000_000_000, 0], dtype=np.uint64),
            ),
            _dataset("home_position", timestamp=[1_500_000], lat=[47.3977], lon=[8.5456], alt=[488.1]),
            _dataset("vehicle_global_position", timestamp=[1_200_000], lat=[0.0], lon=[0.0], alt=[0.0]),
        ],
        msg_info_dict={"sys_uuid": "0035002B3434511732343031", "sys_name": "PX4"},
        initial_parameters={},
        logged_messages=[],
        dropouts=[],
    )
    rec = records(log, "sitl.ulg", "0" * 64, ProblemLog())
    aircraft = [t for t in rec.tracks if t.kind == "aircraft"]
    assert [(t.lat, t.alt_m, t.alt_ref, t.time_utc) for t in aircraft] == [
        (47.3977, 488.0, "msl", "2023-11-14T22:13:20.000000Z")  # sample 2 has no fix; 0,0 is not a place
    ]
    (home,) = [t for t in rec.tracks if t.kind == "home"]
    assert (home.lat, home.lon, home.alt_m) == (47.3977, 8.5456, 488.1)
    assert (home.time_utc, home.time_basis) == ("2023-11-14T22:13:20.500000Z", "offset")
