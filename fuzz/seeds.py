"""Small valid inputs for every reader, built deterministically in code (the fuzzer's starting corpus).

Captures and DJI-style photos/SRTs come from ``droneaudit.synth``; the other formats are assembled here
from their published layouts, just far enough that each reader walks its main paths (headers, records,
positions, identities). Small samples of the shared corpus can be added at run time
(``corpus_seeds``); they are read, never copied into the repository.
"""

from __future__ import annotations

import gzip
import json
import math
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from droneaudit.readers.logs.dji_keychain import xor_key
from droneaudit.synth import app, link, packets, tls
from droneaudit.synth.media import DEMO_PHOTOS, DEMO_SERIAL, write_photo, write_srt
from droneaudit.synth.writers import Frame, IfaceSpec, write_pcap, write_pcapng

PHONE, DNS_SERVER, REMOTE, REMOTE6, PHONE6 = (
    "192.168.1.23",
    "192.168.1.1",
    "47.88.61.146",
    "2001:db8::1",
    "fd00::23",
)
T0 = 1_773_480_600_000_000_000  #: 2026-03-14T09:30:00Z in ns


# --- captures -----------------------------------------------------------------------------------------


def _eth4(src: str, dst: str, proto: int, segment: bytes) -> bytes:
    return link.ethernet(packets.ipv4(src, dst, proto, segment), ethertype=0x0800)


def _frames() -> list[bytes]:
    """DNS query/answer, a TLS handshake start with SNI, an HTTP request, UDP and ICMP over IPv6."""
    name = "mydjiflight.dji.com"
    query = packets.udp(40000, 53, app.dns_query(name), src_ip=PHONE, dst_ip=DNS_SERVER)
    answer = app.dns_response(name, [("CNAME", "edge.dji.com", 60), ("A", REMOTE, 60)])
    reply = packets.udp(53, 40000, answer, src_ip=DNS_SERVER, dst_ip=PHONE)
    hello = tls.tls_client_hello(name)
    http = app.http_request("POST", "/upload", "api.example.com", b"x" * 40)
    out = [_eth4(PHONE, DNS_SERVER, 17, query), _eth4(DNS_SERVER, PHONE, 17, reply)]
    out += [
        _eth4(PHONE, REMOTE, 6, packets.tcp(50000, 443, flags="S", src_ip=PHONE, dst_ip=REMOTE)),
        _eth4(REMOTE, PHONE, 6, packets.tcp(443, 50000, flags="SA", ack=1, src_ip=REMOTE, dst_ip=PHONE)),
        _eth4(
            PHONE, REMOTE, 6, packets.tcp(50000, 443, hello, seq=1, flags="PA", src_ip=PHONE, dst_ip=REMOTE)
        ),
        _eth4(PHONE, REMOTE, 6, packets.tcp(50001, 80, http, seq=1, flags="PA", src_ip=PHONE, dst_ip=REMOTE)),
    ]
    udp6 = packets.udp(5353, 443, b"\xc3" + bytes(40), src_ip=PHONE6, dst_ip=REMOTE6)
    out.append(link.ethernet(packets.ipv6(PHONE6, REMOTE6, 17, udp6), ethertype=0x86DD, vlans=[7]))
    ping = packets.icmpv6(128, 0, b"ping", src_ip=PHONE6, dst_ip=REMOTE6)
    out.append(link.ethernet(packets.ipv6(PHONE6, REMOTE6, 58, ping), ethertype=0x86DD))
    return out


def _pcap(**kwargs: object) -> bytes:
    frames = [Frame(T0 + i * 1_000_000, data) for i, data in enumerate(_frames())]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed.pcap"
        write_pcap(path, frames, link_type=1, **kwargs)  # type: ignore[arg-type]
        return path.read_bytes()


