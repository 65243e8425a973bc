"""Packaging: the wheel carries every data file, and a wheelhouse installs with no index at all.

The wheelhouse test is what `make wheelhouse` promises an analyst: build the wheel, gather its runtime
dependencies (this step uses PyPI, through pip in a subprocess — the suite's socket guard covers only
this process), then create a clean virtual environment, install with ``--no-index`` and no pip
configuration, and run ``droneaudit --version`` and a scan of a small synthetic capture; as root, the
scan also runs inside ``unshare -n`` (a network namespace with no interfaces).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import droneaudit
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.packets import ipv4, udp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "droneaudit"
NETWORK_ERRORS = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution")


def _wheelhouse_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "scripts" / "wheelhouse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package is not installed (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("dist")
    try:
        return _wheelhouse_script().build_wheel(out)  # type: ignore[no-any-return]
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"python -m build --wheel --no-isolation failed ({exc}); is setuptools>=77 installed?")


def _data_files() -> set[str]:
    """Every non-Python file of the package in the source tree, as a wheel path."""
    return {
        str(p.relative_to(PACKAGE.parent))
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


def test_wheel_carries_every_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_data_files() - names)
    assert not missing, f"package-data in pyproject.toml misses {missing}"
    for needed in (
        "droneaudit/data/catalog.toml",
        "droneaudit/data/ipdata/ipdata.npz",
        "droneaudit/py.typed",
    ):
        assert needed in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "droneaudit = droneaudit.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_has_no_tests_or_docs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("tests/", "docs/", "bench/", "scripts/"))]


@dataclass(frozen=True)
class Installed:
    bin: Path
    capture: Path


def _clean_env() -> dict[str, str]:
    """No PIP_* variables and no pip configuration file: only the command line decides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    return env | {"PIP_CONFIG_FILE": os.devnull, "TZ": "UTC"}


def _capture(path: Path) -> Path:
    t0 = 1_773_480_600 * 1_000_000_000
    phone, host = "192.168.43.23", "47.88.61.146"
    up = ipv4(phone, host, 17, udp(40000, 443, b"u" * 100, src_ip=phone, dst_ip=host))
    down = ipv4(host, phone, 17, udp(443, 40000, b"d" * 400, src_ip=host, dst_ip=phone))
    write_pcap(path, [Frame(t0, up), Frame(t0 + 10**6, down)], link_type=101)
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheelhouse")
    house = root / "wheelhouse"
    house.mkdir()
    shutil.copy2(wheel, house / wheel.name)
    gather = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--wheel-dir",
        str(house),
        str(house / wheel.name),
    ]
    done = subprocess.run(gather, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0 and any(e in done.stderr for e in NETWORK_ERRORS):
        pytest.skip(f"no package index reachable to gather dependencies: {done.stderr.splitlines()[-1]}")
    assert done.returncode == 0, f"pip wheel failed:\n{done.stderr[-3000:]}"
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    install = [
        str(env_dir / "bin" / "pip"),
        "install",
        "--no-index",
        "--find-links",
        str(house),
        "droneaudit",
    ]
    done = subprocess.run(install, capture_output=True, text=True, timeout=1200, env=_clean_env())
    assert done.returncode == 0, f"offline install failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    yield Installed(env_dir / "bin", _capture(root / "flight.pcap"))


@pytest.mark.wheelhouse
def test_wheelhouse_installs_offline_and_prints_versions(installed: Installed) -> None:
    done = subprocess.run(
        [str(installed.bin / "droneaudit"), "--version"], capture_output=True, text=True, env=_clean_env()
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == f"droneaudit {droneaudit.__version__} (schema {droneaudit.SCHEMA_VERSION})"
    assert lines[1].startswith("catalog ") and lines[2].startswith("ip data ")


def _scan(installed: Installed, out: Path, prefix: list[str]) -> dict[str, Any]:
    cmd = [
        *prefix,
        str(installed.bin / "droneaudit"),
        "scan",
        str(installed.capture),
        "--json",
        str(out),
        "-q",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert done.returncode == 1, f"expected a fail verdict (exit 1): {done.returncode}\n{done.stderr}"
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.wheelhouse
def test_installed_tool_scans_a_capture(installed: Installed, tmp_path: Path) -> None:
    doc = _scan(installed, tmp_path / "case.json", [])
    assert doc["verdict"]["status"] == "fail"
    assert doc["endpoints"][0]["org"]  # owner from the IP tables inside the wheel


@pytest.mark.wheelhouse
def test_installed_tool_scans_with_no_network_at_all(installed: Installed, tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to run the scan in a network namespace without interfaces")
    doc = _scan(installed, tmp_path / "case.json", ["unshare", "-n"])
    assert doc["verdict"]["status"] == "fail"
