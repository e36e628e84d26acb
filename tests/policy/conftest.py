from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

WritePack = Callable[..., Path]


@pytest.fixture
def write_pack(tmp_path: Path) -> WritePack:
    """Write ``text`` (dedented) to ``tmp_path/<folder>/pack.yaml`` and return the file."""

    def write(text: str, folder: str = "user", name: str = "pack.yaml") -> Path:
        path = tmp_path / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write
