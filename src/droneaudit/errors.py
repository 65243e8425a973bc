"""The few exceptions droneaudit raises; only ``cli.py`` turns them into a one-line message and exit code.

    DroneauditError
    ├── UsageError        the command line or API call was wrong (exit 2)
    └── NothingReadable   no input could be read at all (exit 2)

Damaged evidence never raises: readers turn it into ``Problem`` records and keep going.
"""

from __future__ import annotations


class DroneauditError(Exception):
    """Base class: something the user should be told in one line."""


class UsageError(DroneauditError):
    """The request itself is wrong (a missing path, a bad --device value)."""


class NothingReadable(DroneauditError):
    """Every input was unreadable; the scan has nothing to report but problems."""
