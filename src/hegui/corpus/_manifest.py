"""The source manifest: where every training source came from, and under what terms.

A manifest is a YAML file validated like a policy pack: unknown fields are errors with
a "did you mean" hint, and every problem names the file, the dotted field and the line.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hegui.policy import PolicyError
from hegui.policy._diagnose import from_problems, from_validation
from hegui.policy._yaml import read_yaml

SourceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
"""A source id: lower-case letters, digits, ``_``, ``.`` and ``-``; used in file names."""

LangCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
"""An ISO 639 language code, optionally with a BCP 47 subtag (``zh``, ``en``, ``zh-Hant``)."""

Text = Annotated[str, Field(min_length=1)]

_PERIOD = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?(/\d{4}(-\d{2}(-\d{2})?)?)?$")


class ManifestError(PolicyError):
    """A manifest that cannot be used: file, dotted field, reason and line."""


class Format(StrEnum):
    """How a source's files hold documents."""

    AUTO = "auto"
    JSONL = "jsonl"
    PARQUET = "parquet"
    CSV = "csv"
    TEXT = "text"


class LegalBasis(StrEnum):
    """Why the provider may train on a source (licence for works, PIPL basis for people)."""

    CONSENT = "consent"
    LICENCE = "licence"
    CONTRACT = "contract"
    STATUTORY = "statutory"
    PUBLICLY_DISCLOSED = "publicly-disclosed"
    PUBLIC_INTEREST = "public-interest"
    OWN_DATA = "own-data"
    OTHER = "other"


class Annotation(StrEnum):
    """How the labels of a source were made (the Hugging Face card vocabulary)."""

    NONE = "no-annotation"
    FOUND = "found"
    CROWDSOURCED = "crowdsourced"
    EXPERT = "expert-generated"
    MACHINE = "machine-generated"
    OTHER = "other"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Source(_Model):
    """One training-data source: its files, provenance and terms of use."""

    id: SourceId
    """Stable identifier, unique in the manifest."""
    path: list[Text] = Field(min_length=1)
    """File, folder or glob (``**`` recurses), relative to the manifest; one or a list."""
    format: Format = Format.AUTO
    """``jsonl``, ``parquet``, ``csv``, ``text`` (one document per file) or ``auto``."""
    text_field: Text = "text"
    """Field holding the text (JSONL: dots reach into objects; CSV and Parquet: column)."""
    id_field: Text | None = None
    """Field holding each document's own id, when it has one."""
    origin: Text
    """Where the data came from: a URL or a description."""
    license: Text
    """Licence of the data (SPDX id such as ``CC-BY-4.0``, or text)."""
    legal_basis: LegalBasis
    """Why it may be used: consent, licence, contract, statutory, publicly-disclosed,
    public-interest, own-data or other."""
    legal_basis_note: str = ""
    """Details: the consent text or licence agreement, its date, where it is kept."""
    collected: str
    """When it was collected: a date, month or year, or an interval ``start/end``."""
    language: list[LangCode] = Field(min_length=1)
    """Languages of the text (ISO 639 codes)."""
    annotation: Annotation = Annotation.NONE
    """How labels were made: no-annotation, found, crowdsourced, expert-generated,
    machine-generated or other."""
    annotation_note: str = ""
    """The annotation method in words (rules, annotators, tools)."""
    owner: Text
    """Who answers for this source (person, team or e-mail)."""
    description: str = ""
    """What the source holds."""

    @field_validator("path", "language", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("collected", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        if isinstance(value, dt.date | int):
            value = value.isoformat() if isinstance(value, dt.date) else str(value)
        if isinstance(value, str) and not _PERIOD.match(value):
            raise ValueError("must be YYYY, YYYY-MM, YYYY-MM-DD or an interval start/end")
        return value


class Card(_Model):
    """Statements for the dataset card that no scan can measure."""

    biases: str = ""
    """Known biases of the data (who and what is over- or under-represented)."""
    limitations: str = ""
    """Known limitations and uses the data is not fit for."""
    use_cases: str = "Pre-training and fine-tuning of a generative language model."
    """What the data is meant for."""
    maintenance: str = ""
    """How the corpus is versioned and maintained, and by whom."""
    social_impact: str = ""
    """Discussion of the social impact of the data, if any."""


class Manifest(_Model):
    """A training corpus: its name, version, owner and sources."""

    name: Text
    """Name of the corpus."""
    version: Text
    """Version of this corpus (a string)."""
    description: str = ""
    """What the corpus is for."""
    owner: Text
    """Who answers for the corpus."""
    card: Card = Card()
    """Statements for the dataset card."""
    sources: list[Source] = Field(min_length=1)
    """Every source of the corpus."""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def source(self, source_id: str) -> Source:
        """Return the source with this id (``KeyError`` when absent)."""
        for src in self.sources:
            if src.id == source_id:
                return src
        raise KeyError(f"no source {source_id!r} in the manifest")


def _as_manifest_error(exc: PolicyError) -> ManifestError:
    more = [_as_manifest_error(e) for e in exc.more]
    return ManifestError(exc.file, exc.field, exc.reason, line=exc.line, more=more)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest.

    Raises:
        ManifestError: the file cannot be read, parsed or validated (every problem found,
            first in the error and the rest in ``more``).
    """
    file = Path(path)
    try:
        data = read_yaml(file)
    except PolicyError as exc:
        raise _as_manifest_error(exc) from None
    if not isinstance(data, dict):
        raise ManifestError(file, "", "a manifest must be a mapping with name, owner, sources")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise _as_manifest_error(from_validation(exc, [file], Manifest)) from None
    seen: dict[str, int] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, src in enumerate(manifest.sources):
        if src.id in seen:
            first = f"sources[{seen[src.id]}]"
            problems.append(
                (("sources", index, "id"), f"duplicate id {src.id!r} (first at {first})")
            )
        seen.setdefault(src.id, index)
    if problems:
        raise _as_manifest_error(from_problems(problems, [file]))
    return manifest


def manifest_error(file: Path, loc: tuple[str | int, ...], reason: str) -> ManifestError:
    """A problem found after validation (a path that matches nothing), with its line."""
    return _as_manifest_error(from_problems([(loc, reason)], [file]))
