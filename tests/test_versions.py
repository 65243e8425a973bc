"""``droneaudit --version`` names the editions of the data behind an answer; shell completion works."""

from __future__ import annotations

import json
from importlib import resources

import pytest

import droneaudit
from droneaudit.cli import main
from droneaudit.enrich.catalog import Catalog
from droneaudit.versions import version_lines, versions


def test_versions_come_from_the_shipped_data() -> None:
    v = versions()
    source = json.loads(resources.files("droneaudit").joinpath("data/ipdata/SOURCE.json").read_text())
    catalog = Catalog.load_default()
    assert v["tool"]["version"] == droneaudit.__version__
    assert v["schema"]["version"] == droneaudit.SCHEMA_VERSION
    assert (v["catalog"]["version"], v["catalog"]["entries"]) == (catalog.meta.version, len(catalog))
    assert v["ipdata"] == {
        "version": source["version"],
        "asn_date": source["asn"]["data_date"],
        "geo_date": source["geo"]["data_date"],
    }


def test_version_option_prints_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.splitlines() == version_lines()


def test_show_completion_prints_a_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--show-completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "_DRONEAUDIT_COMPLETE=complete_bash" in script and "complete -o default" in script


def test_completion_offers_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_DRONEAUDIT_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "droneaudit di")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert main([]) == 0
    assert capsys.readouterr().out.split() == ["diff"]
