"""Contract test over every registered carrier, and format detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_media import build_mp4, image_bytes, write_audio

from hegui.policy import LabelSpec
from hegui.trace import CarrierError, UnsupportedFormat, carrier_for, carriers


def _sample(fmt: str, tmp_path: Path) -> bytes:
    if fmt in ("png", "jpeg", "webp"):
        return image_bytes(fmt.upper())
    if fmt == "mp4":
        return build_mp4()
    if fmt in ("markdown", "text"):
        return "第一行\nsecond line\n".encode()
    return write_audio(tmp_path / f"s.{fmt}").read_bytes()


def test_every_format_of_the_pack_has_a_carrier_except_mkv(spec: LabelSpec) -> None:
    formats = {c.format for c in spec.implicit.carriers}
    assert formats - set(carriers()) == {"mkv"}
    for carrier in spec.implicit.carriers:
        if carrier.format in carriers():
            assert carriers()[carrier.format].media == carrier.media


@pytest.mark.parametrize("fmt", sorted(carriers()))
def test_carrier_contract(spec: LabelSpec, tmp_path: Path, fmt: str) -> None:
    carrier = carriers()[fmt]
    data = _sample(fmt, tmp_path)
    assert carrier.media in ("image", "audio", "video", "text")
    assert carrier.extensions and all(e.startswith(".") for e in carrier.extensions)
    if carrier.media != "text":
        assert carrier.sniff(data[:64])
    assert carrier.read(data, spec.implicit).value is None
    first = carrier.write(data, '{"AIGC":{"Label":"1"}}', spec.implicit)
    assert carrier.read(first, spec.implicit).value == '{"AIGC":{"Label":"1"}}'
    second = carrier.write(first, '{"AIGC":{"Label":"2"}}', spec.implicit)
    assert carrier.read(second, spec.implicit).value == '{"AIGC":{"Label":"2"}}'
    assert b'{"Label":"1"}' not in second and b"{'Label'" not in second
    carrier_path = tmp_path / f"x{carrier.extensions[0]}"
    assert carrier_for(carrier_path, data[:64]) is carrier


@pytest.mark.parametrize("fmt", sorted(f for f, c in carriers().items() if c.media != "text"))
def test_binary_carriers_refuse_garbage(spec: LabelSpec, fmt: str) -> None:
    carrier = carriers()[fmt]
    with pytest.raises(CarrierError):
        carrier.write(b"\x00" * 64, "{}", spec.implicit)


def test_detection_by_content_beats_the_extension(tmp_path: Path) -> None:
    png = image_bytes("PNG")
    assert carrier_for(tmp_path / "photo.jpg", png[:64]).format == "png"
    with pytest.raises(CarrierError, match="does not look like a PNG"):
        carrier_for(tmp_path / "photo.png", b"GIF89a" + b"\x00" * 20)
    with pytest.raises(UnsupportedFormat, match=r"'\.gif'"):
        carrier_for(tmp_path / "anim.gif", b"GIF89a" + b"\x00" * 20)
