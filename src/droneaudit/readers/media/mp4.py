"""MP4 / MOV inventory: what a drone or action-camera video reveals, from its headers and timed metadata.

Why headers only: location and identity live in ``moov`` (movie header, user data, track handlers)
and in small timed-metadata samples (GoPro GPMF, DJI djmd protobuf, subtitle text) that the sample
tables point at. Video and audio samples are never read; ``mdat`` is stepped over by its size.

Walk: top-level boxes (``mp4_boxes``), then ``moov``: ``mvhd`` creation time, ``udta`` user data and
each ``trak`` (``mp4_samples``). Metadata tracks are dispatched on their sample format:

==========================  =================================================================
``gpmd``                    GoPro GPMF (``gpmf``): GPS5/GPS9 fixes, Karma GPRI/GLPI + BPOS operator
``djmd``                    DJI protobuf (``djmd``): GPS, altitudes, GPSDateTime, serial, model
``dbgi``                    DJI debug protobuf: schema name and size only
``fdsc``                    GoPro SOS block: firmware, camera serial, attached device serial
``tx3g``/``text``, or an    subtitle text; DJI SRT-style cues go through the SRT reader's
``sbtl``/``text``/``subt``  parser (``srt.parse``), so embedded and sidecar SRTs read alike
handler
==========================  =================================================================

A file whose ``moov`` is missing (a recording cut off before the camera wrote its index) still gets a
record, with an ``mp4-no-moov`` problem: its metadata samples cannot be located without the index.
"""

from __future__ import annotations

import os
from pathlib import Path

from droneaudit.readers._api import ScanContext
from droneaudit.readers.media import djmd, gpmf, mp4_meta
from droneaudit.readers.media.mp4_boxes import TOP_LEVEL_TYPES, Box, Note, Source, Walker, meta_children_start
from droneaudit.readers.media.mp4_records import Movie, build
from droneaudit.readers.media.mp4_samples import ReadBudget, Track, read_track, sample_data
from droneaudit.readers.source import sha256_file

#: ftyp brands of still images and raw photos (HEIF, AVIF, Canon CR3): ISO-BMFF, but not videos.
IMAGE_BRANDS = frozenset({"heic", "heix", "heim", "heis", "mif1", "msf1", "avif", "avis", "crx "})
SUBTITLE_HANDLERS = frozenset({"sbtl", "text", "subt"})
SUBTITLE_FORMATS = frozenset({"tx3g", "text"})


class Mp4Reader:
    """Inventory reader for ISO-BMFF / QuickTime videos (MP4, MOV, LRF proxies)."""

    name = "mp4"

    def sniff(self, head: bytes, path: Path) -> float:
        """0.9 for an ``ftyp`` video brand, 0.7 for a QuickTime movie without ``ftyp``, 0.2 for image
        brands (HEIF/AVIF/CR3: ISO-BMFF we can walk, but a dedicated reader should win)."""
        if len(head) < 8 or head[4:8].decode("latin-1") not in TOP_LEVEL_TYPES:
            return -1.0
        size = int.from_bytes(head[:4], "big")
        if size not in (0, 1) and size < 8:
            return -1.0
        if head[4:8] != b"ftyp":
            return 0.7
        return 0.2 if head[8:12].decode("latin-1") in IMAGE_BRANDS else 0.9

    def read(self, path: Path, display: str, ctx: ScanContext) -> tuple[str, str]:
        """Append one MediaRecords to ``ctx.media``; return ("mp4" | "mov", sha256)."""

        def note(code: str, detail: str, offset: int) -> None:
            ctx.problems.add(display, code, detail, offset=offset)

        movie = Movie()
        try:
            with path.open("rb") as f:
                src = Source(f, os.fstat(f.fileno()).st_size)
                inspect(src, movie, note)
        except OSError as exc:
            ctx.problems.add(display, "read-error", f"could not read the file ({exc.strerror or exc})")
        digest = sha256_file(path)
        ctx.media.append(build(movie, display, digest, ctx.problems))
        return movie.format, digest


