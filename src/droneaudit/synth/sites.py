"""A small demo site layer (GeoJSON) beside the demo photos, so ``droneaudit demo`` shows exposures.

The demo photos sit at 47.3769–47.3774 N, 8.5417–8.5426 E (Zürich). The layer is made up for the demo
and names no real installation: a substation polygon that contains the second photo, a rail line about
60 m from the track (inside its 100 m default buffer), and a point 2 km away that nothing reaches (so a
reader sees that sites without hits produce no record). Written with sorted keys and fixed precision so
the bytes never change between runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO_SITES_NAME = "demo-sites.geojson"


def demo_features() -> list[dict[str, Any]]:
    """The demo layer's features (GeoJSON order: lon, lat)."""
    substation = [
        [8.54195, 47.37700],
        [8.54235, 47.37700],
        [8.54235, 47.37730],
        [8.54195, 47.37730],
        [8.54195, 47.37700],
    ]
    rail = [[8.54080, 47.37640], [8.54250, 47.37650], [8.54420, 47.37660]]
    return [
        _feature("Demo substation", {"type": "Polygon", "coordinates": [substation]}, "substation"),
        _feature("Demo rail line", {"type": "LineString", "coordinates": rail}, "railway", buffer_m=100.0),
        _feature("Demo hospital", {"type": "Point", "coordinates": [8.56900, 47.37700]}, "hospital"),
    ]


def _feature(name: str, geometry: dict[str, Any], kind: str, buffer_m: float | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"name": name, "kind": kind}
    if buffer_m is not None:
        props["buffer_m"] = buffer_m
    return {"type": "Feature", "geometry": geometry, "properties": props}


def demo_layer() -> str:
    """The layer as deterministic GeoJSON text."""
    doc = {"type": "FeatureCollection", "name": "demo-sites", "features": demo_features()}
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


def write_demo_sites(folder: Path) -> Path:
    """Write ``demo-sites.geojson`` into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_SITES_NAME
    path.write_text(demo_layer(), encoding="utf-8")
    return path
