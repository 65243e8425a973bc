"""Every capture in the shared corpus is read without an exception and with the right number of frames.

The corpus mixes normal traces with deliberately hostile files (tcpdump's crash reproducers, a
suricata-verify file whose last record claims 16 MB, pcapng sections of mixed endianness). The reader
promises to turn every problem into a record, never an exception. Expected counts come from:

* hadrielk/pcapng-test-generator's ``.txt`` descriptions for its files (packet blocks EPB/SPB/PB and
  IDBs). tshark is not used there: tshark 4.0 shows pcapng custom blocks (CB/DCB) as frames;
* tshark for everything else. Where tshark stops on a damaged file, we must read at least as many
  frames and report a problem with a code and a byte offset.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

import droneaudit
from oracles import corpus_hint, find_corpus, read_generator_description
from oracles.tshark import capinfos_summary, tshark_frame_count

#: Corpus folders holding captures (drone-media and geo hold other kinds of evidence).
CAPTURE_FOLDERS = ("pcap-formats", "tcpdump", "suricata-verify", "drone", "zeek/traces")
_NOT_CAPTURES_SUFFIXES = (".txt", ".md", ".yaml", ".json")
_NOT_CAPTURES_PREFIXES = ("LICENSE", "README", "SHA256SUMS")

#: capinfos file-type names -> droneaudit's InputFile.format (before any ".gz").
_FORMATS = {"pcap": "pcap", "nsecpcap": "pcap", "pcapng": "pcapng"}
_GZIP_MAGIC = b"\x1f\x8b"

#: Damaged files on which tshark's count is itself wrong: relative path -> (frames a correct reader gets
#: at least, why). Each entry is pinned by a test in tests/oracles/test_oracles.py.
TSHARK_MISCOUNTS: dict[str, tuple[int, str]] = {
    "suricata-verify/bug-6875-01/fuzz.pcap": (
        1,
        "record 1 (offset 24) is a valid 188-byte Ethernet/IPv4 frame; record 2 (offset 228) claims "
        "1409179648 captured bytes, beyond the 262144 limit of libpcap and Wireshark. tshark 4.0 "
        "guesses a non-standard pcap variant instead, decodes frame 1 shifted by 6 bytes and "
        "invents a 1-byte frame 2 with a negative timestamp",
    ),
}

CORPUS = find_corpus()

pytestmark = pytest.mark.corpus


def capture_files(corpus: Path) -> list[Path]:
    """Every file below the capture folders, minus descriptions, licences and checksums."""
    files = []
    for folder in CAPTURE_FOLDERS:
        for path in sorted((corpus / folder).rglob("*")):
            if not path.is_file() or path.suffix in _NOT_CAPTURES_SUFFIXES:
                continue
            if path.name.startswith(_NOT_CAPTURES_PREFIXES):
                continue
            files.append(path)
    return files


def _params(kind: str) -> list[object]:
    """Files of one kind: "all", "generator" (answer key in a .txt) or "other" (tshark is the oracle)."""
    if CORPUS is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=corpus_hint()), id="no-corpus")]
    files = capture_files(CORPUS)
    if kind != "all":
        files = [
            path for path in files if (_generator_description(path) is not None) == (kind == "generator")
        ]
    return [pytest.param(path, id=_relative(path)) for path in files]


def _generator_description(path: Path) -> Path | None:
    """The answer key beside a pcapng-test-generator file, if this is one."""
    txt = path.with_suffix(".txt")
    return txt if "pcapng-test-generator" in path.parts and txt.is_file() else None


@cache
def _scan(path: Path) -> Any:
    """Scan once per file for all the checks below; an exception here is itself the failure."""
    return droneaudit.scan([str(path)])


def _relative(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix() if CORPUS else path.as_posix()


def _same_file(reported: str, path: Path) -> bool:
    return Path(reported).resolve() == path.resolve()


def test_corpus_has_captures(corpus: Path) -> None:
    """Guards the parametrization: an empty file list would make every test below vanish silently."""
    files = capture_files(corpus)
    generated = [path for path in files if _generator_description(path)]
    assert len(files) >= 100, f"only {len(files)} captures found under {corpus}"
    assert len(generated) == 48, "24 pcapng-test-generator files per endianness"
    assert not [path for path in files if path.suffix in _NOT_CAPTURES_SUFFIXES]


@pytest.mark.parametrize("path", _params("all"))
def test_scan_reads_every_file_without_raising(path: Path) -> None:
    case = _scan(path)
    assert len(case.inputs) == 1
    (read,) = case.inputs
    assert _same_file(read.path, path)
    assert read.size == path.stat().st_size
    assert case.stats.frames == read.packets, "stats.frames and InputFile.packets both count records read"


@pytest.mark.parametrize("path", _params("generator"))
def test_packet_blocks_and_interfaces_match_generator_description(path: Path) -> None:
    """The generator wrote down every block it put in the file; EPB/SPB/PB are the packets."""
    description_file = _generator_description(path)
    assert description_file is not None
    expected = read_generator_description(description_file)
    case = _scan(path)
    interfaces = [interface for interface in case.interfaces if _same_file(interface.file, path)]
    summary = f"{expected.description}: {', '.join(expected.block_sequence)}"
    assert case.inputs[0].packets == expected.packets, summary
    assert len(interfaces) == expected.interfaces, summary


@pytest.mark.parametrize("path", _params("other"))
def test_frame_count_matches_tshark(path: Path, tshark: str) -> None:
    """Clean files: exactly tshark's count. Damaged ones: at least as many, plus a located problem."""
    expected = tshark_frame_count(path)
    case = _scan(path)
    packets = case.inputs[0].packets
    if expected.clean:
        assert packets == expected.frames
        return
    minimum, why = TSHARK_MISCOUNTS.get(_relative(path), (expected.frames, "tshark's count"))
    assert packets >= minimum, f"{why}; tshark read {expected.frames} frames, then: {expected.error}"
    located = [
        problem
        for problem in case.problems
        if _same_file(problem.file, path) and problem.code and problem.offset is not None
    ]
    assert located, f"tshark reports {expected.error!r}; we report {case.problems}"


@pytest.mark.parametrize("path", _params("all"))
def test_format_matches_capinfos(path: Path, tshark: str) -> None:
    """capinfos names the container (pcap, nanosecond pcap, pcapng); a gzip wrapper adds ".gz"."""
    summary = capinfos_summary(path)
    if summary.file_type is None:
        pytest.skip(f"capinfos cannot read it: {summary.error}")
    assert summary.file_type in _FORMATS, f"no droneaudit format for capinfos type {summary.file_type}"
    gzipped = path.read_bytes()[:2] == _GZIP_MAGIC
    expected = _FORMATS[summary.file_type] + (".gz" if gzipped else "")
    assert _scan(path).inputs[0].format == expected
