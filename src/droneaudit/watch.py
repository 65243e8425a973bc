"""``droneaudit watch``: the scan's answer, kept up to date while a capture is still being written.

Frame batches come from the same pcap/pcapng walkers the scan uses (``reader.walk_stream`` over a pipe or
a growing file); each batch is decoded with the scan's vectorised code (watch_decode.py) and folded into
bounded tables (watch_state.py). A ``Watcher`` returns events as it goes:

* ``endpoint`` — a new internet endpoint (by name when the capture named it, else by address), with its
  owner, country, catalog category, the severity the scan would give it, and bytes so far;
* ``name``     — an endpoint first shown by address was named later (TLS/QUIC SNI, HTTP Host, DNS);
* ``verdict``  — the running verdict changed (status or reasons);
* ``problem``  — the evidence has a new kind of damage (same codes as the scan);
* ``input``    — a capture started (folder mode: each file).

Names follow the scan's rules (attribution.py): a name in the flow itself beats DNS; otherwise the last
DNS answer to that client for the address before the flow started. Local addresses (private, CGNAT,
link-local, multicast, …) are tracked as endpoints but never announced. Memory is bounded by ``Caps``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from droneaudit.checks.base.egress import UPLOAD_BYTES, UPLOAD_RATIO
from droneaudit.checks.policy import Policy
from droneaudit.endpoints import Endpoint
from droneaudit.enrich.catalog import Catalog
from droneaudit.enrich.ipdata import IpData, IpInfo
from droneaudit.errors import UsageError
from droneaudit.model import SESSION_TIMEOUTS_S, CaptureStats, Finding, InputFile, Problem, Verdict
from droneaudit.readers._api import ProblemLog, ScanContext
from droneaudit.readers.capture.batch import FrameBatch
from droneaudit.readers.capture.device import IPNet
from droneaudit.readers.capture.flows import FlowBuilder
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.payloads import PayloadCollector
from droneaudit.watch_decode import Decoded, Decoder, Segment
from droneaudit.watch_judge import Evidence, Judge, sort_findings
from droneaudit.watch_names import NameMixin
from droneaudit.watch_state import (
    Caps,
    DeviceSides,
    EndpointKey,
    EndpointState,
    Event,
    FlowKey,
    FlowState,
    Folded,
    Lru,
    NameTable,
    QueryTable,
)

#: The payload collector (partial ClientHellos, DNS over TCP) starts afresh after this much traffic.
RECYCLE_PACKETS = 20_000
RECYCLE_BYTES = 32 << 20
#: Idle flows are looked for once per this much capture time.
SWEEP_NS = 5_000_000_000


@dataclass
class Summary:
    endpoints: list[Endpoint]
    findings: list[Finding]
    verdict: Verdict
    exit_code: int
    stats: CaptureStats
    folded: Folded
    inputs: list[InputFile]
    problems: list[Problem]
    events: list[Event] = field(default_factory=list)  #: what the last names and DNS-over-TCP gave


class Watcher(NameMixin):
    """Bounded, incremental flow state with the scan's rules; see the module docstring."""

    def __init__(
        self,
        *,
        policy: Policy | None = None,
        catalog: Catalog | None = None,
        ipdata: IpData | None = None,
        devices: Sequence[IPNet] = (),
        caps: Caps | None = None,
    ) -> None:
        self.policy = policy or Policy()
        if self.policy.scope.startswith("app:"):
            raise UsageError("watch does not support app:NAME scopes (use scan on the saved capture)")
        self.judge = Judge(self.policy, catalog or Catalog.load_default())
        self.ipdata = ipdata or IpData()
        self.caps = caps or Caps()
        self.problems, self.interfaces = ProblemLog(), InterfaceRegistry()
        builder = FlowBuilder(self.interfaces, self.problems)  # not fed: the walkers want a context
        self.context = ScanContext(self.problems, self.interfaces, builder)
        self.decoder = Decoder(self.interfaces, self.problems)
        self.collector = PayloadCollector(self.interfaces)
        self.sides = DeviceSides(devices, self.caps.learned)
        self.flows: OrderedDict[FlowKey, FlowState] = OrderedDict()
        self.endpoints: OrderedDict[EndpointKey, EndpointState] = OrderedDict()
        self.names = NameTable(self.caps.names)
        self.queries = QueryTable(self.caps.queries)
        self.notable: list[dict[str, Any]] = []
        self.folded = Folded()
        self.folded_findings: list[Finding] = []
        self._folded_keys: Lru[EndpointKey, bool] = Lru(self.caps.endpoints)
        self._ipinfo: Lru[str, IpInfo] = Lru(self.caps.ipinfo)
        self.inputs: list[InputFile] = []
        self._formats: dict[int, str] = {}
        self._frames: dict[int, int] = {}
        self.frames = self.ip_packets = self.packets_up = self.packets_down = 0
        self.now = self._swept = 0
        self._since = [0, 0]
        self._init_events()

    # --- inputs ---------------------------------------------------------------------------------------

    def begin(self, display: str, fmt: str) -> int:
        """A capture starts (after sniffing): its file id for ``feed``."""
        file_id = self.decoder.file_id(display)
        self._formats[file_id] = fmt
        self._frames[file_id] = 0
        if fmt == "unknown":
            self.problems.add(display, "unrecognised-format", "not a pcap or pcapng capture", offset=0)
        self._dirty = True
        return file_id

    def end(self, file_id: int, sha256: str, size: int) -> list[Event]:
        """A capture ended (EOF, rotation or stop); records it as an input of the case."""
        display = self.decoder.files[file_id]
        self.inputs.append(InputFile(display, sha256, self._formats[file_id], size, self._frames[file_id]))
        self._events = []
        return self._wrap_up()

    def input_event(self, file_id: int) -> Event:
        return Event("input", None, {"file": self.decoder.files[file_id], "format": self._formats[file_id]})

    # --- packets --------------------------------------------------------------------------------------

    def feed(self, batch: FrameBatch, file_id: int) -> list[Event]:
        """One frame batch of capture ``file_id``; returns the events it caused, in packet-time order."""
        self._events = []
        if len(batch) == 0:
            return []
        self.frames += len(batch)
        self._frames[file_id] += len(batch)
        self.now = max(self.now, int(batch.ts_ns.max()))
        decoded = self.decoder.decode(batch, file_id, self.collector)
        self.ip_packets += decoded.ip_packets
        self._resolve(decoded.segments)
        self._learn_dns()
        for seg in decoded.segments:
            self._segment(seg)
        self._apply_names()
        self._housekeeping(decoded)
        return self._wrap_up()

    def _segment(self, seg: Segment) -> None:
        flow, device_is_a = self._flow_for(seg)
        u, d = (0, 1) if device_is_a else (1, 0)
        up, down = (seg.packets[u], seg.nbytes[u]), (seg.packets[d], seg.nbytes[d])
        if (up[0] and not self.packets_up) or (down[0] and not self.packets_down):
            self._dirty = True
        self.packets_up += up[0]
        self.packets_down += down[0]
        flow.packets_up += up[0]
        flow.bytes_up += up[1]
        flow.packets_down += down[0]
        flow.bytes_down += down[1]
        flow.last_ts = max(flow.last_ts, seg.last_ts)
        flow.closed = flow.closed or seg.closed
        self.flows.move_to_end(flow.key)
        ep = self.endpoints[flow.endpoint]
        ep.add(flow, 1, up, down)
        ep.last_seen = max(ep.last_seen, seg.last_ts)
        self.endpoints.move_to_end(ep.key)

    def _flow_for(self, seg: Segment) -> tuple[FlowState, bool]:
        for device_is_a in (True, False):
            flow = self.flows.get(_key(seg, device_is_a))
            if flow is None:
                continue
            idle = seg.first_ts - flow.last_ts > flow.timeout_ns(SESSION_TIMEOUTS_S)
            if not idle and not (seg.starts_syn and flow.closed):
                return flow, device_is_a
            self._fold_flow(flow)
            break
        device_is_a, _basis = self.sides.device_is_a(seg)
        return self._new_flow(seg, _key(seg, device_is_a)), device_is_a

    def _new_flow(self, seg: Segment, key: FlowKey) -> FlowState:
        flow = FlowState(key, ("ip", key[3]), seg.first_ts, seg.first_ts, seg.file, seg.frame)
        answer = self.names.before(key[1], key[3], seg.first_ts, seg.file, seg.frame)
        if answer is not None:
            flow.host, flow.host_source = answer.qname, "dns"
            flow.evidence.append({"file": answer.file, "frame": answer.frame, "kind": "dns"})
        self.flows[key] = flow
        self._attach(flow)
        return flow

    def _attach(self, flow: FlowState) -> None:
        """Make ``flow`` one of its endpoint's flows (creating the endpoint); no bytes move here."""
        label: EndpointKey = ("host", flow.host) if flow.host else ("ip", flow.key[3])
        ep = self.endpoints.get(label) or self._new_endpoint(label, flow)
        if flow.key[3] not in ep.infos:
            info = self._ipinfo.get(flow.key[3]) or self.ipdata.lookup(flow.key[3])
            ep.add_ip(flow.key[3], info)
        ep.flows += 1
        ep.live.add(flow.key)
        ep.first_seen = min(ep.first_seen, flow.first_ts)
        ep.note({"file": flow.file, "frame": flow.first_frame, "kind": "flow"}, *flow.evidence)
        flow.endpoint = label
        if flow.host:
            self.queries.contact(flow.host)

    def _resolve(self, segments: list[Segment]) -> None:
        """Owner and country of this batch's new addresses, in one vectorised lookup."""
        fresh = sorted({ip for s in segments for ip in (s.a, s.b)} - self._ipinfo.keys())
        for ip, info in zip(fresh, self.ipdata.lookup_many(fresh) if fresh else [], strict=True):
            self._ipinfo.put(ip, info)

    def _new_endpoint(self, label: EndpointKey, flow: FlowState) -> EndpointState:
        key = flow.key
        ep = EndpointState(label, key[1], key[0], key[4], first_seen=flow.first_ts, last_seen=flow.first_ts)
        if label[0] == "host":
            match = self.judge.catalog.match(label[1])
            ep.entry = match.entry if match else None
            shown = self.endpoints.get(("ip", key[3]))
            ep.announced = shown is not None and shown.reported_name == label[1]
        ep.again = label in self._folded_keys
        self.endpoints[label] = ep
        self._new.append(label)
        self._dirty = True
        return ep

    # --- folding and caps -----------------------------------------------------------------------------

    def _housekeeping(self, decoded: Decoded) -> None:
        self._since[0] += decoded.ip_packets
        self._since[1] += decoded.payload_bytes
        if self._since[0] > RECYCLE_PACKETS or self._since[1] > RECYCLE_BYTES:
            self._recycle()
        if self.now - self._swept >= SWEEP_NS:
            self._swept = self.now
            for flow in list(self.flows.values()):
                if self.now - flow.last_ts > flow.timeout_ns(SESSION_TIMEOUTS_S):
                    self._fold_flow(flow)
        while len(self.flows) > self.caps.flows:
            self._fold_flow(next(iter(self.flows.values())))
        while len(self.endpoints) > self.caps.endpoints:
            self._fold_endpoint(next(iter(self.endpoints.values())))

    def _recycle(self) -> None:
        """Finish the payload collector's open work (DNS over TCP) and start a fresh one: what it keeps
        for directions still waiting for a name is bounded by the traffic since the last recycle."""
        self.collector.finish()
        self._learn_dns()
        self._apply_names()
        self.collector = PayloadCollector(self.interfaces)
        self._since = [0, 0]

    def _fold_flow(self, flow: FlowState) -> None:
        del self.flows[flow.key]
        ep = self.endpoints.get(flow.endpoint)
        if ep is not None:
            ep.live.discard(flow.key)
        up, down = flow.bytes_up, flow.bytes_down
        if up >= UPLOAD_BYTES and up >= UPLOAD_RATIO * down and len(self.notable) < self.caps.notable:
            row = {"host": flow.host, "remote_ip": flow.key[3], "bytes_up": up, "bytes_down": down}
            self.notable.append(
                row | {"file": flow.file, "first_frame": flow.first_frame, "duplicate_of": None}
            )

    def _fold_endpoint(self, ep: EndpointState) -> None:
        for key in list(ep.live):
            self._fold_flow(self.flows[key])
        del self.endpoints[ep.key]
        if ep.flows == 0:
            return  # an address endpoint whose flows moved to a name: nothing of its own to keep
        obj = self.judge.endpoint(ep)
        leak = self.judge.leak(obj)
        if len(self.folded_findings) < self.caps.notable:
            rows = [r for r in self.notable if (r["host"] or r["remote_ip"]) == obj.label]
            self.folded_findings.extend(self.judge.findings([obj], self._evidence(rows, [])))
        self.folded.take(ep, leak)
        self._folded_keys.put(ep.key, True)
        self._dirty = self._dirty or leak

    def state_sizes(self) -> dict[str, int]:
        """Entries per bounded table (compare with ``caps``)."""
        return {
            "flows": len(self.flows),
            "endpoints": len(self.endpoints),
            "names": len(self.names),
            "queries": len(self.queries.pending),
            "notable": len(self.notable),
            "learned": len(self.sides.learned),
            "ipinfo": len(self._ipinfo),
        }

    # --- judging --------------------------------------------------------------------------------------

    def _evidence(self, notable: list[dict[str, Any]], queries: list[dict[str, Any]]) -> Evidence:
        readable = sum(1 for fmt in self._formats.values() if fmt != "unknown")
        return Evidence(
            self.stats(),
            self.problems.records(),
            readable,
            self.packets_up,
            self.packets_down,
            notable,
            queries,
        )

    def stats(self) -> CaptureStats:
        d = self.decoder
        dropped = sum(i.dropped or 0 for i in self.interfaces.all())
        return CaptureStats(self.frames, self.ip_packets, d.non_ip, d.undecodable, d.fragments, dropped)

    def live_endpoints(self) -> list[Endpoint]:
        """The endpoints held now, as the scan's records, in order of first contact."""
        eps = (self.judge.endpoint(ep) for ep in self.endpoints.values() if ep.flows > 0)
        return sorted(eps, key=_first)

    def verdict(self) -> Verdict:
        """The running verdict. Only endpoints that count against it are handed over: the verdict reads
        nothing else from the endpoints, so the answer is the same and a long watch stays cheap."""
        leaks = []
        for ep in self.endpoints.values():
            if ep.flows > 0 and ep.leak is not False:
                obj = self.judge.endpoint(ep)
                ep.leak = self.judge.leak(obj)
                if ep.leak:
                    leaks.append(obj)
        return self.judge.verdict(sorted(leaks, key=_first), self.folded, self._evidence([], []))

    def finish(self) -> Summary:
        """End of the watch: fold everything and give the scan's findings, verdict and exit code."""
        self._events = []
        self._recycle()
        for flow in list(self.flows.values()):
            self._fold_flow(flow)
        events = self._wrap_up()
        eps = self.live_endpoints()
        ev = self._evidence(self.notable, self.queries.rows())
        found = sort_findings(self.judge.findings(eps, ev) + self.folded_findings)
        v = self.judge.verdict(eps, self.folded, ev)
        code = self.judge.exit_code(v, found)
        problems = self.problems.records()
        return Summary(eps, found, v, code, self.stats(), self.folded, list(self.inputs), problems, events)


def _key(seg: Segment, device_is_a: bool) -> FlowKey:
    if device_is_a:
        return (seg.proto, seg.a, seg.a_port, seg.b, seg.b_port, seg.vlan, seg.interface)
    return (seg.proto, seg.b, seg.b_port, seg.a, seg.a_port, seg.vlan, seg.interface)


def _first(ep: Endpoint) -> tuple[int, str]:
    return ep.first_seen, ep.label
