"""Metadata exposure: what each drone file tells anyone who gets a copy — the aircraft's position, the
home/takeoff point, the operator's position, a target the camera ranged, serial numbers, exact UTC times,
embedded previews and thermal data. One finding per file and kind, with the records as evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from droneaudit.model import Finding, Identity, MediaItem, TrackPoint

#: Serial-like identities (they tie a file to one aircraft, camera, controller or battery).
SERIAL_KINDS = frozenset(
    {
        "aircraft-serial",
        "camera-serial",
        "lens-serial",
        "rc-serial",
        "battery-serial",
        "body-serial",
        "gimbal-serial",
        "flight-controller-serial",
        "serial",
    }
)
_POSITION = {
    "aircraft": ("reveals-aircraft-position", "medium", "aircraft position"),
    "home": ("reveals-home-point", "high", "home/takeoff point"),
    "operator": ("reveals-operator-location", "high", "operator (pilot's phone or controller) location"),
    "target": ("reveals-target-location", "medium", "target or planned position (rangefinder, mission item)"),
}


def _evidence(points: list[TrackPoint]) -> tuple[dict[str, object], ...]:
    out: list[dict[str, object]] = []
    for p in points[:5]:
        ev: dict[str, object] = {"file": p.file, "kind": p.kind, "source": p.source}
        if p.index is not None:
            ev["index"] = p.index
        out.append(ev)
    return tuple(out)


def positions(tracks: Iterable[TrackPoint]) -> list[Finding]:
    by_file_kind: dict[tuple[str, str], list[TrackPoint]] = defaultdict(list)
    for p in tracks:
        by_file_kind[(p.file, p.kind)].append(p)
    out = []
    for (file, kind), points in sorted(by_file_kind.items()):
        code, severity, what = _POSITION.get(kind, ("reveals-position", "medium", f"{kind} position"))
        first = points[0]
        n = f"{len(points)} points, first" if len(points) > 1 else "at"
        detail = f"reveals the {what}: {n} {first.lat:.6f}, {first.lon:.6f} ({first.source})"
        out.append(Finding(code, severity, file, detail, _evidence(points)))
    return out


def serials(identities: Iterable[Identity]) -> list[Finding]:
    by_file: dict[str, list[Identity]] = defaultdict(list)
    for ident in identities:
        if ident.kind in SERIAL_KINDS:
            by_file[ident.file].append(ident)
    out = []
    for file, found in sorted(by_file.items()):
        kinds = sorted({i.kind for i in found})
        detail = "carries serial numbers or IDs: " + ", ".join(f"{i.kind} {i.value}" for i in found[:6])
        evidence = tuple({"file": file, "kind": i.kind, "source": i.source} for i in found[:6])
        out.append(
            Finding("reveals-serial-numbers", "medium", file, detail + f" ({', '.join(kinds)})", evidence)
        )
    return out


def exact_times(media: Iterable[MediaItem], tracks: Iterable[TrackPoint]) -> list[Finding]:
    utc_files = {p.file for p in tracks if p.time_utc}
    out = []
    for item in media:
        if item.captured_at_utc or item.path in utc_files:
            when = item.captured_at_utc or "per track point"
            out.append(
                Finding(
                    "reveals-exact-time",
                    "low",
                    item.path,
                    f"states exact UTC time ({when})",
                    ({"file": item.path, "kind": "time"},),
                )
            )
    return out


def embedded_data(media: Iterable[MediaItem]) -> list[Finding]:
    """Previews and thermal data: more picture than the user may think they are sharing."""
    out = []
    for item in media:
        extra = item.extra
        thermal = [k for k in ("app3_bytes", "app4_bytes", "app5_bytes", "flir_segments") if k in extra]
        if item.format == "rjpeg" or thermal:
            out.append(
                Finding(
                    "contains-thermal-data",
                    "info",
                    item.path,
                    "contains radiometric thermal data (APP3-APP5 / FLIR segments)",
                    ({"file": item.path, "kind": "segments"},),
                )
            )
        previews = int(extra.get("previews", "0") or 0) + int(extra.get("embedded_jpegs", "0") or 0)
        if previews or "mpf_images" in extra or "thumbnail_bytes" in extra:
            out.append(
                Finding(
                    "contains-embedded-images",
                    "low",
                    item.path,
                    "contains embedded preview or thumbnail images with their own metadata",
                    ({"file": item.path, "kind": "preview"},),
                )
            )
    return out


def all_findings(
    media: list[MediaItem], tracks: list[TrackPoint], identities: list[Identity]
) -> list[Finding]:
    return [*positions(tracks), *serials(identities), *exact_times(media, tracks), *embedded_data(media)]
