"""Image carriers: the label goes into XMP, the pixels decode identically, other metadata stays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trace_media import decode_image, pixels, write_image

from hegui.policy import LabelSpec
from hegui.trace import TRAINED_ALGORITHMIC_MEDIA, CarrierError, FileLabeler, carriers, read_xmp

TITLE_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:creator>Studio Test</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp"])
def test_pixels_unchanged_and_label_signed(labeler: FileLabeler, tmp_path: Path, name: str) -> None:
    path = write_image(tmp_path / name)
    before = decode_image(path)
    done = labeler.add(path, "ACME-01")
    assert np.array_equal(decode_image(path), before)
    check = labeler.check(path)
    assert check.ok and check.label == done.label and check.signature is not None
    assert check.signature.producer == "valid"
    assert check.source_type == TRAINED_ALGORITHMIC_MEDIA


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("lossless.webp", {"lossless": True}),
        ("alpha.webp", {"lossless": True, "mode": "RGBA"}),
        ("lossy.webp", {"quality": 80}),
        ("progressive.jpg", {"progressive": True, "quality": 85}),
        ("interlaced.png", {"optimize": True}),
    ],
)
def test_format_variants_decode_identically(
    labeler: FileLabeler, tmp_path: Path, name: str, params: dict[str, object]
) -> None:
    mode = params.pop("mode", "RGB")
    image = Image.fromarray(pixels(50, 37)).convert(str(mode))
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    path = tmp_path / name
    image.save(path, **params)
    before = decode_image(path)
    labeler.add(path, "ACME-01")
    assert np.array_equal(decode_image(path), before)
    with Image.open(path) as reopened:
        assert reopened.size == (50, 37)
    assert labeler.check(path).ok


def test_webp_simple_file_gets_an_extended_header(labeler: FileLabeler, tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.webp", lossless=True)
    assert path.read_bytes()[12:16] == b"VP8L"
    labeler.add(path, "ACME-01")
    data = path.read_bytes()
    assert data[12:16] == b"VP8X" and data[20] & 0x04
    assert int.from_bytes(data[24:27], "little") + 1 == 96
    assert int.from_bytes(data[4:8], "little") == len(data) - 8


def test_existing_xmp_and_exif_are_kept(spec: LabelSpec, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    path = tmp_path / "a.jpg"
    Image.fromarray(pixels()).save(path, exif=exif, xmp=TITLE_XMP)
    labeler = FileLabeler(spec)
    labeler.add(path, "ACME-01")
    labeler.add(path, "ACME-02", replace=True)  # replaces, never duplicates
    data = path.read_bytes()
    assert data.count(b"http://ns.adobe.com/xap/1.0/\x00") == 1
    with Image.open(path) as image:
        assert image.getexif()[0x010F] == "CameraMaker"
        xmp = image.info["xmp"]
    assert b"Studio Test" in xmp and b"ACME-02" in xmp and b"ACME-01" not in xmp
    assert read_xmp(xmp, spec.implicit).label is not None


def test_png_keeps_its_other_chunks(spec: LabelSpec, tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made in a test")
    path = tmp_path / "a.png"
    Image.fromarray(pixels()).save(path, pnginfo=info)
    FileLabeler(spec).add(path, "ACME-01")
    with Image.open(path) as image:
        assert image.text["Comment"] == "made in a test"
    chunks = path.read_bytes()
    assert chunks.index(b"iTXtXML:com.adobe.xmp") < chunks.index(b"IDAT")


@pytest.mark.parametrize(
    ("fmt", "damage"),
    [
        ("png", lambda d: d[:40]),
        ("png", lambda d: d[:23] + bytes([d[23] ^ 1]) + d[24:]),  # bad CRC in IHDR
        ("jpeg", lambda d: d[:30]),
        ("jpeg", lambda d: b"\xff\xd8\xff\xd9"),
        ("webp", lambda d: d[:30]),
        ("webp", lambda d: d[:16] + b"\xff\xff\xff\x7f" + d[20:]),
    ],
)
def test_corrupt_images_raise(spec: LabelSpec, fmt: str, damage: object) -> None:
    data = io.BytesIO()
    Image.fromarray(pixels()).save(data, format=fmt.upper())
    broken = damage(data.getvalue())  # type: ignore[operator]
    carrier = carriers()[fmt]
    with pytest.raises(CarrierError):
        carrier.write(broken, '{"AIGC":{}}', spec.implicit)


def test_xmp_with_a_dtd_is_refused(spec: LabelSpec) -> None:
    evil = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    with pytest.raises(CarrierError, match="DTD"):
        read_xmp(evil, spec.implicit)
