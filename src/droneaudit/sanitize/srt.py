"""Clean a DJI SRT sidecar: cut the positional fields out of each cue, keep every cue and its timing.

Why field by field rather than dropping the file: the SRT is how many editors show exposure and gimbal
data next to the video, and its cue timing must keep matching the video. The positional fields differ by
family (see ``readers/media/srt.py``), so each is cut by its own pattern, together with the separator
that joined it to its neighbours, and a line left empty is dropped (an empty line would end the cue):

* tuples ``GPS(…)``, ``GPS (…)``, ``HOME(…)``, ``RTK(…)`` — aircraft and home/takeoff positions;
* bracket groups holding ``latitude``, ``longitude``/``longtitude``, ``altitude``, ``rel_alt``/``abs_alt``
  — ``[rel_alt: … abs_alt: …]`` together give the takeoff elevation, so the pair goes as one;
* heights and distances: ``BAROMETER:``, ``Hb:``, ``Hs:``, ``Distance:``, and the P4 family's
  ``D 49.21m`` (distance from home) and ``H 45.60m`` (height above takeoff).

``time`` keeps the date and drops the clock (``2017.8.5 14:11:51`` → ``2017.8.5``; a ``Z`` goes with it):
a zeroed clock would still read as an exact UTC midnight. ``--remove all`` writes no SRT at all. Gimbal
and aircraft attitude (``F.PRY``, ``G.PRY``, ``gb_yaw``), speeds and camera settings stay: they place
nothing on a map.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable

from droneaudit.readers.source import GZIP_MAGIC
from droneaudit.sanitize.common import LOCATION, PROFILES, TIME, Damaged, Options, Outcome, Removed

MAX_BYTES = 256 << 20
_NUM = r"-?\d+(?:\.\d+)?"
_CUE_NUMBER = re.compile(r"^\ufeff?\s*\d+\s*$")
_TIMING = re.compile(r"^\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->")
_TUPLE = re.compile(r"\b(GPS|HOME|RTK)\s*\(([^()]*)\)")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_BRACKET_KEY = re.compile(r"([A-Za-z_]+)\s*:")
_KEYED = re.compile(rf"\b(BAROMETER|Hb|Hs|Distance)\s*:\s*{_NUM}\s*[Mm]?\b")
_P4_ITEM = re.compile(rf"(?:^|(?<=,))\s*(D|H)\s+{_NUM}m\b(?!/)")
_CLOCK = re.compile(r"(\d{4}[-./]\d{1,2}[-./]\d{1,2})[ T]\d{1,2}:\d{2}:\d{2}(?:[,.]\d{1,3})?(?:,\d{3})*Z?")
LOCATION_KEYS = frozenset(
    {"latitude", "longitude", "longtitude", "altitude", "rel_alt", "abs_alt", "lat", "lon", "alt", "home"}
)
P4_NAMES = {"D": "D (distance from home)", "H": "H (height above takeoff)"}


def cue_skeleton(text: str) -> list[str]:
    """Cue numbers and timing lines, in order: what a clean SRT must keep exactly."""
    return [line.strip() for line in text.splitlines() if _CUE_NUMBER.match(line) or _TIMING.match(line)]


def _cut(line: str, start: int, end: int) -> str:
    """``line`` without ``[start, end)`` and the separator (comma or spaces) that joined it."""
    left, right = line[:start], line[end:]
    if left.rstrip().endswith(","):
        return left.rstrip()[:-1] + right
    if not left.strip() and right.lstrip().startswith(","):
        return left + right.lstrip()[1:].lstrip()
    if left.strip() and right.strip():
        return left.rstrip() + " " + right.lstrip()
    return left.rstrip() + right.lstrip() if left.strip() else right.lstrip()


def _remove_all(line: str, pattern: re.Pattern[str], keep: Callable[[re.Match[str]], bool]) -> str:
    """Cut every match of ``pattern`` for which ``keep`` is False, right to left so offsets stay valid."""
    for m in reversed(list(pattern.finditer(line))):
        if not keep(m):
            line = _cut(line, m.start(), m.end())
    return line


class _Line:
    """Location edits on one body line, counted into ``removed``."""

    def __init__(self, removed: Removed) -> None:
        self.removed = removed

    def __call__(self, line: str) -> str:
        line = _remove_all(line, _TUPLE, self.tuple_kept)
        line = _remove_all(line, _BRACKET, self.bracket_kept)
        line = _remove_all(line, _KEYED, self.keyed_kept)
        return _remove_all(line, _P4_ITEM, self.p4_kept)

    def tuple_kept(self, m: re.Match[str]) -> bool:
        self.removed.add(f"SRT {m[1]}(…)")
        for value in m[2].split(",")[:2]:
            self.removed.remember(value.strip())
        return False

    def bracket_kept(self, m: re.Match[str]) -> bool:
        keys = [k.lower() for k in _BRACKET_KEY.findall(m[1])]
        if not LOCATION_KEYS.intersection(keys):
            return True
        self.removed.add("SRT [" + " ".join(keys) + "]")
        if keys[0].startswith(("lat", "lon")):
            for value in re.findall(_NUM, m[1]):
                self.removed.remember(value)
        return False

    def keyed_kept(self, m: re.Match[str]) -> bool:
        self.removed.add(f"SRT {m[1]}:")
        return False

    def p4_kept(self, m: re.Match[str]) -> bool:
        self.removed.add("SRT " + P4_NAMES[m[1]])
        return False


def _coarsen(line: str, removed: Removed) -> str:
    def day(m: re.Match[str]) -> str:
        removed.add("SRT date line (time of day)")
        return m[1]

    return _CLOCK.sub(day, line)


def clean_text(text: str, opts: Options, removed: Removed) -> str:
    """The SRT text with the profile's fields removed; cue numbers and timing lines untouched."""
    location = _Line(removed) if opts.removes(LOCATION) else None
    out: list[str] = []
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        if _CUE_NUMBER.match(body) or _TIMING.match(body) or not body.strip():
            out.append(raw)
            continue
        new = location(body) if location else body
        new = _coarsen(new, removed) if opts.removes(TIME) else new
        if not new.strip():
            removed.add("SRT line left empty (dropped)")
            continue
        out.append(new + ending)
    return "".join(out)


def clean(data: bytes, opts: Options) -> Outcome:
    """A whole SRT (or gzip'd SRT). ``--remove all`` drops the sidecar: nothing in it is worth sharing."""
    gzipped = data.startswith(GZIP_MAGIC)
    fmt = "srt.gz" if gzipped else "srt"
    removed = Removed()
    if opts.profile >= frozenset(PROFILES):
        removed.add("SRT sidecar (dropped whole: --remove all)")
        return Outcome(None, fmt, removed)
    raw = gunzip(data) if gzipped else data
    text = raw.decode("utf-8", "surrogateescape")
    cleaned = clean_text(text, opts, removed).encode("utf-8", "surrogateescape")
    if opts.removes(LOCATION):
        removed.note("kept: cue numbers and timing, camera settings, gimbal/aircraft attitude, speeds")
    return Outcome(gzip.compress(cleaned, mtime=0) if gzipped else cleaned, fmt, removed)


def gunzip(data: bytes) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits=31)
        out = inflater.decompress(data, MAX_BYTES)
    except zlib.error as exc:
        raise Damaged(f"gzip data does not decompress ({exc})") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise Damaged("gzip data is cut short, has several members, or inflates past 256 MiB")
    return out
