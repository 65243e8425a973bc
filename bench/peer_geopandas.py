"""The geopandas peer of the exposure bench, run in bench/_work/venv (geopandas is a bench peer, not a
project dependency: installed in the project's venv it would also put pandas there, which pyarrow then
imports into every droneaudit run and which would inflate droneaudit's own numbers).

``python bench/peer_geopandas.py POINTS POLYGONS`` prints {"seconds", "pairs", "points"} as JSON.
``sjoin_nearest`` with ``max_distance`` in a single UTM zone (metric, but one projection only works for a
region this small).
"""

from __future__ import annotations

import json
import sys
import time

import geopandas as gpd
import shapely
from scene import boxes, scene_arrays


def main() -> int:
    points, polygons = int(sys.argv[1]), int(sys.argv[2])
    clat, clon, lat, lon = scene_arrays(points, polygons)
    geoms = [shapely.box(*b) for b in boxes(clat, clon)]
    start = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326).to_crs(32632)
    polys = gpd.GeoDataFrame(geometry=geoms, crs=4326).to_crs(32632)
    joined = gpd.sjoin_nearest(pts, polys, max_distance=100.0, how="inner")
    seconds = time.perf_counter() - start
    json.dump({"seconds": seconds, "pairs": len(joined), "points": int(joined.index.nunique())}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