def inspect(src: Source, movie: Movie, note: Note) -> None:
    """Walk the top level and ``moov``; fill ``movie``."""
    walker = Walker(src, note)
    moov: Box | None = None
    for box in walker.children(0, src.size, 0):
        if box.type == "ftyp":
            _ftyp(src.payload(box, 256), movie)
        elif box.type == "moov" and moov is None:
            moov = box
        elif box.type == "moof":
            movie.fragmented = True
        elif box.type == "mdat":
            movie.mdat_bytes += box.payload_size
    if moov is None:
        detail = "no moov box: the index was never written (cut recording?) so metadata cannot be located"
        note("mp4-no-moov", detail, 0)
        return
    _moov(src, walker, moov, movie, note)


def _ftyp(payload: bytes, movie: Movie) -> None:
    """Major and compatible brands; brand ``qt`` marks a QuickTime movie."""
    movie.brand = payload[:4].decode("latin-1").strip() or None
    brands = [payload[i : i + 4].decode("latin-1") for i in range(8, len(payload) - 3, 4)]
    movie.compatible = [b.strip() for b in brands if b.strip()]
    if movie.brand == "qt":
        movie.format = "mov"


def _moov(src: Source, walker: Walker, moov: Box, movie: Movie, note: Note) -> None:
    """Movie header, user data and tracks; a file without ftyp is a QuickTime movie."""
    budget = ReadBudget()
    if not movie.brand:
        movie.format = "mov"
    for box in walker.children(moov.start, moov.end, 1):
        if box.type == "mvhd":
            movie.created, movie.duration_s = mp4_meta.mvhd_created(src.payload(box, 128))
        elif box.type == "udta":
            _udta(src, walker, box, movie, note)
        elif box.type == "trak":
            track = read_track(src, walker, box, note)
            movie.tracks.append(track)
            _track_samples(src, track, movie, note, budget)


def _udta(src: Source, walker: Walker, udta: Box, movie: Movie, note: Note) -> None:
    """User-data atoms (and, one level down, those inside a QuickTime/ISO ``meta``)."""
    for box in walker.children(udta.start, udta.end, 2):
        if box.type == "meta":
            start = meta_children_start(src, box)
            for inner in walker.children(start, box.end, 3):
                mp4_meta.udta_atom(inner.type, src.payload(inner, 4096), movie.udta)
        elif box.type == "GPMF":
            gpmf.parse_payload(src.payload(box, 1 << 20), 0, movie.settings, note, base=box.start)
        else:
            mp4_meta.udta_atom(box.type, src.payload(box, 1 << 16), movie.udta)


def _track_samples(src: Source, track: Track, movie: Movie, note: Note, budget: ReadBudget) -> None:
    """Decode the samples of a metadata track by its sample format."""
    fmt = track.sample_format
    items = sample_data(src, track, note, budget)
    if fmt == "gpmd":
        for sample, data in items:
            gpmf.parse_payload(data, sample.index, movie.telemetry, note, base=sample.offset)
        gpmf.finish(movie.telemetry)
    elif fmt == "djmd":
        for sample, data in items:
            djmd.decode_sample(data, sample.index, sample.time_s, movie.djmd)
    elif fmt == "dbgi":
        first = next(items, None)  # only the schema name; the sizes come from the sample table
        movie.dbgi_schema = movie.dbgi_schema or (djmd.schema(first[1]) if first else None)
        movie.dbgi_samples += track.sample_count
        movie.dbgi_bytes += sum(track.sizes) if track.sizes else track.uniform_size * track.sample_count
    elif fmt == "fdsc":
        first = next(items, None)
        movie.fdsc = mp4_meta.parse_fdsc(first[1]) if first else None
    elif track.handler in SUBTITLE_HANDLERS or fmt in SUBTITLE_FORMATS:
        for sample, data in items:
            movie.subtitles.setdefault(track.label, []).append(
                (sample.time_s, mp4_meta.subtitle_text(data, fmt))
            )
