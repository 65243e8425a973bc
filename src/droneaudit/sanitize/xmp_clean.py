"""Remove XMP properties by namespace URI and local name, editing the packet's text, not re-serialising it.

Why text edits: re-serialising an XMP tree (ElementTree, python-xmp-toolkit) renames prefixes, reorders
attributes, drops comments and the ``<?xpacket?>`` wrapper, and turns DJI's attribute form into elements;
tools that read DJI XMP with regular expressions then break. Here expat reports where each start tag and
end tag begins, each removal becomes a byte-range edit, and everything else — prefixes, order, padding,
the wrapper — stays exactly as the camera wrote it. The padding keeps its length, so the packet shrinks
by what was removed (in a TIFF, ``pad_to`` gives the bytes back to the padding instead).

What is removed is decided by namespace **URI**, never by prefix (DJI writes ``drone-dji:`` or ``DJI:``
for different URIs): standard namespaces by an explicit table, drone vendors' namespaces (DJI, Skydio,
Parrot, Pix4D, FLIR, …) by words in the local name, so a tag DJI adds next year (``LRFTargetLat2``) is
still caught. The result is parsed again with the inventory's own safe parser; if it is not well-formed,
or a property that should be gone is still there, the caller drops the whole packet instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from droneaudit.readers.media import photo_meta, xmp
from droneaudit.sanitize.common import IDENTITY, LOCATION, TIME, Options, Removed

REMOVE, COARSEN, DEWARP = "remove", "coarsen", "dewarp"
Decision = tuple[frozenset[str], str]  #: (profiles the property belongs to, what to do)

_L, _I, _T = frozenset({LOCATION}), frozenset({IDENTITY}), frozenset({TIME})
_LT = _L | _T
#: Standard namespaces: local name → decision. ``*GPS`` means every local name starting with GPS.
STANDARD: dict[str, dict[str, Decision]] = {
    photo_meta.EXIF_NS: {
        "*GPS": (_L, REMOVE), "GPSTimeStamp": (_LT, REMOVE), "GPSDateStamp": (_LT, REMOVE),
        "DateTimeOriginal": (_T, COARSEN), "DateTimeDigitized": (_T, COARSEN), "ImageUniqueID": (_I, REMOVE),
    },
    photo_meta.EXIFEX_NS: {
        "BodySerialNumber": (_I, REMOVE), "LensSerialNumber": (_I, REMOVE), "CameraOwnerName": (_I, REMOVE),
        "ImageUniqueID": (_I, REMOVE), "Photographer": (_I, REMOVE), "ImageEditor": (_I, REMOVE),
        "OffsetTime": (_T, REMOVE), "OffsetTimeOriginal": (_T, REMOVE), "OffsetTimeDigitized": (_T, REMOVE),
        "*GPS": (_L, REMOVE),
    },
    photo_meta.AUX_NS: {
        "SerialNumber": (_I, REMOVE), "LensSerialNumber": (_I, REMOVE), "ImageNumber": (_I, REMOVE),
        "OwnerName": (_I, REMOVE),
    },
    photo_meta.TIFF_NS: {"DateTime": (_T, COARSEN), "Artist": (_I, REMOVE)},
    "http://ns.adobe.com/xap/1.0/": {
        "CreateDate": (_T, COARSEN), "ModifyDate": (_T, COARSEN), "MetadataDate": (_T, COARSEN),
    },
    "http://ns.adobe.com/xap/1.0/mm/": {
        name: (_I, REMOVE) for name in (
            "DocumentID", "InstanceID", "OriginalDocumentID", "PreservedFileName", "History", "DerivedFrom",
            "Ingredients", "Pantry",
        )
    },
    "http://ns.adobe.com/photoshop/1.0/": {
        "DateCreated": (_T, COARSEN), "City": (_L, REMOVE), "State": (_L, REMOVE), "Country": (_L, REMOVE),
        "AuthorsPosition": (_I, REMOVE), "CaptionWriter": (_I, REMOVE), "Credit": (_I, REMOVE),
    },
    "http://purl.org/dc/elements/1.1/": {"creator": (_I, REMOVE)},
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": {
        "Location": (_L, REMOVE), "CountryCode": (_L, REMOVE), "CreatorContactInfo": (_I, REMOVE),
    },
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": {
        "LocationCreated": (_L, REMOVE), "LocationShown": (_L, REMOVE),
    },
    "http://ns.adobe.com/camera-raw-settings/1.0/": {"RawFileName": (_I, REMOVE)},
}  # fmt: skip
XMP_NOTE = "http://ns.adobe.com/xmp/note/"
#: Namespace URIs of drone and thermal-camera vendors, whose local names are classified by the words below.
VENDOR_URI = re.compile(
    r"dji\.com|uav\.com|skydio|parrot|pix4d|autel|flir|yuneec|sensefly|wingtra|drone", re.I
)
WORDS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (_L, ("latitude", "longitude", "longtitude", "altitude", "gps", "rtk", "lrf", "home", "takeoff",
          "position", "geo", "location", "surveying")),
    (_I, ("serial", "uuid", "vehicleid", "vehiclename", "flightid", "loghandle", "releasekey", "mediaid",
          "shuttercount", "selfdata", "dronename", "aircraftname", "owner", "sensorid", "pilot", "operator")),
    (_T, ("utime", "utc", "date", "time")),
)  # fmt: skip
MAX_PACKET = xmp.MAX_PACKET

_XMP_DAY = re.compile(r"^\s*(\d{4})[-:](\d{2})[-:](\d{2})")
_DEWARP_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}(?=;)")
_ATTR = re.compile(rb"""\s+([^\s=<>/]+)\s*=\s*("[^"]*"|'[^']*')""")
_START_TAG = re.compile(rb"<[A-Za-z_][^<>]*>")


