"""The HTML report in a real browser: headless Debian Chromium driven by Playwright, opened from file://.

Checks what only a browser can: that opening the report makes no request but the document itself, runs
without console errors, draws the map and timeline with one element per track, point and flow, and shows
hostile evidence as text (no dialog, no injected element). It also saves a screenshot of the demo report
(docs/report-screenshot.png: written when absent or with DRONEAUDIT_UPDATE_SCREENSHOT=1).

Playwright never downloads a browser here: it is pointed at /usr/bin/chromium (``.ci/run`` installs the
Debian package). Without that binary or the playwright package the tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from droneaudit.case import Case
from droneaudit.render.html import write_html

from .test_html import HOSTILE_HOST, HOSTILE_XMP, demo_case, expected_counts, hostile_case

__all__ = ["demo_case"]  # the module-scoped fixture, re-used

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"
MAX_SCREENSHOT_BYTES = 300_000

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A report page plus everything it tried: requests, console errors, dialogs."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1100, "height": 900})
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def count(self, selector: str) -> int:
        return int(self.page.locator(selector).count())


def _open(browser: Any, case: Case, tmp_path: Path, **kwargs: Any) -> Opened:
    path = tmp_path / "report.html"
    write_html(case, path, **kwargs)
    return Opened(browser, path)


def test_demo_report_offline_and_complete(browser: Any, demo_case: Case, tmp_path: Path) -> None:
    opened = _open(browser, demo_case, tmp_path, conditions={"sync": "off"})
    assert opened.requests == [(tmp_path / "report.html").as_uri()]
    assert opened.errors == []
    expected = expected_counts(demo_case)
    assert opened.count("svg#map") == 1 and opened.count("svg#timeline") == 1
    assert opened.count("#map path.track") == expected["tracks"]
    assert opened.count("#map circle.pt") == expected["points"]
    assert opened.count("#timeline rect.bar-flow") == expected["flows"]
    assert opened.count("#timeline rect.tick-photo") == expected["photos"]
    assert opened.count("#locator path.basemap") == 1
    shot = tmp_path / "report-screenshot.png"
    opened.page.set_viewport_size({"width": 1100, "height": 1500})
    opened.page.evaluate("document.getElementById('map-section').scrollIntoView()")
    opened.page.screenshot(path=str(shot), full_page=False)
    assert 0 < shot.stat().st_size <= MAX_SCREENSHOT_BYTES
    # The committed copy is refreshed only on request (or when absent), so a test run leaves git clean.
    if os.environ.get("DRONEAUDIT_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


def test_endpoints_sort_on_click(browser: Any, demo_case: Case, tmp_path: Path) -> None:
    opened = _open(browser, demo_case, tmp_path)
    header = opened.page.locator("#endpoints-table th", has_text="flows")
    header.click()
    cells = opened.page.locator("#endpoints-table tbody td:nth-child(8)").all_inner_texts()
    assert [int(c) for c in cells] == sorted(int(c) for c in cells)
    header.click()
    cells = opened.page.locator("#endpoints-table tbody td:nth-child(8)").all_inner_texts()
    assert [int(c) for c in cells] == sorted((int(c) for c in cells), reverse=True)


def test_hostile_strings_render_as_text(browser: Any, tmp_path: Path) -> None:
    opened = _open(browser, hostile_case(), tmp_path)
    assert opened.errors == [] and opened.dialogs == []
    assert opened.requests == [(tmp_path / "report.html").as_uri()]  # <img src=x> never became an image
    assert opened.count("img") == 0 and opened.count("script") == 2
    body = opened.page.inner_text("body")
    assert HOSTILE_HOST in body and HOSTILE_XMP in body
    assert opened.page.locator("#endpoints-table td.host").first.inner_text().startswith(HOSTILE_HOST)
    lane = opened.page.locator("#timeline text.lane-label").first.text_content()
    assert lane == HOSTILE_HOST[:26]
    assert opened.count("#map path.track") == 1 and opened.count("#map circle.pt") == 2
