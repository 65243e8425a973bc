"""The demo's synthetic photos and SRT: ExifTool 13 (independent) reads back exactly what was written,
and so do our inventory readers."""

from __future__ import annotations

from pathlib import Path

import pytest

import droneaudit
from droneaudit.synth.media import DEMO_PHOTOS, DEMO_SERIAL, build_demo_media
from readers.media.test_jpeg import exiftool_command, exiftool_json


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_demo_media(tmp_path_factory.mktemp("card"))


def test_exiftool_reads_what_the_photos_carry(card: list[Path]) -> None:
    command = exiftool_command()
    if command is None:
        pytest.skip("ExifTool 13 not found: set DRONEAUDIT_EXIFTOOL")
    for photo, path in zip(DEMO_PHOTOS, card, strict=False):
        tags = exiftool_json(tuple(command), path)
        assert tags["File:ImageWidth"] == 8 and tags["File:ImageHeight"] == 8
        assert (
            abs(tags["GPS:GPSLatitude"] - photo.lat) < 1e-6
            and abs(tags["GPS:GPSLongitude"] - photo.lon) < 1e-6
        )
        assert tags["XMP-drone-dji:DroneSerialNumber"] == DEMO_SERIAL
        assert tags["ExifIFD:OffsetTimeOriginal"] == photo.offset


def test_inventory_finds_every_position_and_the_serial(card: list[Path]) -> None:
    case = droneaudit.scan(card)
    photos = {m.path: m for m in case.media if m.format == "jpeg"}
    for photo, path in zip(DEMO_PHOTOS, card, strict=False):
        item = photos[str(path)]
        assert item.lat is not None and abs(item.lat - photo.lat) < 1e-6
        assert item.serials.get("aircraft-serial") == DEMO_SERIAL
    srt_points = [t for t in case.tracks if t.file.endswith(".SRT")]
    assert len(srt_points) == 30
    assert case.verdict is None and not case.problems
