"""Deterministic bench inputs (never committed): a realistic capture, DJI-style JPEGs.

The capture is templated for speed: every flow gets its opening packets built once with the
``droneaudit.synth`` builders (TLS ClientHello with SNI, HTTP/1.1 request with Host, DNS query and
answer, QUIC v1 client Initial with SNI) plus one data packet each way; the records are then
drawn by a heavy-tailed weight and only the 16-byte record headers are made per packet.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from droneaudit.synth.app import dns_query, dns_response, http_request
from droneaudit.synth.link import ethernet
from droneaudit.synth.media import DemoPhoto, write_photo
from droneaudit.synth.packets import ipv4, ipv6, tcp, tcp_syn_options, udp
from droneaudit.synth.tls import client_hello_handshake, tls_client_hello

PCAP_HEADER = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
QUIC_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


# --- QUIC v1 client Initial (RFC 9001 sections 5 and 17.2.2) -------------------------------------------


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def quic_initial(sni: str, dcid: bytes) -> bytes:
    """A protected QUIC v1 client Initial carrying a ClientHello for ``sni``, padded to 1200 bytes."""
    mac = hmac.HMAC(QUIC_V1_SALT, hashes.SHA256())
    mac.update(dcid)
    client = _expand_label(mac.finalize(), "client in", 32)
    key, iv, hp = (_expand_label(client, f"quic {w}", n) for w, n in (("key", 16), ("iv", 12), ("hp", 16)))
    hello = client_hello_handshake(sni, alpn=("h3",))
    frame = b"\x06\x00" + struct.pack(">H", 0x4000 | len(hello)) + hello
    pn_len, scid = 2, b"\x51\xc1\x5e\xed"
    head = b"\xc1\x00\x00\x00\x01" + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid + b"\x00"
    payload_len = 1200 - len(head) - 2 - pn_len - 16
    payload = frame + bytes(payload_len - len(frame))
    head += struct.pack(">H", 0x4000 | (pn_len + len(payload) + 16)) + b"\x00\x00"
    sealed = AESGCM(key).encrypt(iv, payload, head)  # packet number 0: nonce = iv
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sealed[2:18]) + enc.finalize()
    first = bytes([head[0] ^ (mask[0] & 0x0F)])
    pn = bytes(b ^ m for b, m in zip(head[-2:], mask[1:3], strict=True))
    return first + head[1:-2] + pn + sealed


# --- capture ---------------------------------------------------------------------------------------------

NAMES = 400  # distinct server names across TLS, QUIC, HTTP and DNS


def _name(i: int) -> str:
    return f"{('api', 'cdn', 'telemetry', 'img', 'mqtt')[i % 5]}{i % NAMES}.bench{i % 7}.example"


class _Flow:
    __slots__ = ("down", "opening", "up", "weight")

    def __init__(self, opening: list[tuple[bool, bytes]], up: bytes, down: bytes, weight: int) -> None:
        self.opening, self.up, self.down, self.weight = opening, up, down, weight


def _flows(rng: random.Random, count: int) -> list[_Flow]:
    out = []
    for i in range(count):
        kind = i % 10
        v6 = (i // 10) % 4 == 0
        dev = f"2001:db8::{i % 200 + 1:x}" if v6 else f"192.168.{i % 4}.{i % 200 + 2}"
        rem = f"2600:1f18::{i:x}" if v6 else f"{47 + i % 5}.{i % 250}.{(i // 250) % 250}.{i % 7 + 1}"
        sport = 20000 + i % 40000
        dport = {0: 443, 1: 443, 2: 443, 3: 443, 4: 80, 5: 443, 6: 53, 7: 53, 8: 8883}.get(kind, 5004)
        is_tcp = kind in (0, 1, 2, 3, 4, 8)
        proto = 6 if is_tcp else 17

        def pkt(up: bool, payload: bytes, flags: str = "PA", opts: bytes = b"") -> bytes:
            src, dst, sp, dp = (dev, rem, sport, dport) if up else (rem, dev, dport, sport)  # noqa: B023
            body = tcp(sp, dp, payload, flags=flags, options=opts) if is_tcp else udp(sp, dp, payload)  # noqa: B023
            ip = ipv6(src, dst, proto, body) if v6 else ipv4(src, dst, proto, body)  # noqa: B023
            return ethernet(ip, ethertype=0x86DD if v6 else 0x0800)  # noqa: B023

        name = _name(i)
        opening: list[tuple[bool, bytes]] = []
        if is_tcp:
            opening += [(True, pkt(True, b"", "S", tcp_syn_options())), (False, pkt(False, b"", "SA"))]
            opening.append((True, pkt(True, b"", "A")))
        if kind <= 3:
            opening.append((True, pkt(True, tls_client_hello(name))))
        elif kind == 4:
            opening.append((True, pkt(True, http_request("GET", f"/v1/{i}", name))))
        elif kind == 5:
            opening.append((True, pkt(True, quic_initial(name, i.to_bytes(8, "big")))))
        elif kind in (6, 7):
            txid = i & 0xFFFF
            answer = [("A", f"{47 + i % 5}.{i % 250}.{(i // 250) % 250}.{i % 7 + 1}", 300)]
            opening += [
                (True, pkt(True, dns_query(name, txid=txid))),
                (False, pkt(False, dns_response(name, answer, txid=txid))),
            ]
        size_up, size_down = rng.choice((60, 120, 400)), rng.choice((200, 900, 1400))
        weight = 1 if kind in (6, 7) else int(rng.paretovariate(1.2) * 10)
        out.append(_Flow(opening, pkt(True, bytes(size_up)), pkt(False, bytes(size_down)), weight))
    return out


def packet_stream(packets: int, flows: int, seed: int = 7) -> Iterator[bytes]:
    """Frames in capture order: a flow's opening packets when it is first drawn, then data."""
    rng = random.Random(seed)
    table = _flows(rng, flows)
    weights = [f.weight for f in table]
    started = bytearray(flows)
    emitted = 0
    while emitted < packets:
        for idx in rng.choices(range(flows), weights=weights, k=min(100_000, packets - emitted)):
            f = table[idx]
            if not started[idx]:
                started[idx] = 1
                for _up, data in f.opening:
                    yield data
                emitted += len(f.opening)
            else:
                yield f.up if rng.random() < 0.35 else f.down
                emitted += 1
            if emitted >= packets:
                return


