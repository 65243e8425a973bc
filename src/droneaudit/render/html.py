"""The HTML report: one self-contained file a reader can open offline, forward, and archive as evidence.

Why it is built this way:

* **Nothing is fetched.** CSS, JS, the base map and the data are inline, and a Content-Security-Policy
  forbids every other source, so opening the report leaks neither the case nor the reader's address.
* **Every string from the evidence is hostile.** Jinja2 autoescapes all HTML; the data the map and
  timeline draw travel as JSON in ``<script type="application/json">`` with ``<``, ``>`` and ``&``
  written as ``\\u003c…`` so no host name can close the script; the JS only ever sets ``textContent``.
* **Same case, same bytes.** No wall clock, sorted JSON keys, stable row order; a date appears only when
  ``SOURCE_DATE_EPOCH`` gives one, so a report can be re-made and compared byte for byte.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup

from droneaudit import __version__
from droneaudit.case import Case
from droneaudit.model import SCHEMA_VERSION, ClaimResult
from droneaudit.render.content import content_records
from droneaudit.render.terminal import human_bytes

if TYPE_CHECKING:
    from droneaudit.sites import Site

PHOTO_FORMATS = frozenset({"jpeg", "rjpeg", "dng", "tiff", "heic"})
#: Flows drawn on the timeline at most (the rest are counted, not drawn: a browser must stay usable).
MAX_TIMELINE_FLOWS = 5000
DBIP_URL = "https://db-ip.com"
_STATIC = ("report.css", "report.js")


def render_html(
    case: Case,
    *,
    claims: Sequence[ClaimResult] | None = None,
    conditions: dict[str, str] | None = None,
    sites: Sequence[Site] = (),
) -> str:
    """The report as one HTML document (``claims`` default to the case's own)."""
    ctx = _context(case, list(case.claims if claims is None else claims), conditions or {}, sites)
    return _visible_controls(_env().get_template("report.html.j2").render(**ctx))


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _visible_controls(page: str) -> str:
    """Control characters from evidence (escape sequences in file names, say) become visible ``\\xNN``
    text, so the page is safe to view in a terminal too; HTML escaping does not touch them."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", page)


def write_html(case: Case, path: Path, **kwargs: Any) -> None:
    """Write the report (UTF-8, LF) to ``path``."""
    path.write_text(render_html(case, **kwargs), encoding="utf-8", newline="\n")


@functools.cache
def _env() -> Environment:
    """Templates and the inline CSS/JS come from the package (never from the working directory)."""
    env = Environment(
        loader=FunctionLoader(_template_source),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["human_bytes"] = human_bytes
    return env


def _template_source(name: str) -> str:
    return _package_text(f"render/templates/{name}")


def _package_text(relative: str) -> str:
    return resources.files("droneaudit").joinpath(relative).read_text(encoding="utf-8")


def script_json(data: Any) -> Markup:
    """JSON safe inside a ``<script>`` element: ``</script>``, ``<!--`` and ``&`` cannot appear."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _static(name: str) -> Markup:
    """Shipped CSS/JS, inlined; refuse a file that could close its own element."""
    text = _package_text(f"render/templates/{name}")
    if "</" in text:
        raise ValueError(f"{name} must not contain '</'")
    return Markup(text)


def _context(
    case: Case, claims: list[ClaimResult], conditions: dict[str, str], sites: Sequence[Site]
) -> dict[str, Any]:
    map_data = _map_data(case, sites)
    data: dict[str, Any] = {"map": map_data, "timeline": _timeline_data(case), "basemap": _basemap()}
    return {
        "case": case,
        "verdict": case.verdict,
        "endpoints": _endpoint_rows(case),
        "claims": [c.to_dict() for c in claims],
        "conditions": sorted(conditions.items()),
        "records": _records(case),
        "manifest": _manifest(case),
        "data_json": script_json(data),
        "css": _static("report.css"),
        "js": _static("report.js"),
        "counts": {"tracks": len(map_data["tracks"]), "points": len(map_data["points"])},
        "report_date": _report_date(),
    }


def _report_date() -> str | None:
    """Only a reproducible date (``SOURCE_DATE_EPOCH``), never the wall clock."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not raw.isdigit():
        return None
    return datetime.fromtimestamp(int(raw), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _endpoint_rows(case: Case) -> list[dict[str, Any]]:
    """Biggest talkers first (remote before local), as the terminal report orders them."""
    rows = [e.to_dict() | {"label": e.label} for e in case.endpoints]
    return sorted(rows, key=lambda r: (r["local"], -(r["bytes_up"] + r["bytes_down"]), r["label"]))


def _records(case: Case) -> dict[str, list[dict[str, Any]]]:
    """The record lists shown as plain tables (whatever the case holds; empty ones are skipped)."""
    return {
        "flights": [f.to_dict() for f in case.flights],
        "exposures": [e.to_dict() for e in case.exposures],
        "correlations": [c.to_dict() for c in case.correlations],
        "media": [m.to_dict() for m in case.media],
        "identities": [i.to_dict() for i in case.identities],
        "findings": [f.to_dict() for f in case.findings],
        "problems": [p.to_dict() for p in case.problems],
        **content_records(case),
    }


def _manifest(case: Case) -> dict[str, Any]:
    """What was read (with hashes) and what produced the report (tool, schema, data and their licences)."""
    sources = case.data_sources or {}
    ipdata = sources.get("ipdata") or {}
    data_rows = [
        {
            "name": f"ipdata/{key}",
            "role": info.get("role"),
            "source": info.get("source"),
            "licence": info.get("licence"),
            "date": info.get("date"),
            "attribution": info.get("attribution"),
        }
        for key, info in sorted(ipdata.items())
        if isinstance(info, dict)
    ]
    catalog = sources.get("catalog") or {}
    return {
        "inputs": [i.to_dict() for i in case.inputs],
        "tool": {"name": "droneaudit", "version": __version__, "schema": SCHEMA_VERSION},
        "data": data_rows,
        "catalog": catalog,
        "policy": sources.get("policy"),
        "basemap": {k: v for k, v in _basemap_doc().items() if k != "lines"},
        "dbip": bool(ipdata),
        "dbip_url": DBIP_URL,
    }


@functools.cache
def _basemap_doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_package_text("data/basemap/countries-110m.json"))
    return loaded


def _basemap() -> list[list[list[float]]]:
    lines: list[list[list[float]]] = _basemap_doc()["lines"]
    return lines


def _map_data(case: Case, sites: Sequence[Site]) -> dict[str, Any]:
    return {"tracks": _tracks(case), "points": _points(case), "sites": _site_shapes(sites)}


def _tracks(case: Case) -> list[dict[str, Any]]:
    """Aircraft positions per non-photo file, in file order (logs, SRT, Remote ID): one polyline each."""
    photos = {m.path for m in case.media if m.format in PHOTO_FORMATS}
    by_file: dict[str, list[list[float]]] = {}
    for t in case.tracks:
        if t.kind == "aircraft" and t.file not in photos:
            by_file.setdefault(t.file, []).append([round(t.lat, 7), round(t.lon, 7)])
    return [{"file": f, "points": pts} for f, pts in sorted(by_file.items()) if len(pts) > 1]


def _points(case: Case) -> list[dict[str, Any]]:
    """Photo positions plus every home, operator and target position (each distinct one once)."""
    out: dict[tuple[str, str, float, float], dict[str, Any]] = {}
    for m in case.media:
        if m.format in PHOTO_FORMATS and m.lat is not None and m.lon is not None:
            key = ("photo", m.path, round(m.lat, 7), round(m.lon, 7))
            out[key] = {
                "kind": "photo",
                "file": m.path,
                "lat": key[2],
                "lon": key[3],
                "time": m.captured_at_utc,
            }
    for t in case.tracks:
        if t.kind != "aircraft":
            key = (t.kind, t.file, round(t.lat, 7), round(t.lon, 7))
            out.setdefault(
                key, {"kind": t.kind, "file": t.file, "lat": key[2], "lon": key[3], "time": t.time_utc}
            )
    return [out[k] for k in sorted(out)]


def _site_shapes(sites: Sequence[Site]) -> list[dict[str, Any]]:
    """Each site's outline and its buffer outline, as lon/lat rings for drawing only.

    The buffer is made in the site's metric frame (as the exposure check measures) and brought back to
    degrees with the local scale at the frame's centre — fine for a picture of tens of kilometres, and
    never used to decide anything."""
    import shapely

    out = []
    for site in sites:
        lat0, lon0 = site.frame.lat0, site.frame.lon0
        buffered = shapely.buffer(site.local, max(site.buffer_m, 0.0), quad_segs=16)
        ring = shapely.get_coordinates(shapely.boundary(buffered))
        m_lat, m_lon = 110_574.0, 111_320.0 * max(0.01, abs(math.cos(math.radians(lat0))))
        buf = [[round(lat0 + y / m_lat, 7), round(lon0 + x / m_lon, 7)] for x, y in ring.tolist()]
        shape = [[round(y, 7), round(x, 7)] for x, y in shapely.get_coordinates(site.geometry).tolist()]
        out.append(
            {"name": site.name, "layer": site.layer, "buffer_m": site.buffer_m, "buffer": buf, "shape": shape}
        )
    return out


def _ms(iso: str | None) -> int | None:
    """ISO 8601 UTC ("…Z") → milliseconds since the epoch; None when absent or unparsable."""
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _timeline_data(case: Case) -> dict[str, Any]:
    flights = [
        {"id": f.id, "device": f.device, "start": _ms(f.start_utc), "end": _ms(f.end_utc)}
        for f in case.flights
        if _ms(f.start_utc) is not None
    ]
    photos = [
        {"file": m.path, "time": _ms(m.captured_at_utc)}
        for m in case.media
        if m.format in PHOTO_FORMATS and _ms(m.captured_at_utc) is not None
    ]
    flows, hidden = _flow_bars(case)
    return {"flights": flights, "photos": photos, "flows": flows, "flows_not_drawn": hidden}


def _flow_bars(case: Case) -> tuple[list[dict[str, Any]], int]:
    """One bar per flow to a non-local endpoint (duplicates left out), in time order."""
    table = case.flows
    if table.num_rows == 0 or "host" not in table.column_names:
        return [], 0
    local = {e.label: e.local for e in case.endpoints}
    vendor = {e.label for e in case.endpoints if e.entry is not None and e.entry.drone_vendor}
    cols = table.select(
        ["host", "remote_ip", "bytes_up", "bytes_down", "file", "first_frame", "duplicate_of"]
    )
    rows = cols.to_pydict()
    first = table.column("first_seen").cast(pa.int64()).to_pylist()
    last = table.column("last_seen").cast(pa.int64()).to_pylist()
    bars = []
    for i in range(table.num_rows):
        label = rows["host"][i] or rows["remote_ip"][i]
        if rows["duplicate_of"][i] is not None or local.get(label, True):
            continue
        bars.append(
            {
                "host": label,
                "start": first[i] // 1_000_000,
                "end": last[i] // 1_000_000,
                "up": rows["bytes_up"][i],
                "down": rows["bytes_down"][i],
                "file": rows["file"][i],
                "frame": rows["first_frame"][i],
                "vendor": label in vendor,
            }
        )
    bars.sort(key=lambda b: (b["start"], b["host"], b["file"], b["frame"]))
    return bars[:MAX_TIMELINE_FLOWS], max(0, len(bars) - MAX_TIMELINE_FLOWS)
