"""Versioned policy packs: every threshold, clock, label and risk id as validated data.

Load a shipped pack (``cn``, ``eu``, ``us``) or your own with ``load_policy``; a pack
may ``extends`` another and override only what differs. See ``docs/policy.md``.
"""

from hegui.policy._actions import Action, Severity, strongest
from hegui.policy._base import LocalizedText, PerRiskMinimums
from hegui.policy._crosswalk import Crosswalk
from hegui.policy._errors import PolicyError
from hegui.policy._labels import (
    ExplicitLabels,
    ExplicitTextLabel,
    ImplicitLabel,
    LabelSpec,
    SignatureScheme,
)
from hegui.policy._loader import (
    MAPPINGS_DIR,
    PACKS_DIR,
    PackInfo,
    deep_merge,
    list_packs,
    load_crosswalks,
    load_policy,
)
from hegui.policy._policy import Policy
from hegui.policy._regional import EUSection, Filing, GPAIRules, ScreeningRules, USSection
from hegui.policy._sections import (
    AbuseRules,
    AutoOpen,
    Banks,
    CorpusRules,
    DetectorSpec,
    Direction,
    IncidentClock,
    Incidents,
    LexiconRules,
    Normalization,
    PrincipalRules,
    Retention,
    Risk,
    Thresholds,
    ToolRules,
)
from hegui.policy._spec import PackSpec, Reference

__all__ = [
    "MAPPINGS_DIR",
    "PACKS_DIR",
    "AbuseRules",
    "Action",
    "Banks",
    "CorpusRules",
    "Crosswalk",
    "DetectorSpec",
    "Direction",
    "EUSection",
    "ExplicitLabels",
    "ExplicitTextLabel",
    "Filing",
    "GPAIRules",
    "ImplicitLabel",
    "AutoOpen",
    "IncidentClock",
    "Incidents",
    "LabelSpec",
    "LexiconRules",
    "LocalizedText",
    "Normalization",
    "PrincipalRules",
    "PackInfo",
    "PackSpec",
    "PerRiskMinimums",
    "Policy",
    "PolicyError",
    "Reference",
    "Retention",
    "Risk",
    "ScreeningRules",
    "Severity",
    "SignatureScheme",
    "Thresholds",
    "ToolRules",
    "USSection",
    "deep_merge",
    "list_packs",
    "load_crosswalks",
    "load_policy",
    "strongest",
]