def decide(uri: str, local: str, extended_dropped: bool = False) -> Decision | None:
    """What to do with property ``{uri}local`` (None: keep it whatever the profile)."""
    table = STANDARD.get(uri)
    if table is not None:
        return table.get(local) or (table.get("*GPS") if local.startswith("GPS") else None)
    if uri == XMP_NOTE and local == "HasExtendedXMP" and extended_dropped:
        return frozenset({LOCATION, IDENTITY, TIME}), REMOVE
    if not VENDOR_URI.search(uri):
        return None
    name = local.lower()
    if name == "dewarpdata":
        return _I | _T, DEWARP
    classes = frozenset(c for group, words in WORDS if any(w in name for w in words) for c in group)
    return (classes, REMOVE) if classes else None


@dataclass
class _Frame:
    qname: str
    start: int
    tag_end: int
    empty: bool
    scope: dict[str, str]
    action: Decision | None = None
    removing: bool = False  #: this element or an ancestor is being removed
    text: list[str] = field(default_factory=list)
    children: bool = False


class _Refused(Exception):
    """The packet declares a DTD or entities: refused, never expanded."""


class _Planner:
    """Walks the packet with expat and turns every property to remove or rewrite into a byte-range edit."""

    def __init__(self, xml: bytes, opts: Options, removed: Removed, extended_dropped: bool) -> None:
        self.xml, self.opts, self.removed, self.extended = xml, opts, removed, extended_dropped
        self.stack: list[_Frame] = []
        self.edits: list[tuple[int, int, bytes]] = []
        self.parser = expat.ParserCreate()
        p = self.parser
        p.ordered_attributes = True
        p.StartElementHandler, p.EndElementHandler = self.start, self.end
        p.CharacterDataHandler = self.data
        p.StartDoctypeDeclHandler = self.refuse
        p.EntityDeclHandler = self.refuse
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(self, *_args: object) -> None:
        raise _Refused

    def run(self) -> list[tuple[int, int, bytes]]:
        self.parser.Parse(self.xml, True)
        return self.edits

    def resolve(self, qname: str, scope: dict[str, str]) -> tuple[str, str]:
        prefix, _, local = qname.rpartition(":")
        return scope.get(prefix, ""), local

    def start(self, qname: str, attrs: list[str]) -> None:
        at = self.parser.CurrentByteIndex
        tag_end = _tag_end(self.xml, at)
        parent = self.stack[-1] if self.stack else None
        scope = dict(parent.scope) if parent else {"xml": "http://www.w3.org/XML/1998/namespace"}
        pairs = list(zip(attrs[::2], attrs[1::2], strict=True))
        for name, value in pairs:
            if name == "xmlns" or name.startswith("xmlns:"):
                scope[name.partition(":")[2]] = value
        frame = _Frame(qname, at, tag_end, self.xml[tag_end - 2 : tag_end] == b"/>", scope)
        if parent is not None:
            parent.children = True
            frame.removing = parent.removing
        self.stack.append(frame)
        if frame.removing:
            return
        frame.action = self.property_action(qname, scope)
        if frame.action is not None and frame.action[1] == REMOVE:
            frame.removing = True
            return
        for name, value in pairs:
            self.attribute(frame, name, value)

    def property_action(self, qname: str, scope: dict[str, str]) -> Decision | None:
        uri, local = self.resolve(qname, scope)
        if uri in (xmp.RDF, xmp.META, ""):
            return None
        action = decide(uri, local, self.extended)
        return action if action is not None and self.opts.removes(*action[0]) else None

    def attribute(self, frame: _Frame, name: str, value: str) -> None:
        if name == "xmlns" or name.startswith(("xmlns:", "rdf:", "xml:")):
            return
        action = self.property_action(name, frame.scope)
        if action is None:
            return
        span = _attribute_span(self.xml, frame.start, frame.tag_end, name)
        if span is None:
            raise ValueError(f"attribute {name} not found in its start tag")
        new = _rewrite(action[1], value)
        label = f"XMP {name}"
        if new is None:
            self.edits.append((span[0], span[1], b""))
            self.removed.add(label, value, secret=bool(action[0] & {LOCATION, IDENTITY}))
        elif new != value:
            quoted = b'="' + _escape(new).encode("utf-8") + b'"'
            self.edits.append((span[2], span[1], quoted))
            self.removed.add(label + (" (time of day)" if action[1] == COARSEN else " (date)"))

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text.append(text)

    def end(self, qname: str) -> None:
        frame = self.stack.pop()
        parent_removing = bool(self.stack) and self.stack[-1].removing
        if frame.action is None or parent_removing:
            return
        end_at = self.parser.CurrentByteIndex
        close = frame.tag_end if frame.empty else self.xml.index(b">", end_at) + 1
        value = "".join(frame.text).strip()
        label = f"XMP {qname}"
        if frame.removing:
            self.edits.append((_leading_space(self.xml, frame.start), close, b""))
            self.removed.add(label, value, secret=bool(frame.action[0] & {LOCATION, IDENTITY}))
            return
        new = _rewrite(frame.action[1], value) if not frame.children and not frame.empty else None
        if new is None:  # a structure or array under a rewrite rule: remove it whole
            self.edits.append((_leading_space(self.xml, frame.start), close, b""))
            self.removed.add(label, value)
        elif new != value:
            self.edits.append((frame.tag_end, end_at, _escape(new).encode("utf-8")))
            self.removed.add(label + (" (time of day)" if frame.action[1] == COARSEN else " (date)"))


