"""``--dji-keychain FILE`` (repeatable): DJI keychains the user brings, for v13+ flight-record frames.

Keychains are per scan and travel inside the reader that uses them (``DjiRecordReader(keychains=...)``)
rather than through module state or an environment variable, so two scans in one process cannot see
each other's keys and a test can hand one in directly. Files are loaded and validated when the command
line is read: a wrong file stops the run with one line naming it, before any evidence is opened.
droneaudit never fetches a keychain - the user obtained it elsewhere (e.g. with dji-log-parser or
pydjirecord and their own DJI developer key).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from droneaudit.readers._api import Reader
from droneaudit.readers.logs.dji_keychain import Keychain, load_keychain
from droneaudit.readers.logs.dji_record import DjiRecordReader

HELP = (
    "JSON keychain for DJI v13+ flight records, as DJI's keychain service returns it (obtained "
    "elsewhere: droneaudit never contacts DJI). Repeatable; each log uses the keychain that fits it."
)

#: The typer parameter type for ``scan``: ``dji_keychain: DjiKeychainOption = None``.
DjiKeychainOption = Annotated[
    list[Path] | None, typer.Option("--dji-keychain", metavar="FILE", help=HELP, show_default=False)
]


def load_keychains(paths: Iterable[str | os.PathLike[str]] | None) -> tuple[Keychain, ...]:
    """Every file given to ``--dji-keychain``, validated; a bad one raises ``KeychainError`` (a
    ``UsageError``: one line naming the file, exit 2)."""
    return tuple(load_keychain(path) for path in paths or ())


def with_keychains(readers: Sequence[Reader], keychains: Sequence[Keychain]) -> tuple[Reader, ...]:
    """``readers`` with the DJI flight-record reader replaced by one holding ``keychains`` (same order,
    so sniff ties still break the same way); unchanged when there are none."""
    if not keychains:
        return tuple(readers)
    return tuple(DjiRecordReader(keychains) if isinstance(r, DjiRecordReader) else r for r in readers)
