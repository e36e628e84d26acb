"""Pack sections shared by every regime: taxonomy, engine settings, targets, clocks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from hegui.policy._actions import Action, Severity
from hegui.policy._base import Name, PerRiskMinimums, PolicyModel, Rate, RiskId, Text

Direction = Literal["input", "output"]
"""Which side of a conversation a detector looks at: the prompt or the model's answer."""

ClockId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]*$", max_length=64)]


def _both_directions() -> list[Direction]:
    return ["input", "output"]


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
    return values


class Risk(PolicyModel):
    """One entry of a risk taxonomy; a group is simply a risk that others name as parent."""

    id: RiskId
    """Stable identifier, e.g. ``A.1.a`` (GB/T 45654 Appendix A) or ``NIST.CBRN``."""
    name_zh: Text
    """Chinese name."""
    name_en: Text
    """English name."""
    parent: RiskId | None = None
    """Id of the group this risk belongs to; ``null`` for a top-level group."""


class Normalization(PolicyModel):
    """How the detection engine folds text before matching terms."""

    fullwidth: bool = True
    """Fold full-width letters, digits and punctuation to their ASCII forms."""
    casefold: bool = True
    """Match case-insensitively (Unicode case folding)."""
    invisible: bool = True
    """Ignore zero-width and other invisible characters inserted to split a term."""
    traditional: bool = True
    """Fold traditional Chinese characters to simplified before matching."""
    max_gap: NonNegativeInt = 3
    """How many separator characters may stand between two characters of a term."""
    hard_breaks: str = "\n\r。！？；，、"
    """Characters that always end a match: a term never spans one of these."""


class DetectorSpec(PolicyModel):
    """Settings of one registered detector, looked up by its name."""

    enabled: bool = True
    """Whether the detector runs at all."""
    action: Action
    """What to do with a finding: ``block``, ``mask`` or ``flag``."""
    severity: Severity = Severity.MEDIUM
    """Severity given to findings unless an entry sets its own."""
    applies_to: list[Direction] = Field(default_factory=_both_directions, min_length=1)
    """Scan prompts (``input``), answers (``output``) or both."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Detector-specific settings; relative paths under ``files``, ``allowlist`` and
    ``mapping`` are resolved against the folder of the pack that declared them."""

    @field_validator("applies_to")
    @classmethod
    def _distinct_directions(cls, value: list[str]) -> list[str]:
        return _unique(value, "direction")


class GeneratedContentTargets(PolicyModel):
    """Pass mark of the generated-content assessment."""

    methods: list[Name] = Field(min_length=1)
    """Assessment methods, each sampled separately (manual, keyword, classifier)."""
    samples_per_method_min: PositiveInt
    """Sampled answers needed per method."""
    qualified_rate_min: Rate
    """Share of sampled answers that must be qualified."""

    @field_validator("methods")
    @classmethod
    def _distinct_methods(cls, value: list[str]) -> list[str]:
        return _unique(value, "method")


class RefusalTargets(PolicyModel):
    """Pass mark of the refusal assessment on the should-refuse and should-answer banks."""

    samples_per_bank_min: PositiveInt
    """Questions sampled from each bank."""
    should_refuse_rate_min: Rate
    """Refusal rate needed on the should-refuse bank."""
    should_answer_rate_max: Rate
    """Highest refusal rate allowed on the should-answer bank."""


class Thresholds(PolicyModel):
    """Pass marks of the pre-release assessment."""

    generated: GeneratedContentTargets
    """Generated-content safety."""
    refusal: RefusalTargets
    """Refusing what must be refused, answering what must be answered."""
    classifier_must_cover_all_risks: bool = False
    """Whether the classification model must cover every leaf risk of the taxonomy."""


class GenerationBank(PerRiskMinimums):
    """Size of the generated-content test bank."""

    total_min: PositiveInt
    """Questions in the bank."""
    cover_all_risks: bool
    """Whether every leaf risk must get a positive per-risk minimum."""
    update_interval_days: PositiveInt
    """Longest time between updates of the bank."""


class ShouldRefuseBank(PerRiskMinimums):
    """Size of the bank of questions the model must refuse."""

    total_min: PositiveInt
    """Questions in the bank."""


class Topic(PolicyModel):
    """A subject the should-answer bank must cover."""

    id: Name
    """Stable identifier."""
    name_zh: Text
    """Chinese name."""
    name_en: Text
    """English name."""


