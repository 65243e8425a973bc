"""Rebuild droneaudit's shipped IP tables (owner ASN/organisation, geolocated country) from npm packages.

DEVELOPER COMMAND. It is never run at install time or at run time: droneaudit itself must never touch the
network, so the data it uses is built here, once, by a developer, and committed with the package:

    .venv/bin/python scripts/refresh_ipdata.py            # newest published versions
    .venv/bin/python scripts/refresh_ipdata.py --asn-version 2.3.2026061719 --geo-version 2.3.2026061719
    .venv/bin/python scripts/refresh_ipdata.py --from-dir DIR   # re-use *.tgz already in DIR (no network)

What it does, and why:

1. ``npm pack`` fetches ``@ip-location-db/asn`` and ``@ip-location-db/geo-whois-asn-country`` into a temp
   dir (npm is the one outside source we may reach; ``npm pack`` runs no package scripts).
2. It reads the integer-bound ``*-num.csv`` files (falling back to the dotted ones) — integers need no
   address parsing and cannot be mis-read.
3. The 2026-06 geo tables are neither sorted nor disjoint (a /32 inside a /23, the same start twice); a
   binary search needs disjoint sorted ranges, so overlaps are resolved with longest-prefix semantics:
   **the narrowest range covering an address wins** (ties: the later row). Adjacent ranges with equal
   values are then merged, which changes no lookup and keeps the table small.
4. The tables go into ``src/droneaudit/data/ipdata/ipdata.npz`` (``np.savez_compressed``): starts are
   delta-coded and ends stored as span lengths, both of which deflate to almost nothing. The layout is
   read by ``droneaudit.enrich.ipdata._load_npz``; keep the two in step (``FORMAT`` below).
5. ``SOURCE.json`` records package names, versions, publish dates, tarball hashes, licences and row counts
   (the tests check the npz against it) and ``NOTICE`` carries the attribution CC BY 4.0 requires.

The registered (RIR) country is not built here: it comes from the ``iptocc`` wheel at run time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import heapq
import ipaddress
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
ASN_PKG = "@ip-location-db/asn"
GEO_PKG = "@ip-location-db/geo-whois-asn-country"
OUT_DIR = Path(__file__).resolve().parent.parent / "src" / "droneaudit" / "data" / "ipdata"
U64 = (1 << 64) - 1

Row = tuple[int, int, Any]

ASN_ATTRIBUTION = (
    "IP-to-ASN data: the npm package @ip-location-db/asn by sapics (github.com/sapics/ip-location-db), "
    "built from the RouteViews IP to AS Number database (routeviews.org), the five RIRs' statistics "
    "(NRO, nro.net) and the DB-IP IP to ASN Lite database (IP Geolocation by DB-IP, https://db-ip.com). "
    "Licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)."
)
GEO_ATTRIBUTION = (
    "IP-to-country (geolocation) data: the npm package @ip-location-db/geo-whois-asn-country by sapics "
    "(github.com/sapics/ip-location-db), merged from GeoFeed, RIR whois and RIR ASN data. Its package.json "
    "declares CC0-1.0; it also ships NRO_LICENSE: the RIR statistics are provided by the Number Resource "
    "Organization (NRO, nro.net) under CC BY 4.0, so we attribute them as well."
)
MODIFICATIONS = (
    "Modifications by droneaudit: converted to binary range tables; overlapping ranges resolved so the "
    "narrowest covering range wins; adjacent ranges with equal values merged; organisation names "
    "deduplicated."
)


def npm_pack(package: str, version: str | None, dest: Path) -> dict[str, Any]:
    """Fetch one package tarball with ``npm pack`` and return npm's JSON description of it."""
    spec = f"{package}@{version}" if version else package
    cmd = ["npm", "pack", spec, "--json", "--pack-destination", str(dest)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    info: dict[str, Any] = json.loads(done.stdout)[0]
    return info


def npm_publish_time(package: str, version: str) -> str | None:
    """The registry's publish time for one version, or None when the registry cannot be asked."""
    done = subprocess.run(["npm", "view", package, "time", "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    published = json.loads(done.stdout).get(version)
    return str(published) if published else None


def unpack(tgz: Path, dest: Path) -> Path:
    """Extract an npm tarball (``package/`` inside) with tarfile's safe ``data`` filter."""
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def read_rows(package_dir: Path, stem: str, v6: bool) -> list[list[str]]:
    """CSV rows with integer bounds: the ``-num`` file if shipped, else the dotted one converted."""
    num = package_dir / f"{stem}-num.csv"
    if num.is_file():
        with num.open(newline="", encoding="utf-8") as f:
            return list(csv.reader(f))
    parse = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
    with (package_dir / f"{stem}.csv").open(newline="", encoding="utf-8") as f:
        return [[str(int(parse(r[0]))), str(int(parse(r[1]))), *r[2:]] for r in csv.reader(f)]


def flatten(rows: Sequence[Row]) -> list[Row]:
    """Disjoint, sorted ranges where the narrowest covering input range wins; equal neighbours merged.

    Sweep over every boundary (each start and each end + 1); between two boundaries the set of covering
    ranges is constant, so the heap's top (smallest span, then latest row) owns the whole segment.
    """
    bounds = sorted({r[0] for r in rows} | {r[1] + 1 for r in rows})
    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    heap: list[tuple[int, int]] = []
    out: list[Row] = []
    j = 0
    for k in range(len(bounds) - 1):
        here, nxt = bounds[k], bounds[k + 1]
        while j < len(order) and rows[order[j]][0] == here:
            i = order[j]
            heapq.heappush(heap, (rows[i][1] - rows[i][0], -i))
            j += 1
        while heap and rows[-heap[0][1]][1] < here:
            heapq.heappop(heap)
        if not heap:
            continue
        value = rows[-heap[0][1]][2]
        if out and out[-1][1] + 1 == here and out[-1][2] == value:
            out[-1] = (out[-1][0], nxt - 1, value)
        else:
            out.append((here, nxt - 1, value))
    return out


def encode_bounds(prefix: str, rows: Sequence[Row], v6: bool) -> dict[str, np.ndarray[Any, Any]]:
    """Delta-coded starts and span lengths (see module docstring, step 4)."""
    starts = [r[0] for r in rows]
    spans = [r[1] - r[0] for r in rows]
    if not v6:
        s = np.array(starts, dtype=np.uint32)
        return {
            f"{prefix}_start_d": np.diff(s, prepend=np.uint32(0)),
            f"{prefix}_span": np.array(spans, np.uint32),
        }
    hi = np.array([x >> 64 for x in starts], dtype=np.uint64)
    lo = np.array([x & U64 for x in starts], dtype=np.uint64)
    end_hi = np.array([r[1] >> 64 for r in rows], dtype=np.uint64)
    return {
        f"{prefix}_start_hi_d": np.diff(hi, prepend=np.uint64(0)),
        f"{prefix}_start_lo": lo,
        f"{prefix}_end_hi_d": end_hi - hi,
        f"{prefix}_end_lo": np.array([r[1] & U64 for r in rows], dtype=np.uint64),
    }


def build_asn(pkg: Path, orgs: dict[str, int]) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, int]]:
    """ASN v4 and v6 tables; organisation names go into the shared ``orgs`` index."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    counts: dict[str, int] = {}
    for fam, v6 in (("4", False), ("6", True)):
        raw = read_rows(pkg, f"asn-ipv{fam}", v6)
        rows = flatten([(int(r[0]), int(r[1]), (int(r[2]), r[3])) for r in raw])
        arrays |= encode_bounds(f"asn{fam}", rows, v6)
        arrays[f"asn{fam}_asn"] = np.array([r[2][0] for r in rows], dtype=np.uint32)
        arrays[f"asn{fam}_org"] = np.array([orgs.setdefault(r[2][1], len(orgs)) for r in rows], np.uint32)
        counts[f"asn{fam}_csv_rows"], counts[f"asn{fam}_rows"] = len(raw), len(rows)
    return arrays, counts


def build_geo(pkg: Path) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, int]]:
    """Geo-country v4 and v6 tables, country codes as 2-byte ASCII."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    counts: dict[str, int] = {}
    for fam, v6 in (("4", False), ("6", True)):
        raw = read_rows(pkg, f"geo-whois-asn-country-ipv{fam}", v6)
        rows = flatten([(int(r[0]), int(r[1]), r[2]) for r in raw])
        arrays |= encode_bounds(f"geo{fam}", rows, v6)
        arrays[f"geo{fam}_cc"] = np.array([r[2].encode("ascii") for r in rows], dtype="S2")
        counts[f"geo{fam}_csv_rows"], counts[f"geo{fam}_rows"] = len(raw), len(rows)
    return arrays, counts


def org_blob(orgs: dict[str, int]) -> np.ndarray[Any, Any]:
    """Organisation names in index order, newline-joined UTF-8 (no name contains a newline)."""
    names = sorted(orgs, key=orgs.__getitem__)
    if any("\n" in n for n in names):
        raise ValueError("an organisation name contains a newline; the blob format cannot hold it")
    return np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8)


