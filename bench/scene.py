"""The exposure bench's deterministic scene as plain arrays (NumPy only), so the peer that runs in the
bench's own venv (bench/peer_geopandas.py) rebuilds exactly what droneaudit is timed on."""

from __future__ import annotations

import numpy as np

#: Half the site square's north-south side in degrees (~100 m); east-west it is 1.4 × wider.
HALF = 0.0009


def scene_arrays(points: int, polygons: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """(site centre lat, lon, point lat, lon): ``polygons`` sites over 10° × 10° of central Europe,
    ``points`` random positions over the same area, 5 % of them placed within ~150 m of a site."""
    rng = np.random.default_rng(seed)
    clat = rng.uniform(42.0, 52.0, polygons)
    clon = rng.uniform(3.0, 13.0, polygons)
    lat = rng.uniform(42.0, 52.0, points)
    lon = rng.uniform(3.0, 13.0, points)
    near = rng.random(points) < 0.05
    pick = rng.integers(0, polygons, int(near.sum()))
    lat[near] = clat[pick] + rng.normal(0, 0.001, pick.size)
    lon[near] = clon[pick] + rng.normal(0, 0.0015, pick.size)
    return clat, clon, lat, lon


def boxes(clat: np.ndarray, clon: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Each site's square as (min lon, min lat, max lon, max lat)."""
    return [
        (lo - HALF * 1.4, la - HALF, lo + HALF * 1.4, la + HALF)
        for la, lo in zip(clat.tolist(), clon.tolist(), strict=True)
    ]
