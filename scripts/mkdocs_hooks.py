"""MkDocs hook: leave out nav entries for pages that other work adds later, so the strict build passes
before and after they land.

Why a hook and not a hand-kept nav: several engineers write pages at once, and a nav entry for a file
that is not there yet fails ``mkdocs build --strict``. Only the pages named in ``OPTIONAL_PAGES`` may be
missing; any other missing page still fails the build, and any page not in the nav fails it too
(``validation.nav.omitted_files: warn`` in mkdocs.yml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Pages announced in the nav whose files may not exist yet (watch, content audit, custody, fuzzing).
OPTIONAL_PAGES = frozenset({"watch.md", "content-audit.md", "custody.md", "fuzzing.md"})


def on_config(config: Any, **_: Any) -> Any:
    docs = Path(config["docs_dir"])
    if config["nav"]:
        config["nav"] = prune(config["nav"], docs)
    return config


def prune(nav: list[Any], docs: Path) -> list[Any]:
    """The nav without optional pages that are missing (and without sections left empty)."""
    out: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            (title, target), *_ = item.items()
            kept = prune(target, docs) if isinstance(target, list) else target
            if kept and _present(kept, docs):
                out.append({title: kept})
        elif _present(item, docs):
            out.append(item)
    return out


def _present(target: Any, docs: Path) -> bool:
    return not (isinstance(target, str) and target in OPTIONAL_PAGES and not (docs / target).is_file())