def source_entry(info: dict[str, Any], pkg_dir: Path, tgz: Path, offline: bool) -> dict[str, Any]:
    """What SOURCE.json says about one npm package."""
    version = str(info["version"])
    meta = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
    stamp = version.rsplit(".", 1)[-1]  # 2026061719 = YYYYMMDDHH of the upstream build
    return {
        "package": info["name"],
        "version": version,
        "data_date": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) == 10 else None,
        "published": None if offline else npm_publish_time(str(info["name"]), version),
        "tarball": tgz.name,
        "sha256": hashlib.sha256(tgz.read_bytes()).hexdigest(),
        "npm_license_field": meta.get("license"),
        "licence_files": sorted(p.name for p in pkg_dir.iterdir() if "LICENSE" in p.name),
        "upstream_caution": upstream_caution(pkg_dir),
    }


def upstream_caution(pkg_dir: Path) -> str | None:
    """The README's "[!CAUTION]" block, if any, on one line: upstream warnings belong next to the data.

    (The 2026 packages say the npm data has known bugs and that npm updates stop in favour of GitHub
    releases; the overlaps ``flatten`` resolves are one symptom.)"""
    readme = pkg_dir / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines() if readme.is_file() else []
    start = next((i for i, line in enumerate(lines) if "[!CAUTION]" in line), None)
    if start is None:
        return None
    quote = []
    for line in lines[start + 1 :]:
        if not line.startswith(">"):
            break
        quote.append(line.lstrip(">").strip())
    return " ".join(" ".join(quote).replace("*", "").split()) or None


