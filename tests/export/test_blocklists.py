"""Block lists checked by the tools that load them, not by string comparison alone.

* dnsmasq (``--test``), unbound (``unbound-checkconf``) and nftables (``nft -c``) check syntax; then, as
  root, each runs for real in throw-away network namespaces with no route out (_router.py): dnsmasq and
  unbound answer queries with a stub dnsmasq as their only upstream; nftables drops pings.
* Suricata is not in Debian bookworm: rules go through two PyPI parsers, suricata-update's
  (``suricata.update.rule``) and the Lark grammar of ``surinort-ast``.
* Pi-hole's FTL is not packaged either: list lines are checked against FTL's ``gravity_parseList`` rules.
* Hostile host and file names (newlines, quotes, ``address=/#/…``) never become a configuration line.
Missing tools, or not root, skip with the reason; ``.ci/run`` installs them (docs/export.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import droneaudit
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import Catalog, CatalogEntry, CatalogError
from droneaudit.export.blocklists import FORMATS, ExportError, Rule, RuleSet, comment_text, render, rules_from

from . import _router

ALL_RULES = [
    Rule("domain", "dji.com", "catalog *.dji.com: DJI catch-all", suffix=True),
    Rule("domain", "active.dji.com", 'seen in "cap\nture".pcap frame 17; address=/#/6.6.6.6'),
    Rule("domain", "statistical-report.djiservice.org", "seen in a.pcap frame 726"),
    Rule("ip", "203.0.113.7", "seen in a.pcap frame 3"),
    Rule("cidr", "198.51.100.0/24", "catalog test network"),
    Rule("ip", "2001:db8::7", "seen in a.pcap frame 9"),
]
HOSTILE = "evil.com\n address=/#/1.2.3.4"
UPSTREAM = ("127.0.0.1#5353",)  # the stub "internet" inside the test namespaces


def ruleset(mode: str) -> RuleSet:
    return RuleSet.of(mode, ALL_RULES)


def out(fmt: str, mode: str) -> str:
    return render(fmt, ruleset(mode), upstream=UPSTREAM)


def observed(eps: list[Endpoint], categories: set[str] | None = None, **options: Any) -> RuleSet:
    options = {"source": "observed", "mode": "block", **options}
    return rules_from(eps, Catalog.load_default(), categories=categories, **options)


def endpoint(host: str | None, ips: list[str], *, local: bool = False, file: str = "a.pcap") -> Endpoint:
    match = Catalog.load_default().match(host) if host else None
    evidence = [{"file": file, "frame": 5, "kind": "flow"}, {"file": file, "frame": 4, "kind": "dns"}]
    return Endpoint(
        host, ips, local, None, None, None, None, match.entry if match else None, evidence=evidence
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, droneaudit.Case]:
    """The synthetic DJI-style app session behind ``droneaudit demo``, scanned once."""
    from droneaudit.synth.demo import build_demo_capture

    path = tmp_path_factory.mktemp("demo") / "flight.pcapng"
    build_demo_capture(path)
    return path, droneaudit.scan([path])


# --- rules from endpoints and the catalog -------------------------------------------------------------


def test_observed_rules_cite_the_frame_and_leave_out_local(demo: tuple[Path, droneaudit.Case]) -> None:
    path, case = demo
    rules = observed(case.endpoints)
    active = next(r for r in rules.rules if r.value == "active.dji.com")
    assert active.reason.startswith(f"seen in {path} frame 17 (named by tls-sni in frame 20)")
    assert "catalog active.dji.com: DJI Device activation" in active.reason
    assert Rule("ip", "47.88.135.19", active.reason).value in {r.value for r in rules.addresses(4)}
    assert "192.168.43.1" not in {r.value for r in rules.rules}
    assert any("left out local endpoint 192.168.43.1" in n for n in rules.notes)
    assert any("connectivity checks (connectivitycheck.gstatic.com)" in n for n in rules.notes)
    assert "192.168.43.1" in {r.value for r in observed(case.endpoints, include_local=True).rules}


def test_catalog_default_is_drone_maker_entries_and_categories_choose() -> None:
    catalog = Catalog.load_default()
    default = rules_from([], catalog, source="catalog", categories=None, mode="block")
    assert {r.pattern for r in default.rules} == {e.pattern for e in catalog.entries() if e.drone_vendor}
    maps = rules_from([], catalog, source="catalog", categories={"maps"}, mode="block")
    assert {r.pattern for r in maps.rules} == {e.pattern for e in catalog.entries() if e.category == "maps"}
    first = next(e for e in catalog.entries() if e.category == "maps")
    reason = next(r.reason for r in maps.rules if r.pattern == first.pattern)
    assert (
        reason.startswith(f"catalog {first.pattern}: {first.vendor} {first.service}")
        and first.sources[0] in reason
    )
    with pytest.raises(ExportError, match="unknown category nope"):
        rules_from([], catalog, source="catalog", categories={"nope"}, mode="block")


def test_uncatalogued_selects_unknown_observed_endpoints() -> None:
    eps = [endpoint("active.dji.com", ["47.88.135.19"]), endpoint("unknown.example.net", ["93.184.216.34"])]
    rules = observed(eps, {"uncatalogued"})
    assert [r.value for r in rules.rules] == ["unknown.example.net", "93.184.216.34"]
    expected = "address of unknown.example.net, seen in a.pcap frame 5 (named by dns in frame 4)"
    assert rules.rules[1].reason == expected


def test_output_is_sorted_merged_and_independent_of_input_order() -> None:
    eps = [
        endpoint("active.dji.com", ["47.88.135.19"]),
        endpoint(None, ["93.184.216.34"]),
        endpoint("active.dji.com", ["47.88.135.19"], file="b.pcap"),
    ]
    one = observed(eps, {"activation", "uncatalogued"}, source="both")
    two = observed(eps[::-1], {"activation", "uncatalogued"}, source="both")
    assert one == two and all(render(f, one) == render(f, two) for f in FORMATS)
    merged = next(r for r in one.rules if r.value == "active.dji.com")
    assert "seen in a.pcap frame 5" in merged.reason and "seen in b.pcap frame 5" in merged.reason
    assert [r.sort_key() for r in one.rules] == sorted(r.sort_key() for r in one.rules)


@pytest.mark.parametrize(
    "bad",
    [HOSTILE, "evil.com\n.x", "a.com\r\n.x", "dji.com/", "com", "a..b.com", "1.2.3.4", "é.com", "-a.com"],
)
def test_a_rule_refuses_anything_but_a_canonical_name(bad: str) -> None:
    with pytest.raises(ExportError):
        Rule("domain", bad, "x")


def test_comment_text_is_one_printable_line_and_reversible() -> None:
    text = comment_text('a\nb\\c "d" \u202e é')
    assert text == 'a\\x0ab\\x5cc "d" \\u202e \\xe9' and text.isprintable() and text.isascii()
    assert not comment_text("ends in a backslash \\").endswith("\\")
    assert text.encode().decode("unicode_escape") == 'a\nb\\c "d" \u202e é'


# --- hostile strings never become configuration ------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(host=st.text(min_size=1, max_size=40), file=st.text(max_size=30))
def test_no_input_string_adds_a_configuration_line(host: str, file: str) -> None:
    eps = [endpoint(host, ["93.184.216.34"], file=file), endpoint("ok.example.com", [], file=file)]
    for mode in ("block", "allow-only"):
        rules = observed(eps, mode=mode)
        for fmt in FORMATS:
            if (fmt, mode) == ("hosts", "allow-only"):
                continue
            text = render(fmt, rules, upstream=UPSTREAM)
            assert all(line.isascii() and line.replace("\t", "").isprintable() for line in text.splitlines())
            for line in _router.config_lines(text):
                assert re.fullmatch(_router.GRAMMAR[fmt], line), (fmt, line)
            assert "address=/#/1.2.3.4" not in "\n".join(_router.config_lines(text))


def test_the_issue_example_is_left_out_and_said_so() -> None:
    eps = [endpoint(HOSTILE, ["93.184.216.34"])]
    rules = observed(eps)
    assert [r.value for r in rules.rules] == ["93.184.216.34"]
    text = render("dnsmasq", rules)
    assert "# note: left out host evil.com\\x0a address=/#/1.2.3.4: not a DNS name" in text
    assert [line for line in text.splitlines() if "address=" in line and not line.startswith("#")] == []


def test_a_catalog_pattern_with_a_newline_is_left_out() -> None:
    entry = CatalogEntry("evil.com\n.example", "V", "S", "other", True, (), "C", ("x",))
    try:
        catalog = Catalog([entry])
    except CatalogError:
        return  # the catalog refuses it itself: nothing can reach the export
    rules = rules_from([], catalog, source="catalog", categories=None, mode="block")
    assert rules.rules == () and any(n.startswith("left out catalog pattern evil.com\n") for n in rules.notes)


def test_hostile_catalog_source_stays_in_its_comment() -> None:
    entry = CatalogEntry("*.bad.example", "V", "S", "other", True, (), "C", ("x\naddress=/#/6.6.6.6",))
    rules = rules_from([], Catalog([entry]), source="catalog", categories=None, mode="block")
    assert _router.config_lines(render("dnsmasq", rules)) == [
        "address=/bad.example/0.0.0.0",
        "address=/bad.example/::",
        "local=/bad.example/",
    ]


# --- format semantics -------------------------------------------------------------------------------


def test_hosts_lists_exact_names_and_says_what_it_cannot_express() -> None:
    text = out("hosts", "block")
    assert _router.config_lines(text) == [
        "0.0.0.0 dji.com",
        ":: dji.com",
        "0.0.0.0 active.dji.com",
        ":: active.dji.com",
        "0.0.0.0 statistical-report.djiservice.org",
        ":: statistical-report.djiservice.org",
    ]
    assert "# not expressed: names under dji.com (hosts files have no wildcards)" in text
    assert "# 3 address rule(s) left out" in text
    with pytest.raises(ExportError, match="allow-only"):
        out("hosts", "allow-only")


def test_suricata_sids_are_stable_unique_and_per_rule() -> None:
    def sids(rules: RuleSet) -> dict[str, str]:
        lines = _router.config_lines(render("suricata", rules))
        return {
            line.split("(msg:")[0] + re.findall(r'content:"[^"]*"|-> \S+', line)[-1]: re.findall(
                r"sid:(\d+)", line
            )[0]
            for line in lines
        }

    full, fewer = sids(ruleset("block")), sids(RuleSet.of("block", ALL_RULES[2:]))
    assert len(set(full.values())) == len(full) == 9  # 3 names x (dns, tls) + 3 addresses
    assert all(full[key] == sid for key, sid in fewer.items())  # removing rules leaves the others' sids
    assert sids(ruleset("block")) == full


# --- real tools: syntax ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["block", "allow-only"])
@pytest.mark.parametrize("fmt", ["dnsmasq", "unbound", "nftables"])
def test_the_tool_accepts_the_file(fmt: str, mode: str, tmp_path: Path) -> None:
    """``dnsmasq --test``, ``unbound-checkconf`` (the clause is a whole config), ``nft -c -f``."""
    path = tmp_path / f"droneaudit.{fmt}"
    path.write_text(out(fmt, mode))
    result = _router.run(_router.check_command(fmt, path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["block", "allow-only"])
def test_suricata_update_parser_reads_every_rule(mode: str) -> None:
    parser = pytest.importorskip(
        "suricata.update.rule", reason="pip install suricata-update (the OISF parser)"
    )
    lines = _router.config_lines(out("suricata", mode))
    parsed = [parser.parse(line) for line in lines]
    assert all(p is not None for p in parsed)
    assert [p["action"] for p in parsed] == [line.split()[0] for line in lines]
    assert len({p["sid"] for p in parsed}) == len(lines)


@pytest.mark.parametrize("mode", ["block", "allow-only"])
def test_surinort_grammar_accepts_every_rule_and_reads_msg_back(mode: str) -> None:
    api = pytest.importorskip("surinort_ast.api", reason="pip install surinort-ast (Lark grammar for rules)")
    rules = ruleset(mode)
    msgs = []
    for line in _router.config_lines(render("suricata", rules)):
        rule = api.parse_rule(line)
        errors = [d for d in api.validate_rule(rule) if d.level.value == "error"]
        assert errors == [], (line, errors)
        msgs.append(next(o.text for o in rule.options if type(o).__name__ == "MsgOption"))
    action = "allow" if mode == "allow-only" else "block"
    hostile = comment_text(f"droneaudit {action} active.dji.com - {ALL_RULES[1].reason}", limit=200)
    assert hostile in msgs and all(m.startswith("droneaudit ") and m.isprintable() for m in msgs)


@pytest.mark.parametrize("mode", ["block", "allow-only"])
def test_pihole_list_passes_ftl_gravity_rules(mode: str) -> None:
    rules = ruleset(mode)
    lines = _router.pihole_entries(render("pihole", rules))
    assert len(lines) == len(rules.domains)
    assert all(_router.ftl_accepts(line, allow=mode == "allow-only") for line in lines), lines
    assert ("@@||dji.com^" if mode == "allow-only" else "||dji.com^") in lines and "active.dji.com" in lines


# --- real tools: behaviour inside throw-away network namespaces ---------------------------------------

Netns = Callable[[], str]


@pytest.fixture
def netns() -> Iterator[Netns]:
    yield from _router.namespaces()


@pytest.fixture
def daemons(netns: Netns, tmp_path: Path) -> Iterator[_router.Daemons]:
    """Starts daemons inside namespaces; stopped before the namespaces are deleted."""
    started = _router.Daemons(tmp_path)
    yield started
    started.stop()


def test_nft_blocks_an_address_in_a_namespace(netns: Netns, tmp_path: Path) -> None:
    ns = netns()
    for addr in ("203.0.113.7/32", "203.0.113.8/32"):
        _router.ip("-n", ns, "addr", "add", addr, "dev", "lo")
    assert _router.ping(ns, "203.0.113.7") and _router.ping(ns, "203.0.113.8")
    _router.nft_load(ns, out("nftables", "block"), tmp_path)
    assert not _router.ping(ns, "203.0.113.7"), "listed address still answers"
    assert _router.ping(ns, "203.0.113.8"), "an address not listed was blocked"


def test_nft_allow_only_lets_only_listed_addresses_out(netns: Netns, tmp_path: Path) -> None:
    router, far = netns(), netns()
    _router.veth(router, "203.0.113.1/24", far, ["203.0.113.7/24", "203.0.113.9/24"])
    assert _router.ping(router, "203.0.113.9")
    _router.nft_load(router, out("nftables", "allow-only"), tmp_path)
    assert _router.ping(router, "203.0.113.7"), "a listed address is not reachable"
    assert not _router.ping(router, "203.0.113.9"), "default deny let an unlisted address through"


def test_dnsmasq_block_answers_null_and_hosts_file_loads(netns: Netns, daemons: _router.Daemons) -> None:
    ns = netns()
    daemons.internet(ns)
    conf = daemons.write("block.conf", out("dnsmasq", "block"))
    daemons.dnsmasq(ns, 53, f"--conf-file={conf}", "--server=127.0.0.1#5353")
    assert _router.dig(ns, "www.dji.com") == (0, ["0.0.0.0"])
    assert _router.dig(ns, "dji.com", 28) == (0, ["::"])
    assert _router.dig(ns, "active.dji.com", 16) == (0, []), "other record types must not go upstream"
    assert _router.dig(ns, "example.org", 16) == (0, ["TXT"]), "names not listed resolve as usual"
    daemons.stop()
    daemons.internet(ns)
    hosts = daemons.write("hosts", out("hosts", "block"))
    log = daemons.dnsmasq(ns, 53, "--conf-file=/dev/null", f"--addn-hosts={hosts}", "--server=127.0.0.1#5353")
    assert _router.dig(ns, "active.dji.com") == (0, ["0.0.0.0"])
    assert _router.dig(ns, "statistical-report.djiservice.org", 28) == (0, ["::"])
    assert _router.dig(ns, "www.dji.com") == (0, ["192.0.2.1"]), "a hosts file has no wildcards"
    assert f"read {hosts} - 6 names" in log.read_text() and "bad" not in log.read_text()


def test_dnsmasq_allow_only_resolves_listed_names_and_fills_the_nft_set(
    netns: Netns, daemons: _router.Daemons, tmp_path: Path
) -> None:
    ns = netns()
    _router.nft_load(ns, out("nftables", "allow-only"), tmp_path)
    daemons.internet(ns)
    daemons.dnsmasq(ns, 53, f"--conf-file={daemons.write('allow.conf', out('dnsmasq', 'allow-only'))}")
    assert _router.dig(ns, "www.dji.com") == (0, ["192.0.2.1"])
    assert _router.dig(ns, "www.dji.com", 16) == (0, ["TXT"])
    for qtype in (1, 16, 65):  # A, TXT, HTTPS: no record type of an unlisted name reaches upstream
        assert _router.dig(ns, "example.org", qtype) == (3, []), f"type {qtype} of an unlisted name leaked"
    nft = [_router.tool("nft"), "list", "set", "inet", "droneaudit", "allowed_v4"]
    listed = _router.run(["ip", "netns", "exec", ns, *nft]).stdout
    assert "192.0.2.1" in listed and "203.0.113.7" in listed


def test_dnsmasq_allow_only_needs_an_upstream_and_nft_then_allows_only_it() -> None:
    with pytest.raises(ExportError, match="upstream"):
        render("dnsmasq", ruleset("allow-only"))
    with pytest.raises(ExportError, match="upstream must be an IP address"):
        render("dnsmasq", ruleset("allow-only"), upstream=["dns.example\nno-resolv"])
    text = render("nftables", ruleset("allow-only"), upstream=["9.9.9.9", "2620:fe::fe#53"])
    assert "\t\t\t9.9.9.9,\n" in text and "\t\t\t2620:fe::fe,\n" in text and "0.0.0.0/0" not in text
    assert "0.0.0.0/0" in render("nftables", ruleset("allow-only"))


@pytest.mark.parametrize("mode", ["block", "allow-only"])
def test_unbound_answers_per_mode(mode: str, netns: Netns, daemons: _router.Daemons) -> None:
    ns = netns()
    daemons.internet(ns)
    daemons.unbound(ns, daemons.write("droneaudit.conf", out("unbound", mode)))
    listed, other = _router.dig(ns, "www.dji.com"), _router.dig(ns, "example.org")
    if mode == "block":
        assert listed == (3, []) and other == (0, ["192.0.2.1"])
    else:
        assert listed == (0, ["192.0.2.1"]) and other == (3, [])
        assert _router.dig(ns, "example.org", 16) == (3, []), "other record types are refused too"


# --- the command ---------------------------------------------------------------------------------------


def test_export_from_capture_and_from_case_file_agree(
    demo: tuple[Path, droneaudit.Case], tmp_path: Path
) -> None:
    path, case = demo
    case_file = tmp_path / "case.duckdb"
    case.to_duckdb(case_file)
    out = tmp_path / "blocked.conf"
    assert _router.cli(["export", str(path), "--format", "dnsmasq", "--out", str(out)])[0] == 0
    code, from_case = _router.cli(["export", "--from", str(case_file), "--format", "dnsmasq"])
    assert code == 0 and from_case == out.read_text()
    assert "address=/active.dji.com/0.0.0.0" in from_case


def test_export_refuses_to_overwrite_an_input(demo: tuple[Path, droneaudit.Case]) -> None:
    path, _ = demo
    before = path.read_bytes()
    code, _ = _router.cli(["export", str(path), "--format", "hosts", "--out", str(path)])
    assert code == 2 and path.read_bytes() == before


def test_export_from_catalog_needs_no_input() -> None:
    code, text = _router.cli(["export", "--format", "unbound", "--categories", "activation"])
    assert code == 0 and 'local-zone: "active.dji.com." always_nxdomain' in text
    assert _router.cli(["export", "--source", "observed", "--format", "unbound"])[0] == 2
