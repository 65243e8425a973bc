"""A field router in a box, for the export tests: the real tools, run in throw-away network namespaces.

Every namespace made here starts with only a loopback interface (tests may add a veth pair between two
of them), so nothing the daemons or pings send can leave the machine. Missing tools or a non-root user
skip the test with the reason rather than failing it: ``.ci/run`` installs the tools and runs as root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from droneaudit.cli_export import export

_APT = "apt-get install -y dnsmasq-base unbound nftables iproute2 iputils-ping"
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"

#: A DNS client for inside a namespace (stdlib only): prints {"rcode": n, "answers": [...]} with A/AAAA
#: answers as addresses and any other record by its type name.
_QUERY = r"""
import json, socket, struct, sys
name, qtype, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
q = struct.pack(">HHHHHH", 0x2A2A, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(q, ("127.0.0.1", port))
data = s.recv(4096)
off, answers = len(q), []
for _ in range(struct.unpack(">H", data[6:8])[0]):
    while data[off] and data[off] & 0xC0 != 0xC0:
        off += data[off] + 1
    off += 1 if data[off] == 0 else 2
    rtype, _, _, size = struct.unpack(">HHIH", data[off:off + 10])
    rdata = data[off + 10:off + 10 + size]
    off += 10 + size
    if rtype in (1, 28):
        answers.append(socket.inet_ntop(socket.AF_INET if rtype == 1 else socket.AF_INET6, rdata))
    else:
        answers.append({16: "TXT", 65: "HTTPS"}.get(rtype, str(rtype)))
print(json.dumps({"rcode": data[3] & 15, "answers": answers}))
"""


_N = r"[a-z0-9_.-]+"  # a name as the rules write it
_SETS = "4#inet#droneaudit#allowed_v4,6#inet#droneaudit#allowed_v6"
#: What every non-comment line of each format may look like: anything else would be injected config.
GRAMMAR = {
    "hosts": rf"(0\.0\.0\.0|::) {_N}",
    "dnsmasq": rf"(address=/{_N}/(0\.0\.0\.0|::)|local=/{_N}/|address=/#/|no-resolv"
    rf"|server=/{_N}/[0-9a-f.:]+(#\d+)?|nftset=/{_N}/{_SETS})",
    "unbound": rf'(server:|    local-zone: "({_N})?\." (always_nxdomain|transparent))',
    "pihole": rf"(@@)?(\|\|)?{_N}\^?",
    "suricata": r'(drop|pass) (dns|tls|ip) any any -> ([0-9a-f.:/]+|any) any \(msg:"([^"\\;]|\\.)*"; '
    r"[a-z0-9_.:;\" !<>-]*sid:\d+; rev:1;\)",
    "nftables": r"(\t*[^#\t].*)",  # structure checked by nft itself; here: comments stay comments
}


def config_lines(text: str) -> list[str]:
    """The lines a tool acts on: not blank, not a comment."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def check_command(fmt: str, path: Path) -> list[str]:
    """The tool's own syntax check for a file of ``fmt``; nft's runs in a private network namespace."""
    if fmt == "dnsmasq":
        return [tool("dnsmasq"), "--test", f"--conf-file={path}"]
    if fmt == "unbound":
        return [tool("unbound-checkconf"), str(path)]
    need_root()
    return [*private_net(), tool("nft"), "-c", "-f", str(path)]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def tool(name: str) -> str:
    """Path of a router tool, or skip: these are the oracles, there is no stand-in for them."""
    path = shutil.which(name) or shutil.which(name, path=_SBIN)
    if path is None:
        pytest.skip(f"{name} not installed ({_APT})")
    return path


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (nftables and network namespaces); CI runs as root")


def private_net() -> list[str]:
    """``unshare --net`` when it works, so even a syntax check never talks to the host's own tables."""
    unshare = shutil.which("unshare")
    return [unshare, "--net"] if unshare and run([unshare, "--net", "true"]).returncode == 0 else []


def ip(*args: str) -> None:
    result = run([tool("ip"), *args])
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


def namespaces() -> Iterator[Callable[[], str]]:
    """Yields a factory of fresh namespaces (loopback up); deletes every one it made afterwards."""
    need_root()
    made: list[str] = []

    def make() -> str:
        name = f"da-export-{os.getpid()}-{len(made)}"
        result = run([tool("ip"), "netns", "add", name])
        if result.returncode != 0:
            pytest.skip(f"ip netns add failed: {result.stderr.strip()}")
        made.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    try:
        yield make
    finally:
        for name in made:
            run([tool("ip"), "netns", "del", name])


def veth(ns_a: str, addr_a: str, ns_b: str, addrs_b: list[str]) -> None:
    """A cable between two namespaces, and nothing else: neither has a route beyond the other."""
    ip("-n", ns_a, "link", "add", "da0", "type", "veth", "peer", "name", "da1", "netns", ns_b)
    ip("-n", ns_a, "addr", "add", addr_a, "dev", "da0")
    for addr in addrs_b:
        ip("-n", ns_b, "addr", "add", addr, "dev", "da1")
    ip("-n", ns_a, "link", "set", "da0", "up")
    ip("-n", ns_b, "link", "set", "da1", "up")


def ping(ns: str, addr: str) -> bool:
    """One echo request from inside ``ns``; ``addr`` is always an address of a test namespace."""
    return run(["ip", "netns", "exec", ns, tool("ping"), "-n", "-c1", "-W1", addr]).returncode == 0


def nft_load(ns: str, text: str, folder: Path) -> None:
    path = folder / f"{ns}.nft"
    path.write_text(text)
    result = run(["ip", "netns", "exec", ns, tool("nft"), "-f", str(path)])
    assert result.returncode == 0, result.stderr


def dig(ns: str, name: str, qtype: int = 1, port: int = 53) -> tuple[int, list[str]]:
    """(rcode, addresses) of one query to 127.0.0.1 inside ``ns``; retried while the server starts."""
    deadline = time.monotonic() + 5
    while True:
        result = run(["ip", "netns", "exec", ns, sys.executable, "-c", _QUERY, name, str(qtype), str(port)])
        if result.returncode == 0:
            reply = json.loads(result.stdout)
            return reply["rcode"], reply["answers"]
        if time.monotonic() > deadline:
            raise AssertionError(f"no DNS answer for {name}: {result.stderr[-300:]}")
        time.sleep(0.2)


class Daemons:
    """DNS servers started inside namespaces for one test; ``stop`` ends every one it started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text)
        return path

    def _start(self, ns: str, argv: list[str], log: Path, probe: int) -> Path:
        with log.open("ab") as out:
            self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out, stderr=out))
        dig(ns, "probe.invalid", port=probe)  # waits until it answers
        return log

    def internet(self, ns: str) -> Path:
        """The stub "internet" on 127.0.0.1:5353: every name is 192.0.2.1, some have a TXT record."""
        txt = [f"--txt-record={name},data" for name in ("example.org", "active.dji.com", "www.dji.com")]
        return self.dnsmasq(ns, 5353, "--conf-file=/dev/null", "--address=/#/192.0.2.1", *txt)

    def dnsmasq(self, ns: str, port: int, *options: str) -> Path:
        """dnsmasq on 127.0.0.1:``port`` with no upstream but ``options``; returns its log file."""
        log = self.folder / f"dnsmasq-{port}-{len(self.procs)}.log"
        argv = [
            tool("dnsmasq"),
            "--keep-in-foreground",
            "--user=root",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            f"--port={port}",
            "--pid-file=",
            f"--log-facility={log}",
            *options,
        ]
        return self._start(ns, argv, log, port)

    def unbound(self, ns: str, clause: Path) -> Path:
        """unbound on 127.0.0.1:53 with the exported clause, forwarding to the stub on port 5353."""
        conf = self.write("unbound.conf", _UNBOUND.format(dir=self.folder, clause=clause))
        checked = run([tool("unbound-checkconf"), str(conf)])
        assert checked.returncode == 0, checked.stdout + checked.stderr
        return self._start(ns, [tool("unbound"), "-d", "-c", str(conf)], self.folder / "unbound.log", 53)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


_UNBOUND = """server:
    interface: 127.0.0.1
    port: 53
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: "{dir}/unbound.log"
    do-ip6: no
    do-not-query-localhost: no
    module-config: "iterator"
    include: "{clause}"
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@5353
"""


def pihole_entries(text: str) -> list[str]:
    """The lines Pi-hole's gravity.sh passes to FTL: lower case, comments (#, !, [) and blanks removed."""
    out = []
    for line in text.lower().splitlines():
        for marker in (r"\s*!.*$", r"\s*\[.*$", r"\s*#.*"):
            line = re.sub(marker, "", line)
        if line.strip():
            out.append(line.strip())
    return out


def ftl_accepts(line: str, *, allow: bool) -> bool:
    """FTL's gravity_parseList: an exact domain (two labels or more), or ABP ``||d^`` (``@@||d^`` in an
    allow list) whose domain passes the same check without the two-label rule."""
    prefix = "@@||" if allow else "||"
    if line.startswith(prefix[0]):
        return line.startswith(prefix) and line.endswith("^") and _ftl_domain(line[len(prefix) : -1], False)
    return _ftl_domain(line, True)


def _ftl_domain(domain: str, fqdn_only: bool) -> bool:
    if not 0 < len(domain) <= 255 or re.search(r"[^a-z0-9._-]", domain):
        return False
    labels = domain.split(".")
    if any(not label or len(label) > 63 for label in labels) or (fqdn_only and len(labels) < 2):
        return False
    return not labels[-1].startswith("-") and not domain.endswith("-") and len(labels[-1]) >= 2


def cli(args: list[str]) -> tuple[int, str]:
    """Run the command as ``cli.py`` will register it, in an app of its own (exit code, stdout)."""
    app = typer.Typer(add_completion=False)
    app.command("export")(export)
    app.command("noop")(lambda: None)  # two commands keep "export" a sub-command, as in the real app
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from droneaudit.errors import UsageError

        assert isinstance(result.exception, UsageError), result.exception
        return 2, result.stdout
    return result.exit_code, result.stdout
