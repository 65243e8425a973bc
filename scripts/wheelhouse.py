"""Build the droneaudit wheel and gather it with every runtime dependency into one folder (a
*wheelhouse*), so a workstation without registry access installs with

    pip install --no-index --find-links WHEELHOUSE droneaudit

Used by ``make wheelhouse`` (into build/wheelhouse) and by tests/test_packaging.py. The wheel is built
from a temporary copy of the project, so the work tree gets no build/lib or egg-info from it; gathering
the dependencies is the one step that uses the network (pip's configured index), on the connected
machine that prepares the folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What a wheel build needs from the project (tests, docs and benchmarks stay out of the wheel anyway).
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "src")


def build_wheel(out: Path, root: Path = ROOT) -> Path:
    """``python -m build --wheel --no-isolation`` on a clean copy of ``root``; returns the wheel."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="droneaudit-wheel-") as tmp:
        copy = Path(tmp) / "project"
        copy.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in PROJECT_FILES:
            src = root / name
            if src.is_dir():
                shutil.copytree(src, copy / name, ignore=ignore)
            else:
                shutil.copy2(src, copy / name)
        cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(copy)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wheels = sorted(out.glob("droneaudit-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"python -m build wrote no droneaudit wheel into {out}")
    return wheels[-1]


def gather(wheel: Path, out: Path) -> None:
    """The wheel's runtime dependencies as wheels in ``out`` (sdists are built into wheels here)."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(out), str(wheel)]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "wheelhouse", help="wheelhouse folder")
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    wheel = build_wheel(args.out)
    gather(wheel, args.out)
    count = len(list(args.out.glob("*.whl")))
    print(
        f"{args.out}: {count} wheels; install with: pip install --no-index --find-links {args.out} droneaudit"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
