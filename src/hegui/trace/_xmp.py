"""XMP packets that carry the label (TC260 namespace) and the IPTC digital source type.

An image's existing XMP is kept: the label properties are replaced inside it, never the
packet as a whole. A packet that is not well-formed XML (or declares a DTD) is refused
rather than overwritten, so nothing the file carried is lost.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from hegui.policy import ImplicitLabel
from hegui.trace._errors import CarrierError

XMP_META = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
DIGITAL_SOURCE_TYPE = "DigitalSourceType"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
"""IPTC NewsCodes digital source type of media made by a trained model."""
_PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"  # fixed by the XMP specification
_BASE_PREFIXES = {"x": XMP_META, "rdf": RDF, "Iptc4xmpExt": IPTC_EXT}
_GENERATED_PREFIX = re.compile(r"ns\d+$")


@dataclass(frozen=True)
class XmpFields:
    """What an XMP packet says about AI generation."""

    label: str | None
    """The TC260 ``AIGC`` property, if present."""
    source_type: str | None
    """The IPTC ``DigitalSourceType``, if present."""


def _parse(packet: bytes) -> ET.Element:
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        raise CarrierError("the XMP packet declares a DTD, which XMP does not allow")
    try:
        return ET.fromstring(packet)
    except ET.ParseError as exc:
        raise CarrierError(f"the XMP packet is not well-formed XML ({exc})") from None


def _register_prefixes(packet: bytes, spec: ImplicitLabel) -> None:
    """Keep the packet's own namespace prefixes when it is written back."""
    wanted = {**_BASE_PREFIXES, spec.xmp.prefix: spec.xmp.namespace}
    try:
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(packet), events=("start-ns",)):
            if prefix and not _GENERATED_PREFIX.match(prefix):
                wanted.setdefault(prefix, uri)
    except ET.ParseError:
        pass
    for prefix, uri in wanted.items():
        ET.register_namespace(prefix, uri)


def _descriptions(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{{{RDF}}}Description"))


def _property(description: ET.Element, name: str) -> str | None:
    if name in description.attrib:
        return description.attrib[name]
    child = description.find(name)
    if child is None:
        return None
    if child.text and child.text.strip():
        return child.text.strip()
    return child.attrib.get(f"{{{RDF}}}resource")


def _names(spec: ImplicitLabel) -> tuple[str, str]:
    return f"{{{spec.xmp.namespace}}}{spec.xmp.element}", f"{{{IPTC_EXT}}}{DIGITAL_SOURCE_TYPE}"


def read_xmp(packet: bytes, spec: ImplicitLabel) -> XmpFields:
    """The label and source type in ``packet`` (either may be absent)."""
    root = _parse(packet)
    names = _names(spec)
    found: list[str | None] = [None, None]
    for description in _descriptions(root):
        for i, name in enumerate(names):
            if found[i] is None:
                found[i] = _property(description, name)
    return XmpFields(found[0], found[1])


def _fresh_root() -> ET.Element:
    root = ET.Element(f"{{{XMP_META}}}xmpmeta")
    rdf = ET.SubElement(root, f"{{{RDF}}}RDF")
    ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    return root


def _target(root: ET.Element) -> ET.Element:
    descriptions = _descriptions(root)
    if descriptions:
        return descriptions[0]
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f"{{{RDF}}}RDF")
    if rdf is None:
        raise CarrierError("the XMP packet has no rdf:RDF element")
    return ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})


def build_xmp(value: str, spec: ImplicitLabel, existing: bytes | None = None) -> bytes:
    """An XMP packet with the label and the trained-algorithmic-media source type.

    ``existing`` is the image's current packet: its other properties are kept.
    """
    _register_prefixes(existing or b"", spec)
    root = _parse(existing) if existing else _fresh_root()
    names = _names(spec)
    for description in _descriptions(root):
        for name in names:
            description.attrib.pop(name, None)
            for child in description.findall(name):
                description.remove(child)
    target = _target(root)
    target.set(names[0], value)
    target.set(names[1], TRAINED_ALGORITHMIC_MEDIA)
    body = ET.tostring(root, encoding="unicode")
    packet = f'<?xpacket begin="\ufeff" id="{_PACKET_ID}"?>\n{body}\n<?xpacket end="w"?>'
    return packet.encode("utf-8")
