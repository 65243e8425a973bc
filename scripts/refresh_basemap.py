"""Rebuild the HTML report's base map (coastlines and country borders) from the npm package world-atlas.

DEVELOPER COMMAND, never run at install or run time (the report must load nothing from the network):

    .venv/bin/python scripts/refresh_basemap.py                      # npm pack world-atlas@2.0.2
    .venv/bin/python scripts/refresh_basemap.py --from-tgz world-atlas-2.0.2.tgz   # no network

world-atlas (ISC, Mike Bostock) redistributes Natural Earth's public-domain 1:110m Admin 0 countries as
TopoJSON. Its arcs are exactly the coastlines and borders, each drawn once, so we decode the arcs
(delta-coded, quantized) into plain [lon, lat] polylines rounded to 0.01° — finer than 1:110m carries —
and write ``src/droneaudit/data/basemap/countries-110m.json`` plus ``NOTICE``. The report draws them as
SVG paths; no TopoJSON client is needed in the page.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "world-atlas"
VERSION = "2.0.2"
MEMBER = "package/countries-110m.json"
OUT = Path(__file__).resolve().parent.parent / "src" / "droneaudit" / "data" / "basemap"


def decode_arcs(topology: dict[str, Any]) -> list[list[list[float]]]:
    """TopoJSON quantized, delta-coded arcs → absolute [lon, lat] polylines (0.01° precision)."""
    scale = topology["transform"]["scale"]
    shift = topology["transform"]["translate"]
    lines = []
    for arc in topology["arcs"]:
        x = y = 0
        line: list[list[float]] = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            point = [round(x * scale[0] + shift[0], 2), round(y * scale[1] + shift[1], 2)]
            if not line or point != line[-1]:
                line.append(point)
        if len(line) > 1:
            lines.append(line)
    return lines


def fetch(dest: Path) -> Path:
    """``npm pack`` (runs no package scripts) into ``dest``; returns the tarball."""
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=dest, check=True, capture_output=True)
    return dest / f"{PACKAGE}-{VERSION}.tgz"


def build(tgz: Path) -> None:
    with tarfile.open(tgz) as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{MEMBER} not in {tgz}")
        topology = json.loads(member.read())
    lines = decode_arcs(topology)
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    doc = {
        "source": f"{PACKAGE} {VERSION} ({MEMBER}), Natural Earth 1:110m Admin 0 countries",
        "licence": "Natural Earth: public domain; world-atlas packaging: ISC",
        "tarball_sha256": digest,
        "lines": lines,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "countries-110m.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(lines)} polylines → {OUT / 'countries-110m.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-tgz", type=Path, help="use this world-atlas tarball instead of npm pack")
    args = parser.parse_args()
    if args.from_tgz:
        build(args.from_tgz)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(fetch(Path(tmp)))


if __name__ == "__main__":
    main()
