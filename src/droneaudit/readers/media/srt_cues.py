"""Splitting an SRT into cues, with bounds: the text is walked one line at a time, a cue keeps at most
``MAX_CUE_LINES`` body lines and a file at most ``MAX_CUES`` cues (each limit reported once), so a file
of millions of lines costs its own size in memory, not tens of bytes per line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from droneaudit.readers._api import ProblemLog

#: A DJI cue has a handful of lines; a real file has one cue per video frame (10 h at 60 fps is 2.2 M).
MAX_CUE_LINES = 64
MAX_CUES = 4_000_000
#: A cue number: ASCII digits that ``int`` takes (``str.isdigit`` also accepts "²" and 5000-digit runs).
_CUE_NUMBER = re.compile(r"[0-9]{1,12}\Z")
#: Where ``str.splitlines`` breaks a line.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_TIMING = re.compile(r"^(\d{1,2}:\d{2}:\d{2}[,.]\d{1,3})\s*-->\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}")


@dataclass
class Cue:
    number: int
    line: int  #: 1-based line of the cue number
    offset: str | None  #: start of the "-->" timing line, e.g. "00:00:04,000"
    body: list[str]


def split_cues(text: str, display: str, problems: ProblemLog) -> list[Cue]:
    """Cues: a number line (at the start, after a blank line, or right before a timing line), then an
    optional timing line, then the body. Lines are walked one at a time (a file of millions of lines
    never becomes a list of them); a cue keeps at most ``MAX_CUE_LINES`` body lines and a file at most
    ``MAX_CUES`` cues, each limit reported once."""
    cues: list[Cue] = []
    blank_before, long_cue = True, None
    walk = lines(text)
    line, following = next(walk, None), next(walk, None)
    i = 1
    while line is not None:
        timing_next = following is not None and _TIMING.match(following) is not None
        if _CUE_NUMBER.match(line) and (blank_before or timing_next):
            if len(cues) >= MAX_CUES:
                problems.add(display, "srt-cue-limit", f"over {MAX_CUES} cues; the rest not read", frame=i)
                break
            cues.append(Cue(int(line), i, None, []))
        elif cues and (m := _TIMING.match(line)) and cues[-1].offset is None and not cues[-1].body:
            cues[-1].offset = m.group(1)
        elif line and cues and len(cues[-1].body) < MAX_CUE_LINES:
            cues[-1].body.append(line)
        elif line and cues:
            long_cue = long_cue or cues[-1]
        blank_before = not line
        line, following, i = following, next(walk, None), i + 1
    if long_cue is not None:
        detail = f"cue {long_cue.number} has more than {MAX_CUE_LINES} lines; the rest were skipped"
        problems.add(display, "srt-cue-too-long", detail, frame=long_cue.number)
    return cues


def lines(text: str) -> Iterator[str]:
    """``text.splitlines()`` stripped, one line at a time."""
    pos = 0
    for m in _LINE_BREAK.finditer(text):
        yield text[pos : m.start()].strip()
        pos = m.end()
    if pos < len(text):
        yield text[pos:].strip()


def check_cut(cues: list[Cue], display: str, problems: ProblemLog) -> None:
    """A cue is cut when its brackets do not close, or (the last one) it is shorter than the one before."""
    for i, cue in enumerate(cues):
        text = " ".join(cue.body)
        unbalanced = text.count("[") != text.count("]") or text.count("(") != text.count(")")
        unclosed = "<font" in text and "</font>" not in text
        shorter = i == len(cues) - 1 and i > 0 and len(cue.body) < len(cues[i - 1].body)
        if unbalanced or unclosed or shorter or not cue.body:
            problems.add(display, "truncated-record", f"cue {cue.number} is cut short", frame=cue.number)