def _pcapng(big_endian: bool = False) -> bytes:
    frames = [
        Frame(
            T0 + i * 1_000_000,
            data,
            interface=i % 2,
            flags=2 if i % 3 else 1,
            comment="c" if i == 2 else None,
        )
        for i, data in enumerate(_frames())
    ]
    ifaces = [
        IfaceSpec(1, name="wlan0", ipv4_addrs=[(PHONE, "255.255.255.0")], tsresol_exp10=9),
        IfaceSpec(1, name="rmnet0", tsresol_exp2=20, snaplen=96),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed.pcapng"
        write_pcapng(path, ifaces, frames, big_endian=big_endian, interface_stats=[(0, 100, 3), (1, None, 0)])
        return path.read_bytes()


def capture() -> dict[str, bytes]:
    pcap = _pcap()
    return {
        "pcap": pcap,
        "pcap-ns-be": _pcap(nanosecond=True, big_endian=True),
        "pcapng": _pcapng(),
        "pcapng-be": _pcapng(big_endian=True),
        "pcap-gz": gzip.compress(pcap, mtime=0),
    }


# --- photos, subtitles, video -------------------------------------------------------------------------


def jpeg() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        write_photo(path, DEMO_PHOTOS[0], DEMO_SERIAL)
        return {"dji-photo": path.read_bytes()}


def srt() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.SRT"
        write_srt(path, DEMO_PHOTOS[0], 4)
        old = (
            "1\n00:00:00,000 --> 00:00:01,000\nHOME(8.5416,47.3769) 2026.03.14 10:31:12\n"
            "GPS(8.5417,47.3770,15) BAROMETER:40.1\nISO:100 Shutter:60 EV:0 Fnum:F2.8\n"
        )
        return {"mavic3": path.read_bytes(), "p4-home": old.encode()}


def _ifd_bytes(entries: list[tuple[int, int, int, bytes]], at: int) -> bytes:
    """A little-endian IFD at offset ``at``; values over 4 bytes follow the table."""
    table, data = struct.pack("<H", len(entries)), b""
    data_at = at + 2 + 12 * len(entries) + 4
    for tag, typ, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack("<HHII", tag, typ, count, data_at + len(data))
            data += value + b"\0" * (len(value) % 2)
    return table + struct.pack("<I", 0) + data


def _rationals(*values: tuple[int, int]) -> bytes:
    return b"".join(struct.pack("<II", n, d) for n, d in values)


def dng() -> dict[str, bytes]:
    """IFD0 (DNGVersion, make, model, serial, XMP) -> Exif IFD (local time, offset) and GPS IFD."""
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
        b' drone-dji:GpsLatitude="+47.3769" drone-dji:GpsLongitude="+8.5417"'
        b' drone-dji:AbsoluteAltitude="+478.2"/></rdf:RDF></x:xmpmeta>'
    )
    exif = [(0x9003, 2, 20, b"2026:03:14 10:31:12\0"), (0x9011, 2, 7, b"+01:00\0")]
    gps = [
        (0, 1, 4, bytes([2, 3, 0, 0])),
        (1, 2, 2, b"N\0"),
        (2, 5, 3, _rationals((47, 1), (22, 1), (3684, 100))),
        (3, 2, 2, b"E\0"),
        (4, 5, 3, _rationals((8, 1), (32, 1), (3012, 100))),
        (6, 5, 1, _rationals((4782, 10))),
    ]
    exif_bytes = _ifd_bytes(exif, 1000)
    ifd0 = [
        (0x00FE, 4, 1, struct.pack("<I", 0)),
        (0x010F, 2, 4, b"DJI\0"),
        (0x0110, 2, 8, b"L2D-20c\0"),
        (700, 1, len(xmp), xmp),
        (0x8769, 4, 1, struct.pack("<I", 1000)),
        (0x8825, 4, 1, struct.pack("<I", 1000 + len(exif_bytes) + len(exif_bytes) % 2)),
        (0xC612, 1, 4, b"\x01\x04\x00\x00"),
        (0xC62F, 2, 8, b"0K8TH5B\0"),
    ]
    head = (b"II*\0" + struct.pack("<I", 8) + _ifd_bytes(ifd0, 8)).ljust(1000, b"\0")
    body = exif_bytes + b"\0" * (len(exif_bytes) % 2)
    return {"dng": head + body + _ifd_bytes(gps, len(head) + len(body))}


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full(kind: bytes, *parts: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0", *parts)


def mp4() -> dict[str, bytes]:
    """ftyp, mdat with two subtitle samples, moov (mvhd, one text track with real tables, udta ©xyz)."""
    text = [
        b"F/2.8, SS 1000, ISO 100, EV 0, GPS (8.5417, 47.3769, 19), D 10m, H 5m",
        b"GPS (8.5418, 47.377, 19)",
    ]
    samples = [struct.pack(">H", len(t)) + t for t in text]
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")
    first = len(ftyp) + 8
    mdat = _box(b"mdat", *samples)
    offsets = [first, first + len(samples[0])]
    stbl = _box(
        b"stbl",
        _full(b"stsd", struct.pack(">I", 1), _box(b"tx3g", bytes(6), struct.pack(">H", 1), bytes(30))),
        _full(b"stts", struct.pack(">III", 1, 2, 1000)),
        _full(b"stsc", struct.pack(">IIII", 1, 1, 1, 1)),
        _full(b"stsz", struct.pack(">II", 0, 2), *(struct.pack(">I", len(s)) for s in samples)),
        _full(b"stco", struct.pack(">I", 2), *(struct.pack(">I", o) for o in offsets)),
    )
    created = 3_856_246_200  # 2026-03-14 as seconds since 1904
    mdhd = _full(b"mdhd", struct.pack(">IIIIHH", created, created, 1000, 2000, 0x55C4, 0))
    hdlr = _full(b"hdlr", bytes(4), b"sbtl", bytes(12), b"subs\0")
    trak = _box(b"trak", _box(b"mdia", mdhd, hdlr, _box(b"minf", stbl)))
    mvhd = _full(b"mvhd", struct.pack(">IIII", created, created, 1000, 2000), bytes(80))
    xyz = _box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7), b"+47.3769+008.5417/")
    udta = _box(b"udta", xyz, _box(b"\xa9mod", struct.pack(">HH", 6, 0x15C7), b"FC3582"))
    return {"mp4": ftyp + mdat + _box(b"moov", mvhd, trak, udta)}


