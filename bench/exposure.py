"""Site-exposure throughput: ``droneaudit.sites.match`` beside bare shapely and (if installed) geopandas.

``python bench/exposure.py [points] [polygons]``. Builds a deterministic scene (never committed):
``polygons`` squares of ~200 m with a 100 m buffer scattered over 10° × 10° of central Europe, and
``points`` random positions over the same area, 5 % of them placed on purpose within 150 m of a site.

* ours: STRtree prefilter on lon/lat boxes, then per-site metric frame and exact ``dwithin``.
* shapely-strtree: the naive baseline — an STRtree over the polygons buffered *in degrees* (0.0009°,
  which is 100 m north-south but only ~65 m east-west at 47°N), one ``query(predicate="intersects")``.
  Faster to write and wrong in metres; timed so the cost of being right is visible.
* geopandas-sjoin: ``sjoin_nearest`` with ``max_distance`` in a single UTM zone (metric, but a single
  projection only works for a region this small); run in the bench's peers venv (peer_geopandas.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from droneaudit.sites import Site, match

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scene import boxes, scene_arrays


def scene(points: int, polygons: int, seed: int = 7) -> tuple[list[Site], np.ndarray, np.ndarray]:
    clat, clon, lat, lon = scene_arrays(points, polygons, seed)
    sites = [Site.make(f"s{i}", "bench", shapely.box(*b), 100.0) for i, b in enumerate(boxes(clat, clon))]
    return sites, lat, lon


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _ours(sites: list[Site], lat: np.ndarray, lon: np.ndarray) -> tuple[int, int]:
    point = match(sites, lat, lon).point
    return len(point), int(np.unique(point).size)


def _naive(sites: list[Site], lat: np.ndarray, lon: np.ndarray) -> tuple[int, int]:
    tree = shapely.STRtree([shapely.buffer(s.geometry, 0.0009) for s in sites])
    hits = tree.query(shapely.points(lon, lat), predicate="intersects")
    return int(hits.shape[1]), int(np.unique(hits[0]).size)


def _geopandas(points: int, polygons: int) -> tuple[float, tuple[int, int]] | None:
    """Run in the peers' venv (see peer_geopandas.py); None when it has no geopandas."""
    py = Path(__file__).resolve().parent / "_work" / "venv" / "bin" / "python"
    if not py.exists():
        return None
    script = Path(__file__).resolve().parent / "peer_geopandas.py"
    res = subprocess.run([str(py), str(script), str(points), str(polygons)], capture_output=True, text=True)
    if res.returncode != 0:
        print(f"  geopandas peer failed: {res.stderr.strip().splitlines()[-1:]}")
        return None
    out = json.loads(res.stdout)
    return out["seconds"], (out["pairs"], out["points"])


def bench_exposure(
    points: int = 1_000_000, polygons: int = 10_000
) -> dict[str, tuple[float, tuple[int, int]]]:
    """Time each method on the same scene; print them, return name → (seconds, (pairs, distinct points)).

    ``sjoin_nearest`` keeps only the nearest site per point (ties aside), so compare distinct points."""
    t_build, (sites, lat, lon) = _timed(lambda: scene(points, polygons))
    print(f"scene: {points:,} points × {polygons:,} sites (built + frames in {t_build:.2f} s)")
    results: dict[str, tuple[float, tuple[int, int]]] = {}
    for name, fn in (
        ("ours", lambda: _ours(sites, lat, lon)),
        ("shapely-strtree (degrees, wrong)", lambda: _naive(sites, lat, lon)),
    ):
        results[name] = _timed(fn)
    peer = _geopandas(points, polygons)
    if peer is not None:
        results["geopandas-sjoin_nearest (UTM 32N)"] = peer
    for name, (seconds, counts) in results.items():
        print(f"  {name:36s} {seconds:7.2f} s  {counts[0]:>9,} pairs, {counts[1]:>9,} points")
    return results


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    bench_exposure(*args)
