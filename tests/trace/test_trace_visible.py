"""The drawn image notice: tall enough under the pack, inside the image, in the right corner."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trace_media import write_image

from hegui.policy import LabelSpec
from hegui.trace import FileLabeler, draw_image_label, font_path


def _plain(width: int, height: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(buffer, format=fmt)
    return buffer.getvalue()


def _text_rows(data: bytes) -> np.ndarray:
    """Rows that hold near-white pixels: the drawn glyphs on a blue image."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    white = (rgb > 200).all(axis=2)
    return np.flatnonzero(white.any(axis=1))


def test_the_font_ships_with_the_install() -> None:
    path = font_path()
    assert path.is_file() and path.suffix in (".otf", ".ttf", ".ttc")


@pytest.mark.parametrize(("width", "height"), [(400, 300), (120, 900), (1000, 80), (64, 64)])
def test_glyphs_are_at_least_the_pack_share_of_the_short_side(
    spec: LabelSpec, width: int, height: int
) -> None:
    data, drawn = draw_image_label(_plain(width, height), spec)
    required = math.ceil(spec.explicit.image.min_text_height_ratio * min(width, height))
    assert drawn.required_height == required and drawn.text_height >= required
    rows = _text_rows(data)
    assert rows.size, "no glyph pixels found"
    # the tallest glyph run of one line reaches the required height
    breaks = np.flatnonzero(np.diff(rows) > 1)
    runs = np.split(rows, breaks + 1)
    assert max(run[-1] - run[0] + 1 for run in runs) >= required
    left, top, right, bottom = drawn.box
    assert 0 <= left < right <= width and 0 <= top < bottom <= height


def test_corner_and_language(spec: LabelSpec) -> None:
    _, bottom_right = draw_image_label(_plain(600, 400), spec)
    _, top_left = draw_image_label(_plain(600, 400), spec, corner="top-left", language="en")
    assert bottom_right.box[2] > 500 and bottom_right.box[3] > 350
    assert top_left.box[0] < 50 and top_left.box[1] < 50


def test_labeler_draws_on_request_and_keeps_format(spec: LabelSpec, tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.jpg", width=300, height=200)
    done = FileLabeler(spec).add(path, "ACME-01", explicit="yes")
    assert done.drawn is not None and done.explicit_added
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.size == (300, 200)
    assert FileLabeler(spec).check(path).ok