# --- flight logs ---------------------------------------------------------------------------------------


def _dji_record(kind: int, plain: bytes, first: int = 0x5A) -> bytes:
    key = xor_key(first, kind)
    body = bytes([first]) + bytes(b ^ key[i % 8] for i, b in enumerate(plain + b"\0"))
    return bytes([kind, len(body)]) + body + b"\xff"


def _details() -> bytes:
    block = bytearray(436)
    block[0:6] = b"Zurich"
    struct.pack_into("<qdd", block, 91, 1_773_480_600_000, 8.5417, 47.3769)
    struct.pack_into("<f", block, 267, 4782.0)
    block[271], block[376:380] = 67, bytes([2, 4, 9, 1])
    block[280:292] = b"test-aircft\0"
    block[312:322] = b"1581F6TEST"
    return bytes(block)


def dji_flight_record() -> dict[str, bytes]:
    """A v7 record: prefix, XOR-scrambled OSD/HOME/CUSTOM/APP_GPS records, then the details block."""
    lat, lon = math.radians(47.3769), math.radians(8.5417)
    records = [
        _dji_record(1, struct.pack("<ddh", lon, lat, 120) + bytes(35)),
        _dji_record(2, struct.pack("<dd", lon, lat) + bytes(20)),
        _dji_record(5, struct.pack("<BBffq", 0, 0, 1.0, 2.0, 1_773_480_601_000)),
        _dji_record(14, struct.pack("<dd", 47.3768, 8.5416)),
        _dji_record(1, struct.pack("<ddh", lon + 1e-6, lat, 150) + bytes(35), first=0x11),
    ]
    body = b"".join(records)
    prefix = struct.pack("<QHB", 100 + len(body), 436, 7).ljust(100, b"\0")
    return {"v7": prefix + body + _details()}


def _dat_record(kind: int, tick: int, payload: bytes) -> bytes:
    from droneaudit.readers.logs.dji_dat import crc16

    body = bytes([0x55, 12 + len(payload), 0, 0x42]) + struct.pack("<HI", kind, tick)
    body += bytes(b ^ (tick & 0xFF) for b in payload)
    return body + struct.pack("<H", crc16(body))


def dji_dat() -> dict[str, bytes]:
    """A plain V3 DAT (aircraft code, BUILD line) with GPS and event records, and a LOGH container."""
    head = bytearray(256)
    head[0], head[16:41], head[242:253] = 11, b"BUILD 2017.08.29 10:11:12", b"DJI_LOG_V3T"
    fix = struct.pack("<IIiiifff", 20170829, 185812, 85417000, 473769000, 478_000, 0.5, -0.25, 0.0) + bytes(8)
    records = _dat_record(2096, 1000, fix) + _dat_record(32768, 1001, b"[L-FMU/MOTOR]Start.\0")
    logh = bytearray(b"LOGH\0\0\0\0") + struct.pack("<QQ", 128, 64) + b"wm169".ljust(16, b"\0")
    logh += b"1581F4QWE123".ljust(16, b"\0")
    return {"v3": bytes(head) + records, "logh": bytes(logh.ljust(128, b"\0")) + bytes(range(64))}


