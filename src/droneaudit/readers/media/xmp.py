"""Find and parse XMP packets into a flat ``{(namespace URI, local name): value}`` map.

Why a flat map keyed by namespace URI: vendors choose prefixes freely (DJI writes ``drone-dji:`` on
most models, ``DJI:`` on the XT S, and the same URI may come with any prefix), so matching on the
prefix misses data; matching on the URI does not. Properties are read both from attributes
(``<rdf:Description drone-dji:GpsLatitude="…"/>``, DJI's usual form) and from child elements;
arrays (``rdf:Seq/Bag/Alt``) become one string joined by ", " as ExifTool prints them, and fields of
structures appear under their own names.

XML comes from the evidence, so it is parsed with ``defusedxml`` (no DTDs, no entity expansion, no
external references: a billion-laughs packet is refused, not expanded). The parser streams into a
collector, so when a packet is damaged half-way the properties before the damage are still returned,
together with the issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import errors as expat_errors

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

#: Signature that opens the main XMP packet in a JPEG APP1 segment.
JPEG_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
#: Signature of "extended XMP" APP1 segments (continuation of a packet over 64 KiB).
JPEG_EXTENDED_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
#: Never parse more than this from one packet (a JPEG segment holds at most 64 KiB anyway).
MAX_PACKET = 4 << 20

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
META = "adobe:ns:meta/"

XmpMap = dict[tuple[str, str], str]


@dataclass(slots=True)
class XmpResult:
    """The properties read, and the first problem met (code, detail, offset within the packet)."""

    props: XmpMap = field(default_factory=dict)
    issue: tuple[str, str, int] | None = None


def split_name(name: str) -> tuple[str, str]:
    """``{uri}local`` (ElementTree's Clark notation) → (uri, local); no namespace → ("", name)."""
    if name.startswith("{"):
        uri, _, local = name[1:].partition("}")
        return uri, local
    return "", name


class _Frame:
    __slots__ = ("children", "items", "resource", "tag", "text")

    def __init__(self, tag: str, resource: str | None) -> None:
        self.tag = tag
        self.resource = resource
        self.text: list[str] = []
        self.items: list[str] = []
        self.children = False


class _Collector:
    """ElementTree parser target that flattens RDF properties as the elements stream past."""

    def __init__(self) -> None:
        self.props: XmpMap = {}
        self.stack: list[_Frame] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if self.stack:
            self.stack[-1].children = True
        self.stack.append(_Frame(tag, attrib.get(f"{{{RDF}}}resource")))
        for key, value in attrib.items():
            uri, local = split_name(key)
            if uri and uri not in (RDF, XML):
                self.props.setdefault((uri, local), value)

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text.append(text)

    def end(self, tag: str) -> None:
        frame = self.stack.pop()
        uri, local = split_name(tag)
        if uri == RDF:
            if local == "li" and not frame.children:
                self._add_item("".join(frame.text).strip())
            return
        if not uri or uri == META:
            return
        value = _leaf_value(frame)
        if value is not None:
            self.props.setdefault((uri, local), value)

    def _add_item(self, text: str) -> None:
        """An array item belongs to the nearest enclosing property (skipping rdf:Seq/Bag/Alt)."""
        for frame in reversed(self.stack):
            if split_name(frame.tag)[0] != RDF:
                frame.items.append(text)
                return

    def close(self) -> None:
        return None


def _leaf_value(frame: _Frame) -> str | None:
    if frame.items:
        return ", ".join(frame.items)
    if frame.resource is not None:
        return frame.resource
    if frame.children:
        return None  # a structure: its fields were recorded under their own names
    return "".join(frame.text).strip()


def trim_packet(data: bytes) -> tuple[int, bytes]:
    """The XML part of a packet (from the first '<' to the last '>'), and where it starts."""
    start = data.find(b"<")
    end = data.rfind(b">")
    if start < 0 or end < start:
        return 0, b""
    return start, data[start : end + 1]


def parse(packet: bytes) -> XmpResult:
    """Parse one XMP packet. Never raises: damage or refusal becomes ``XmpResult.issue``.

    One repair is made, because real firmware needs it: the XT S writes ``xmlns:DJI`` twice on one
    element, which expat rejects as a duplicate attribute; the packet is read again with the repeated
    attribute dropped, and the issue is still reported.
    """
    start, xml = trim_packet(packet[:MAX_PACKET])
    if not xml:
        return XmpResult(issue=("xmp-empty", "XMP segment holds no XML", 0))
    result, duplicate = _parse_xml(xml, start)
    if duplicate and result.issue is not None:
        repaired, _ = _parse_xml(_DUPLICATES_IN_TAG.sub(_drop_repeats, xml), start)
        if repaired.issue is None:
            detail = "XMP repeats an attribute in one element; read with the repeat dropped"
            repaired.issue = ("xmp-duplicate-attribute", detail, result.issue[2])
        return repaired
    return result


def _parse_xml(xml: bytes, start: int) -> tuple[XmpResult, bool]:
    """Stream ``xml`` into a collector; return the result and whether expat met a duplicate attribute."""
    collector = _Collector()
    parser = DefusedXMLParser(target=collector, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    result = XmpResult(props=collector.props)
    try:
        parser.feed(xml)
        parser.close()
    except ParseError as exc:
        line, col = exc.position
        where = start + _offset(xml, line, col)
        result.issue = ("xmp-malformed", f"XMP is not well-formed XML ({exc})", where)
        return result, exc.code == _DUPLICATE_ATTRIBUTE
    except DefusedXmlException as exc:  # DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
        where = start + max(xml.find(b"<!"), 0)
        result.issue = ("xmp-refused", f"XMP refused by the safe XML parser ({type(exc).__name__})", where)
    except (ValueError, LookupError, RecursionError) as exc:
        result.issue = ("xmp-malformed", f"XMP could not be decoded ({type(exc).__name__})", start)
    return result, False


_DUPLICATE_ATTRIBUTE = expat_errors.codes[expat_errors.XML_ERROR_DUPLICATE_ATTRIBUTE]
_DUPLICATES_IN_TAG = re.compile(rb"<[A-Za-z_][^<>]*>")
_ATTRIBUTE = re.compile(rb"""\s+([^\s=<>/]+)\s*=\s*("[^"]*"|'[^']*')""")


def _drop_repeats(tag: re.Match[bytes]) -> bytes:
    """One start tag with every attribute after the first of its name removed."""
    seen: set[bytes] = set()

    def keep_first(attr: re.Match[bytes]) -> bytes:
        name = attr[1]
        if name in seen:
            return b""
        seen.add(name)
        return attr[0]

    return _ATTRIBUTE.sub(keep_first, tag[0])


def _offset(xml: bytes, line: int, col: int) -> int:
    """Byte offset of expat's (1-based line, 0-based column) position."""
    offset = 0
    for _ in range(max(line - 1, 0)):
        nl = xml.find(b"\n", offset)
        if nl < 0:
            break
        offset = nl + 1
    return min(offset + col, len(xml))


def packets_in(data: bytes) -> list[tuple[int, bytes]]:
    """Locate ``<?xpacket begin … <?xpacket end…?>`` packets (or a bare ``<x:xmpmeta>``) in a blob, for
    containers that do not frame XMP themselves. Returns (offset, packet) pairs."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while (begin := data.find(b"<?xpacket begin", pos)) >= 0:
        end = data.find(b"<?xpacket end", begin)
        close = data.find(b"?>", end) if end >= 0 else -1
        stop = close + 2 if close >= 0 else len(data)
        out.append((begin, data[begin:stop]))
        pos = stop
    if not out and (meta := data.find(b"<x:xmpmeta")) >= 0:
        out.append((meta, data[meta:]))
    return out
