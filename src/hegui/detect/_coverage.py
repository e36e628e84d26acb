"""How a keyword library measures up to a policy's minimums.

In the ``cn`` pack (GB/T 45654): 10,000 terms, 200 per A.1 risk, 100 per A.2 risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hegui.detect._lexicon import Lexicon

if TYPE_CHECKING:
    from hegui.policy import Policy


@dataclass(frozen=True, slots=True)
class RiskCoverage:
    """Terms of one risk against its minimum."""

    risk: str
    name_zh: str
    name_en: str
    terms: int
    minimum: int

    @property
    def ok(self) -> bool:
        """True when the risk has at least its minimum."""
        return self.terms >= self.minimum


@dataclass(frozen=True, slots=True)
class LexiconCoverage:
    """The whole library against the policy: per risk and in total."""

    policy: str
    risks: tuple[RiskCoverage, ...]
    total: int
    total_minimum: int

    @property
    def ok(self) -> bool:
        """True when the total and every risk meet their minimums."""
        return self.total >= self.total_minimum and all(r.ok for r in self.risks)

    @property
    def short(self) -> tuple[RiskCoverage, ...]:
        """The risks below their minimum."""
        return tuple(r for r in self.risks if not r.ok)


def lexicon_coverage(lexicon: Lexicon, policy: Policy) -> LexiconCoverage:
    """Count distinct terms per risk and compare with the pack's minimums.

    Every risk with a minimum is listed, and so is every risk the library uses.
    """
    counts = lexicon.by_risk()
    rows = []
    for risk in policy.risks.values():
        minimum = policy.lexicon_minimum(risk.id)
        if minimum or counts.get(risk.id):
            rows.append(
                RiskCoverage(risk.id, risk.name_zh, risk.name_en, counts.get(risk.id, 0), minimum)
            )
    total_min = policy.lexicon.total_min if policy.lexicon else 0
    distinct = len({e.keyword for e in lexicon.entries})
    return LexiconCoverage(policy.id, tuple(rows), distinct, total_min)
