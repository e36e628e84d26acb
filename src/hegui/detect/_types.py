"""Value objects shared by every detector: findings, actions and stream releases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hegui.policy._actions import Action, Severity


@dataclass(slots=True)
class Finding:
    """One thing a detector found, with its span in the ORIGINAL text.

    ``start``/``end`` index code points of the text that was scanned (Python string
    offsets), so ``text[start:end]`` is exactly what matched, evasions included.
    Treat it as a value: it is not frozen only because frozen dataclasses take four
    times as long to build, and a scan of a large corpus builds many.
    """

    detector: str
    risk: str
    start: int
    end: int
    matched: str
    term: str
    action: Action
    severity: Severity = Severity.MEDIUM
    kind: str = "match"
    details: Mapping[str, str] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {
            "detector": self.detector,
            "risk": self.risk,
            "start": self.start,
            "end": self.end,
            "matched": self.matched,
            "term": self.term,
            "action": self.action.value,
            "severity": self.severity.value,
            "kind": self.kind,
            **({"details": dict(self.details)} if self.details else {}),
        }


@dataclass(frozen=True, slots=True)
class Release:
    """What a stream scanner lets out after a chunk: text safe to send, and findings.

    ``blocked`` is true once a finding with action ``block`` was seen; from then on the
    stream releases nothing more.
    """

    text: str
    findings: tuple[Finding, ...] = ()
    blocked: bool = False
