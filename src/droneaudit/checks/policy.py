"""What a unit allows: hosts, categories and address blocks that do not count as a leak (map tiles on
a mission that needs them, say), the verdict's scope, and the severity that fails a run.

Policy file (TOML)::

    [allow]
    hosts = ["api.mapbox.com", "*.tiles.example.org"]   # exact, or *. suffix (the domain and below)
    categories = ["maps", "connectivity-check"]
    networks = ["203.0.113.0/24"]

    [verdict]
    scope = "device"      # device | vendor
    fail_on = "high"      # info | low | medium | high
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from droneaudit.errors import UsageError
from droneaudit.model import SEVERITIES

SCOPES = ("device", "vendor")


@dataclass(frozen=True)
class Policy:
    allow_hosts: tuple[str, ...] = ()
    allow_categories: tuple[str, ...] = ()
    allow_networks: tuple[str, ...] = ()
    scope: str = "device"
    fail_on: str = "high"
    source: str = "defaults"  #: where the policy came from, for the report
    _nets: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES and not (self.scope.startswith("app:") and len(self.scope) > 4):
            raise UsageError(f"scope must be device, vendor or app:NAME, not {self.scope!r}")
        if self.fail_on not in SEVERITIES:
            raise UsageError(f"fail_on must be one of {', '.join(SEVERITIES)}, not {self.fail_on!r}")
        try:
            nets = tuple(ipaddress.ip_network(n, strict=False) for n in self.allow_networks)
        except ValueError as exc:
            raise UsageError(f"policy network: {exc}") from exc
        object.__setattr__(self, "_nets", nets)

    def allows_host(self, host: str | None) -> bool:
        if not host:
            return False
        host = host.lower().rstrip(".")
        for pattern in self.allow_hosts:
            p = pattern.lower().rstrip(".")
            if p.startswith("*."):
                if host == p[2:] or host.endswith(p[1:]):
                    return True
            elif host == p:
                return True
        return False

    def allows_ip(self, ip: str) -> bool:
        if not self._nets:
            return False  # nothing to parse against (the common case, and called per endpoint)
        addr = ipaddress.ip_address(ip)
        return any(addr.version == n.version and addr in n for n in self._nets)

    def with_flags(
        self, hosts: list[str], categories: list[str], scope: str | None, fail_on: str | None
    ) -> Policy:
        return replace(
            self,
            allow_hosts=self.allow_hosts + tuple(hosts),
            allow_categories=self.allow_categories + tuple(categories),
            scope=scope or self.scope,
            fail_on=fail_on or self.fail_on,
        )


def load(path: Path) -> Policy:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read policy {path}: {exc}") from exc
    allow, verdict = doc.get("allow", {}), doc.get("verdict", {})
    return Policy(
        allow_hosts=tuple(allow.get("hosts", ())),
        allow_categories=tuple(allow.get("categories", ())),
        allow_networks=tuple(allow.get("networks", ())),
        scope=verdict.get("scope", "device"),
        fail_on=verdict.get("fail_on", "high"),
        source=str(path),
    )
