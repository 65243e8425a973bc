"""The sanitize driver: plan outputs, clean each file to a temporary file, verify it, then keep or discard.

Why plan first: every refusal that protects the evidence happens before a single byte is written. An
output that resolves to an input file (``--out`` equal to an input folder, a symlink into the input
tree), ``--out`` inside an input *file* path, or two inputs that would land on one output name is a
usage error, and the run stops with nothing written. Files found under ``--out`` while walking an input
folder are not inputs (a second run over the same tree does not clean its own outputs).

Per file: the cleaner is picked by content (the inventory registry's ``pick``), not by extension;
flight records and logs are skipped on purpose ("not sanitized: it is the record"), video and anything
unknown are skipped with the reason, a damaged file is skipped with nothing written. A cleaned file is
written next to its destination under a hidden temporary name, verified (``verify.py``) and only then
moved into place with ``os.replace``; an existing file at the destination is replaced, never written
into. Originals are only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from droneaudit import __version__
from droneaudit.errors import UsageError
from droneaudit.model import SCHEMA_VERSION
from droneaudit.readers import _registry
from droneaudit.readers.source import peek
from droneaudit.sanitize import jpeg, mp4, srt, tiff_clean, verify
from droneaudit.sanitize.common import Damaged, Options, Outcome, Unsupported, profile_label

MANIFEST_NAME = "droneaudit-sanitize.json"
MAX_INPUT = 2 << 30
RECORD_REASON = "not sanitized: it is the record (a flight record or log is shared whole or not at all)"
CLEANED, FAILED, SKIPPED, DROPPED = "cleaned", "failed", "skipped", "dropped"


def _tiff(data: bytes, opts: Options) -> Outcome:
    return tiff_clean.clean_file(data, opts, thumbnail=jpeg.clean_thumbnail)


CLEANERS: dict[str, Callable[[bytes, Options], Outcome]] = {
    "jpeg": jpeg.clean,
    "tiff": _tiff,
    "srt": srt.clean,
    "mp4": mp4.clean,
}


@dataclass
class FileResult:
    """One input's fate; ``to_dict`` is its manifest entry (field names only, never removed values)."""

    input: str
    input_sha256: str
    output: str | None = None
    output_sha256: str | None = None
    format: str = "unknown"
    status: str = SKIPPED
    removed: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None

    @property
    def verified(self) -> bool | None:
        return {CLEANED: True, FAILED: False}.get(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "input_sha256": self.input_sha256,
            "output": self.output,
            "output_sha256": self.output_sha256,
            "format": self.format,
            "status": self.status,
            "verified": self.verified,
            "removed": dict(sorted(self.removed.items())),
            "notes": list(self.notes),
            "reason": self.reason,
        }


