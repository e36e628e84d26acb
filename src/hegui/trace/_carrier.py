"""The carrier registry: one carrier per file format reads and writes the label's value.

A carrier works on the whole file as bytes and returns new bytes; the caller replaces
the file atomically. Carriers never re-encode pixels or samples: they rewrite only the
container's metadata, so the content decodes identically afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar, runtime_checkable

from hegui.policy import ImplicitLabel, LabelSpec
from hegui.trace._errors import CarrierError, UnsupportedFormat

Media = Literal["image", "audio", "video", "text"]
"""Kind of content a carrier holds."""


@dataclass(frozen=True)
class Embedded:
    """What a file's metadata holds."""

    value: str | None
    """The raw label value (``{"AIGC":{...}}``), or ``None`` when there is none."""
    source_type: str | None = None
    """The IPTC digital source type, where the format carries XMP."""


class Carrier(Protocol):
    """Reads and writes the label in one file format."""

    format: str
    """Format name, as in the pack's carrier list (``png``, ``mp3``, ...)."""
    media: Media
    """Kind of content."""
    extensions: tuple[str, ...]
    """File name extensions, lower case with the dot."""
    location: str
    """Where in the file the label goes (shown in reports and docs)."""

    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes of a file look like this format."""
        ...

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """The label value in ``data``; ``CarrierError`` when the file is corrupt."""
        ...

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """``data`` with the label value set (replacing any earlier one)."""
        ...


@runtime_checkable
class NoticeCarrier(Protocol):
    """A text format: the explicit notice can be checked and added."""

    def has_notice(self, data: bytes, spec: LabelSpec) -> bool:
        """Whether the text carries the explicit notice."""
        ...

    def add_notice(self, data: bytes, spec: LabelSpec, language: str = "zh") -> bytes:
        """The file with the notice added."""
        ...


_REGISTRY: dict[str, Carrier] = {}
C = TypeVar("C", bound=type)


def register_carrier(cls: C) -> C:
    """Class decorator: register one instance of a carrier under its format name."""
    carrier: Carrier = cls()
    if carrier.format in _REGISTRY:
        raise ValueError(f"a carrier for {carrier.format!r} is already registered")
    _REGISTRY[carrier.format] = carrier
    return cls


def carriers() -> dict[str, Carrier]:
    """Every registered carrier by format name."""
    return dict(_REGISTRY)


def _by_extension(suffix: str) -> list[Carrier]:
    return [c for c in _REGISTRY.values() if suffix in c.extensions]


def carrier_for(path: Path, head: bytes) -> Carrier:
    """The carrier for a file, chosen by its first bytes and then its extension."""
    suffix = path.suffix.lower()
    sniffed = [c for c in _REGISTRY.values() if c.sniff(head)]
    if sniffed:
        preferred = [c for c in sniffed if suffix in c.extensions]
        return (preferred or sniffed)[0]
    named = _by_extension(suffix)
    if named and named[0].media == "text":
        return named[0]
    if named:
        raise CarrierError(f"does not look like a {named[0].format.upper()} file (bad signature)")
    known = ", ".join(sorted(_REGISTRY))
    raise UnsupportedFormat(f"unsupported format {suffix or '(no extension)'!r}; known: {known}")
