"""Shared building blocks of the pack schema: the base model and constrained types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
"""A share or rate between 0 and 1 inclusive (0.95 means 95%)."""

RiskId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9._-]*$", max_length=64)]
"""A risk identifier such as ``A.1.a`` or ``NIST.CBRN``."""

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
"""A lower-case machine name: pack ids, detector names, clock ids, topic ids."""

Text = Annotated[str, Field(min_length=1)]
"""A non-empty human-readable string."""


class PolicyModel(BaseModel):
    """Base of every pack model: unknown fields are errors and values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class LocalizedText(PolicyModel):
    """The same text in Chinese and English."""

    zh: Text
    """Chinese text."""
    en: Text
    """English text."""


class PerRiskMinimums(PolicyModel):
    """Minimum counts per risk, given per group (applies to each child) or per risk."""

    per_risk_by_group: dict[RiskId, NonNegativeInt] = Field(default_factory=dict)
    """Group id -> minimum that applies to EACH risk under that group (``{A.1: 200}``)."""
    per_risk: dict[RiskId, NonNegativeInt] = Field(default_factory=dict)
    """Risk id -> minimum for that one risk; wins over ``per_risk_by_group``."""

    def minimum_for(self, risk_id: str, ancestors: list[str]) -> int:
        """Return the minimum for ``risk_id`` whose ancestors are given nearest first.

        An explicit ``per_risk`` entry wins; otherwise the nearest ancestor group listed
        in ``per_risk_by_group`` applies; otherwise there is no minimum (0).
        """
        if risk_id in self.per_risk:
            return self.per_risk[risk_id]
        for group in ancestors:
            if group in self.per_risk_by_group:
                return self.per_risk_by_group[group]
        return 0
