"""Rebuild an MP4/MOV ``moov`` box without its telemetry tracks and location/identity user data.

Why rebuild ``moov`` in memory: it is small (headers and sample tables, a few MB even for an hour of
video) while ``mdat`` can be gigabytes; ``mp4.py`` streams everything else. The box tree is walked with
the inventory reader's bounded walker (``mp4_boxes``), and any problem it reports — a lying size, a cut
header, a table that runs past its box — aborts the clean (``Damaged``): a rewrite is only safe when the
structure is exact.

What goes (whatever the profile, because every one of these carries location, identity *and* time):

* every ``trak`` whose handler is not video (``vide``/``auxv``), sound, hint or timecode, or whose
  sample format is a known telemetry format (GoPro ``gpmd``/``fdsc``, DJI ``djmd``/``dbgi``, subtitles
  ``tx3g``/``text``, Google ``camm``, Apple ``mebx``). Its samples are listed (``zero``) so ``mp4.py``
  can zero them in ``mdat``: dropping the ``trak`` alone would leave every fix in the file;
* ``moov``-level ``meta`` and ``uuid`` boxes (QuickTime keys such as ``…location.ISO6709``, XMP);
* ``udta`` atoms we cannot vouch for (GoPro ``GPMF`` with the camera serial, ``AMBA``, DJI ``©dji``-style
  atoms); ``©xyz`` under ``location``, ``CAME``/``LENS``/``MUID``/``GUMI`` under ``identity``, ``©day``
  under ``time``. Make, model, software and firmware stay: they name a product, not a unit.

Under ``time`` the creation and modification times in ``mvhd``/``tkhd``/``mdhd`` are cut to the day (the
fields keep their size). Free-space boxes are kept but zeroed.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

from droneaudit.readers.media.mp4_boxes import Box, Source, Walker
from droneaudit.readers.media.mp4_samples import MEDIA_HANDLERS, Track, read_track, samples
from droneaudit.sanitize.common import IDENTITY, LOCATION, TIME, Damaged, Options, Removed, Unsupported

KEEP_HANDLERS = frozenset({"vide", "soun", "tmcd", "hint", "auxv"})
TELEMETRY_FORMATS = frozenset({"gpmd", "fdsc", "djmd", "dbgi", "tx3g", "text", "wvtt", "camm", "mebx"})
PADDING = frozenset({"free", "skip", "wide"})
#: udta atoms that name a product or hold harmless settings (GoPro HiLight marks): always kept.
UDTA_KEEP = frozenset({"©mak", "©mod", "©mdl", "©swr", "©too", "©enc", "FIRM", "HMMT"})
#: udta atoms kept unless their profile is removed; any atom in neither table is dropped.
UDTA_PROFILE = {"©xyz": LOCATION, "©day": TIME, "CAME": IDENTITY, "LENS": IDENTITY, "MUID": IDENTITY,
                "GUMI": IDENTITY}  # fmt: skip
TIMED_HEADERS = frozenset({"mvhd", "tkhd", "mdhd"})
DAY = 86400
#: Bytes of a removed box remembered for the byte search in verification.
SECRET_BYTES = 4096


def _raise(code: str, detail: str, offset: int) -> None:
    """Walker callback: any structural doubt stops the clean before a byte is written."""
    raise Damaged(f"{code} at moov+{offset}: {detail}")


def make_box(kind: str, body: bytes) -> bytes:
    """A box with a 32-bit size, or a 64-bit one when the body needs it."""
    code = kind.encode("latin-1")
    if len(body) + 8 <= 0xFFFFFFFF:
        return struct.pack(">I", len(body) + 8) + code + body
    return struct.pack(">I", 1) + code + struct.pack(">Q", len(body) + 16) + body


class MoovRewriter:
    """One ``moov`` (its raw bytes, header included) → the cleaned box plus the samples to zero."""

    def __init__(self, raw: bytes, opts: Options, removed: Removed) -> None:
        self.raw = raw
        self.src = Source(io.BytesIO(raw), len(raw))
        self.walker = Walker(self.src, _raise)
        self.opts = opts
        self.removed = removed
        self.zero: list[tuple[int, int]] = []  #: absolute (offset, size) of every dropped sample

    def rebuild(self) -> bytes:
        """The cleaned ``moov`` box (never longer than the original)."""
        top = self.walker.children(0, len(self.raw), 0)
        if len(top) != 1 or top[0].type != "moov" or top[0].end != len(self.raw):
            raise Damaged("moov box does not parse as one box")
        handlers: dict[str, Callable[[Box], bytes]] = {
            "mvhd": self._timed,
            "iods": self._copy,
            "trak": self._trak,
            "udta": self._udta,
        }
        parts = []
        for child in self.walker.children(top[0].start, top[0].end, 1):
            if child.type == "mvex":
                raise Unsupported("fragmented MP4 (mvex): telemetry in movie fragments is not cleaned yet")
            if child.type in PADDING:
                parts.append(self._zeroed(child))
            elif child.type in handlers:
                parts.append(handlers[child.type](child))
            else:
                self._drop(f"moov {child.type}", child)
        return make_box("moov", b"".join(parts))

    def _copy(self, box: Box) -> bytes:
        return self.raw[box.offset : box.end]

    def _zeroed(self, box: Box) -> bytes:
        """Free space keeps its size and type, loses its content (it may hold an older header)."""
        return self.raw[box.offset : box.start] + bytes(box.payload_size)

    def _drop(self, name: str, box: Box) -> None:
        """Count a removed box and remember its bytes for the leftover search."""
        self.removed.add(name)
        payload = self.raw[box.start : box.start + min(box.payload_size, SECRET_BYTES)]
        self.removed.remember(payload)
        if box.type.startswith("©"):
            self.removed.remember(payload[4:])  # the text of a QuickTime text atom

    def _timed(self, box: Box) -> bytes:
        """mvhd/tkhd/mdhd with creation and modification times cut to the day under ``time``."""
        blob = bytearray(self._copy(box))
        if not self.opts.removes(TIME):
            return bytes(blob)
        at = box.header
        fmt = ">QQ" if blob[at : at + 1] == b"\x01" else ">II"
        if at + 4 + struct.calcsize(fmt) > len(blob):
            raise Damaged(f"{box.type} at moov+{box.offset} is too short")
        times = struct.unpack_from(fmt, blob, at + 4)
        struct.pack_into(fmt, blob, at + 4, *(t - t % DAY for t in times))
        self.removed.add(f"{box.type} creation/modification clock")
        return bytes(blob)

    def _trak(self, box: Box) -> bytes:
        """A kept track (times cut under ``time``), or nothing: a telemetry track and its samples go."""
        track = read_track(self.src, self.walker, box, _raise)
        if track.handler in KEEP_HANDLERS and track.sample_format not in TELEMETRY_FORMATS:
            return self._kept_trak(box) if self.opts.removes(TIME) else self._copy(box)
        if track.handler in MEDIA_HANDLERS:
            raise Damaged(f"track {track.label} has a media handler but a telemetry format")
        self._drop_samples(track)
        self.removed.add(f"track {track.handler or '?'}/{track.sample_format or '?'}")
        return b""

    def _drop_samples(self, track: Track) -> None:
        """List every sample of a dropped track; a table that cannot name them all aborts the clean."""
        found = 0
        for sample in samples(track):
            found += 1
            if sample.size:
                self.zero.append((sample.offset, sample.size))
        if found != track.sample_count:
            raise Damaged(
                f"track {track.label}: sample tables locate {found} of {track.sample_count} samples"
            )

    def _kept_trak(self, trak: Box) -> bytes:
        """A trak rebuilt with its tkhd and mdhd times cut to the day (same sizes, same layout)."""
        blob = bytearray(self._copy(trak))
        for box in self._headers(trak):
            new = self._timed(box)
            blob[box.offset - trak.offset : box.end - trak.offset] = new
        return bytes(blob)

    def _headers(self, trak: Box) -> list[Box]:
        """tkhd, and mdhd one level down in mdia."""
        found = []
        for child in self.walker.children(trak.start, trak.end, 2):
            if child.type == "mdia":
                found += [b for b in self.walker.children(child.start, child.end, 3) if b.type == "mdhd"]
            elif child.type in TIMED_HEADERS:
                found.append(child)
        return found

    def _udta(self, udta: Box) -> bytes:
        """User data with only the atoms we can vouch for; nothing at all when none is left."""
        parts = []
        for child in self.walker.children(udta.start, udta.end, 2):
            profile = UDTA_PROFILE.get(child.type)
            if child.type in PADDING:
                parts.append(self._zeroed(child))
            elif child.type in UDTA_KEEP or (profile is not None and not self.opts.removes(profile)):
                parts.append(self._copy(child))
            else:
                self._drop(f"udta {child.type}", child)
        return make_box("udta", b"".join(parts)) if parts else b""