def _rewrite(action: str, value: str) -> str | None:
    """The new value for a rewrite rule, or None when the property must go."""
    if action == COARSEN:
        day = _XMP_DAY.match(value)
        return f"{day[1]}-{day[2]}-{day[3]}" if day else None
    if action == DEWARP:
        return _DEWARP_DATE.sub("", value, count=1)
    return None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _tag_end(xml: bytes, at: int) -> int:
    """Offset just after the ``>`` closing the tag that starts at ``at`` (quotes may hide a ``>``)."""
    quote = 0
    for i in range(at + 1, len(xml)):
        c = xml[i]
        if quote:
            quote = 0 if c == quote else quote
        elif c in (0x22, 0x27):
            quote = c
        elif c == 0x3E:
            return i + 1
    return len(xml)


def _attribute_span(xml: bytes, start: int, end: int, name: str) -> tuple[int, int, int] | None:
    """(start incl. leading space, end, end of the name) of attribute ``name`` in the tag at ``start``."""
    raw = name.encode("utf-8")
    for m in _ATTR.finditer(xml, start, end):
        if m[1] == raw:
            return m.start(), m.end(), m.end(1)
    return None


def _leading_space(xml: bytes, at: int) -> int:
    while at > 0 and xml[at - 1] in b" \t\r\n":
        at -= 1
    return at