def write_capture(path: Path, packets: int, flows: int = 5000, seed: int = 7) -> int:
    """Write a classic pcap in 4 MB chunks (streaming; memory stays flat); return packets written."""
    t0 = 1_773_480_600
    n = 0
    with path.open("wb") as f:
        f.write(PCAP_HEADER)
        parts: list[bytes] = []
        size = 0
        for n, data in enumerate(packet_stream(packets, flows, seed), 1):
            usec = n * 50
            ln = len(data)
            parts.append(struct.pack("<IIII", t0 + usec // 1_000_000, usec % 1_000_000, ln, ln))
            parts.append(data)
            size += ln + 16
            if size >= 4 << 20:
                f.write(b"".join(parts))
                parts.clear()
                size = 0
        f.write(b"".join(parts))
    return n


def expected_names(flows: int) -> set[str]:
    """Every name the capture carries in a ClientHello, a Host header or a DNS question."""
    return {_name(i) for i in range(flows) if i % 10 <= 7}


# --- media -----------------------------------------------------------------------------------------------


def write_photos(folder: Path, count: int, seed: int = 7) -> dict[str, tuple[float, float]]:
    """``count`` real DJI-style JPEGs with varied GPS; return name → (lat, lon) as written."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(count):
        sub = folder / f"{100 + i // 500}MEDIA"
        sub.mkdir(exist_ok=True)
        lat, lon = round(rng.uniform(45.0, 48.0), 7), round(rng.uniform(6.0, 10.0), 7)
        minute, sec = divmod(i % 3600, 60)
        name = f"DJI_2026031410{minute:02d}{sec:02d}_{i:04d}_D.JPG"
        photo = DemoPhoto(
            name, lat, lon, 450.0 + i % 50, 40.0, f"2026:03:14 10:{minute:02d}:{sec:02d}", "+01:00"
        )
        write_photo(sub / name, photo, "1581F5FHD22A0000BNCH")
        truth[name] = (lat, lon)
    return truth