def notice_text(package_dirs: Sequence[Path]) -> str:
    """Attribution, modifications, and the upstream licence statements verbatim."""
    parts = ["droneaudit ships IP data from third parties:", ASN_ATTRIBUTION, GEO_ATTRIBUTION, MODIFICATIONS]
    parts.append("Upstream licence statements, verbatim:")
    for pkg_dir in package_dirs:
        meta = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
        for lic in sorted(p for p in pkg_dir.iterdir() if "LICENSE" in p.name):
            parts.append(
                f"--- {meta['name']} {meta['version']}: {lic.name}\n{lic.read_text(encoding='utf-8').strip()}"
            )
    return "\n\n".join(parts) + "\n"


def write_outputs(
    out: Path, arrays: dict[str, np.ndarray[Any, Any]], source: dict[str, Any], notice: str
) -> None:
    """Replace the npz, SOURCE.json and NOTICE together."""
    out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, Any] = dict(arrays)  # typed loosely: numpy's stub mixes **arrays with allow_pickle
    np.savez_compressed(out / "ipdata.npz", **columns)
    (out / "SOURCE.json").write_text(
        json.dumps(source, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "NOTICE").write_text(notice, encoding="utf-8")


def fetch(args: argparse.Namespace, tmp: Path) -> list[tuple[dict[str, Any], Path, Path]]:
    """(npm info, unpacked dir, tarball) for the ASN and geo packages, from npm or from --from-dir."""
    got = []
    for name, version in ((ASN_PKG, args.asn_version), (GEO_PKG, args.geo_version)):
        if args.from_dir:
            slug = name.lstrip("@").replace("/", "-")
            tgz = max(Path(args.from_dir).glob(f"{slug}-{version or ''}*.tgz"))
            shutil.copy(tgz, tmp / tgz.name)
            info = {"name": name, "version": tgz.name[len(slug) + 1 : -len(".tgz")]}
        else:
            info = npm_pack(name, version, tmp)
        tgz = tmp / str(info.get("filename", f"{name.lstrip('@').replace('/', '-')}-{info['version']}.tgz"))
        pkg_dir = unpack(tgz, tmp / name.replace("/", "_"))
        got.append((info, pkg_dir, tgz))
    return got


def build(args: argparse.Namespace) -> dict[str, Any]:
    """Fetch, flatten, encode and write; returns the SOURCE.json content."""
    with tempfile.TemporaryDirectory(prefix="ipdata-") as tmpname:
        (asn_info, asn_dir, asn_tgz), (geo_info, geo_dir, geo_tgz) = fetch(args, Path(tmpname))
        orgs: dict[str, int] = {}
        asn_arrays, asn_counts = build_asn(asn_dir, orgs)
        geo_arrays, geo_counts = build_geo(geo_dir)
        arrays = {"format": np.array([FORMAT], np.uint32), "orgs": org_blob(orgs)} | asn_arrays | geo_arrays
        now = dt.datetime.now(dt.UTC)
        source = {
            "format": FORMAT,
            "version": now.strftime("%Y.%m.%d"),  # the tables' edition: droneaudit --version prints it
            "built": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "builder": "scripts/refresh_ipdata.py",
            "asn": source_entry(asn_info, asn_dir, asn_tgz, bool(args.from_dir))
            | {"licence": "CC-BY-4.0", "attribution": ASN_ATTRIBUTION},
            "geo": source_entry(geo_info, geo_dir, geo_tgz, bool(args.from_dir))
            | {"licence": "CC0-1.0 (package.json); NRO statistics CC-BY-4.0", "attribution": GEO_ATTRIBUTION},
            "modifications": MODIFICATIONS,
            "rows": asn_counts | geo_counts | {"orgs": len(orgs)},
        }
        write_outputs(Path(args.out), arrays, source, notice_text([asn_dir, geo_dir]))
    return source


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", default=str(OUT_DIR), help="output folder (default: the package data folder)"
    )
    parser.add_argument("--asn-version", help=f"version of {ASN_PKG} (default: latest)")
    parser.add_argument("--geo-version", help=f"version of {GEO_PKG} (default: latest)")
    parser.add_argument(
        "--from-dir", help="take the *.tgz files from this folder instead of running npm pack"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    source = build(args)
    print(json.dumps(source["rows"], indent=2))
    for f in sorted(Path(args.out).iterdir()):
        print(f"{f.stat().st_size:>12,}  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
