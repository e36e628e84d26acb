"""Sections that only one regime has: China's filing, the EU AI Act, US screening."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from hegui.policy._base import Name, PolicyModel, Rate, Text


class FilingDeadlines(PolicyModel):
    """Deadlines of the algorithm filing, in working days."""

    launch: PositiveInt
    """After the service launches."""
    change: PositiveInt
    """After a change that must be filed."""
    cancellation: PositiveInt
    """After the service is withdrawn."""


class FilingDocument(PolicyModel):
    """One document of the filing package."""

    id: Name
    """Stable identifier."""
    attachment: PositiveInt | None
    """Attachment number in the package; ``null`` for the form and the test access."""
    name_zh: Text
    """Chinese name."""
    name_en: Text
    """English name."""
    columns: list[Text] = Field(default_factory=list)
    """Columns of the spreadsheet, for tabular documents."""


class Filing(PolicyModel):
    """Algorithm filing (算法备案) and pre-release review."""

    deadlines_working_days: FilingDeadlines
    """Filing deadlines."""
    display_filing_number: bool
    """Whether the service must show its filing number."""
    documents: list[FilingDocument] = Field(min_length=1)
    """The filing package."""
    description_topics: list[Name] = Field(min_length=1)
    """What the filing must describe about the algorithm."""
    refiling_triggers: list[Name] = Field(min_length=1)
    """Changes that need a new filing."""
    open_source_review_min_parameters: PositiveInt
    """Open-source models above this parameter count offered in China need review."""


class EUTransparency(PolicyModel):
    """AI Act Art 50: telling users about AI and marking its output."""

    interaction_notice: Literal["first_interaction"]
    """When users are told they are talking to an AI system (Art 50(1))."""
    marking_from: date
    """Date from which generated output must be machine-readably marked (Art 50(2))."""
    existing_systems_marking_from: date
    """Date by which systems already on the market must mark their output."""
    marking_layers: list[Name] = Field(min_length=1)
    """Marking layers expected by the Code of Practice."""

    @field_validator("existing_systems_marking_from")
    @classmethod
    def _not_before_marking(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("marking_from")
        if start is not None and value < start:
            raise ValueError(f"must not be before marking_from ({start})")
        return value


class SizeBand(PolicyModel):
    """A size band of the public training-content summary."""

    id: Name
    """Stable identifier."""
    min_tokens: NonNegativeFloat
    """Smallest size in the band (inclusive)."""
    max_tokens: PositiveFloat | None
    """Largest size (exclusive); ``null`` for the open top band."""


class GPAIRules(PolicyModel):
    """AI Act Art 53 and Annex XI: general-purpose AI models."""

    presumption_flop: PositiveFloat
    """Training compute above which a model is presumed general-purpose."""
    systemic_risk_flop: PositiveFloat
    """Training compute above which a model is presumed to carry systemic risk."""
    systemic_risk_notify_days: PositiveInt
    """Days to notify the Commission once the systemic-risk threshold is met."""
    modifier_compute_fraction: Fraction = Field(gt=0, le=1)
    """A modifier becomes provider above this share of the original training compute."""
    documentation_fields: list[Name] = Field(min_length=1)
    """What the technical documentation states."""
    text_size_bands: list[SizeBand] = Field(min_length=1)
    """Size bands of the training-content summary for text, in tokens."""
    honour_tdm_opt_outs: bool
    """Whether the copyright policy honours text-and-data-mining opt-outs."""

    @field_validator("systemic_risk_flop")
    @classmethod
    def _above_presumption(cls, value: float, info: ValidationInfo) -> float:
        presumption = info.data.get("presumption_flop")
        if presumption is not None and value <= presumption:
            raise ValueError(f"must be above presumption_flop ({presumption:g})")
        return value

    @field_validator("text_size_bands")
    @classmethod
    def _bands_contiguous(cls, value: list[SizeBand]) -> list[SizeBand]:
        expected = 0.0
        for index, band in enumerate(value):
            if band.min_tokens != expected:
                raise ValueError(f"band {band.id!r} must start at {expected:g} tokens")
            last = index == len(value) - 1
            if band.max_tokens is None:
                if not last:
                    raise ValueError(f"only the last band may be open; {band.id!r} is not last")
                return value
            if band.max_tokens <= band.min_tokens:
                raise ValueError(f"band {band.id!r} must end above where it starts")
            expected = band.max_tokens
        raise ValueError("the last band must be open (max_tokens: null)")

    def text_band(self, tokens: float) -> SizeBand:
        """Return the size band a text corpus of ``tokens`` tokens falls into."""
        for band in self.text_size_bands:
            if band.max_tokens is None or tokens < band.max_tokens:
                return band
        raise AssertionError("size bands are validated to end with an open band")


class EUSection(PolicyModel):
    """EU AI Act obligations (serious-incident clocks live in ``incidents``)."""

    transparency: EUTransparency
    """Art 50."""
    gpai: GPAIRules
    """Art 53 and Annex XI."""


class ScreeningRules(PolicyModel):
    """Screening customers against the Consolidated Screening List."""

    list_name: Text
    """Name of the list."""
    publisher: Text
    """Who publishes it."""
    refresh_hours: PositiveInt
    """How often the downloaded list is refreshed."""
    csv_fields: list[Text] = Field(min_length=1)
    """Columns of the published CSV, in order."""
    match_fields: list[Text] = Field(min_length=1)
    """Columns that screened names are fuzzy-matched against."""
    fuzzy_threshold: Rate
    """Lowest name similarity (0 to 1) reported as a possible match."""
    ownership_threshold: Rate
    """Share owned by listed parties from which an entity counts as listed."""
    sources: list[Text] = Field(default_factory=list)
    """Lists (``source`` column values or their short codes) to screen; empty means all."""

    @field_validator("match_fields")
    @classmethod
    def _match_fields_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        fields = info.data.get("csv_fields")
        missing = [name for name in value if fields is not None and name not in fields]
        if missing:
            raise ValueError(f"not among csv_fields: {', '.join(missing)}")
        return value


class ModelWeightControls(PolicyModel):
    """Export controls on model weights."""

    closed_weights_operations_threshold: PositiveFloat
    """Training operations above which closed weights were controlled (ECCN 4E091)."""
    closed_weights_control_in_force: bool
    """Whether that control is in force (it was rescinded in 2025)."""
    restrict_restricted_end_users: bool
    """Whether access by entities linked to restricted end users is refused."""
    kyc_required: bool
    """Whether cloud and API providers must know their customers."""


class USSection(PolicyModel):
    """US export-control screening."""

    screening: ScreeningRules
    """Consolidated Screening List."""
    model_weights: ModelWeightControls
    """Model-weight controls."""
