"""Every command and every registered detector is documented (README or docs/)."""

from __future__ import annotations

from pathlib import Path

import typer

from hegui.cli import app
from hegui.detect import registered

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(
    p.read_text(encoding="utf-8")
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


def _commands(t: typer.Typer, prefix: str) -> list[str]:
    out = []
    for cmd in t.registered_commands:
        name = cmd.name or (cmd.callback.__name__ if cmd.callback else "")
        out.append(f"{prefix} {name}".strip())
    for group in t.registered_groups:
        if group.typer_instance is not None:
            out.extend(_commands(group.typer_instance, f"{prefix} {group.name}"))
    return out


def test_every_command_is_documented() -> None:
    commands = _commands(app, "hegui")
    assert "hegui scan" in commands and "hegui policy validate" in commands
    missing = [c for c in commands if c not in DOCS]
    assert missing == []


def test_every_detector_is_documented() -> None:
    detect_doc = (ROOT / "docs" / "detect.md").read_text(encoding="utf-8")
    missing = [name for name in registered() if f"`{name}`" not in detect_doc]
    assert missing == []
