"""Merge the reading state of one capture file into the state of the files before it (Dask engine).

``scan --engine dask`` reads every capture file in its own task. A task returns its FlowBuilder
unfinished: flow segments, fragments still waiting for pieces, payload directions still waiting for a
name, interfaces, counters. The client absorbs them in file order, so the result is the flow table a
single process reading the files one after another builds:

* interfaces are registered again in file order, so global numbers and identities (link type + name)
  come out as in a single pass, and rows are renumbered to them;
* segments are merged by the same rules (a connection spanning two files becomes one flow);
* a fragmented datagram split across files is completed with the pieces of both (it is placed at the
  last fragment the later file saw);
* a payload direction a file left waiting gets the next file's kept segments replayed into it, and a
  direction an earlier file already finished ignores what later files saw of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from droneaudit.readers.capture.aggregate import Partials
from droneaudit.readers.capture.fragments import FrameRef, Reassembled, Reassembler, _emit
from droneaudit.readers.capture.interfaces import InterfaceRegistry
from droneaudit.readers.capture.payloads import _DIR_KEY, PayloadCollector, _Direction

if TYPE_CHECKING:
    from droneaudit.readers.capture.flows import FlowBuilder


class Renumber:
    """Local (one task's) file ids, interface numbers and identities → the scan's global ones."""

    def __init__(self, master: FlowBuilder, other: FlowBuilder) -> None:
        self.files = np.asarray([master.file_id(f) for f in other.files], dtype=np.int64)
        ifaces, idents = [], {}
        local: InterfaceRegistry = other.interfaces
        for n, iface in enumerate(local.all()):
            number = master.interfaces.add(iface)
            ifaces.append(number)
            idents[local.identity(n)] = master.interfaces.identity(number)
        self.ifaces = np.asarray(ifaces, dtype=np.int64)
        self.idents = idents

    def ident(self, value: int) -> int:
        return self.idents.get(value, value)

    def partials(self, p: Partials) -> Partials:
        keys = p.keys.copy()
        keys["ident"] = [self.ident(int(v)) for v in keys["ident"]]
        out = p.take(np.arange(len(p)))
        out.keys, out.first_file, out.first_iface = keys, self.files[p.first_file], self.ifaces[p.first_iface]
        return out

    def direction_key(self, key: bytes) -> bytes:
        arr = np.frombuffer(key, dtype=_DIR_KEY).copy()
        arr["k"]["ident"] = self.ident(int(arr["k"]["ident"][0]))
        return arr.tobytes()

    def ref(self, ref: FrameRef) -> FrameRef:
        ref.file_id, ref.iface = int(self.files[ref.file_id]), int(self.ifaces[ref.iface])
        return ref


def absorb_payloads(master: PayloadCollector, other: PayloadCollector, ren: Renumber) -> None:
    """Names, DNS events and open directions of a later file, as if read after the master's files."""
    names: dict[bytes, list[int]] = {}
    for n, key in enumerate(other.name_keys):
        names.setdefault(key, []).append(n)
    for local, state in other._open.items():
        key = ren.direction_key(local)
        if key in master._done:
            continue
        mine = master._open.get(key)
        if mine is not None:
            _replay(master, key, mine, state, dns_stream=False)
            continue
        master._open[key] = state
        if local in other._done:
            master._done.add(key)
        for n in names.get(local, []):
            master.names.append(other.names[n])
            master.name_keys.append(key)
    for local, state in other._dns_tcp.items():
        key = ren.direction_key(local)
        mine = master._dns_tcp.get(key)
        if mine is None:
            master._dns_tcp[key] = state
        else:
            _replay(master, key, mine, state, dns_stream=True)
    master.dns_events.extend(other.dns_events)


def _replay(
    master: PayloadCollector, key: bytes, mine: _Direction, theirs: _Direction, dns_stream: bool
) -> None:
    udp = theirs.quic is not None
    for seq, payload in theirs.segments.items():
        at = theirs.first if udp else theirs.frames.get(seq, theirs.first)
        if master.feed(key, mine, payload, udp, 0 if udp else seq, at, dns_stream):
            return


def absorb_fragments(master: Reassembler, other: Reassembler, ren: Renumber) -> list[Reassembled]:
    """Datagrams whose fragments straddle the file boundary are completed here."""
    out: list[Reassembled] = []
    master.lost.extend((ren.ref(ref), why) for ref, why in other.lost)
    for local, dgram in other.pending.items():
        key = (*local[:6], ren.ident(local[6]), local[7])
        for ref in {id(r): r for r in (dgram.first, dgram.last) if r is not None}.values():
            ren.ref(ref)
        mine = master.pending.get(key)
        if mine is None:
            master.pending[key] = dgram
            continue
        mine.pieces.extend(dgram.pieces)
        for offset, data in dgram.data.items():
            mine.data.setdefault(offset, data)
        mine.kept += dgram.kept
        mine.end = mine.end if dgram.end is None else dgram.end
        if mine.head is None:
            mine.head, mine.header_len = dgram.head, dgram.header_len
        mine.last = dgram.last
        if mine.complete():
            del master.pending[key]
            at = mine.last or mine.first
            assert at is not None
            out.append(_emit(key, mine, at))
    master.fragments_seen += other.fragments_seen
    return out
