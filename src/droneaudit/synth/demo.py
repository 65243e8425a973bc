"""The demo capture: a SYNTHETIC, deterministic recording of a DJI-style flight-app session.

Nothing in this file was captured from a real device or network. It models what an audit of a drone
flight app typically finds, so ``droneaudit demo`` and the tests have a realistic input whose exact
answer is known:

* a phone (192.168.43.23, interface ``wlan0``) joined to the remote controller's Wi-Fi hotspot, whose
  gateway 192.168.43.1 also answers DNS;
* Android's plain-HTTP connectivity check (``GET /generate_204`` with a Host header);
* app start: DNS lookups (one with a CNAME chain, one AAAA with no answer) and HTTPS sessions with
  full TCP handshakes, a TLS ClientHello carrying the SNI, data both ways and a FIN close, to the
  activation, fly-safe (geofence database) and map-tile hosts;
* a 90-second "flight": the UDP controller link to 192.168.43.1 (control up, telemetry and video
  down) while an analytics connection posts small reports every 15 s;
* right after landing, the flight log (~3.6 MB) is uploaded to the flight-record sync host in
  1400-byte segments.

The analytics and flight-record sessions are real TLS 1.3 records (synth/tls13.py) whose secrets go to
a key log (``keylog=``), so the content audit can show what they carry (demo_uploads.py): positions,
the aircraft serial, the phone's Android ID, an account e-mail, a bearer token, the flight log and a
photo thumbnail with GPS. The other HTTPS sessions stay opaque (no key), as most would in an audit.

With ``local_data_mode=True`` the same session is written as the app behaves with DJI's local data
mode on: no DNS lookup or connection of the app's own (activation, fly-safe, maps, analytics and the
flight-log upload are gone); the phone's connectivity check and the controller link stay. The pair is
the before/after of ``droneaudit diff`` (docs/guides/local-data-mode.md).

Internet addresses are plausible public ones of the providers the names suggest (Alibaba Cloud 47.88/16
and 8.209/16, AWS CloudFront 52.85/16, Google 142.250/15); they are illustrations, not observations.
The truth returned (``DemoTruth``) is counted by the generator from the packets it wrote.

Run ``python -m droneaudit.synth.demo OUT.pcapng`` (``OUT.pcapng.gz`` compresses) to write it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from droneaudit.synth import demo_uploads as uploads
from droneaudit.synth.app import DnsAnswer, dns_query, dns_response, http_request, http_response
from droneaudit.synth.session import Capture, FlowTruth, TcpConversation, UdpFlow
from droneaudit.synth.tls13 import Tls13Session
from droneaudit.synth.writers import IfaceSpec, write_pcapng

__all__ = ["DEVICE_IP", "GATEWAY_IP", "START_NS", "DemoTruth", "build_demo_capture", "main"]

DEVICE_IP = "192.168.43.23"
GATEWAY_IP = "192.168.43.1"
DEVICE_MAC = "da:a1:19:5e:3b:07"  # locally administered: Android's per-network random MAC
GATEWAY_MAC = "60:60:1f:3c:5a:10"  # 60:60:1F is an OUI registered to SZ DJI Technology
INTERFACE = "wlan0"
LINKTYPE_ETHERNET = 1
START_NS = int(datetime(2026, 3, 14, 9, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
SEED = 20260314

_S = 1_000_000_000
_MS = 1_000_000

#: name → (A/AAAA/CNAME answers). Addresses are illustrations (see the module docstring).
_DNS: dict[str, list[DnsAnswer]] = {
    "connectivitycheck.gstatic.com": [("A", "142.250.185.99", 300)],
    "active.dji.com": [("A", "47.88.135.19", 600)],
    "flysafe-api.dji.com": [
        ("CNAME", "flysafe-api.dji.com.w.cdngslb.com", 600),
        ("CNAME", "intl-flysafe.dji.com.gds.alibabadns.com", 60),
        ("A", "8.209.72.38", 60),
        ("A", "8.209.72.39", 60),
    ],
    "api.mapbox.com": [("A", f"52.85.151.{last}", 60) for last in (52, 104, 6, 79)],
    "statistical-report.djiservice.org": [("A", "8.209.100.52", 300)],
    "mydjiflight.dji.com": [("A", "47.88.61.146", 600)],
}


@dataclass(frozen=True, slots=True)
class DemoTruth:
    """What a correct reader must find in the demo capture (IP-layer bytes, device = the phone)."""

    device_ip: str  #: the audited phone
    interface: str  #: pcapng if_name of the only interface
    start_ns: int  #: timestamp of frame 1 (ns since the epoch, UTC)
    end_ns: int  #: timestamp of the last frame
    frames: int  #: frames written
    flow_count: int  #: number of bidirectional flows (5-tuples; none is reused)
    flows: tuple[FlowTruth, ...]  #: one entry per flow, ordered by first frame
    dns_answers: tuple[tuple[str, str], ...]  #: (queried name, address) for every A/AAAA answer


def _resolved(name: str) -> str:
    """The first address the demo resolver gives for ``name``."""
    return next(value for rtype, value, _ in _DNS[name] if rtype in ("A", "AAAA"))


def _lookup(cap: Capture, t: int, name: str, qtype: str = "A") -> int:
    """One DNS query to the hotspot gateway and its answer ~20 ms later; returns the answer's time."""
    flow = UdpFlow(cap, GATEWAY_IP, 53, label=f"dns {qtype} {name}", ttl=64)
    txid = cap.rng.randrange(0x10000)
    answers = _DNS[name] if qtype == "A" else []
    flow.up(t, dns_query(name, qtype, txid))
    flow.down(t + 18 * _MS, dns_response(name, answers, qtype=qtype, txid=txid))
    return t + 18 * _MS


