"""QUIC v1/v2 client Initials: key derivation, header protection, decryption and CRYPTO reassembly.

Oracles, in order of authority:

* RFC 9001 Appendix A and RFC 9369 Appendix A: the keys for DCID 0x8394c8f03e515708 and the complete
  protected client Initial of A.2, copied from the RFC text (hex as printed there);
* an Initial *writer* in this file, built on ``cryptography``'s HKDF/AES primitives rather than on
  droneaudit's code, and proven by reproducing the RFC's A.2 packets byte for byte. It then writes the
  awkward cases (CRYPTO frames out of order, coalesced Initials, several datagrams, a new DCID);
* the suricata-verify QUIC captures (ALPN "h3" per their test.yaml) and tshark for a whole capture.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

import droneaudit
from droneaudit.readers.protocols import quic, tls
from droneaudit.synth import Frame, write_pcap
from droneaudit.synth.link import ETHERTYPE_IPV4, ethernet
from droneaudit.synth.packets import PROTO_UDP, ipv4, udp
from droneaudit.synth.tls import client_hello_handshake
from oracles.tshark import run_tshark

RFC_DCID = bytes.fromhex("8394c8f03e515708")

#: RFC 9001 A.1 / RFC 9369 A.1: (initial_secret, client_initial_secret, key, iv, hp) of the client.
RFC_CLIENT_SECRETS = {
    quic.V1: (
        "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44",
        "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
        "1f369613dd76d5467730efcbe3b1a22d",
        "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2",
    ),
    quic.V2: (
        "2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba",
        "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
        "8b1a0bc121284290a29e0971b5cd045d",
        "91f73e2351d8fa91660e909f",
        "45b95e15235d6f45a6b19cbcb0294ba9",
    ),
}

#: The HkdfLabel bytes both RFCs print in A.1 (the info given to HKDF-Expand).
RFC_LABELS = {
    "client in": "00200f746c73313320636c69656e7420696e00",
    "quic key": "00100e746c7331332071756963206b657900",
    "quic iv": "000c0d746c733133207175696320697600",
    "quic hp": "00100d746c733133207175696320687000",
    "quicv2 key": "001010746c73313320717569637632206b657900",
    "quicv2 iv": "000c0f746c7331332071756963763220697600",
    "quicv2 hp": "00100f746c7331332071756963763220687000",
}

#: A.2 of both RFCs: the CRYPTO frame (a ClientHello for example.com, ALPN "alpn"), padded to 1162 bytes.
RFC_CRYPTO_FRAME = """
   060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
   04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
   616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
   04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
   baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
   0d0010000e0403050306030203080408 050806002d00020101001c0002400100
   3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
   75300901100f088394c8f03e51570806 048000ffff
"""
RFC_UNPROTECTED_HEADER = {
    quic.V1: "c300000001088394c8f03e5157080000449e00000002",
    quic.V2: "d36b3343cf088394c8f03e5157080000449e00000002",
}

#: RFC 9001 A.2, "The resulting protected packet is:".
RFC9001_PROTECTED = """
   c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
   d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
   1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
   8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
   30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
   457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
   4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
   4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
   485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
   059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
   7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
   9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
   be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
   68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
   c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
   f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
   291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
   25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
   14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
   ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
   e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
   c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
   203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
   cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
   fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
   a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
   90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
   162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
   40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
   6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
   8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
   be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
   54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
   760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
   f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
   056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
   7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
   e221af44860018ab0856972e194cd934
"""

#: RFC 9369 A.2, "The resulting protected packet is:".
RFC9369_PROTECTED = """
   d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485
   dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04
   9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d
   250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a
   12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500
   cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68
   18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33
   12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3
   d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd
   6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520
   bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045
   636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f
   ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12
   16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5
   4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4
   fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b
   8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7
   14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9
   9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91
   abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd
   80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db
   848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18
   d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15
   c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc
   7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61
   f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710
   10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b
   3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e
   06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce
   8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1
   34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1
   e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd
   5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3
   8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89
   d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53
   6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19
   9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b
   a18b2faa745b6fe189cf772a9f84cbfc
