"""The whole pack as written in ``pack.yaml``: one model with a field per section."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from hegui.policy._base import LocalizedText, Name, PolicyModel, Text
from hegui.policy._labels import LabelSpec
from hegui.policy._regional import EUSection, Filing, USSection
from hegui.policy._sections import (
    AbuseRules,
    Banks,
    CorpusRules,
    DetectorSpec,
    Incidents,
    LexiconRules,
    Normalization,
    PrincipalRules,
    Retention,
    Risk,
    Thresholds,
    ToolRules,
)


class Reference(PolicyModel):
    """A standard or law the pack implements."""

    id: Text
    """Citation, e.g. ``GB/T 45654-2025``."""
    title: Text
    """Title."""
    in_force: date | None = None
    """Date it took or takes effect."""


class PackSpec(PolicyModel):
    """A policy pack after ``extends`` is merged: the validated content of ``pack.yaml``."""

    id: Name
    """Pack identifier, e.g. ``cn``; unique along an ``extends`` chain."""
    version: Text
    """Version of the pack's data (a string, e.g. ``"2025.11.0"``)."""
    name: LocalizedText
    """Display name."""
    extends: Text | None = None
    """Shipped pack name or path (relative to this file) of the pack this one builds on."""
    description: str = ""
    """What the pack is for."""
    references: list[Reference] = Field(default_factory=list)
    """Standards and laws the pack implements."""
    taxonomy: list[Risk] = Field(default_factory=list)
    """Risk groups and risks, each naming its parent group."""
    normalization: Normalization = Normalization()
    """How the detection engine folds text before matching."""
    detectors: dict[Name, DetectorSpec] = Field(default_factory=dict)
    """Detector name -> its settings."""
    thresholds: Thresholds | None = None
    """Pass marks of the pre-release assessment."""
    banks: Banks | None = None
    """Minimum sizes of the assessment question banks."""
    lexicon: LexiconRules | None = None
    """Minimum size and freshness of the keyword library."""
    corpus: CorpusRules | None = None
    """Gates on training data."""
    abuse: AbuseRules | None = None
    """When users who keep sending violating prompts are suspended."""
    principals: PrincipalRules | None = None
    """Who may use the service (verification)."""
    tools: ToolRules | None = None
    """Tool allowlist for the gateway (absent: any tool)."""
    retention: Retention | None = None
    """How long logs are kept."""
    incidents: Incidents | None = None
    """Incident reporting clocks."""
    labels: LabelSpec | None = None
    """Labels on generated content."""
    filing: Filing | None = None
    """Algorithm filing (China)."""
    eu: EUSection | None = None
    """EU AI Act obligations."""
    us: USSection | None = None
    """US export-control screening."""
