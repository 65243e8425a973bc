"""Files inside HTTP bodies: multipart parts, a body that is itself a file, ZIP members, gzip contents.

Kinds are named by content, never by the name the app gave: a few magic numbers first, then the
project's reader registry (``readers._registry.pick``: DJI flight records and DATs, ULog, DataFlash,
tlogs, SRT, Airdata CSV, captures), so a carved file is named the way ``droneaudit scan`` would read
it. Archives are untrusted: ZIP members are read through ``zipfile`` with caps on their number, their
total size, each member's ratio and the nesting depth; a cap that trips becomes a "zip bomb: …" note
on the archive. ``store`` writes by sha256, never over an existing file, never executable.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

from droneaudit.content import http_body as caps
from droneaudit.content.http_body import MiB, decode_body
from droneaudit.content.http_multipart import params, split_multipart
from droneaudit.content.model import SENT, CarvedFile, HttpMessage
from droneaudit.readers import _registry

ZIP_MAX_MEMBERS = 1_000
ZIP_MAX_TOTAL = 256 * MiB
ZIP_MAX_RATIO = 100  #: per member, once it is past ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 1 * MiB
ZIP_MAX_DEPTH = 2  #: a ZIP inside a ZIP is opened; one level deeper is listed, not opened
#: JSON and CSV are carved only from what the app sent, and only from this size: API calls are not files.
TEXT_MIN = 1024
_MULTIPART_DEPTH = 3
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"ULog\x01\x12\x35", "px4-ulog"),
)
_SKIP_REGISTRY = (b"<", b"{", b"[")
_SNIFF_BYTES = 64 * 1024
#: File name extensions by kind, for ``store`` (never taken from the app's file name).
EXTENSIONS: dict[str, str] = {
    "jpeg": "jpg",
    "png": "png",
    "gif": "gif",
    "pdf": "pdf",
    "zip": "zip",
    "gzip": "gz",
    "mp4": "mp4",
    "dng": "dng",
    "dji-flight-record": "txt",
    "dji-dat": "dat",
    "px4-ulog": "ulg",
    "ardupilot-dataflash": "bin",
    "mavlink-tlog": "tlog",
    "dji-srt": "srt",
    "airdata-csv": "csv",
    "capture": "pcap",
    "json": "json",
    "csv": "csv",
}


def carve(message: HttpMessage) -> list[CarvedFile]:
    """Every file in ``message``'s body, containers before their contents, in body order."""
    if (message.content_type or "").startswith("multipart/"):
        return _multipart(message, message.body, message.header("content-type"), 0)
    kind = sniff_kind(message.body, _file_name(message), sent=message.direction == SENT)
    if kind is None:
        return []
    return _with_contents(message, message.body, kind, _file_name(message), "body", 0)


def _file_name(message: HttpMessage) -> str | None:
    """Content-Disposition's filename, else the URL's last path segment when it has an extension."""
    disposition = params(message.header("content-disposition") or "")
    if disposition.get("filename"):
        return disposition["filename"]
    last = message.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return last if re.fullmatch(r"[\w.\-\[\]]{1,120}\.[A-Za-z0-9]{1,8}", last) else None


def sniff_kind(data: bytes, name: str | None = None, *, sent: bool = True) -> str | None:
    """The kind of file ``data`` is, or None when it is not one worth carving."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 16 and data[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return "mp4"
    if len(data) >= 64 and data.lstrip()[:1] not in _SKIP_REGISTRY:
        found = _registry_kind(data, name)
        if found is not None:
            return found
    return _text_kind(data) if sent and len(data) > TEXT_MIN else None


def _registry_kind(data: bytes, name: str | None) -> str | None:
    """Ask the reader registry, whose sniffers read from a path. A private temp file gets the first
    64 KiB (sniffers read a few KiB) and the real size as a sparse tail (some compare offsets with it),
    named like the app named it (some weigh the name); it is gone when this returns."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", (name or "carved.bin").rsplit("/", 1)[-1])[-64:].lstrip(".")
    with tempfile.TemporaryDirectory(prefix="droneaudit-carve-") as folder:
        path = Path(folder) / (safe or "carved.bin")
        with path.open("wb") as f:
            f.write(data[:_SNIFF_BYTES])
            f.truncate(len(data))
        reader = _registry.pick(data[:64], path)
    return None if reader is None else reader.name