def _connectivity_check(cap: Capture, t: int) -> None:
    """Android's captive-portal probe: the one plain-HTTP request, answered with 204."""
    host = "connectivitycheck.gstatic.com"
    t = _lookup(cap, t, host)
    conv = TcpConversation(
        cap, _resolved(host), 80, label="http connectivity check", server_name=host, rtt_ns=25 * _MS
    )
    t = conv.handshake(t + _MS)
    t = conv.send(t + 200_000, True, http_request("GET", "/generate_204", host))
    t = conv.send(
        t + 5 * _MS, False, http_response(204, "No Content", headers=[("Date", "Sat, 14 Mar 2026")])
    )
    conv.close(t + 50 * _MS)


def _https(cap: Capture, t: int, host: str, label: str, rtt_ms: int = 40) -> tuple[TcpConversation, int]:
    """Resolve ``host``, connect to port 443 and complete the TLS setup; returns the conversation."""
    t = _lookup(cap, t, host)
    conv = TcpConversation(cap, _resolved(host), 443, label=label, server_name=host, rtt_ns=rtt_ms * _MS)
    t = conv.handshake(t + _MS)
    return conv, conv.tls_setup(t, host)


def _app_start(cap: Capture, t: int) -> None:
    """Activation check, geofence database download, map tiles over two connections."""
    _lookup(cap, t, "active.dji.com", "AAAA")
    active, ta = _https(cap, t + 2 * _MS, "active.dji.com", "https activation check", rtt_ms=180)
    active.close(active.exchange(ta, 700, 2_100) + 300 * _MS)
    flysafe, tf = _https(cap, t + 700 * _MS, "flysafe-api.dji.com", "https geofence database", rtt_ms=170)
    flysafe.close(flysafe.exchange(tf, 820, 220_000) + 2 * _S)
    _lookup(cap, t + 1_500 * _MS, "api.mapbox.com", "AAAA")
    tiles, tt = _https(cap, t + 1_520 * _MS, "api.mapbox.com", "https map tiles", rtt_ms=30)
    second = TcpConversation(
        cap, tiles.key[2], 443, label="https map tiles", server_name="api.mapbox.com", rtt_ns=30 * _MS
    )
    ts = second.tls_setup(second.handshake(tt + 3 * _MS), "api.mapbox.com")
    for _ in range(6):
        tt = tiles.exchange(tt + 15 * _MS, 520, 18_000 + cap.rng.randrange(30_000), think_ns=12 * _MS)
    for _ in range(4):
        ts = second.exchange(ts + 15 * _MS, 520, 18_000 + cap.rng.randrange(30_000), think_ns=12 * _MS)
    tiles.close(tt + 8 * _S)
    second.close(ts + 8 * _S)


