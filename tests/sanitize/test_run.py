"""The driver and the command: mirrored output tree, manifest, refusals, skips, failures, DNG, exit codes.

Inputs are the demo SD card (``synth.media``), synthetic DNGs from the reader tests' TIFF writer, and —
when the shared corpus is present — a real R-JPEG, an MP4 and flight logs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from droneaudit.cli_sanitize import sanitize
from droneaudit.errors import UsageError
from droneaudit.sanitize import Options, parse_profile
from droneaudit.sanitize import run as run_module
from droneaudit.sanitize import sanitize as run
from droneaudit.sanitize.common import Outcome, Removed
from droneaudit.synth.media import DEMO_SERIAL, build_demo_media
from readers.media.test_dng import dng
from readers.media.test_jpeg import exiftool_command, exiftool_json

from . import POSITION_CODES, SERIAL_CODE, codes, exiftool_leaks, inventory, sha256

ULOG = b"ULog\x01\x12\x35\x01" + bytes(8)


def card(tmp_path: Path) -> Path:
    root = tmp_path / "card"
    build_demo_media(root)
    (root / "flight.ulg").write_bytes(ULOG)
    (root / "notes.txt").write_text("pilot notes\n")
    (root / ".hidden.jpg").write_bytes(b"\xff\xd8")
    return root


def hashes(root: Path) -> dict[str, str]:
    return {str(p): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_mirrors_the_tree_and_writes_a_deterministic_manifest(tmp_path: Path) -> None:
    root = card(tmp_path)
    before = hashes(root)
    out = tmp_path / "clean"
    report = run([root], out, Options())
    assert hashes(root) == before and report.exit_code == 0
    by_name = {Path(f.input).name: f for f in report.files}
    assert ".hidden.jpg" not in by_name
    photo = by_name["DJI_20260314103112_0001_D.JPG"]
    assert photo.status == "cleaned" and photo.verified is True
    assert photo.output == str(out / "card" / "DCIM" / "100MEDIA" / "DJI_20260314103112_0001_D.JPG")
    assert photo.removed["EXIF ExifIFD:SerialNumber"] == 1 and "XMP drone-dji:GpsLatitude" in photo.removed
    assert by_name["DJI_20260314103112_0004_D.SRT"].status == "cleaned"
    assert by_name["flight.ulg"].status == "skipped" and "it is the record" in str(
        by_name["flight.ulg"].reason
    )
    assert by_name["notes.txt"].reason == "unsupported: text; not written"
    assert not (out / "card" / "flight.ulg").exists() and not (out / "card" / "notes.txt").exists()
    manifest = (out / "droneaudit-sanitize.json").read_text()
    assert json.loads(manifest)["summary"] == {"cleaned": 4, "failed": 0, "skipped": 2, "dropped": 0}
    for entry in json.loads(manifest)["files"]:
        if entry["output"]:
            assert sha256(Path(entry["output"])) == entry["output_sha256"]
        assert entry["input_sha256"] == before[entry["input"]]
    assert DEMO_SERIAL not in manifest  # field names only, never the removed values
    run([root], out, Options())
    assert (out / "droneaudit-sanitize.json").read_text() == manifest
    assert not [p for p in out.rglob(".*droneaudit-tmp")]


def test_outputs_pass_the_inventory(tmp_path: Path) -> None:
    out = tmp_path / "clean"
    run([card(tmp_path)], out, Options())
    for path in (out / "card").rglob("*.*"):
        found = codes(inventory(path))
        assert not found & (POSITION_CODES | {SERIAL_CODE}), path
        assert DEMO_SERIAL.encode() not in path.read_bytes()


def test_remove_all_drops_srt_and_coarsens_time(tmp_path: Path) -> None:
    report = run([card(tmp_path)], tmp_path / "clean", Options(parse_profile("all")))
    by_name = {Path(f.input).name: f for f in report.files}
    srt = by_name["DJI_20260314103112_0004_D.SRT"]
    assert srt.status == "dropped" and srt.output is None
    assert not list((tmp_path / "clean").rglob("*.SRT"))
    photo = by_name["DJI_20260314103112_0001_D.JPG"]
    assert "EXIF ExifIFD:OffsetTimeOriginal" in photo.removed and photo.status == "cleaned"
    assert "reveals-exact-time" not in codes(inventory(Path(str(photo.output))))


@pytest.mark.parametrize("where", ["same", "parent", "file", "inside-file"])
def test_refuses_to_write_over_or_inside_an_input(tmp_path: Path, where: str) -> None:
    root = card(tmp_path)
    photo = next(root.rglob("*.JPG"))
    before = hashes(tmp_path)
    paths: list[Path] = [root]
    out = root
    if where == "parent":
        out = root.parent  # out/card/... would be card/... itself
    elif where == "file":
        paths, out = [photo], photo
    elif where == "inside-file":
        paths, out = [photo], photo / "out"
    with pytest.raises(UsageError):
        run(paths, out, Options())
    assert hashes(tmp_path) == before


def test_refuses_an_output_that_is_an_input(tmp_path: Path) -> None:
    root = card(tmp_path)
    photo = next(root.rglob("*.JPG"))
    with pytest.raises(UsageError, match="is an input file"):
        run([photo], photo.parent, Options())  # out/NAME would be the photo itself
    twin = tmp_path / "other" / photo.name
    twin.parent.mkdir()
    shutil.copyfile(photo, twin)
    with pytest.raises(UsageError, match="would both be written"):
        run([photo, twin], tmp_path / "clean", Options())
    with pytest.raises(UsageError, match="manifest"):
        run([photo], tmp_path / "clean", Options(), manifest=photo)
    with pytest.raises(UsageError, match="no such file"):
        run([tmp_path / "missing.jpg"], tmp_path / "clean", Options())
    assert not (tmp_path / "clean").exists()


def test_out_inside_an_input_folder_skips_its_own_outputs(tmp_path: Path) -> None:
    root = card(tmp_path)
    run([root], root / "clean", Options())
    again = run([root], root / "clean", Options())
    assert not [f for f in again.files if "/clean/" in f.input]


def test_failed_verification_keeps_nothing_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cleaner that forgets the GPS: the re-read catches it, nothing is kept, the exit code is 1."""
    monkeypatch.setitem(run_module.CLEANERS, "jpeg", lambda data, opts: Outcome(data, "jpeg", Removed()))
    report = run([card(tmp_path)], tmp_path / "clean", Options())
    failed = [f for f in report.files if f.status == "failed"]
    assert len(failed) == 3 and report.exit_code == 1
    assert all("reveals-aircraft-position" in str(f.reason) and f.verified is False for f in failed)
    assert not list((tmp_path / "clean").rglob("*.JPG")) and not list((tmp_path / "clean").rglob(".*"))


