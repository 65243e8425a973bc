"""Verify a cleaned file by reading it back, the way mat2 does: trust the output, not the cleaner.

Why four separate checks: each catches a failure the others cannot.

1. **Inventory.** The output is scanned with droneaudit's own readers and exposure checks; any finding
   of a removed profile (``reveals-aircraft-position`` … ``reveals-exact-time``) fails the file.
2. **Removed values.** Readers only see what they parse. Every distinctive value a cleaner removed
   (serials, coordinate text, GPS rational bytes) is searched for in the output's raw bytes, so a copy
   in a preview, a maker note or an unparsed trailer is caught too.
3. **Structure.** A problem the reader reports on the output but not on the input (an MPF image out of
   bounds, a cut segment) means the rewrite damaged the file.
4. **What must not change.** For JPEG: the entropy-coded image data, and the thermal segments unless
   ``--drop-thermal``; for SRT: every cue number and timing line; for TIFF/DNG: the file size (edits are
   in place). Each MPF image must still be a JPEG where the index says.

A failure message never repeats a removed value: it names the finding code, the source or the offset.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import droneaudit
from droneaudit.case import Case
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import IpData
from droneaudit.sanitize import flir, jpeg, mpf, srt
from droneaudit.sanitize.common import PROFILE_CODES, Damaged, Options, Outcome

THERMAL_MARKERS = range(0xE3, 0xE7)


@cache
def _tables() -> tuple[Catalog, IpData]:
    return Catalog.load_default(), IpData()


def inventory(path: Path) -> Case:
    """Scan one file with the inventory readers (offline tables loaded once per process)."""
    catalog, ipdata = _tables()
    return droneaudit.scan([path], catalog=catalog, ipdata=ipdata)


def verify(before: Case, output: Path, original: bytes, outcome: Outcome, opts: Options) -> list[str]:
    """Why ``output`` must not be kept; an empty list means it passed every check."""
    after = inventory(output)
    data = output.read_bytes()
    failures = profile_findings(after, opts) + leftover_values(data, outcome.removed.secrets)
    if outcome.format.startswith("srt"):
        return failures + srt_invariants(original, data, outcome.format)
    failures += new_problems(before, after)
    formats = {i.format for i in after.inputs}
    if formats != {outcome.format}:
        failures.append(f"output reads as {', '.join(sorted(formats))}, expected {outcome.format}")
    if outcome.format in ("jpeg", "rjpeg"):
        failures += jpeg_invariants(original, data, opts, outcome)
    elif len(data) != len(original):
        failures.append("TIFF/DNG size changed; in-place cleaning must keep every offset")
    return failures


def profile_findings(case: Case, opts: Options) -> list[str]:
    codes = frozenset().union(*(PROFILE_CODES[p] for p in opts.profile))
    out = []
    for finding in case.findings:
        if finding.code in codes:
            sources = sorted({str(e.get("source") or e.get("kind")) for e in finding.evidence})
            out.append(f"still {finding.code} ({', '.join(sources) or 'no source'})")
    return out


def leftover_values(data: bytes, secrets: set[bytes]) -> list[str]:
    out = []
    for secret in sorted(secrets):
        at = data.find(secret)
        if at >= 0:
            out.append(
                f"a removed value ({len(secret)} bytes) is still in the file at offset {at}{_where(data, at)}"
            )
    return out


def _where(data: bytes, at: int) -> str:
    """Name the JPEG segment holding offset ``at`` (a serial in kept thermal data needs --drop-thermal)."""
    try:
        parsed = jpeg.parse(data)
    except Damaged:
        return ""
    for seg in parsed.segments:
        if seg.at <= at < seg.at + 4 + len(seg.body):
            thermal = 0xE3 <= seg.marker <= 0xE6 or flir.is_flir(seg.body)
            return f" (APP{seg.marker - 0xE0} segment{'; --drop-thermal removes it' if thermal else ''})"
    return ""


def new_problems(before: Case, after: Case) -> list[str]:
    seen = {p.code for p in before.problems}
    return [f"output is damaged: {p.code} ({p.detail})" for p in after.problems if p.code not in seen]


def srt_invariants(original: bytes, data: bytes, fmt: str) -> list[str]:
    def text(raw: bytes) -> str:
        return (srt.gunzip(raw) if fmt == "srt.gz" else raw).decode("utf-8", "surrogateescape")

    if srt.cue_skeleton(text(original)) != srt.cue_skeleton(text(data)):
        return ["cue numbers or timing lines changed"]
    return []


def jpeg_invariants(original: bytes, data: bytes, opts: Options, outcome: Outcome) -> list[str]:
    """Image data identical, thermal data identical (or gone with --drop-thermal), MPF images reachable."""
    try:
        before, after = jpeg.parse(original), jpeg.parse(data)
    except Damaged as exc:
        return [f"output does not parse as JPEG ({exc})"]
    failures = [] if before.image == after.image else ["entropy-coded image data changed"]
    failures += _thermal(before, after, opts, outcome)
    return failures + _mpf_images(data, after)


def _thermal(before: jpeg.Parsed, after: jpeg.Parsed, opts: Options, outcome: Outcome) -> list[str]:
    def dji(p: jpeg.Parsed) -> list[bytes]:
        thermal = jpeg.is_thermal(p.segments)
        return [s.body for s in p.segments if thermal and s.marker in THERMAL_MARKERS]

    def flir_bodies(p: jpeg.Parsed) -> list[bytes]:
        return [s.body for s in p.segments if s.marker == 0xE1 and flir.is_flir(s.body)]

    if opts.drop_thermal:
        left = dji(after) or flir_bodies(after)
        return ["thermal segments still present after --drop-thermal"] if left else []
    failures = [] if dji(before) == dji(after) else ["thermal APP3-APP6 segments changed"]
    old, new = flir_bodies(before), flir_bodies(after)
    edited = any(name.startswith("FLIR ") for name in outcome.removed.fields)
    if [len(b) for b in old] != [len(b) for b in new]:
        failures.append("FLIR FFF segments changed size")
    elif old != new and not edited:
        failures.append("FLIR FFF segments changed although no field in them was removed")
    return failures


def _mpf_images(data: bytes, parsed: jpeg.Parsed) -> list[str]:
    seg = next((s for s in parsed.segments if s.marker == 0xE2 and s.body.startswith(b"MPF\x00")), None)
    index = mpf.read_index(seg.body) if seg is not None else None
    if seg is None or index is None:
        return []
    base = seg.at + 8
    failures = []
    for i, (size, offset) in enumerate(index[2][1:], start=2):
        blob = data[base + offset : base + offset + size] if size else b""
        if size and (len(blob) != size or not blob.startswith(b"\xff\xd8")):
            failures.append(f"MPF image {i} is not a JPEG at the offset the index gives")
    return failures