def _ulog_msg(kind: bytes, body: bytes) -> bytes:
    return struct.pack("<H", len(body)) + kind + body


def ulog() -> dict[str, bytes]:
    """Header, flag bits, a format, an info and a parameter, then two GPS samples (PX4 ULog v1)."""
    fmt = (
        b"vehicle_gps_position:uint64_t timestamp;uint64_t time_utc_usec;int32_t lat;int32_t lon;"
        b"int32_t alt;uint8_t fix_type;"
    )
    key = b"char[8] sys_uuid"
    param = b"int32_t MAV_SYS_ID"
    parts = [
        b"ULog\x01\x12\x35\x01" + struct.pack("<Q", 1000),
        _ulog_msg(b"B", bytes(40)),
        _ulog_msg(b"F", fmt),
        _ulog_msg(b"I", bytes([len(key)]) + key + b"0011AABB"),
        _ulog_msg(b"P", bytes([len(param)]) + param + struct.pack("<i", 1)),
        _ulog_msg(b"A", b"\0" + struct.pack("<H", 0) + b"vehicle_gps_position"),
    ]
    for i in range(2):
        sample = struct.pack("<QQiiiB", 2_000_000 + i * 200_000, 1_773_480_600_000_000 + i * 200_000,
                             473769000 + i, 85417000, 478_000, 3)  # fmt: skip
        parts.append(_ulog_msg(b"D", struct.pack("<H", 0) + sample))
    return {"ulog": b"".join(parts)}


_DF_STRUCT = {"Q": "Q", "B": "B", "I": "I", "H": "H", "c": "h", "L": "i", "e": "i", "f": "f", "Z": "64s"}
_DF_LAYOUTS = {
    129: ("GPS", "QBBIHBcLLeffffB", "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U"),
    131: ("PARM", "QZf", "TimeUS,Name,Value"),
}


def _df_message(type_id: int, *values: object) -> bytes:
    fmt = _DF_LAYOUTS[type_id][1]
    return b"\xa3\x95" + bytes([type_id]) + struct.pack("<" + "".join(_DF_STRUCT[c] for c in fmt), *values)


def dataflash() -> dict[str, bytes]:
    """FMT for FMT, GPS and PARM; one GPS fix (week 2300) and a serial-number parameter."""
    fmt_fmt = b"\xa3\x95\x80" + struct.pack(
        "<BB4s16s64s", 128, 89, b"FMT", b"BBnNZ", b"Type,Length,Name,Format,Columns"
    )
    parts = [fmt_fmt]
    for type_id, (name, fmt, cols) in _DF_LAYOUTS.items():
        size = 3 + struct.calcsize("<" + "".join(_DF_STRUCT[c] for c in fmt))
        parts.append(
            b"\xa3\x95\x80"
            + struct.pack("<BB4s16s64s", type_id, size, name.encode(), fmt.encode(), cols.encode())
        )
    parts.append(
        _df_message(
            129, 6_000_000, 1, 3, 302_400_000, 2300, 12, 70, 473977000, 85456000, 48825, 0, 0, 0, 0, 1
        )
    )
    parts.append(_df_message(131, 7_100_000, b"BRD_SERIAL_NUM", 4242.0))
    return {"dataflash": b"".join(parts)}


def tlog() -> dict[str, bytes]:
    """MAVLink 2 frames with receive times: heartbeat, SYSTEM_TIME, GLOBAL_POSITION_INT, HOME, params."""
    from pymavlink.dialects.v20 import ardupilotmega as v2

    link2 = v2.MAVLink(None, srcSystem=1, srcComponent=1)
    msgs = [
        link2.heartbeat_encode(2, 3, 0, 0, 4, 3),
        link2.system_time_encode(1_773_480_600_000_000, 10_000),
        link2.global_position_int_encode(10_500, 473977418, 85455939, 488000, 0, 0, 0, 0, 0),
        link2.gps_raw_int_encode(1_773_480_600_500_000, 3, 473977400, 85455900, 489000, 0, 0, 0, 0, 12),
        link2.home_position_encode(473977000, 85455000, 487000, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0),
        link2.param_value_encode(b"BRD_SERIAL_NUM", 4242.0, 6, 900, 10),
        link2.statustext_encode(6, b"ArduCopter V4.5.7 (abcdef12)"),
    ]
    stamp = 1_773_480_600_000_000
    return {"tlog": b"".join(struct.pack(">Q", stamp + i * 1000) + m.pack(link2) for i, m in enumerate(msgs))}


