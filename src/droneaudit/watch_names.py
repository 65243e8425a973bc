"""Names and events for ``droneaudit watch``: DNS answers and queries into the bounded tables, TLS/QUIC
SNI and HTTP Host onto their flows (moving a flow to its named endpoint, as the scan would attribute
it), and the event list each batch ends with (new endpoints, late names, problems, verdict changes).

A mixin of ``watch.Watcher``: it reads and updates the watcher's tables declared below.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from droneaudit.attribution import dns_answers
from droneaudit.endpoints import Endpoint
from droneaudit.model import Verdict
from droneaudit.readers._api import ProblemLog
from droneaudit.readers.capture.payloads import DnsEvent, PayloadCollector
from droneaudit.watch_judge import Evidence, Judge
from droneaudit.watch_state import (
    Answer,
    EndpointKey,
    EndpointState,
    Event,
    FlowKey,
    FlowState,
    NameTable,
    QueryTable,
)

_ORDER = {"input": 0, "endpoint": 1, "name": 2, "problem": 3, "verdict": 4}
_FLOW_NAMES = ("tls-sni", "quic-sni", "http-host")


class NameMixin:
    flows: OrderedDict[FlowKey, FlowState]
    endpoints: OrderedDict[EndpointKey, EndpointState]
    names: NameTable
    queries: QueryTable
    collector: PayloadCollector
    judge: Judge
    problems: ProblemLog
    now: int
    _events: list[Event]
    _new: list[EndpointKey]
    _reported: set[tuple[str, str]]
    _last_verdict: tuple[str, tuple[str, ...]] | None
    _dirty: bool

    def _attach(self, flow: FlowState) -> None:
        raise NotImplementedError

    def _evidence(self, notable: list[dict[str, Any]], queries: list[dict[str, Any]]) -> Evidence:
        raise NotImplementedError

    def verdict(self) -> Verdict:
        raise NotImplementedError

    def _init_events(self) -> None:
        self._events = []
        self._new = []
        self._reported = set()
        self._last_verdict = None
        self._dirty = False

    # --- names ----------------------------------------------------------------------------------------

    def _learn_dns(self) -> None:
        """This batch's DNS messages: queries wait for a connection, answers name addresses."""
        events, self.collector.dns_events = self.collector.dns_events, []
        for ev in events:
            if not ev.message.is_response and ev.message.qname:
                self.queries.query(ev.message.qname, _query_row(ev))
        for a in dns_answers(events):
            self.names.add(a.client, a.address, Answer(a.qname, a.at.ts_ns, a.at.file, a.at.frame))
            shown = self.endpoints.get(("ip", a.address))
            if shown and shown.announced and shown.reported_name is None and shown.device_ip == a.client:
                shown.reported_name = a.qname
                evidence = {"file": a.at.file, "frame": a.at.frame, "kind": "dns"}
                self._name_event(shown, a.qname, "dns", a.at.ts_ns, evidence)

    def _apply_names(self) -> None:
        """TLS/QUIC SNI and HTTP Host onto their flows; a name in the flow beats a DNS name."""
        found, self.collector.names = self.collector.names, []
        for ev in sorted(found, key=lambda e: (e.at.ts_ns, e.at.file, e.at.frame)):
            s = ev.sender
            flow = self.flows.get((s.proto, s.src, s.sport, s.dst, s.dport, s.vlan, s.interface))
            flow = flow or self.flows.get((s.proto, s.dst, s.dport, s.src, s.sport, s.vlan, s.interface))
            if flow is None or flow.host_source in _FLOW_NAMES:
                continue
            evidence = {"file": ev.at.file, "frame": ev.at.frame, "kind": ev.kind}
            if flow.host == ev.name:
                flow.host_source = ev.kind
                flow.evidence.append(evidence)
                self.endpoints[flow.endpoint].note(evidence)
            else:
                self._rename(flow, ev.name, ev.kind, evidence, ev.at.ts_ns)

    def _rename(self, flow: FlowState, host: str, source: str, evidence: dict[str, Any], ts: int) -> None:
        """Move ``flow`` (and its bytes so far) to the endpoint of its new name."""
        old = self.endpoints.get(flow.endpoint)
        up, down = (flow.packets_up, flow.bytes_up), (flow.packets_down, flow.bytes_down)
        if old is not None:
            old.add(flow, -1, up, down)
            old.flows -= 1
            old.live.discard(flow.key)
        flow.host, flow.host_source, flow.evidence = host, source, [evidence]
        self._attach(flow)
        new = self.endpoints[flow.endpoint]
        new.add(flow, 1, up, down)
        new.last_seen = max(new.last_seen, flow.last_ts)
        if old is None:
            return
        if old.announced and old.reported_name is None:
            old.reported_name = host
            new.announced = True  # the update line stands for it
            self._name_event(old, host, source, ts, evidence, new)
        if old.flows == 0 and not old.announced:
            del self.endpoints[old.key]  # an address endpoint nobody was shown: gone without a trace

    # --- events ---------------------------------------------------------------------------------------

    def _wrap_up(self) -> list[Event]:
        """The events of this batch, in packet-time order."""
        self._announce()
        self._problem_events()
        self._verdict_event()
        now = self.now

        def order(e: Event) -> tuple[int, int]:
            return (e.ts_ns if e.ts_ns is not None else now), _ORDER[e.kind]

        return sorted(self._events, key=order)

    def _announce(self) -> None:
        new, self._new = self._new, []
        for label in new:
            ep = self.endpoints.get(label)
            if ep is None or ep.announced or ep.local or ep.flows == 0:
                continue
            ep.announced = True
            self._events.append(Event("endpoint", ep.first_seen, self._endpoint_data(ep)))

    def _endpoint_data(self, ep: EndpointState) -> dict[str, Any]:
        obj = self.judge.endpoint(ep)
        first = ep.evidence[0] if ep.evidence else {}
        return {
            "host": ep.host,
            "ip": ep.main_ip,
            "asn": obj.asn,
            "owner": obj.org,
            "country_registered": obj.country_registered,
            "country_geo": obj.country_geo,
            **_catalog_fields(obj),
            "severity": self.judge.severity(obj, self._evidence([], [])),
            "alert": self.judge.leak(obj),
            "bytes_up": ep.bytes_up,
            "bytes_down": ep.bytes_down,
            "again": ep.again,
            "file": first.get("file"),
            "frame": first.get("frame"),
        }

    def _name_event(
        self,
        ep: EndpointState,
        host: str,
        source: str,
        ts: int,
        evidence: dict[str, Any],
        named: EndpointState | None = None,
    ) -> None:
        match = self.judge.catalog.match(host)
        entry = match.entry if match else None
        data: dict[str, Any] = {
            "ip": ep.main_ip,
            "previous": ep.key[1],
            "host": host,
            "source": source,
            "category": entry.category if entry else None,
            "vendor": entry.vendor if entry else None,
            "file": evidence["file"],
            "frame": evidence["frame"],
        }
        if named is not None:
            obj = self.judge.endpoint(named)
            data |= {
                "severity": self.judge.severity(obj, self._evidence([], [])),
                "alert": self.judge.leak(obj),
            }
            data |= {"bytes_up": named.bytes_up, "bytes_down": named.bytes_down}
        self._events.append(Event("name", ts, data))
        self._dirty = True

    def _problem_events(self) -> None:
        for p in self.problems.records():
            if (p.file, p.code) not in self._reported:
                self._reported.add((p.file, p.code))
                self._events.append(Event("problem", None, p.to_dict()))
                self._dirty = True

    def _verdict_event(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        v = self.verdict()
        key = (v.status, v.reasons)
        if key != self._last_verdict:
            self._last_verdict = key
            self._events.append(Event("verdict", self.now or None, v.to_dict()))


def _catalog_fields(ep: Endpoint) -> dict[str, Any]:
    e = ep.entry
    return {
        "category": e.category if e else None,
        "vendor": e.vendor if e else None,
        "service": e.service if e else None,
        "drone_vendor": e.drone_vendor if e else False,
    }


def _query_row(ev: DnsEvent) -> dict[str, Any]:
    m = ev.message
    return {
        "file": ev.at.file,
        "frame": ev.at.frame,
        "ts": ev.at.ts_ns,
        "transport": ev.transport,
        "client_ip": ev.sender.src,
        "server_ip": ev.sender.dst,
        "is_response": False,
        "qname": m.qname,
        "qtype": m.qtype,
        "rcode": m.rcode,
        "answers": [],
    }
