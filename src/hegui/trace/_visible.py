"""The explicit image label: the pack's notice drawn in a corner, tall enough to read.

GB 45438 asks for text at least a share (5% in ``cn``) of the image's shortest side.
The glyphs' ink height is measured, not the nominal font size. The font is Noto Sans SC,
installed with hegui from PyPI (``pylopdf-fonts-zh-cn``); ``HEGUI_LABEL_FONT`` or
``font=`` points to another font file.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from hegui.policy import LabelSpec
from hegui.trace._errors import CarrierError, TraceError
from hegui.trace._text import text_notice

FONT_ENV = "HEGUI_LABEL_FONT"
FONT_PACKAGE = "pylopdf_fonts_zh_cn"
FONT_FILE = "NotoSansSC-Regular.otf"
Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]
_MAX_WIDTH_SHARE = 0.9
_MIN_LEGIBLE_PX = 12  # below this CJK glyphs blur, whatever share the pack asks
_JPEG_QUALITY = 95


@dataclass(frozen=True)
class DrawnLabel:
    """Where the notice went and how tall its glyphs are."""

    box: tuple[int, int, int, int]
    """Background box (left, top, right, bottom) in pixels."""
    text_height: int
    """Ink height of one line of the notice, in pixels."""
    required_height: int
    """The pack's minimum for this image, in pixels."""


def font_path() -> Path:
    """The CJK font file used for image labels."""
    override = os.environ.get(FONT_ENV)
    if override:
        if not Path(override).is_file():
            raise TraceError(f"{FONT_ENV}={override}: no such font file")
        return Path(override)
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or spec.origin is None:
        raise TraceError(
            "image labels need a CJK font: pip install pylopdf-fonts-zh-cn "
            f"(a dependency of hegui), or set {FONT_ENV} to a font file"
        )
    return Path(spec.origin).parent / FONT_FILE


def _ink_height(font: ImageFont.FreeTypeFont, text: str) -> int:
    _left, top, _right, bottom = font.getbbox(text)
    return int(bottom - top)


def _fit_font(path: Path, text: str, target: int) -> ImageFont.FreeTypeFont:
    """The smallest font size whose glyphs are at least ``target`` pixels tall."""
    size = max(4, target)
    while True:
        font = ImageFont.truetype(str(path), size)
        if _ink_height(font, text) >= target:
            return font
        size += max(1, size // 20)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy wrap by words (or characters for CJK) to fit ``width`` pixels."""
    parts = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    lines: list[str] = []
    for part in parts:
        candidate = f"{lines[-1]}{joiner}{part}" if lines else part
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append(part)
    return lines


def _origin(
    corner: Corner, size: tuple[int, int], box: tuple[int, int], margin: int
) -> tuple[int, int]:
    width, height = size
    x = margin if corner.endswith("left") else width - box[0] - margin
    y = margin if corner.startswith("top") else height - box[1] - margin
    return max(0, x), max(0, y)


def _render(
    image: Image.Image, text: str, ratio: float, font_file: Path, corner: Corner
) -> DrawnLabel:
    required = math.ceil(ratio * min(image.size))
    font = _fit_font(font_file, text, max(required, _MIN_LEGIBLE_PX))
    lines = _wrap(text, font, int(image.width * _MAX_WIDTH_SHARE))
    pad = max(2, required // 4)
    line_box = [font.getbbox(line) for line in lines]
    line_height = max(int(b[3] - b[1]) for b in line_box) + pad // 2
    box_w = int(max(b[2] - b[0] for b in line_box)) + 2 * pad
    box_h = line_height * len(lines) + 2 * pad
    x, y = _origin(corner, image.size, (box_w, box_h), pad)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((x, y, x + box_w, y + box_h), fill=(0, 0, 0, 160))
    for i, (line, bbox) in enumerate(zip(lines, line_box, strict=True)):
        origin = (x + pad - bbox[0], y + pad + i * line_height - bbox[1])
        draw.text(origin, line, font=font, fill=(255, 255, 255, 255))
    image.alpha_composite(overlay)
    return DrawnLabel((x, y, x + box_w, y + box_h), _ink_height(font, text), required)


def draw_image_label(
    data: bytes,
    spec: LabelSpec,
    *,
    language: str = "zh",
    corner: Corner = "bottom-right",
    font: Path | None = None,
) -> tuple[bytes, DrawnLabel]:
    """The image with the notice drawn, re-encoded in its format (ICC and Exif kept)."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            fmt, info, mode = source.format, dict(source.info), source.mode
            canvas = source.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise CarrierError(f"cannot decode the image ({exc})") from None
    text = text_notice(spec, language)
    ratio = spec.explicit.image.min_text_height_ratio
    drawn = _render(canvas, text, ratio, font or font_path(), corner)
    keep_alpha = mode in {"RGBA", "LA", "PA"} or "transparency" in info
    out_mode = "RGBA" if keep_alpha else ("L" if mode in {"L", "1"} else "RGB")
    result = canvas.convert(out_mode)
    params: dict[str, object] = {
        k: info[k] for k in ("icc_profile", "exif", "dpi") if k in info and info[k]
    }
    if fmt == "JPEG":
        params["quality"] = _JPEG_QUALITY
    elif fmt == "WEBP":
        params["lossless"] = info.get("lossless", False)
    buffer = io.BytesIO()
    result.save(buffer, format=fmt, **params)
    return buffer.getvalue(), drawn
