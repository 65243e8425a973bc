"""Deterministic synthetic packets and capture files, for tests and the demo.

``packets`` (with ``link``, ``app`` and ``tls``) builds frames byte by byte, ``writers`` writes classic
pcap and pcapng (optionally gzip), ``session`` turns conversations into packets while counting the
ground truth, and ``demo`` writes the synthetic DJI-style flight-app capture behind ``droneaudit demo``
(it is not imported here, so ``python -m droneaudit.synth.demo`` runs without a double import).
Standard library only, and nothing here opens a socket.
"""

from droneaudit.synth.session import FlowTruth
from droneaudit.synth.writers import Frame, IfaceSpec, PcapngSection, write_pcap, write_pcapng

__all__ = [
    "FlowTruth",
    "Frame",
    "IfaceSpec",
    "PcapngSection",
    "write_pcap",
    "write_pcapng",
]