def test_damaged_files_are_skipped_with_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00")
    (bad / "empty.SRT").write_bytes(b"")
    (bad / "bomb.srt.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(20))
    report = run([bad], tmp_path / "clean", Options())
    by_name = {Path(f.input).name: f for f in report.files}
    assert by_name["cut.jpg"].status == "skipped" and "damaged" in str(by_name["cut.jpg"].reason)
    assert not (tmp_path / "clean" / "in" / "cut.jpg").exists()
    assert by_name["bomb.srt.gz"].status == "skipped" and report.exit_code == 0


def test_corpus_log_is_skipped_and_video_cleaned(corpus: Path, tmp_path: Path) -> None:
    media = corpus / "drone-media"
    paths = [
        media / "drop" / "DJIFlightRecord_2016-09-15_[13-51-18].txt",
        media / "gpmf-parser" / "karma.mp4",
    ]
    paths = [p for p in paths if p.is_file()]
    if len(paths) < 2:
        pytest.skip("flight record or karma.mp4 not in the corpus")
    report = run(paths, tmp_path / "clean", Options())
    by_name = {Path(f.input).name: f for f in report.files}
    assert "it is the record" in str(by_name[paths[0].name].reason)
    assert by_name["karma.mp4"].status == "cleaned"
    written = sorted(p.name for p in (tmp_path / "clean").rglob("*") if p.is_file())
    assert written == ["droneaudit-sanitize.json", "karma.mp4"]


@pytest.mark.parametrize("order", ["<", ">"])
def test_dng_cleaned_in_place(tmp_path: Path, order: str) -> None:
    src = tmp_path / "DJI_0001.DNG"
    original = dng(order).data
    src.write_bytes(original)
    assert codes(inventory(src)) & POSITION_CODES and SERIAL_CODE in codes(inventory(src))
    report = run([src], tmp_path / "clean", Options(parse_profile("all")))
    result = report.files[0]
    assert (result.status, result.format) == ("cleaned", "dng"), result.reason
    out = Path(str(result.output))
    data = out.read_bytes()
    assert len(data) == len(original)
    for secret in (b"0K8TH5B0010AB1", b"1581F6Q8X23AB00C1234", b"22.6939917", b"114.9658667", b"15:12:19"):
        assert secret in original and secret not in data
    case = inventory(out)
    assert not codes(case) & (POSITION_CODES | {SERIAL_CODE, "reveals-exact-time"}) and case.problems == []
    assert case.media[0].captured_at == "2022:07:23 00:00:00"  # TIFF/EP's DateTimeOriginal kept, blank clock
    command = exiftool_command()
    if command is not None:
        et = exiftool_json(tuple(command), out)
        assert exiftool_leaks(et) == {} and et["IFD0:DNGVersion"] == "1 4 0 0"


# --- the command ----------------------------------------------------------------------------------


def app() -> typer.Typer:
    """The command registered the way cli.py registers it."""
    application = typer.Typer()
    application.command("sanitize")(sanitize)

    @application.callback()
    def _root() -> None:
        """droneaudit."""

    return application


def test_command_prints_an_escaped_table_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = card(Path("."))
    evil = next(root.rglob("*.JPG")).with_name("evil[red]\x1b[31m.JPG")
    next(root.rglob("*.JPG")).rename(evil)
    result = CliRunner().invoke(app(), ["sanitize", str(root), "--out", "o"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "evil[red]\\x1b[31m.JPG" in result.output
    assert (
        "EXIF GPS ×7" in result.output
        and "yes" in result.output
        and "droneaudit-sanitize.json" in result.output
    )


def test_command_exits_1_when_verification_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(run_module.CLEANERS, "srt", lambda data, opts: Outcome(data, "srt", Removed()))
    result = CliRunner().invoke(app(), ["sanitize", str(card(tmp_path)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "FAILED" in result.output


def test_command_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--out"):
        sanitize([tmp_path], out=None)
    with pytest.raises(UsageError, match="unknown profile"):
        sanitize([tmp_path], out=tmp_path / "o", remove="location,face")


def test_main_maps_usage_errors_to_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from droneaudit import cli

    if "sanitize" not in {c.name for c in cli.app.registered_commands}:
        pytest.skip("cli.py does not register `sanitize` yet (app.command('sanitize')(sanitize))")
    root = card(tmp_path)
    assert cli.main(["sanitize", str(root)]) == 2
    assert cli.main(["sanitize", str(root), "--out", str(root)]) == 2
    assert "Error:" in capsys.readouterr().err


def test_serial_inside_kept_thermal_data_fails_until_dropped(tmp_path: Path) -> None:
    """A value we remove from EXIF that also sits in a thermal block we keep: the file fails, with a hint."""
    from readers.media.test_jpeg import exif_segment, jpeg, segment
    from readers.media.test_tiff import photo_tiff

    src = tmp_path / "in" / "DJI_0001_R.JPG"
    src.parent.mkdir()
    thermal = segment(0xE3, bytes(64)) + segment(0xE4, b"\x00" * 0x65 + b"1SFOJ1T0AB0KRQ\x00\x00")
    src.write_bytes(jpeg(exif_segment(photo_tiff().data), thermal))
    kept = run([src], tmp_path / "keep", Options()).files[0]
    assert kept.status == "failed" and "APP4 segment; --drop-thermal removes it" in str(kept.reason)
    assert not (tmp_path / "keep" / src.name).exists()
    dropped = run([src], tmp_path / "drop", Options(drop_thermal=True)).files[0]
    assert dropped.status == "cleaned" and dropped.format == "jpeg"
