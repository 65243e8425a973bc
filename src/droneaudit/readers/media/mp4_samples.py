"""Tracks and their sample tables: where each timed-metadata sample lies in the file, and when it plays.

Why this exists: metadata samples (GPMF, DJI protobuf, subtitles) sit inside ``mdat`` between video
frames. Reading ``mdat`` to find them would mean reading gigabytes; the sample tables say exactly where
each one is: ``stco``/``co64`` give chunk offsets, ``stsc`` how many samples each chunk holds, ``stsz``
their sizes and ``stts`` their durations. Every count in those tables is checked against the bytes the
box really holds, so a table that claims 2^32 entries costs nothing, and the sample loop ends after the
``stsz`` count whatever ``stsc`` says.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from droneaudit.readers.media.mp4_boxes import Box, Note, Source, Walker, four_cc, full_box

#: Largest size/offset table we load (a one-hour, 30 fps metadata track needs about 450 KB); kept as
#: packed arrays, so memory is the table's own size.
MAX_TABLE_BYTES = 32 << 20
#: Largest run table (stsc, stts) we load; these compress runs and are small in real files.
MAX_RUN_TABLE_BYTES = 4 << 20
#: Largest single metadata sample we read (GPMF payloads are about 8 KB, djmd about 1 KB).
MAX_SAMPLE_BYTES = 16 << 20
#: Bytes of metadata samples read per track, and per file.
MAX_TRACK_BYTES = 256 << 20
MAX_FILE_BYTES = 1 << 30
#: Samples read per track (an hour of per-frame djmd at 30 fps is 108,000).
MAX_TRACK_SAMPLES = 2_000_000
#: Out-of-bounds or oversized samples tolerated per track before giving up on it.
MAX_BAD_SAMPLES = 1000


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of a track: 1-based index, absolute offset, size, start time in seconds."""

    index: int
    offset: int
    size: int
    time_s: float | None


@dataclass(slots=True)
class Track:
    """What the headers of one ``trak`` say (no sample data)."""

    track_id: int | None = None
    handler: str = ""  #: hdlr handler type: vide, soun, meta, text, sbtl, subt, tmcd, …
    handler_name: str = ""  #: hdlr name, e.g. "GoPro MET", "DJI meta"
    sample_format: str = ""  #: first stsd entry's format: avc1, gpmd, djmd, dbgi, tx3g, fdsc, …
    timescale: int = 0
    duration_s: float | None = None
    chunk_offsets: array[int] = field(default_factory=lambda: array("Q"))
    chunk_runs: list[tuple[int, int]] = field(default_factory=list)  #: (first chunk, samples per chunk)
    sizes: array[int] = field(default_factory=lambda: array("I"))
    uniform_size: int = 0
    sample_count: int = 0
    time_runs: list[tuple[int, int]] = field(default_factory=list)  #: stts (count, delta)
    offset: int = 0  #: where the trak box starts, for problems

    @property
    def label(self) -> str:
        """e.g. ``4:meta/gpmd "GoPro MET"``."""
        name = f' "{self.handler_name}"' if self.handler_name else ""
        return (
            f"{self.track_id if self.track_id is not None else '?'}:{self.handler}/{self.sample_format}{name}"
        )


#: Handlers whose sample tables are never needed (their samples are pixels and sound).
MEDIA_HANDLERS = frozenset({"vide", "soun", "hint", "auxv"})


def read_track(src: Source, walker: Walker, trak: Box, note: Note) -> Track:
    """Header facts of one track, plus its sample tables unless it is a video or audio track."""
    track = Track(offset=trak.offset)
    for box in walker.children(trak.start, trak.end, 2):
        if box.type == "tkhd":
            track.track_id = _tkhd_id(src.payload(box, 32))
        elif box.type == "mdia":
            _read_mdia(src, walker, box, track, note)
    return track