def _text_kind(data: bytes) -> str | None:
    """ "json" or "csv" for an uploaded data file (a flight summary, a telemetry table)."""
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            json.loads(data)
            return "json"
        except (ValueError, RecursionError):
            return None
    try:
        lines = data[:8192].decode("utf-8").splitlines()[:5]
    except UnicodeDecodeError:
        return None
    commas = {line.count(",") for line in lines if line.strip()}
    return "csv" if len(lines) >= 3 and len(commas) == 1 and commas.pop() >= 2 else None


def _carved(
    message: HttpMessage, data: bytes, kind: str, name: str | None, origin: str, notes: list[str]
) -> CarvedFile:
    return CarvedFile(
        data, kind, name, origin, message.direction, message.host, message.url, message.where, tuple(notes)
    )


def _multipart(message: HttpMessage, body: bytes, content_type: str | None, depth: int) -> list[CarvedFile]:
    """Parts that are files: with a filename, or with content that sniffs as a file; nested multipart
    parts are opened (to a small depth)."""
    parts, notes = split_multipart(body, content_type)
    out: list[CarvedFile] = []
    for i, part in enumerate(parts):
        if (part.content_type or "").startswith("multipart/") and depth < _MULTIPART_DEPTH:
            out += _multipart(message, part.data, part.header("content-type"), depth + 1)
            continue
        kind = sniff_kind(part.data, part.filename, sent=message.direction == SENT)
        if kind is None and part.filename and part.data:
            kind = "unknown"
        if kind is not None:  # a cut body's note goes with its last part, the one that was cut
            cut = notes if i == len(parts) - 1 else []
            out += _with_contents(message, part.data, kind, part.filename, "multipart", 0, cut)
    return out


def _with_contents(
    message: HttpMessage,
    data: bytes,
    kind: str,
    name: str | None,
    origin: str,
    depth: int,
    notes: list[str] | None = None,
) -> list[CarvedFile]:
    """The file itself, then what it holds (ZIP members, a gzip file's content)."""
    notes = list(notes or [])
    inner: list[CarvedFile] = []
    if kind == "zip":
        inner = _zip(message, data, depth, notes)
    elif kind == "gzip":
        inner = _gunzip(message, data, name, depth, notes)
    return [_carved(message, data, kind, name, origin, notes), *inner]


def _gunzip(
    message: HttpMessage, data: bytes, name: str | None, depth: int, notes: list[str]
) -> list[CarvedFile]:
    if depth >= ZIP_MAX_DEPTH:
        notes.append(f"gzip nested deeper than {ZIP_MAX_DEPTH} containers: not opened")
        return []
    decoded = decode_body(data, "gzip")
    notes += decoded.notes
    if not decoded.data:
        return []
    inner_name = name[:-3] if name and name.lower().endswith(".gz") else None
    kind = sniff_kind(decoded.data, inner_name, sent=True) or "unknown"
    return _with_contents(message, decoded.data, kind, inner_name, "gzip", depth + 1)


