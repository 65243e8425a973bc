"""XMP packets: properties keyed by namespace URI (never by prefix), and hostile XML refused.

Packets are written here by hand, in the shapes real DJI firmware uses (attributes on
``rdf:Description``, ``rdf:Seq`` children, the XT S's repeated ``xmlns:DJI``).
"""

from __future__ import annotations

import time

from droneaudit.readers.media import xmp
from droneaudit.readers.media.photo_meta import DjiXmp

DJI = "http://www.dji.com/drone-dji/1.0/"
RDF_OPEN = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
)
RDF_CLOSE = "</rdf:RDF></x:xmpmeta>"


def packet(description: str) -> bytes:
    """A full packet (xpacket wrapper, padding, trailing NULs as some writers leave them)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + RDF_OPEN
        + description
        + RDF_CLOSE
        + "\n"
        + " " * 64
        + '<?xpacket end="w"?>'
    ).encode() + b"\x00\x00"


def dji_packet(prefix: str = "dd", uri: str = DJI, **props: str) -> bytes:
    """A DJI-style packet: every property an attribute of rdf:Description, under any prefix."""
    attrs = "".join(f'\n   {prefix}:{name}="{value}"' for name, value in props.items())
    return packet(f'<rdf:Description rdf:about="DJI Meta Data" xmlns:{prefix}="{uri}"{attrs}/>')


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" drone-dji:SelfData="&lol9;"/>
</rdf:RDF></x:xmpmeta>"""


def test_properties_are_keyed_by_uri_whatever_the_prefix() -> None:
    result = xmp.parse(packet(f'<rdf:Description xmlns:zz="{DJI}" zz:GpsLatitude="+40.5" zz:Version="1.2"/>'))
    assert result.issue is None
    assert result.props[(DJI, "GpsLatitude")] == "+40.5"
    assert result.props[(DJI, "Version")] == "1.2"


def test_known_prefix_on_a_foreign_uri_is_not_dji() -> None:
    foreign = "http://example.com/not-dji/"
    result = xmp.parse(packet(f'<rdf:Description xmlns:drone-dji="{foreign}" drone-dji:GpsLatitude="1.0"/>'))
    assert result.props == {(foreign, "GpsLatitude"): "1.0"}
    assert DjiXmp(result.props).get("GpsLatitude") is None


def test_attributes_child_elements_arrays_structs_and_resources() -> None:
    body = (
        f'<rdf:Description rdf:about="" xmlns:d="{DJI}" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" d:GpsStatus="RTK">'
        "<d:RelativeAltitude>+16.508</d:RelativeAltitude>"
        "<d:SelfData/>"
        "<dc:subject><rdf:Bag><rdf:li>thermal</rdf:li><rdf:li>survey</rdf:li></rdf:Bag></dc:subject>"
        "<d:Band><rdf:Seq><rdf:li>LWIR</rdf:li></rdf:Seq></d:Band>"
        '<xmpMM:DerivedFrom rdf:parseType="Resource"><xmpMM:DocumentID>uuid:1</xmpMM:DocumentID>'
        "</xmpMM:DerivedFrom>"
        '<d:Link rdf:resource="http://example.com/x"/>'
        "</rdf:Description>"
    )
    props = xmp.parse(packet(body)).props
    assert props[(DJI, "GpsStatus")] == "RTK"
    assert props[(DJI, "RelativeAltitude")] == "+16.508"
    assert props[(DJI, "SelfData")] == ""
    assert props[("http://purl.org/dc/elements/1.1/", "subject")] == "thermal, survey"
    assert props[(DJI, "Band")] == "LWIR"
    assert props[("http://ns.adobe.com/xap/1.0/mm/", "DocumentID")] == "uuid:1"
    assert ("http://ns.adobe.com/xap/1.0/mm/", "DerivedFrom") not in props
    assert props[(DJI, "Link")] == "http://example.com/x"


