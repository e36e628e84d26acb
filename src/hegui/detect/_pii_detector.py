"""The PII detector: validated personal-information recognizers with per-kind actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hegui.detect import _pii
from hegui.detect._registry import detector
from hegui.detect._types import Finding
from hegui.policy._actions import Action

if TYPE_CHECKING:
    from hegui.policy import DetectorSpec, Policy


class PiiDetector:
    """Finds personal information; each kind carries its own action (mask or flag)."""

    name = "pii"

    def __init__(self, actions: Mapping[str, Action], risk: str) -> None:
        unknown = sorted(set(actions) - set(_pii.RECOGNIZERS))
        if unknown:
            known = ", ".join(sorted(_pii.RECOGNIZERS))
            raise ValueError(f"unknown PII kind(s) {', '.join(unknown)} (known: {known})")
        self.actions = dict(actions)
        self.kinds = tuple(self.actions)
        self.risk = risk

    def _finding(self, m: _pii.PiiMatch, offset: int) -> Finding:
        return Finding(
            detector=self.name,
            risk=self.risk,
            start=m.start + offset,
            end=m.end + offset,
            matched=m.value,
            term=m.kind,
            action=self.actions[m.kind],
            kind="pii",
        )

    def scan(self, text: str) -> list[Finding]:
        """All PII findings in a whole text."""
        return [self._finding(m, 0) for m in _pii.find_pii(text, self.kinds)]

    def stream(self) -> _PiiStream:
        """Fresh per-stream state."""
        return _PiiStream(self)


class _PiiStream:
    def __init__(self, det: PiiDetector) -> None:
        self.det = det

    def scan(self, buf: str, start: int, offset: int, final: bool) -> tuple[list[Finding], int]:
        # buf[:start] was scanned before and serves only as left context (boundaries)
        kinds = self.det.kinds
        safe = len(buf) if final else max(_pii.holdback_start(buf, kinds, start=start), start)
        found = [
            self.det._finding(m, offset)
            for m in _pii.find_pii(buf, kinds, start=start)
            if m.start < safe
        ]
        return found, safe


@detector("pii")
def _build_pii(spec: DetectorSpec, policy: Policy) -> PiiDetector:
    kinds = spec.options.get("kinds")
    if kinds is None:
        actions = {k: spec.action for k in _pii.RECOGNIZERS}
    elif isinstance(kinds, Mapping):
        actions = {str(k): Action(v) for k, v in kinds.items()}
    else:
        actions = {str(k): spec.action for k in kinds}
    return PiiDetector(actions, str(spec.options.get("risk", "pii")))