def airdata_csv() -> dict[str, bytes]:
    rows = [
        "time(millisecond),datetime(utc),latitude,longitude,altitude_above_seaLevel(feet),message,"
        "battery_serial_number,home_latitude,home_longitude",
        "0,2026-03-14 09:30:00,47.3769,8.5417,1568.9,Home Point Recorded,BAT123,47.3769,8.5417",
        "100,2026-03-14 09:30:00,47.3770,8.5418,1580.1,,BAT123,47.3769,8.5417",
        '200,2026-03-14 09:30:01,0,0,0,"no, fix",BAT123,,',
    ]
    return {"airdata": ("\r\n".join(rows) + "\r\n").encode()}


def har() -> dict[str, bytes]:
    """One HAR 1.2 entry: a JSON upload with a position and a serial, and a base64 response body."""
    body = '{"lat":47.3769,"lon":8.5417,"serial":"1581F5FHD22A0000DEMO"}'
    request = {
        "method": "POST",
        "url": "https://api.example.com/upload?sn=1581F5FHD22A0000DEMO",
        "httpVersion": "HTTP/1.1",
        "headers": [
            {"name": "Host", "value": "api.example.com"},
            {"name": "Content-Type", "value": "application/json"},
        ],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": len(body),
        "postData": {"mimeType": "application/json", "text": body},
    }
    content = {"size": 2, "mimeType": "application/json", "text": "e30=", "encoding": "base64"}
    response = {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                "content": content, "redirectURL": "", "headersSize": -1, "bodySize": 2}  # fmt: skip
    entry = {"startedDateTime": "2026-03-14T09:30:00.000Z", "time": 10, "request": request,
             "response": response, "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}}  # fmt: skip
    log = {"version": "1.2", "creator": {"name": "mitmproxy", "version": "10.0"}, "entries": [entry]}
    return {"har": json.dumps({"log": log}, indent=1).encode()}


#: Seed builders by reader name (``droneaudit.readers._registry.READERS``).
BUILDERS: dict[str, Callable[[], dict[str, bytes]]] = {
    "capture": capture,
    "jpeg": jpeg,
    "dng": dng,
    "mp4": mp4,
    "dji-srt": srt,
    "dji-flight-record": dji_flight_record,
    "dji-dat": dji_dat,
    "px4-ulog": ulog,
    "ardupilot-dataflash": dataflash,
    "mavlink-tlog": tlog,
    "airdata-csv": airdata_csv,
    "har": har,
}

#: Shared-corpus samples (globs under the corpus root) that make good extra seeds, per reader.
CORPUS_GLOBS: dict[str, tuple[str, ...]] = {
    "capture": (
        "tcpdump/*.pcap*",
        "suricata-verify/**/*.pcap",
        "drone/opendroneid/*.pcap*",
        "pcap-formats/**/*.pcapng",
    ),
    "jpeg": (),
    "dng": (),
    "mp4": (),
    "dji-srt": ("drone-media/dji_srt_parser/*.[sS][rR][tT]", "drone-media/dji-drone-metadata-embedder/*.SRT"),
    "dji-flight-record": (),
    "dji-dat": (),
    "px4-ulog": ("drone-media/pyulog/*.ulg",),
    "ardupilot-dataflash": ("drone-media/pymavlink/*.BIN",),
    "mavlink-tlog": ("drone-media/pymavlink/*.tlog",),
    "airdata-csv": (),
    "har": (),
}


def corpus_seeds(reader: str, root: Path, max_bytes: int) -> Iterator[tuple[str, bytes]]:
    """Corpus samples for ``reader`` no larger than ``max_bytes`` (a longer file gives its first
    ``max_bytes`` bytes when the format is read front to back: logs, SRT, captures)."""
    for pattern in CORPUS_GLOBS.get(reader, ()):
        for path in sorted(root.glob(pattern)):
            with path.open("rb") as f:
                data = f.read(max_bytes)
            yield f"corpus-{path.name}", data