def _read_mdia(src: Source, walker: Walker, mdia: Box, track: Track, note: Note) -> None:
    """mdhd, hdlr, then minf/stbl (hdlr comes first, so the handler is known when the tables are)."""
    stbl: Box | None = None
    for box in walker.children(mdia.start, mdia.end, 3):
        if box.type == "mdhd":
            track.timescale, track.duration_s = _mdhd(src.payload(box, 64))
        elif box.type == "hdlr":
            track.handler, track.handler_name = hdlr(src.payload(box, 512))
        elif box.type == "minf":
            stbl = next((b for b in walker.children(box.start, box.end, 4) if b.type == "stbl"), None)
    if stbl is None:
        return
    for box in walker.children(stbl.start, stbl.end, 5):
        if box.type == "stsd":
            track.sample_format = four_cc(src.payload(box, 16), 12)
        elif box.type in _TABLES and track.handler not in MEDIA_HANDLERS:
            _TABLES[box.type](src, box, track, note)


def _tkhd_id(payload: bytes) -> int | None:
    """Track id: after two 32-bit times (version 0) or two 64-bit times (version 1)."""
    version, rest = full_box(payload)
    at = 16 if version == 1 else 8
    return int.from_bytes(rest[at : at + 4], "big") if len(rest) >= at + 4 else None


def _mdhd(payload: bytes) -> tuple[int, float | None]:
    """(timescale, duration in seconds); version 1 uses 64-bit times."""
    version, rest = full_box(payload)
    fmt, at = (">IQ", 16) if version == 1 else (">II", 8)
    if len(rest) < at + struct.calcsize(fmt):
        return 0, None
    scale, duration = struct.unpack_from(fmt, rest, at)
    return scale, (duration / scale if scale else None)


def hdlr(payload: bytes) -> tuple[str, str]:
    """(handler type, name). The name is a C string in ISO files and a Pascal string in QuickTime."""
    _version, rest = full_box(payload)
    kind = four_cc(rest, 4)
    raw = rest[20:]
    if raw and (raw[0] == len(raw) - 1 or 0 < raw[0] < min(len(raw), 0x20)):
        raw = raw[1 : 1 + raw[0]]
    name = raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
    return kind, name


def _table(src: Source, box: Box, track: Track, note: Note, entry: int, skip: int) -> tuple[int, bytes]:
    """(entry count, entry bytes) of a FullBox table, the count cut to what the box really holds."""
    limit = MAX_RUN_TABLE_BYTES if box.type in ("stsc", "stts") else MAX_TABLE_BYTES
    if box.payload_size > limit:
        note(
            "mp4-table-too-large",
            f"{box.type} of track {track.label} is {box.payload_size} bytes",
            box.offset,
        )
        return 0, b""
    _version, rest = full_box(src.payload(box, limit))
    if len(rest) < skip + 4:
        note("mp4-bad-sample-table", f"{box.type} of track {track.label} is too short", box.offset)
        return 0, b""
    count = int.from_bytes(rest[skip : skip + 4], "big")
    body = rest[skip + 4 :]
    if count * entry > len(body):
        detail = f"{box.type} of track {track.label} claims {count} entries; it holds {len(body) // entry}"
        note("mp4-bad-sample-table", detail, box.offset)
        count = len(body) // entry
    return count, body[: count * entry]


def _stco(src: Source, box: Box, track: Track, note: Note) -> None:
    """Chunk offsets: 32-bit (stco) or 64-bit (co64, files over 4 GB)."""
    wide = box.type == "co64"
    _count, body = _table(src, box, track, note, 8 if wide else 4, 0)
    track.chunk_offsets = big_endian_array("Q" if wide else "I", body)


def _stsc(src: Source, box: Box, track: Track, note: Note) -> None:
    """Runs of (first chunk, samples per chunk); the sample-description index is not needed."""
    count, body = _table(src, box, track, note, 12, 0)
    triples = struct.unpack(f">{count * 3}I", body)
    track.chunk_runs = [(triples[i], triples[i + 1]) for i in range(0, len(triples), 3)]


def _stsz(src: Source, box: Box, track: Track, note: Note) -> None:
    """Sample sizes, or one size for all; a uniform size is checked against what the file can hold."""
    _version, rest = full_box(src.payload(box, 12))
    if len(rest) < 8:
        note("mp4-bad-sample-table", f"stsz of track {track.label} is too short", box.offset)
        return
    uniform, claimed = struct.unpack(">II", rest[:8])
    if uniform:
        fits = src.size // uniform
        if claimed > fits:
            detail = f"stsz of track {track.label} claims {claimed} samples of {uniform} bytes; {fits} fit"
            note("mp4-bad-sample-table", detail, box.offset)
        track.uniform_size, track.sample_count = uniform, min(claimed, fits)
        return
    count, body = _table(src, box, track, note, 4, 4)
    track.sizes = big_endian_array("I", body)
    track.sample_count = count


