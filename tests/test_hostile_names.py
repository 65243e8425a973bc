"""File names are evidence too: newlines, quotes, escape sequences and non-UTF-8 bytes in a name never
break the terminal, the JSON or the HTML."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from droneaudit.cli import main
from droneaudit.synth.media import DEMO_PHOTOS, write_photo


def test_hostile_file_names_in_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    names = ['new\nline "quoted".jpg', "esc\x1b[31mred.jpg", "<img src=x onerror=alert(1)>.jpg"]
    for name in names:
        write_photo(folder / name, DEMO_PHOTOS[0], "SERIAL1")
    raw = os.fsencode(folder) + b"/bad-\xff-utf8.jpg"
    write_photo(Path(os.fsdecode(raw)), DEMO_PHOTOS[1], "SERIAL2")
    out_json, out_html = tmp_path / "o.json", tmp_path / "o.html"
    main(["scan", str(folder), "--json", str(out_json)])
    terminal = capsys.readouterr().out
    assert "\x1b" not in terminal
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert len(doc["media"]) == 4
    assert any(m["path"].endswith('new\nline "quoted".jpg') for m in doc["media"])
    assert main(["report", str(folder), "--html", str(out_html)]) == 0
    html = out_html.read_text(encoding="utf-8")
    assert "<img src=x" not in html and "\x1b" not in html
