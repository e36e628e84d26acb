"""Image carriers: the label as XMP in a PNG iTXt chunk, a JPEG APP1 segment, a WebP chunk.

Each rewrites only the container: PNG chunks and JPEG segments before the scan data are
re-emitted byte for byte, so the pixels decode identically.
"""

from __future__ import annotations

import zlib

from hegui.policy import ImplicitLabel
from hegui.trace._carrier import Embedded, register_carrier
from hegui.trace._errors import CarrierError
from hegui.trace._riff import Riff, is_riff, parse_riff
from hegui.trace._xmp import build_xmp, read_xmp

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_MAX_SEGMENT = 0xFFFF - 2
_SOI, _SOS, _EOI, _APP0, _APP1 = 0xD8, 0xDA, 0xD9, 0xE0, 0xE1
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _embedded(packet: bytes | None, spec: ImplicitLabel) -> Embedded:
    if packet is None:
        return Embedded(None)
    fields = read_xmp(packet, spec)
    return Embedded(fields.label, fields.source_type)


# --- PNG -------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    if not data.startswith(PNG_SIGNATURE):
        raise CarrierError("not a PNG file (bad signature)")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while not chunks or chunks[-1][0] != b"IEND":
        if pos + 12 > len(data):
            raise CarrierError(f"truncated PNG: no IEND chunk (stopped at byte {pos})")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise CarrierError(f"truncated PNG chunk {kind!r} at byte {pos}")
        if zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            raise CarrierError(f"corrupt PNG: bad CRC in chunk {kind!r} at byte {pos}")
        chunks.append((kind, body))
        pos += 12 + length
    if chunks[0][0] != b"IHDR":
        raise CarrierError("corrupt PNG: the first chunk is not IHDR")
    return chunks, data[pos:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body).to_bytes(4, "big")
    return len(body).to_bytes(4, "big") + kind + body + crc


def _itxt_xmp(body: bytes) -> bytes | None:
    """The XMP text of an iTXt chunk, or ``None`` when the chunk holds something else."""
    keyword, sep, rest = body.partition(b"\x00")
    if keyword != PNG_XMP_KEYWORD or not sep or len(rest) < 2:
        return None
    compressed = rest[0] == 1
    _language, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    try:
        return zlib.decompress(text) if compressed else text
    except zlib.error as exc:
        raise CarrierError(f"corrupt PNG: the XMP iTXt chunk does not inflate ({exc})") from None


@register_carrier
class PngCarrier:
    """PNG: XMP packet in an ``iTXt`` chunk (keyword ``XML:com.adobe.xmp``)."""

    format = "png"
    media = "image"
    extensions = (".png",)
    location = "XMP packet in an iTXt chunk"

    def sniff(self, head: bytes) -> bool:
        """PNG signature."""
        return head.startswith(PNG_SIGNATURE)

    def _xmp(self, chunks: list[tuple[bytes, bytes]]) -> bytes | None:
        packets = (_itxt_xmp(body) for kind, body in chunks if kind == b"iTXt")
        return next((p for p in packets if p is not None), None)

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """Find the XMP iTXt chunk and read the label from it."""
        chunks, _ = _png_chunks(data)
        return _embedded(self._xmp(chunks), spec)

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """Replace the XMP chunk with one holding the label, right after ``IHDR``."""
        chunks, trailing = _png_chunks(data)
        packet = build_xmp(value, spec, self._xmp(chunks))
        itxt = PNG_XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet
        kept = [(k, b) for k, b in chunks if not (k == b"iTXt" and _itxt_xmp(b) is not None)]
        out = [PNG_SIGNATURE, _png_chunk(*kept[0]), _png_chunk(b"iTXt", itxt)]
        out += [_png_chunk(kind, body) for kind, body in kept[1:]]
        return b"".join(out) + trailing


# --- JPEG ------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Segments from SOI up to and including SOS, and the bytes after the SOS header."""
    if data[:2] != b"\xff\xd8":
        raise CarrierError("not a JPEG file (no SOI marker)")
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while True:
        while pos < len(data) - 1 and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise CarrierError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker in _STANDALONE:
            segments.append((marker, b""))
            pos += 2
            continue
        if marker == _EOI:
            raise CarrierError("corrupt JPEG: image ends before any scan")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise CarrierError(f"truncated JPEG segment {marker:#04x} at byte {pos}")
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == _SOS:
            return segments, data[pos:]


