"""``make bench``: droneaudit beside its peers and the physical limit, on inputs built here.

``python bench/run.py [--quick] [--only capture,memory,media,exposure]``. Inputs are generated
deterministically under ``bench/_work/`` (git-ignored; never committed); peers that are not
project dependencies (nfstream, geopandas) go into their own venv at ``bench/_work/venv``, never the
project's. Every section checks that the answers agree (flows, packets, bytes, names, GPS, pairs) before a
ratio is reported, prints its numbers with the load average, and ``docs/benchmarks.md`` is rewritten at
the end (doc.py). The capture sections live in capture.py, shared helpers in common.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen
from capture import section_capture, section_memory
from common import ENV, EXIFTOOL, WORK, Report, Row, Target, ensure_peers, ensure_tools, load, probe, timed
from doc import write_doc


def _stay_open(files: list[Path]) -> tuple[float, dict[str, list[float]]]:
    proc = subprocess.Popen(
        ["perl", EXIFTOOL, "-stay_open", "True", "-@", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdin and proc.stdout
    gps: dict[str, list[float]] = {}
    start = time.perf_counter()
    for f in files:
        proc.stdin.write(f"-n\n-json\n{f}\n-execute\n")
        proc.stdin.flush()
        buf = []
        for line in proc.stdout:
            if line.startswith("{ready"):
                break
            buf.append(line)
        rec = json.loads("".join(buf))[0]
        gps[f.name] = [rec.get("GPSLatitude"), rec.get("GPSLongitude")]
    seconds = time.perf_counter() - start
    proc.stdin.write("-stay_open\nFalse\n")
    proc.stdin.close()
    proc.wait()
    return seconds, gps


def _gps_agree(a: dict, b: dict) -> tuple[bool, str]:
    bad = [k for k in b if k not in a or any(abs(x - y) > 1e-6 for x, y in zip(a[k], b[k], strict=True))]
    return not bad and len(a) == len(b), f"{len(a)} / {len(b)} files, {len(bad)} differ > 1e-6°"


def _python_floor(files: list[Path]) -> float:
    """stat + open + read + SHA-256 of every photo, nothing else: what any Python inventory pays."""
    start = time.perf_counter()
    for f in files:
        os.stat(f)
        with f.open("rb") as fh:
            hashlib.file_digest(fh, "sha256")
    return time.perf_counter() - start


def _jpeg_gap(rep: Report, count: int, need: float) -> str:
    f = rep.facts
    per = 1e6 / count
    return (
        f"needs ≤ {need * per:.0f} µs per photo, all in; ours is {f['media_s'] * per:.0f} µs "
        f"({f['media_cpu'] * per:.0f} µs of CPU), of which stat + open + read + SHA-256 alone are "
        f"{f['media_floor'] * per:.0f} µs. The rest is Python: the marker walk, the EXIF IFD walk, the XMP "
        "packet through expat (defusedxml), and building the item, track points and identities. Closing it "
        "would take a compiled EXIF/XMP extractor, or reading photos in several processes (the bench "
        "machine has 2 cores, shared)."
    )


def section_media(rep: Report, count: int) -> None:
    print(f"\n== JPEG inventory: {count:,} DJI-style JPEGs")
    folder = WORK / f"jpeg-{count}"
    if not folder.exists():
        gen.write_photos(folder, count)
    files = sorted(folder.rglob("*.JPG"))
    size = sum(f.stat().st_size for f in files)
    rep.inputs.append(
        f"`{folder.name}/`: {len(files):,} real JPEG files (EXIF GPS + DJI XMP), {size / 1e6:.1f} MB"
    )
    ours_s, rss, ours = probe("media", folder, runs=3)
    rep.facts |= {"media_s": ours_s, "media_cpu": ours["cpu_main"], "media_floor": _python_floor(files)}
    rep.row(
        Row(
            "media",
            "droneaudit scan (median of 3, in-process)",
            ours_s,
            f"{count / ours_s:,.0f} files/s",
            rss,
            load(),
        )
    )
    floor = rep.facts["media_floor"]
    rep.row(
        Row(
            "media",
            "Python floor: stat + open + read + SHA-256",
            floor,
            f"{count / floor:,.0f} files/s",
            None,
            load(),
        )
    )
    wall, et_rss, out = timed(["perl", EXIFTOOL, "-n", "-json", "-r", str(folder)])
    et = {Path(r["SourceFile"]).name: [r.get("GPSLatitude"), r.get("GPSLongitude")] for r in json.loads(out)}
    rep.row(Row("media", "exiftool -n -json -r", wall, f"{count / wall:,.0f} files/s", et_rss, load()))
    so_s, so = _stay_open(files)
    rep.row(
        Row(
            "media",
            "exiftool -stay_open (one -execute per file)",
            so_s,
            f"{count / so_s:,.0f} files/s",
            None,
            load(),
        )
    )
    ok, detail = _gps_agree(ours["gps"], et)
    rep.check("GPS vs exiftool -n -json -r", ok, detail)
    ok, detail = _gps_agree(ours["gps"], so)
    rep.check("GPS vs exiftool -stay_open", ok, detail)
    ratio = so_s / ours_s
    gap = _jpeg_gap(rep, count, so_s / 30)
    rep.targets.append(Target("JPEG ≥ 30× exiftool -stay_open", "≥ 30×", f"{ratio:.1f}×", ratio >= 30, gap))


def section_exposure(rep: Report, points: int, polygon_sizes: list[int]) -> None:
    from exposure import bench_exposure

    ensure_peers()  # the geopandas peer runs in the peers venv
    for polygons in polygon_sizes:
        print(f"\n== exposure: {points:,} track points × {polygons:,} sites")
        res = bench_exposure(points, polygons)
        ld = load()
        for name, (seconds, (pairs, pts)) in res.items():
            rate = f"{points / seconds / 1e6:.2f} M points/s"
            note = f"{pairs:,} pairs, {pts:,} points"
            rep.row(Row("exposure", f"{name} ×{polygons:,}", seconds, rate, None, ld, note))
        ours_s, (_pairs, ours_pts) = res["ours"]
        geo = [v[1][1] for k, v in res.items() if k.startswith("geopandas")]
        if geo:
            rep.check(
                f"exposure: points within 100 m of a site vs geopandas ×{polygons:,}",
                geo[0] <= ours_pts and ours_pts - geo[0] <= 0.001 * ours_pts,
                f"ours {ours_pts:,}, geopandas {geo[0]:,}: agree within 0.1 %; the extra points are "
                "ones ours puts at 99.8–100 m in the site's local frame, 4–6° west of UTM 32N's meridian "
                "where the projection's scale error (~0.2 %) pushes them past 100 m",
            )
        best = min(v[0] for k, v in res.items() if k != "ours")
        rep.targets.append(
            Target(
                f"exposure ≤ 1.5× best bare shapely (×{polygons:,} sites)",
                "≤ 1.5×",
                f"{ours_s / best:.2f}×",
                ours_s / best <= 1.5,
                "the metric refinement (per-site local frame + exact dwithin) is the cost of being right "
                "in metres",
            )
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (< 2 minutes)")
    ap.add_argument("--only", default="capture,memory,media,exposure")
    ap.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    only = set(args.only.split(","))
    rep = Report(quick=args.quick)
    ensure_tools()
    print(f"load average at start: {load()}")
    if "capture" in only:
        section_capture(rep, 100_000 if args.quick else 1_000_000, 1_000 if args.quick else 5_000)
    if "memory" in only:
        section_memory(rep, 0.2 if args.quick else 2.0)
    if "media" in only:
        section_media(rep, 200 if args.quick else 2_000)
    if "exposure" in only:
        section_exposure(
            rep, 100_000 if args.quick else 1_000_000, [1_000] if args.quick else [1_000, 10_000]
        )
    if not args.no_doc:
        write_doc(rep)
    return 0 if all(ok for _w, ok, _d in rep.checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
