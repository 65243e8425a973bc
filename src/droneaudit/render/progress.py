"""A progress bar for large inputs, on stderr only and only for a terminal (never in JSON or logs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

#: Below this many bytes in all, a scan is quick enough not to need a bar.
MIN_BYTES = 64 << 20


class _Bar:
    def __init__(self, progress: Progress, task: int) -> None:
        self._progress = progress
        self._task = task

    def advance(self, nbytes: int) -> None:
        self._progress.advance(self._task, nbytes)  # type: ignore[arg-type]


@contextmanager
def progress_for(files: list[Path], *, enabled: bool) -> Iterator[_Bar | None]:
    total = sum(p.stat().st_size for p in files)
    if not enabled or total < MIN_BYTES:
        yield None
        return
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("reading", total=total)
        yield _Bar(progress, task)
