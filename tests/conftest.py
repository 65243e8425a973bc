"""Suite-wide rules: UTC everywhere, no network, and skips (not failures) when outside tools are absent.

* ``TZ=UTC`` is pinned before any test module is imported, so nothing that formats a time can depend on
  the machine running the suite (the Makefile exports it too; this covers a bare ``pytest``).
* Every test runs with new network sockets and DNS lookups disabled: droneaudit is an offline tool and
  a test that reaches the network is a bug. Mark a test ``@pytest.mark.allow_network`` to opt out.
* ``corpus`` and ``tshark`` fixtures skip with a clear reason when the shared corpus or tshark is missing.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oracles import corpus_hint, find_corpus
from oracles.tshark import tshark_path

os.environ["TZ"] = "UTC"
time.tzset()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_network: let this test open network sockets and resolve names")
    config.addinivalue_line("markers", "corpus: reads the shared corpus (skipped when absent)")
    config.addinivalue_line("markers", "tshark: needs the tshark binary as an oracle")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag tests by the outside resources they use, so ``-m "not tshark"`` or ``-m corpus`` just work."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        for name in ("corpus", "tshark"):
            if name in fixtures:
                item.add_marker(name)


class NetworkAccessBlocked(RuntimeError):
    """Raised when a test tries to open a network socket or resolve a name (droneaudit is offline)."""


class _GuardedSocket(socket.socket):
    """Refuses new network sockets. A subclass rather than a function, so ``isinstance`` checks and
    modules that subclass ``socket.socket`` on import (ssl, asyncio) keep working. Local AF_UNIX
    sockets and wrapping an existing descriptor (``socket.socketpair``) stay allowed: neither can leave
    the machine."""

    def __init__(
        self,
        family: int = -1,
        type: int = -1,
        proto: int = -1,
        fileno: int | None = None,
    ) -> None:
        if fileno is None and family != socket.AF_UNIX:
            raise NetworkAccessBlocked("tests must not open network sockets (mark with allow_network)")
        super().__init__(family, type, proto, fileno)


def _blocked(*_args: Any, **_kwargs: Any) -> Any:
    raise NetworkAccessBlocked("tests must not connect or resolve names (mark with allow_network)")


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Applies to every test in the session; function-scoped only so the opt-out marker can be read."""
    if request.node.get_closest_marker("allow_network") is None:
        monkeypatch.setattr(socket, "socket", _GuardedSocket)
        monkeypatch.setattr(socket, "create_connection", _blocked)
        monkeypatch.setattr(socket, "getaddrinfo", _blocked)
    yield


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The read-only shared corpus (DRONEAUDIT_CORPUS, default <repo>/../shared/corpus)."""
    path = find_corpus()
    if path is None:
        pytest.skip(corpus_hint())
    return path


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of the tshark binary used as an independent oracle."""
    path = tshark_path()
    if path is None:
        pytest.skip("tshark not installed (apt-get install tshark); it is the independent oracle")
    return path
