"""The versions that decide an answer: the tool, the output schema, the endpoint catalog and the IP data.

Why in one place: a finding is only as reproducible as the data behind it, and a workstation that
installed from a wheelhouse has no other way to tell which catalog edition and which IP tables it
carries. ``droneaudit --version`` prints these lines; the catalog's ``[meta] version`` and the IP
data's ``SOURCE.json`` ``version`` are bumped whenever their content changes.
"""

from __future__ import annotations

from typing import Any

from droneaudit import __version__
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import packaged_source
from droneaudit.model import SCHEMA_VERSION


def versions() -> dict[str, dict[str, Any]]:
    """Machine-readable: what each part is, its version and, for data, the date it describes."""
    catalog = Catalog.load_default()
    ip = packaged_source()
    return {
        "tool": {"name": "droneaudit", "version": __version__},
        "schema": {"version": SCHEMA_VERSION},
        "catalog": {
            "version": catalog.meta.version,
            "updated": catalog.meta.updated,
            "entries": len(catalog),
        },
        "ipdata": {
            "version": str(ip.get("version") or ip.get("built", "")[:10]),
            "asn_date": ip.get("asn", {}).get("data_date"),
            "geo_date": ip.get("geo", {}).get("data_date"),
        },
    }


def version_lines() -> list[str]:
    """Human-readable, one line each; the first line is the classic ``droneaudit X (schema Y)``."""
    v = versions()
    cat, ip = v["catalog"], v["ipdata"]
    return [
        f"droneaudit {v['tool']['version']} (schema {v['schema']['version']})",
        f"catalog {cat['version']} (updated {cat['updated']}, {cat['entries']} entries)",
        f"ip data {ip['version']} (ASN table {ip['asn_date']}, country table {ip['geo_date']})",
    ]