def _controller_link(cap: Capture, start: int, seconds: int) -> None:
    """UDP between phone and controller during the flight: 10 Hz control up, 10 Hz telemetry and
    12 Hz video slices down. Payloads begin with 0x55, the start byte of DJI's DUML framing."""
    link = UdpFlow(cap, GATEWAY_IP, 9003, label="udp controller link", device_port=40006, ttl=64)
    rng = cap.rng
    for tick in range(seconds * 10):
        t = start + tick * 100 * _MS
        link.up(t, b"\x55" + rng.randbytes(39))
        link.down(t + 37 * _MS, b"\x55" + rng.randbytes(159))
    for slice_index in range(seconds * 12):
        link.down(start + 5 * _MS + slice_index * (_S // 12), b"\x55" + rng.randbytes(1_179))


def _https_keyed(
    cap: Capture, t: int, host: str, label: str, keys: list[str], rtt_ms: int
) -> tuple[TcpConversation, Tls13Session, int]:
    """Like ``_https``, but the session really is TLS 1.3 and its secrets go to the demo key log."""
    t = _lookup(cap, t, host)
    conv = TcpConversation(cap, _resolved(host), 443, label=label, server_name=host, rtt_ns=rtt_ms * _MS)
    t = conv.handshake(t + _MS)
    tls = Tls13Session(cap.rng, host)
    keys.append(tls.keylog())
    t = conv.send(t + _MS // 5, True, tls.client_hello())
    t = conv.send(t + 5 * _MS, False, tls.server_flight())
    return conv, tls, conv.send(t + 2 * _MS, True, tls.client_finished())


def _analytics(cap: Capture, start: int, end: int, keys: list[str]) -> None:
    """The analytics connection that reports every 15 s while flying (position, serial, Android ID),
    then closes after landing."""
    host = "statistical-report.djiservice.org"
    conv, tls, t = _https_keyed(cap, start, host, "https analytics reports", keys, rtt_ms=190)
    report_at, n = start + 7 * _S, 0
    while report_at < end:
        t = conv.send(max(report_at, t), True, tls.client_data(uploads.analytics_report(n, host)))
        t = conv.send(t + 60 * _MS, False, tls.server_data(uploads.OK))
        report_at, n = report_at + 15 * _S, n + 1
    conv.close(end + 2 * _S)


def _flight_log_upload(cap: Capture, t: int, keys: list[str]) -> None:
    """The flight record sync: ~3.6 MB up in 1400-byte segments (summary, log, thumbnail), a short
    JSON reply, close."""
    host = "mydjiflight.dji.com"
    conv, tls, t = _https_keyed(cap, t, host, "https flight log upload", keys, rtt_ms=160)
    upload = tls.client_data(uploads.flight_record_upload(cap.rng, host))
    t = conv.send(t + 20 * _MS, True, upload, gap_ns=350_000)
    t = conv.send(t + 150 * _MS, False, tls.server_data(uploads.OK))
    conv.close(t + 500 * _MS)


def _scenario(cap: Capture, local_data_mode: bool, keys: list[str]) -> None:
    """The timeline, in seconds from 09:30:00 UTC; local data mode keeps only what the app cannot stop."""
    _connectivity_check(cap, START_NS)
    flight_start, flight_end = START_NS + 12 * _S, START_NS + 102 * _S
    if not local_data_mode:
        _app_start(cap, START_NS + 3 * _S)
        _analytics(cap, START_NS + 8 * _S, flight_end, keys)
    _controller_link(cap, flight_start, (flight_end - flight_start) // _S)
    if not local_data_mode:
        _flight_log_upload(cap, flight_end + 4 * _S, keys)


def build_demo_capture(path: Path, *, local_data_mode: bool = False, keylog: Path | None = None) -> DemoTruth:
    """Write the demo capture to ``path`` (pcapng; gzip when it ends in ``.gz``) and return its truth;
    ``local_data_mode`` writes the same session with the setting on (see the module docstring);
    ``keylog`` receives the TLS key log of the app's own sessions (SSLKEYLOGFILE format)."""
    cap = Capture(DEVICE_IP, DEVICE_MAC, GATEWAY_MAC, seed=SEED)
    keys: list[str] = []
    _scenario(cap, local_data_mode, keys)
    if keylog is not None:
        keylog.write_text("".join(keys), encoding="ascii")
    frames = cap.frames()
    iface = IfaceSpec(LINKTYPE_ETHERNET, name=INTERFACE, ipv4_addrs=[(DEVICE_IP, "255.255.255.0")])
    write_pcapng(path, [iface], frames, interface_stats=[(0, len(frames), 0)])
    flows = cap.truth()
    named = {f.server_name for f in flows}  # every name the session looked up, it also connected to
    answers = tuple(
        (name, value)
        for name, records in _DNS.items()
        for rtype, value, _ in records
        if rtype in ("A", "AAAA") and name in named
    )
    return DemoTruth(
        DEVICE_IP, INTERFACE, frames[0].ts_ns, frames[-1].ts_ns, len(frames), len(flows), flows, answers
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m droneaudit.synth.demo OUT.pcapng``: write the demo capture and print a summary."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m droneaudit.synth.demo OUT.pcapng[.gz]", file=sys.stderr)
        return 2
    truth = build_demo_capture(Path(args[0]))
    print(f"wrote {args[0]}: {truth.frames} frames, {truth.flow_count} flows (synthetic demo capture)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