def _drop_repeats(tag: re.Match[bytes]) -> bytes:
    """One start tag with every repeat of an attribute name removed (the XT S writes ``xmlns:DJI`` twice)."""
    seen: set[bytes] = set()

    def keep_first(attr: re.Match[bytes]) -> bytes:
        if attr[1] in seen:
            return b""
        seen.add(attr[1])
        return attr[0]

    return _ATTR.sub(keep_first, tag[0])


def _plan(
    xml: bytes, opts: Options, removed: Removed, extended: bool
) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    """The edits for ``xml``, after repairing a repeated attribute if expat refuses the packet for it."""
    try:
        return xml, _Planner(xml, opts, removed, extended).run()
    except expat.ExpatError as exc:
        if exc.code != expat.errors.codes[expat.errors.XML_ERROR_DUPLICATE_ATTRIBUTE]:
            raise
    repaired = _START_TAG.sub(_drop_repeats, xml)
    removed.note(
        "XMP: a repeated attribute (e.g. the XT S's double xmlns:DJI) was dropped to make it well-formed"
    )
    return repaired, _Planner(repaired, opts, removed, extended).run()


def clean_packet(
    packet: bytes, opts: Options, removed: Removed, *, extended_dropped: bool = False
) -> bytes | None:
    """The packet without the properties ``opts`` removes; None when it cannot be cleaned safely (drop it)."""
    start, xml = xmp.trim_packet(packet[:MAX_PACKET])
    if not xml or len(packet) > MAX_PACKET:
        removed.note("XMP packet dropped: empty or too large to check")
        return None
    trial = Removed()
    try:
        fixed, edits = _plan(xml, opts, trial, extended_dropped)
    except (expat.ExpatError, _Refused, ValueError) as exc:
        removed.note(f"XMP packet dropped: not well-formed or refused ({type(exc).__name__})")
        return None
    out = bytearray(fixed)
    for lo, hi, new in sorted(edits, reverse=True):
        out[lo:hi] = new
    cleaned = packet[:start] + bytes(out) + packet[start + len(xml) :]
    if not _still_clean(cleaned, opts, extended_dropped):
        removed.note("XMP packet dropped: it did not re-read cleanly after editing")
        return None
    removed.merge(trial)
    return cleaned


def _still_clean(packet: bytes, opts: Options, extended: bool) -> bool:
    """Re-read with the inventory's safe parser: well-formed, and nothing that should be gone is left."""
    result = xmp.parse(packet)
    if result.issue is not None:
        return False
    for (uri, local), value in result.props.items():
        action = decide(uri, local, extended)
        if action is None or not opts.removes(*action[0]):
            continue
        if action[1] == REMOVE or _rewrite(action[1], value) not in (value, None):
            return False
    return True


def pad_to(packet: bytes, size: int) -> bytes:
    """``packet`` grown to ``size`` bytes with XMP padding (spaces before ``<?xpacket end``)."""
    missing = size - len(packet)
    if missing <= 0:
        return packet[:size]
    at = packet.rfind(b"<?xpacket end")
    at = at if at >= 0 else len(packet)
    return packet[:at] + b" " * missing + packet[at:]
