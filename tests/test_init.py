"""The public API is exactly what ``__all__`` says (httpx-style guard)."""

from __future__ import annotations

import droneaudit


def test_public_names() -> None:
    assert sorted(droneaudit.__all__) == sorted(
        [
            "SCHEMA_VERSION",
            "CaptureStats",
            "Case",
            "InputFile",
            "Interface",
            "Problem",
            "__version__",
            "scan",
            "scan_paths",
        ]
    )
    for name in droneaudit.__all__:
        assert hasattr(droneaudit, name), name
