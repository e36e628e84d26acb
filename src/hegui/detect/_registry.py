"""The detector registry: detectors are built by name from a policy's detector specs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from hegui.detect._types import Finding

if TYPE_CHECKING:
    from hegui.policy import DetectorSpec, Policy


class DetectorStream(Protocol):
    """Per-stream state of one detector."""

    def scan(self, buf: str, start: int, offset: int, final: bool) -> tuple[list[Finding], int]:
        """Scan ``buf[start:]`` after more text arrived.

        Returns the findings whose outcome can no longer change (spans absolute: ``offset``
        is the position of ``buf[0]`` in the whole stream) and the first index of ``buf``
        that may still belong to a finding. With ``final`` everything is decided.
        """
        ...


class Detector(Protocol):
    """Something that judges text: a keyword library, PII recognizers, a classifier."""

    name: str

    def scan(self, text: str) -> list[Finding]:
        """All findings in a whole text."""
        ...

    def stream(self) -> DetectorStream:
        """Fresh state for scanning one stream chunk by chunk."""
        ...


Factory = Callable[["DetectorSpec", "Policy"], Detector]
_REGISTRY: dict[str, Factory] = {}


def detector(name: str) -> Callable[[Factory], Factory]:
    """Register a detector factory under ``name`` (the key used in policy packs)."""

    def register(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"detector {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return register


def registered() -> dict[str, Factory]:
    """All registered detector factories by name."""
    return dict(_REGISTRY)


def build_detector(name: str, spec: DetectorSpec, policy: Policy) -> Detector:
    """Build one detector from its policy spec; unknown names are an error, never skipped."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(
            f"policy {policy.id!r} names unknown detector {name!r} (known: {known})"
        ) from None
    return factory(spec, policy)