def _is_xmp(marker: int, payload: bytes) -> bool:
    return marker == _APP1 and payload.startswith(JPEG_XMP_HEADER)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if marker in _STANDALONE:
        return bytes((0xFF, marker))
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


@register_carrier
class JpegCarrier:
    """JPEG: XMP packet in an ``APP1`` segment after JFIF and Exif."""

    format = "jpeg"
    media = "image"
    extensions = (".jpg", ".jpeg", ".jpe")
    location = "XMP packet in an APP1 segment"

    def sniff(self, head: bytes) -> bool:
        """SOI followed by a marker."""
        return head[:3] == b"\xff\xd8\xff"

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """Find the standard XMP APP1 segment and read the label from it."""
        segments, _ = _jpeg_segments(data)
        xmp = next((p for m, p in segments if _is_xmp(m, p)), None)
        return _embedded(xmp[len(JPEG_XMP_HEADER) :] if xmp else None, spec)

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """Replace the XMP segment; other segments and the scan data are copied as they are."""
        segments, rest = _jpeg_segments(data)
        old = next((p for m, p in segments if _is_xmp(m, p)), None)
        packet = build_xmp(value, spec, old[len(JPEG_XMP_HEADER) :] if old else None)
        payload = JPEG_XMP_HEADER + packet
        if len(payload) > _JPEG_MAX_SEGMENT:
            raise CarrierError(f"the XMP packet ({len(payload)} bytes) does not fit one segment")
        kept = [(m, p) for m, p in segments if not _is_xmp(m, p)]
        at = 0
        while at < len(kept) and (kept[at][0] == _APP0 or kept[at][0] == _APP1):
            at += 1  # after JFIF and Exif, which readers expect first
        kept.insert(at, (_APP1, payload))
        head = b"\xff\xd8" + b"".join(_jpeg_segment(m, p) for m, p in kept)
        return head + rest


# --- WebP ------------------------------------------------------------------------------

_VP8X_XMP, _VP8X_ALPHA = 0x04, 0x10
_VP8L_SIGNATURE = 0x2F


def _canvas(riff: Riff) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple (lossy or lossless) WebP."""
    kind, body = riff.chunks[0]
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        return width, height, False
    if kind == b"VP8L" and len(body) >= 5 and body[0] == _VP8L_SIGNATURE:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise CarrierError(f"corrupt WebP: unexpected first chunk {kind!r}")


def _vp8x(riff: Riff) -> bytes:
    """A ``VP8X`` header for a simple WebP, announcing XMP."""
    width, height, alpha = _canvas(riff)
    flags = _VP8X_XMP | (_VP8X_ALPHA if alpha else 0)
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return bytes((flags, 0, 0, 0)) + size


@register_carrier
class WebpCarrier:
    """WebP: XMP packet in the ``XMP `` chunk of the extended format (``VP8X``)."""

    format = "webp"
    media = "image"
    extensions = (".webp",)
    location = 'XMP packet in the "XMP " chunk'

    def sniff(self, head: bytes) -> bool:
        """RIFF with form type WEBP."""
        return is_riff(head, b"WEBP")

    def _riff(self, data: bytes) -> Riff:
        riff = parse_riff(data, b"WEBP")
        if not riff.chunks:
            raise CarrierError("corrupt WebP: no chunks")
        return riff

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """Read the label from the ``XMP `` chunk."""
        return _embedded(self._riff(data).find(b"XMP "), spec)

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """Set the XMP chunk (last, as the container spec orders) and the VP8X XMP flag."""
        riff = self._riff(data)
        packet = build_xmp(value, spec, riff.find(b"XMP "))
        chunks = riff.without(b"XMP ")
        kind, body = chunks[0]
        if kind == b"VP8X":
            if len(body) < 10:
                raise CarrierError("corrupt WebP: short VP8X chunk")
            chunks[0] = (kind, bytes((body[0] | _VP8X_XMP,)) + body[1:])
        else:
            chunks.insert(0, (b"VP8X", _vp8x(riff)))
        chunks.append((b"XMP ", packet))
        return Riff(riff.form, chunks, riff.trailing).render()
