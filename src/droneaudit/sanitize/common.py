"""What every cleaner shares: the removal profiles, the record of what was removed, and the two ways a
cleaner gives up on a file.

Why a record of values and not only of field names: verification re-reads the output with the inventory
readers, but a reader only finds what it knows to look for. The cleaners therefore also hand back the
*values* they removed that identify or locate (serial strings, coordinate text, GPS rational bytes), and
verification checks that none of them survives anywhere in the output's bytes — in a preview, a maker
note, a thermal record or a place no reader parses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from droneaudit.errors import UsageError

LOCATION, IDENTITY, TIME = "location", "identity", "time"
PROFILES = (LOCATION, IDENTITY, TIME)
DEFAULT_PROFILE = frozenset({LOCATION, IDENTITY})

#: Exposure finding codes (``checks/base/exposure.py``) that must be gone for each removed profile.
PROFILE_CODES: dict[str, frozenset[str]] = {
    LOCATION: frozenset(
        {
            "reveals-aircraft-position",
            "reveals-home-point",
            "reveals-operator-location",
            "reveals-target-location",
            "reveals-position",
        }
    ),
    IDENTITY: frozenset({"reveals-serial-numbers"}),
    TIME: frozenset({"reveals-exact-time"}),
}

#: A removed value shorter than this is not searched for in the output (too likely to occur by chance).
MIN_SECRET = 4
#: Values remembered per file (a per-frame SRT repeats coordinates tens of thousands of times).
MAX_SECRETS = 512


def parse_profile(text: str | None) -> frozenset[str]:
    """``--remove location,identity,time|all`` → the set of profiles; empty or None → the default."""
    if not text or not text.strip():
        return DEFAULT_PROFILE
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    if "all" in names:
        return frozenset(PROFILES)
    unknown = sorted(names - set(PROFILES))
    if unknown:
        raise UsageError(
            f"--remove: unknown profile {', '.join(unknown)} (use location, identity, time or all)"
        )
    return frozenset(names)


def profile_label(profile: frozenset[str]) -> str:
    """The profile as written on the command line, in a fixed order."""
    return ",".join(p for p in PROFILES if p in profile)


class Unsupported(Exception):
    """The file is not one the sanitizer can clean (format not supported yet, or a record we never edit).

    Nothing is written for it; the message is the reason shown to the user."""


class Damaged(Exception):
    """The file claims a supported format but its structure cannot be trusted for an exact rewrite."""


@dataclass
class Removed:
    """Field names removed (with counts), identifying values to search for, and what the user should know."""

    fields: Counter[str] = field(default_factory=Counter)
    secrets: set[bytes] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str | bytes | None = None, *, secret: bool = False) -> None:
        """Count ``name``; when ``secret``, remember ``value`` so verification can look for it."""
        self.fields[name] += 1
        if secret and value is not None:
            self.remember(value)

    def remember(self, value: str | bytes) -> None:
        """Keep ``value`` for the byte search when it is distinctive: text with three digits or eight
        characters (coordinates, serials), binary of eight bytes (GPS rationals); never zeros or blanks."""
        raw = (value.encode("utf-8", "replace") if isinstance(value, str) else bytes(value)).strip(b"\x00 ")
        if len(raw) < MIN_SECRET or len(self.secrets) >= MAX_SECRETS or not raw.strip(b"0. +-"):
            return
        text = all(32 <= c < 127 for c in raw)
        digits = sum(48 <= c <= 57 for c in raw)
        if len(raw) >= 8 or (text and digits >= 3):
            self.secrets.add(raw)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def merge(self, other: Removed, prefix: str = "") -> None:
        """Take over ``other``'s records, naming where they came from (``"MPF image 2: "``)."""
        for name, count in other.fields.items():
            self.fields[prefix + name] += count
        self.secrets |= other.secrets
        for text in other.notes:
            self.note(prefix + text)


@dataclass(frozen=True, slots=True)
class Options:
    """What to remove, and whether radiometric data goes too."""

    profile: frozenset[str] = DEFAULT_PROFILE
    drop_thermal: bool = False

    def removes(self, *classes: str) -> bool:
        """True when any of ``classes`` is in the profile."""
        return any(c in self.profile for c in classes)


@dataclass
class Outcome:
    """A cleaner's result: the new bytes (None = write nothing, e.g. SRT under ``--remove all``)."""

    data: bytes | None
    format: str
    removed: Removed = field(default_factory=Removed)