@dataclass
class Report:
    """Every file's result, the options used, and where the manifest went."""

    opts: Options
    out: Path
    manifest: Path
    files: list[FileResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when any file failed verification (its output was not kept), else 0."""
        return 1 if any(f.status == FAILED for f in self.files) else 0

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(1 for f in self.files if f.status == s) for s in (CLEANED, FAILED, SKIPPED, DROPPED)}
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "droneaudit", "version": __version__},
            "command": "sanitize",
            "profile": profile_label(self.opts.profile).split(","),
            "drop_thermal": self.opts.drop_thermal,
            "out": str(self.out),
            "summary": counts,
            "files": [f.to_dict() for f in sorted(self.files, key=lambda f: f.input)],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def plan(paths: Iterable[str | os.PathLike[str]], out: Path) -> list[tuple[Path, Path]]:
    """(input, output) for every file, the tree under each input folder mirrored under ``out``."""
    target = out.resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    pairs: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        pairs += _dir_pairs(path, out, target) if path.is_dir() else [(path, out / path.name)]
        _refuse_inside(path, target, out)
    _refuse_collisions(pairs)
    return pairs


def _dir_pairs(root: Path, out: Path, target: Path) -> list[tuple[Path, Path]]:
    base = root.resolve()
    if base == target:
        raise UsageError(f"--out {out} is the input folder {root}: the originals would be replaced")
    name = base.name or "input"
    out_inside = target.is_relative_to(base)
    pairs = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if out_inside and p.resolve().is_relative_to(target):
            continue  # our own earlier output inside the input tree
        pairs.append((p, out / name / rel))
    return pairs


def _refuse_inside(path: Path, target: Path, out: Path) -> None:
    resolved = path.resolve()
    if path.is_file() and (target == resolved or target.is_relative_to(resolved)):
        raise UsageError(f"--out {out} is (or is inside) the input file {path}")


def _refuse_collisions(pairs: list[tuple[Path, Path]]) -> None:
    inputs = {src.resolve() for src, _ in pairs}
    seen: dict[Path, Path] = {}
    for src, dst in pairs:
        where = dst.resolve()
        if where in inputs:
            raise UsageError(f"refusing to write {dst}: it is an input file (choose another --out)")
        if where in seen:
            raise UsageError(f"{src} and {seen[where]} would both be written to {dst}")
        seen[where] = src


def classify(path: Path) -> tuple[str | None, str, str]:
    """(cleaner, "", format) for a file we clean, else (None, why it is skipped, what it looked like)."""
    head, gzipped = peek(path)
    reader = _registry.pick(head, path)
    name = reader.name if reader is not None else "unknown"
    module = type(reader).__module__ if reader is not None else ""
    if name == "dji-srt":
        return "srt", "", name
    what = _registry.describe(head, gzipped)
    if gzipped:
        return None, f"unsupported: {what} (decompress it first)", name
    if name in ("jpeg", "dng"):
        return ("jpeg" if name == "jpeg" else "tiff"), "", name
    if ".logs." in module:
        return None, RECORD_REASON, name
    if ".capture." in module:
        return None, "not sanitized: a packet capture is evidence, not media", name
    if "mp4" in name or "MP4" in what:
        return "mp4", "", name
    return None, f"unsupported: {what}; not written", name


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes:
    with path.open("rb") as f:
        data = f.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise Unsupported(f"larger than {MAX_INPUT >> 30} GiB")
    return data


def clean_one(src: Path, dst: Path, opts: Options) -> FileResult:
    """Clean, verify and place one file; every outcome becomes a FileResult, never an exception."""
    try:
        data = _read(src)
    except (OSError, Unsupported) as exc:
        return FileResult(str(src), "", reason=f"could not read: {exc}")
    result = FileResult(str(src), _sha(data))
    kind, reason, result.format = classify(src)
    if kind is None:
        result.reason = reason
        return result
    try:
        outcome = CLEANERS[kind](data, opts)
    except (Damaged, Unsupported) as exc:
        result.reason = f"damaged or unsupported, nothing written: {exc}"
        return result
    except Exception as exc:  # a cleaner bug must not cost the user the other files' results
        result.status = FAILED
        result.reason = f"sanitizer error ({type(exc).__name__}: {exc}); nothing written"
        return result
    result.format, result.removed = outcome.format, dict(outcome.removed.fields)
    result.notes = list(outcome.removed.notes)
    if outcome.data is None:
        result.status, result.reason = DROPPED, "not written: --remove all drops this kind of file whole"
        return result
    return _write_verified(src, dst, data, outcome, opts, result)


def _write_verified(
    src: Path, dst: Path, data: bytes, outcome: Outcome, opts: Options, result: FileResult
) -> FileResult:
    assert outcome.data is not None
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.droneaudit-tmp")
    tmp.write_bytes(outcome.data)
    try:
        failures = verify.verify(verify.inventory(src), tmp, data, outcome, opts)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    if failures:
        tmp.unlink(missing_ok=True)
        result.status, result.reason = FAILED, "; ".join(failures)
        return result
    os.replace(tmp, dst)
    result.status, result.output, result.output_sha256 = CLEANED, str(dst), _sha(outcome.data)
    return result


def sanitize(
    paths: Sequence[str | os.PathLike[str]],
    out: Path,
    opts: Options,
    manifest: Path | None = None,
    progress: Callable[[FileResult], None] | None = None,
) -> Report:
    """Sanitize ``paths`` into ``out``; write the manifest; return the report (exit code included)."""
    pairs = plan(paths, out)
    manifest = manifest if manifest is not None else out / MANIFEST_NAME
    taken = {src.resolve() for src, _ in pairs} | {dst.resolve() for _, dst in pairs}
    if manifest.resolve() in taken:
        raise UsageError(f"--manifest {manifest} would overwrite an input or a cleaned file")
    report = Report(opts, out, manifest)
    for src, dst in pairs:
        result = clean_one(src, dst, opts)
        report.files.append(result)
        if progress is not None:
            progress(result)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_name(f".{manifest.name}.droneaudit-tmp")
    tmp.write_text(report.to_json(), encoding="utf-8")
    os.replace(tmp, manifest)
    return report