def test_billion_laughs_is_refused_without_expansion() -> None:
    started = time.perf_counter()
    result = xmp.parse(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0
    assert result.issue is not None and result.issue[0] == "xmp-refused"
    assert result.issue[2] == BILLION_LAUGHS.index(b"<!DOCTYPE")
    assert result.props == {}


def test_external_entity_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x a="&e;"/>'
    result = xmp.parse(data)
    assert result.issue is not None and result.issue[0] == "xmp-refused"
    assert result.props == {}


def test_damaged_packet_keeps_what_came_before_the_damage() -> None:
    good = packet(f'<rdf:Description xmlns:d="{DJI}" d:GpsLatitude="+1.5"><d:A>2</d:A><d:B>3</d:B>')
    cut = good[: good.index(b"<d:B>") + 7]
    result = xmp.parse(cut)
    assert result.issue is not None and result.issue[0] == "xmp-malformed"
    assert result.props[(DJI, "GpsLatitude")] == "+1.5"
    assert result.props[(DJI, "A")] == "2"
    assert 0 < result.issue[2] <= len(cut)


def test_repeated_namespace_declaration_is_read_and_reported() -> None:
    """The XT S writes ``xmlns:DJI="http://www.dji.com"`` twice on one element."""
    body = (
        '<rdf:Description rdf:about="DJI Meta Data"\nxmlns:DJI="http://www.dji.com"\n'
        'xmlns:DJI="http://www.dji.com"\nDJI:AbsoluteAltitude="-29.44"\nDJI:RtkFlag="0">'
        "<DJI:BandName><rdf:Seq><rdf:li>LWIR</rdf:li></rdf:Seq></DJI:BandName></rdf:Description>"
    )
    result = xmp.parse(packet(body))
    assert result.issue is not None and result.issue[0] == "xmp-duplicate-attribute"
    assert result.props[("http://www.dji.com", "AbsoluteAltitude")] == "-29.44"
    assert result.props[("http://www.dji.com", "BandName")] == "LWIR"


def test_empty_and_non_xml_packets() -> None:
    assert xmp.parse(b"").issue == ("xmp-empty", "XMP segment holds no XML", 0)
    assert xmp.parse(b"\x00\x00\x00").issue is not None
    result = xmp.parse(b"<<<>>>")
    assert result.issue is not None and result.issue[0] == "xmp-malformed"


def test_packets_in_a_blob() -> None:
    inner = packet(f'<rdf:Description xmlns:d="{DJI}" d:X="1"/>')
    blob = b"\x00" * 10 + inner + b"tail"
    found = xmp.packets_in(blob)
    assert [offset for offset, _ in found] == [10]
    assert xmp.parse(found[0][1]).props == {(DJI, "X"): "1"}
    assert xmp.packets_in(b"<x:xmpmeta>rest")[0][0] == 0
    assert xmp.packets_in(b"nothing here") == []


def test_dji_lookup_ignores_case_and_prefers_the_first_name() -> None:
    props = {(DJI, "GPSLatitude"): "+1.0", ("http://www.dji.com", "Latitude"): "2.0"}
    dji = DjiXmp(props)
    assert dji.number("GpsLatitude", "Latitude") == 1.0
    assert dji.get("gpslatitude") == ("+1.0", "XMP drone-dji:GPSLatitude")
    assert dji.number("Missing") is None


def test_huge_packet_is_cut_at_the_limit_and_reported() -> None:
    """A 40 MB packet (a property value that never ends): only MAX_PACKET bytes are looked at."""
    huge = packet(f'<rdf:Description xmlns:dd="{DJI}" dd:GpsLatitude="+40.5" dd:Junk="').rstrip(b"\x00")
    huge += b"A" * (40 << 20) + b'"/>' + RDF_CLOSE.encode()
    started = time.monotonic()
    result = xmp.parse(huge)
    assert time.monotonic() - started < 5
    assert result.issue is not None and result.issue[0] == "xmp-malformed"
    assert len(huge) > 10 * xmp.MAX_PACKET


def test_huge_but_well_formed_packet_keeps_its_first_properties() -> None:
    """XMP padding can be megabytes of spaces: cut at MAX_PACKET, what came before still reads."""
    padded = packet(f'<rdf:Description xmlns:dd="{DJI}" dd:GpsLatitude="+40.5"/>') + b" " * (8 << 20)
    result = xmp.parse(padded)
    assert result.issue is None
    assert DjiXmp(result.props).number("GpsLatitude") == 40.5