def _stts(src: Source, box: Box, track: Track, note: Note) -> None:
    """Runs of (sample count, duration), for sample times in TrackPoint.source."""
    count, body = _table(src, box, track, note, 8, 0)
    pairs = struct.unpack(f">{count * 2}I", body)
    track.time_runs = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]


_TABLES = {"stco": _stco, "co64": _stco, "stsc": _stsc, "stsz": _stsz, "stts": _stts}


def big_endian_array(code: str, data: bytes) -> array[int]:
    """Packed unsigned integers (4 or 8 bytes each) from big-endian bytes."""
    width = 8 if code == "Q" else 4
    values = array(code)
    if values.itemsize != width:  # a platform with other C int sizes: unpack one by one
        return array("Q", struct.unpack(f">{len(data) // width}{code}", data))
    values.frombytes(data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def samples(track: Track) -> Iterator[Sample]:
    """Every sample in file order: chunk by chunk, as many per chunk as ``stsc`` says, ending at the
    ``stsz`` count (so a lying ``stsc`` cannot make this loop run longer than the size table)."""
    times = _times(track)
    index = 0
    runs = track.chunk_runs
    run = 0
    for chunk, base in enumerate(track.chunk_offsets, start=1):
        while run + 1 < len(runs) and runs[run + 1][0] <= chunk:
            run += 1
        per_chunk = runs[run][1] if runs and runs[run][0] <= chunk else 0
        offset = base
        for _ in range(min(per_chunk, track.sample_count - index)):
            size = track.sizes[index] if track.sizes else track.uniform_size
            index += 1
            yield Sample(index, offset, size, next(times, None))
            offset += size
        if index >= track.sample_count:
            return


def _times(track: Track) -> Iterator[float]:
    """Start time in seconds of each sample, from the ``stts`` runs (bounded by the sample count)."""
    if not track.timescale:
        return
    ticks = 0
    left = track.sample_count
    for count, delta in track.time_runs:
        for _ in range(min(count, left)):
            yield ticks / track.timescale
            ticks += delta
        left -= min(count, left)
        if left <= 0:
            return


class ReadBudget:
    """Bytes of metadata samples one file may cost, shared by its tracks (many tracks can point at the
    same bytes, so a per-track limit alone would not bound a hostile file)."""

    def __init__(self, left: int | None = None) -> None:
        self.left = MAX_FILE_BYTES if left is None else left


def sample_data(src: Source, track: Track, note: Note, budget: ReadBudget) -> Iterator[tuple[Sample, bytes]]:
    """The bytes of each sample. Samples outside the file or implausibly large are skipped with a
    problem; the track stops after ``MAX_TRACK_SAMPLES`` samples, ``MAX_TRACK_BYTES`` bytes, too many
    bad samples, or when the file's budget runs out."""
    track_left, bad = MAX_TRACK_BYTES, 0
    for sample in samples(track):
        if sample.index > MAX_TRACK_SAMPLES or bad > MAX_BAD_SAMPLES:
            note("mp4-track-limit", f"track {track.label}: stopped at sample {sample.index}", sample.offset)
            return
        skip = _skip_reason(src, sample)
        if skip is not None:
            bad += 1
            note(
                skip,
                f"sample {sample.index} of track {track.label}: {skip[4:].replace('-', ' ')}",
                sample.offset,
            )
            continue
        track_left -= sample.size
        budget.left -= sample.size
        if track_left < 0 or budget.left < 0:
            note(
                "mp4-track-limit",
                f"track {track.label}: read limit reached at sample {sample.index}",
                sample.offset,
            )
            return
        yield sample, src.read_at(sample.offset, sample.size)


def _skip_reason(src: Source, sample: Sample) -> str | None:
    """Why a sample cannot be read (a problem code), or None."""
    if sample.offset + sample.size > src.size:
        return "mp4-sample-out-of-bounds"
    if sample.size > MAX_SAMPLE_BYTES:
        return "mp4-sample-too-large"
    return None
