"""Strings that came from evidence files are hostile until shown otherwise: strip control and escape
characters (ANSI sequences, bidi overrides, newlines) before they reach a terminal."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_text(value: object, *, limit: int = 200) -> str:
    """Printable, single-line form of ``value``; control characters shown as \\xNN, long text cut."""
    text = str(value)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    text = "".join(
        ch if unicodedata.category(ch) not in ("Cf", "Cs", "Co") else f"\\u{ord(ch):04x}" for ch in text
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