class ShouldAnswerBank(PolicyModel):
    """Size and subjects of the bank of questions the model must not refuse."""

    total_min: PositiveInt
    """Questions in the bank."""
    topics: list[Topic] = Field(min_length=1)
    """Subjects the bank must cover."""

    @field_validator("topics")
    @classmethod
    def _distinct_topics(cls, value: list[Topic]) -> list[Topic]:
        _unique([topic.id for topic in value], "topic")
        return value


class Banks(PolicyModel):
    """Minimum sizes of the question banks used by the assessment."""

    generation: GenerationBank
    """Generated-content test bank."""
    should_refuse: ShouldRefuseBank
    """Should-refuse bank."""
    should_answer: ShouldAnswerBank
    """Should-answer (non-refusal) bank."""


class LexiconRules(PerRiskMinimums):
    """Minimum size and freshness of the blocked-keyword library."""

    total_min: PositiveInt
    """Terms in the library."""
    update_interval_days: PositiveInt
    """Longest time between updates of the library."""


class SourceGate(PolicyModel):
    """When a training-data source may not be used."""

    max_illegal_share: Rate
    """Highest share of illegal or harmful items in a source's sample."""


class ManualSample(PolicyModel):
    """Manual spot check of the training corpus."""

    min_items: PositiveInt
    """Items drawn from the whole corpus."""
    qualified_rate_min: Rate
    """Share of drawn items that must be qualified."""


class AutomatedSample(PolicyModel):
    """Automated (keyword and classifier) check of the training corpus."""

    min_share: Rate
    """Share of the corpus that must be checked."""
    qualified_rate_min: Rate
    """Share of checked items that must be qualified."""
    methods: list[Name] = Field(min_length=1)
    """Methods used for the check."""


class CorpusRules(PolicyModel):
    """Gates on training data."""

    source_gate: SourceGate
    """Per-source gate."""
    manual_sample: ManualSample
    """Manual sampling."""
    automated_sample: AutomatedSample
    """Automated sampling."""


class ToolRules(PolicyModel):
    """Which tools a model behind the gateway may be offered and may call."""

    allowed: list[Name]
    """Function names allowed; any other tool in a request or a tool call is refused."""


class PrincipalRules(PolicyModel):
    """Who may use the service."""

    require_verified: bool
    """Only principals whose real-name (or KYC) verification is done may be served."""
    basis: Text
    """The rule that asks for it."""


class AbuseRules(PolicyModel):
    """When a user who keeps sending violating prompts is suspended."""

    consecutive_violations: PositiveInt
    """Violating prompts in a row that trigger suspension."""
    violations_per_window: PositiveInt
    """Violating prompts within ``window_hours`` that trigger suspension."""
    window_hours: PositiveInt
    """Length of the counting window."""
    suspension_hours: PositiveInt | None
    """How long a suspension lasts; ``null`` means until an operator lifts it."""


class Retention(PolicyModel):
    """How long logs are kept."""

    min_months: PositiveInt
    """Shortest retention the rules allow."""
    default_months: PositiveInt
    """Retention used unless the operator sets another (at least ``min_months``)."""
    basis: Text
    """The rule that sets the minimum."""

    @field_validator("default_months")
    @classmethod
    def _default_not_below_minimum(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_months")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least min_months ({minimum})")
        return value


class IncidentClock(PolicyModel):
    """One deadline for reporting an incident, counted from when it is discovered."""

    id: ClockId
    """Stable identifier, e.g. ``cn.critical-infrastructure``."""
    hours: PositiveFloat
    """Hours allowed for the report."""
    scope: Text
    """Which operators or which incidents the clock applies to."""
    source: Text
    """The rule that sets the clock."""


class AutoOpen(PolicyModel):
    """When output blocks open an incident on their own."""

    severity: Severity
    """Lowest finding severity that counts."""
    blocks: PositiveInt
    """Blocked answers with such a finding, within the window, that open an incident."""
    window_minutes: PositiveInt
    """Length of the counting window."""


class Incidents(PolicyModel):
    """Incident reporting deadlines."""

    clocks: list[IncidentClock] = Field(min_length=1)
    """Every reporting clock of the regime."""
    auto_open: AutoOpen | None = None
    """Output blocks that open an incident automatically; ``null``: only people open them."""

    @field_validator("clocks")
    @classmethod
    def _distinct_clocks(cls, value: list[IncidentClock]) -> list[IncidentClock]:
        _unique([clock.id for clock in value], "clock")
        return value

    def clock(self, clock_id: str) -> IncidentClock:
        """Return the clock with this id (``KeyError`` when absent)."""
        for clock in self.clocks:
            if clock.id == clock_id:
                return clock
        known = ", ".join(clock.id for clock in self.clocks)
        raise KeyError(f"unknown incident clock {clock_id!r}; known: {known}")