def _zip(message: HttpMessage, data: bytes, depth: int, notes: list[str]) -> list[CarvedFile]:
    """Members as files, within the caps; each cap that trips leaves a note on the archive."""
    if depth >= ZIP_MAX_DEPTH:
        notes.append(f"zip nested deeper than {ZIP_MAX_DEPTH} containers: members not opened")
        return []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        notes.append(f"zip unreadable: {exc}")
        return []
    if len(infos) > ZIP_MAX_MEMBERS:
        notes.append(f"zip bomb: {len(infos)} members, only the first {ZIP_MAX_MEMBERS} read")
    out: list[CarvedFile] = []
    budget = ZIP_MAX_TOTAL
    for info in (i for i in infos[:ZIP_MAX_MEMBERS] if not i.is_dir()):
        content = _member(archive, info, budget, notes)
        if content is _OVER_BUDGET:
            break
        if content is not None:
            budget -= len(content)
            kind = sniff_kind(content, info.filename, sent=True) or "unknown"
            out += _with_contents(message, content, kind, info.filename, "zip", depth + 1)
    return out


_OVER_BUDGET = b"<over budget>"  #: sentinel (compared by identity): stop reading the archive


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, notes: list[str]) -> bytes | None:
    """One member's bytes, or None (with a note) when it is encrypted, damaged or trips a cap. The
    declared sizes are checked first, then the real ones while reading (headers can lie)."""
    label = info.filename[:120]
    if info.flag_bits & 0x1:
        notes.append(f"zip member {label!r} is encrypted: not read")
        return None
    if _bomb(info.file_size, info.compress_size):
        notes.append(f"zip bomb: member {label!r} declares {info.file_size} bytes from {info.compress_size}")
        return None
    out = bytearray()
    try:
        with archive.open(info) as stream:
            while piece := stream.read(MiB):
                out += piece
                if _bomb(len(out), info.compress_size):
                    notes.append(f"zip bomb: member {label!r} inflates past {ZIP_MAX_RATIO}:1")
                    return None
                if len(out) > budget:
                    total = caps.size_text(ZIP_MAX_TOTAL)
                    notes.append(f"zip bomb: over {total} uncompressed at {label!r}; rest not read")
                    return _OVER_BUDGET
                if len(out) > caps.MAX_BODY:
                    notes.append(f"zip member {label!r} over {caps.size_text(caps.MAX_BODY)}: not carved")
                    return None
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        OSError,
        ValueError,
    ) as exc:
        notes.append(f"zip member {label!r} damaged: {exc}")
        return bytes(out) if out else None
    return bytes(out)


def _bomb(size: int, compressed: int) -> bool:
    return size > ZIP_RATIO_FLOOR and size > ZIP_MAX_RATIO * max(compressed, 1)


def store(carved: CarvedFile, folder: Path) -> Path:
    """Write ``carved`` to ``folder/<sha256>.<ext>`` and return that path.

    Never overwrites: an existing file with that name and the same content is kept as it is; one with
    other content (tampering, or a half-written file from a crash) raises FileExistsError. The file is
    published atomically (written under a temporary name, then hard-linked), read-only (0o444), and
    its extension comes from the sniffed kind, never from the app's file name.
    """
    digest = hashlib.sha256(carved.data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}.{EXTENSIONS.get(carved.kind, 'bin')}"
    if os.path.lexists(target):
        return _existing(target, digest)
    handle, temp = tempfile.mkstemp(prefix=".carve-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(carved.data)
        os.chmod(temp, 0o444)
        os.link(temp, target)
    except FileExistsError:
        return _existing(target, digest)
    except OSError:  # no hard links on this file system (FAT, some network mounts): exclusive create
        _write_new(target, carved.data)
    finally:
        os.unlink(temp)
    return target


def _write_new(target: Path, data: bytes) -> None:
    """Create ``target`` (never an existing file, never through a symlink), read-only, with ``data``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(target, flags, 0o444), "wb") as f:
        f.write(data)


def _existing(target: Path, digest: str) -> Path:
    """``target`` when it is a regular file holding the content with ``digest``; otherwise refuse."""
    if target.is_symlink() or not target.is_file():
        raise FileExistsError(f"{target} exists and is not a regular file: not overwritten")
    sha = hashlib.sha256()
    with target.open("rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            sha.update(block)
    if sha.hexdigest() != digest:
        raise FileExistsError(f"{target} exists with other content: not overwritten")
    return target