"""

RFC_PROTECTED = {quic.V1: RFC9001_PROTECTED, quic.V2: RFC9369_PROTECTED}
SALTS = {
    quic.V1: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
    quic.V2: bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
}
BOTH = pytest.mark.parametrize("version", [quic.V1, quic.V2], ids=["v1", "v2"])


def unhex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def rfc_payload() -> bytes:
    frame = unhex(RFC_CRYPTO_FRAME)
    return frame + bytes(1162 - len(frame))


# --- an independent Initial writer (RFC 9001 sections 5 and 17.2.2, RFC 9369 section 3) -------------


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    mac = hmac.HMAC(salt, hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


@dataclass(frozen=True)
class Keys:
    key: bytes
    iv: bytes
    hp: bytes


def writer_keys(version: int, dcid: bytes) -> Keys:
    prefix = "quicv2" if version == quic.V2 else "quic"
    client = expand_label(hkdf_extract(SALTS[version], dcid), "client in", 32)
    return Keys(
        *(expand_label(client, f"{prefix} {what}", n) for what, n in (("key", 16), ("iv", 12), ("hp", 16)))
    )


def varint(value: int, size: int | None = None) -> bytes:
    size = size or (1 if value < 64 else 2 if value < 16384 else 4)
    prefix = {1: 0, 2: 0x40, 4: 0x80, 8: 0xC0}[size]
    raw = value.to_bytes(size, "big")
    return bytes([raw[0] | prefix]) + raw[1:]


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def protect(header: bytes, pn_len: int, payload: bytes, keys: Keys) -> bytes:
    """Encrypt ``payload`` under the unprotected ``header`` (ending in the packet number) and mask it."""
    pn = int.from_bytes(header[-pn_len:], "big")
    nonce = bytes(a ^ b for a, b in zip(keys.iv, pn.to_bytes(12, "big"), strict=True))
    sealed = AESGCM(keys.key).encrypt(nonce, payload, header)
    sample = sealed[4 - pn_len : 20 - pn_len]
    encryptor = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    first = bytes([header[0] ^ (mask[0] & 0x0F)])
    masked_pn = bytes(b ^ m for b, m in zip(header[-pn_len:], mask[1 : 1 + pn_len], strict=True))
    return first + header[1:-pn_len] + masked_pn + sealed


def initial(
    version: int,
    dcid: bytes,
    frames: bytes,
    *,
    pn: int = 0,
    pn_len: int = 2,
    scid: bytes = b"\x51\xc1",
    token: bytes = b"",
    key_dcid: bytes | None = None,
    pad_to: int = 0,
) -> bytes:
    """One protected client Initial; ``key_dcid`` keys it by another DCID (the client's original one)."""
    packet_type = 1 if version == quic.V2 else 0
    payload = frames + bytes(max(0, pad_to - len(frames)))
    first = 0xC0 | (packet_type << 4) | (pn_len - 1)
    head = bytes([first]) + struct.pack(">I", version) + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    head += varint(len(token)) + token + varint(pn_len + len(payload) + 16, 2) + pn.to_bytes(pn_len, "big")
    return protect(head, pn_len, payload, writer_keys(version, key_dcid or dcid))


def hello_of(stream: quic.InitialStream) -> tls.ClientHello | None:
    status, hello = stream.client_hello()
    return hello if status is tls.Status.DONE else None


def feed(*datagrams: bytes) -> quic.InitialStream:
    stream = quic.InitialStream()
    for datagram in datagrams:
        stream.add_datagram(datagram)
    return stream


def pieces(data: bytes, cuts: Sequence[int]) -> list[tuple[int, bytes]]:
    """(offset, bytes) chunks of ``data`` cut at ``cuts``."""
    edges = [0, *cuts, len(data)]
    return [(a, data[a:b]) for a, b in pairwise(edges)]


# --- keys --------------------------------------------------------------------------------------------


@BOTH
def test_client_keys_match_the_rfc_appendix(version: int) -> None:
    *_, key, iv, hp = RFC_CLIENT_SECRETS[version]
    assert quic.client_keys(version, RFC_DCID) == (bytes.fromhex(key), bytes.fromhex(iv), bytes.fromhex(hp))


@BOTH
def test_the_writer_derives_the_rfc_keys_and_labels(version: int) -> None:
    initial_secret, client_secret, key, iv, hp = (bytes.fromhex(v) for v in RFC_CLIENT_SECRETS[version])
    assert hkdf_extract(SALTS[version], RFC_DCID) == initial_secret
    assert expand_label(initial_secret, "client in", 32) == client_secret
    assert writer_keys(version, RFC_DCID) == Keys(key, iv, hp)
    for label, info in RFC_LABELS.items():
        full = b"tls13 " + label.encode()
        length = 32 if label == "client in" else 12 if label.endswith(" iv") else 16
        assert struct.pack(">HB", length, len(full)) + full + b"\x00" == bytes.fromhex(info)


def test_keys_for_other_dcids_match_the_writer() -> None:
    for version in (quic.V1, quic.V2):
        for dcid in (b"", b"\x00" * 8, bytes(range(20))):
            keys = writer_keys(version, dcid)
            assert quic.client_keys(version, dcid) == (keys.key, keys.iv, keys.hp)
    assert quic.client_keys(quic.V1, RFC_DCID) != quic.client_keys(quic.V1, b"\x00" * 8)


# --- the RFC sample packets -------------------------------------------------------------------------


@BOTH
def test_the_writer_reproduces_the_rfc_protected_packet(version: int) -> None:
    header = bytes.fromhex(RFC_UNPROTECTED_HEADER[version])
    assert protect(header, 4, rfc_payload(), writer_keys(version, RFC_DCID)) == unhex(RFC_PROTECTED[version])


@BOTH
def test_rfc_client_initial_decrypts_to_example_com(version: int) -> None:
    packet = unhex(RFC_PROTECTED[version])
    assert len(packet) == 1200
    assert quic.is_initial(packet)
    stream = feed(packet)
    assert stream.crypto() == unhex(RFC_CRYPTO_FRAME)[4:]
    assert hello_of(stream) == tls.ClientHello("example.com", False, ("alpn",))


@BOTH
def test_a_tampered_rfc_packet_yields_nothing(version: int) -> None:
    packet = bytearray(unhex(RFC_PROTECTED[version]))
    packet[600] ^= 0x01
    stream = feed(bytes(packet))
    assert stream.crypto() == b"" and hello_of(stream) is None


@BOTH
def test_cut_rfc_packets_never_raise(version: int) -> None:
    packet = unhex(RFC_PROTECTED[version])
    for cut in (*range(0, 64), 600, 1199):
        assert hello_of(feed(packet[:cut])) is None


def test_is_initial_rejects_other_packets() -> None:
    v1 = unhex(RFC9001_PROTECTED)
    assert not quic.is_initial(b"\x40" + v1[1:])  # short header
    assert not quic.is_initial(v1[:1] + b"\xff\x00\x00\x1d" + v1[5:])  # draft-29
    assert not quic.is_initial(v1[:1] + b"\x00\x00\x00\x00" + v1[5:])  # version negotiation
    assert not quic.is_initial(bytes([v1[0] | 0x20]) + v1[1:])  # v1 Handshake type
    assert not quic.is_initial(unhex(RFC9369_PROTECTED)[:1] + v1[1:])  # v2's Initial type bits under v1
    assert not quic.is_initial(v1[:6])


# --- CRYPTO reassembly ------------------------------------------------------------------------------

SCID = bytes.fromhex("c0ffee")
DCID = bytes.fromhex("0123456789abcdef0011")


@BOTH
def test_crypto_frames_out_of_order_in_one_initial(version: int) -> None:
    hello = client_hello_handshake("reorder.example", alpn=("h3",))
    frames = b"".join(crypto_frame(o, d) for o, d in reversed(pieces(hello, [100, 230])))
    assert hello_of(feed(initial(version, DCID, frames, pad_to=1162))) == tls.ClientHello(
        "reorder.example", False, ("h3",)
    )


@BOTH
def test_coalesced_initials_each_with_half_the_hello(version: int) -> None:
    hello = client_hello_handshake("coalesced.example", alpn=("h3",))
    (o1, d1), (o2, d2) = pieces(hello, [150])
    datagram = initial(version, DCID, crypto_frame(o2, d2), pn=0) + initial(
        version, DCID, crypto_frame(o1, d1), pn=1
    )
    assert hello_of(feed(datagram)) == tls.ClientHello("coalesced.example", False, ("h3",))


@BOTH
def test_hello_over_two_datagrams_arriving_out_of_order(version: int) -> None:
    hello = client_hello_handshake("two-datagrams.example", alpn=("h3",))
    (o1, d1), (o2, d2) = pieces(hello, [200])
    first = initial(version, DCID, crypto_frame(o1, d1), pn=0, pad_to=1100)
    second = initial(version, DCID, crypto_frame(o2, d2), pn=1, pad_to=1100)
    stream = feed(second)
    assert hello_of(stream) is None
    stream.add_datagram(first)
    assert hello_of(stream) == tls.ClientHello("two-datagrams.example", False, ("h3",))


@BOTH
def test_ack_ping_and_padding_before_crypto(version: int) -> None:
    hello = client_hello_handshake("frames.example")
    ack = b"\x02" + varint(5) + varint(10) + varint(1) + varint(2) + varint(1) + varint(0)
    ack_ecn = b"\x03" + varint(7) + varint(0) + varint(0) + varint(0) + varint(1) + varint(2) + varint(3)
    frames = b"\x00\x00" + ack + b"\x01" + ack_ecn + crypto_frame(0, hello)
    assert hello_of(feed(initial(version, DCID, frames))) is not None


@BOTH
def test_later_initial_to_the_server_chosen_dcid_keeps_the_original_keys(version: int) -> None:
    hello = client_hello_handshake("new-dcid.example")
    (o1, d1), (o2, d2) = pieces(hello, [120])
    first = initial(version, DCID, crypto_frame(o1, d1), pn=0)
    server_cid = bytes.fromhex("feedfacecafe")
    second = initial(version, server_cid, crypto_frame(o2, d2), pn=1, key_dcid=DCID)
    assert hello_of(feed(first, second)) == tls.ClientHello("new-dcid.example", False, ("h2", "http/1.1"))


@BOTH
def test_initial_with_a_retry_token(version: int) -> None:
    hello = client_hello_handshake("token.example")
    packet = initial(version, DCID, crypto_frame(0, hello), token=b"\xaa" * 70, pn_len=4, pn=2)
    hello_parsed = hello_of(feed(packet))
    assert hello_parsed is not None and hello_parsed.sni == "token.example"


def test_retransmission_with_more_data_at_the_same_offset() -> None:
    hello = client_hello_handshake("retransmit.example")
    short = initial(quic.V1, DCID, crypto_frame(0, hello[:60]), pn=0)
    full = initial(quic.V1, DCID, crypto_frame(0, hello), pn=1)
    assert hello_of(feed(short, full)) is not None, "the longer copy of offset 0 was thrown away"


def test_overlapping_chunks_are_stitched() -> None:
    hello = client_hello_handshake("overlap.example")
    frames = crypto_frame(0, hello[:150]) + crypto_frame(100, hello[100:])
    assert hello_of(feed(initial(quic.V1, DCID, frames))) is not None


def test_a_gap_means_no_hello() -> None:
    hello = client_hello_handshake("gap.example")
    frames = crypto_frame(0, hello[:100]) + crypto_frame(120, hello[120:])
    stream = feed(initial(quic.V1, DCID, frames))
    assert stream.crypto() == hello[:100] and hello_of(stream) is None


def test_garbage_after_an_initial_in_the_datagram_is_ignored() -> None:
    hello = client_hello_handshake("trailing.example")
    datagram = initial(quic.V1, DCID, crypto_frame(0, hello)) + b"\x40" + bytes(40)
    assert hello_of(feed(datagram)) is not None


def test_an_unknown_frame_stops_that_packet_but_not_the_next() -> None:
    hello = client_hello_handshake("unknown-frame.example")
    (o1, d1), (o2, d2) = pieces(hello, [90])
    first = initial(quic.V1, DCID, crypto_frame(o1, d1) + b"\x1f" + crypto_frame(o2, d2), pn=0)
    assert hello_of(feed(first)) is None
    second = initial(quic.V1, DCID, crypto_frame(o2, d2), pn=1)
    assert hello_of(feed(first, second)) is not None


# --- real captures -------------------------------------------------------------------------------


def client_datagrams(tshark: str, capture: Path) -> list[bytes]:
    """UDP payloads sent to port 443, as tshark prints them."""
    del tshark  # the fixture only makes sure tshark exists
    result = run_tshark(
        ["-n", "-r", str(capture), "-Y", "udp.dstport == 443", "-T", "fields", "-e", "udp.payload"]
    )
    return [bytes.fromhex(line.strip()) for line in result.stdout.splitlines() if line.strip()]


def test_suricata_quic_v2_hello_has_alpn_h3_and_no_sni(corpus: Path, tshark: str) -> None:
    # test.yaml: one quic event, extensions[6] is alpn with values[0] "h3"; tshark lists no server_name
    # extension (quic-go does not send SNI when dialling 127.0.0.1).
    stream = feed(*client_datagrams(tshark, corpus / "suricata-verify" / "quic-v2" / "input.pcap"))
    hello = hello_of(stream)
    assert hello is not None
    assert (hello.sni, hello.alpn[:1]) == (None, ("h3",))


def test_suricata_quic_frag_hello_over_two_packets(corpus: Path, tshark: str) -> None:
    # test.yaml: the quic event is logged at pcap_cnt 2 with alpn "h3"; tshark: SNI token.services.mozilla.com
    # and extension 0xfe0d (ECH) present.
    datagrams = client_datagrams(tshark, corpus / "suricata-verify" / "quic-frag" / "input.pcap")
    assert hello_of(feed(datagrams[0])) is None
    hello = hello_of(feed(*datagrams[:2]))
    assert hello is not None
    assert (hello.sni, hello.ech, hello.alpn[:1]) == ("token.services.mozilla.com", True, ("h3",))


# --- a whole capture, with tshark as the second opinion --------------------------------------------


QUIC_SNI = {quic.V1: (51001, "v1-split.quic.example"), quic.V2: (51002, "v2-split.quic.example")}


def udp_frame(sport: int, payload: bytes, ts_ns: int) -> Frame:
    src, dst = "10.9.0.2", "192.0.2.80"
    datagram = ipv4(src, dst, PROTO_UDP, udp(sport, 443, payload, src_ip=src, dst_ip=dst))
    return Frame(ts_ns, ethernet(datagram, ethertype=ETHERTYPE_IPV4))


def split_hello_datagrams(version: int, sni: str) -> tuple[bytes, bytes]:
    """The hello in four CRYPTO pieces: a datagram of two coalesced Initials (pieces 3 and 1), then a
    datagram with pieces 4 and 2 in one Initial."""
    parts = pieces(client_hello_handshake(sni, alpn=("h3",)), [60, 130, 200])
    dcid = DCID + version.to_bytes(4, "big")  # one DCID per connection, or tshark joins them
    first = initial(version, dcid, crypto_frame(*parts[2]), pn=0)
    first += initial(version, dcid, crypto_frame(*parts[0]), pn=1)
    second = initial(version, dcid, crypto_frame(*parts[3]) + crypto_frame(*parts[1]), pn=2, pad_to=1000)
    return first, second


def test_scan_names_quic_flows_split_over_coalesced_and_separate_initials(
    tmp_path: Path, tshark: str
) -> None:
    frames, ts = [], 1_700_000_000_000_000_000
    for version, (sport, sni) in QUIC_SNI.items():
        for datagram in split_hello_datagrams(version, sni):
            ts += 1_000_000
            frames.append(udp_frame(sport, datagram, ts))
    capture = tmp_path / "quic.pcap"
    write_pcap(capture, frames, link_type=1)
    args = [
        "-n",
        "-r",
        str(capture),
        "-T",
        "fields",
        "-e",
        "udp.srcport",
        "-e",
        "tls.handshake.extensions_server_name",
    ]
    shown = {
        tuple(line.split("\t"))
        for line in run_tshark(args).stdout.splitlines()
        if line.split("\t")[1:] != [""]
    }
    assert shown == {(str(port), sni) for port, sni in QUIC_SNI.values()}, "tshark reads what was written"
    flows = {f["device_port"]: f for f in droneaudit.scan([capture], devices=["10.9.0.0/24"]).flow_records()}
    for port, sni in QUIC_SNI.values():
        assert (flows[port]["host"], flows[port]["host_source"], flows[port]["host_ech"]) == (
            sni,
            "quic-sni",
            False,
        )
        first = min(i for i, f in enumerate(frames, start=1) if f.data[34:36] == port.to_bytes(2, "big"))
        assert {e["frame"] for e in flows[port]["host_evidence"]} <= {first, first + 1}
