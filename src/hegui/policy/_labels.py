"""The labeling section: explicit and implicit labels of generated content (GB 45438)."""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, ValidationInfo, field_validator

from hegui.policy._base import LocalizedText, Name, PolicyModel, Rate, Text

SignatureScheme = Literal["ed25519", "sm2-sm3"]
"""Signature schemes the trace module implements for the reserved codes."""

_MAX_CODE_POINT = 0x10FFFF


class ExplicitTextLabel(PolicyModel):
    """The visible notice added to generated text."""

    required_elements: dict[Name, list[Text]] = Field(min_length=1)
    """Element name -> accepted wordings; a label must contain one wording of each."""
    text: LocalizedText
    """Default notice in each language."""
    position: Literal["start", "end"]
    """Where the default notice goes in the text."""
    on_export: bool
    """Whether exported, copied or downloaded files carry the notice too."""

    @field_validator("text")
    @classmethod
    def _text_has_every_element(cls, value: LocalizedText, info: ValidationInfo) -> LocalizedText:
        elements: dict[str, list[str]] = info.data.get("required_elements") or {}
        for language, text in (("zh", value.zh), ("en", value.en)):
            folded = text.casefold()
            for element, wordings in elements.items():
                if not any(wording.casefold() in folded for wording in wordings):
                    raise ValueError(
                        f"{language} text {text!r} lacks the {element!r} element "
                        f"(one of {', '.join(wordings)})"
                    )
        return value


class ImageLabel(PolicyModel):
    """Visible notice on images."""

    min_text_height_ratio: Rate
    """Smallest text height as a share of the image's shortest side."""


class VideoLabel(PolicyModel):
    """Visible notice on video."""

    min_text_height_ratio: Rate
    """Smallest text height as a share of the frame's shortest side."""
    min_seconds: PositiveFloat
    """Shortest time the notice stays on the opening frames."""


class AudioLabel(PolicyModel):
    """Audible notice on audio."""

    spoken_notice: bool
    """Whether a spoken notice is accepted."""
    rhythm: list[Literal["short", "long"]] = Field(min_length=1)
    """The notice rhythm accepted instead of speech."""
    every_turn_in_voice_assistants: bool
    """Whether voice assistants give the notice on every turn."""


class ExplicitLabels(PolicyModel):
    """Visible or audible labels."""

    text: ExplicitTextLabel
    """On text."""
    image: ImageLabel
    """On images."""
    video: VideoLabel
    """On video."""
    audio: AudioLabel
    """On audio."""


class LabelValue(PolicyModel):
    """One allowed value of the ``Label`` key and what it means."""

    value: Text
    """The value as written in metadata."""
    meaning_zh: Text
    """Chinese meaning."""
    meaning_en: Text
    """English meaning."""


class XmpSpec(PolicyModel):
    """How the implicit label is written as XMP."""

    namespace: Text = Field(pattern=r"^https?://")
    """XMP namespace URI."""
    prefix: Text = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    """Namespace prefix used in the element name."""
    element: Text
    """Element name, without the prefix."""


class Carrier(PolicyModel):
    """Where the implicit label goes in one file format."""

    media: Literal["image", "audio", "video", "text"]
    """Kind of content."""
    format: Name
    """File format, e.g. ``jpeg`` or ``mp4``."""
    location: Text
    """Where in the file the label is stored."""


class SignatureSpec(PolicyModel):
    """How the label's reserved code carries a signature over the label."""

    key: Text
    """Metadata key that holds the signature."""
    allowed: list[SignatureScheme] = Field(min_length=1)
    """Schemes a provider may use (it must say which)."""
    default: SignatureScheme
    """Scheme used unless configured otherwise."""

    @field_validator("default")
    @classmethod
    def _default_is_allowed(cls, value: str, info: ValidationInfo) -> str:
        allowed = info.data.get("allowed")
        if allowed is not None and value not in allowed:
            raise ValueError(f"{value!r} is not among the allowed schemes {allowed}")
        return value


class ImplicitLabel(PolicyModel):
    """The machine-readable label written into file metadata."""

    field_name: Text
    """Name of the metadata field."""
    keys: list[Text] = Field(min_length=1)
    """Keys of the JSON object stored in the field, in order."""
    allowed_chars: list[tuple[int, int]] = Field(min_length=1)
    """Inclusive code-point ranges allowed inside values."""
    label_values: list[LabelValue] = Field(min_length=1)
    """Allowed values of the ``Label`` key."""
    propagator_defaults_to_producer: bool
    """On first write, propagator name and id equal the producer's."""
    xmp: XmpSpec
    """XMP carrier for images."""
    carriers: list[Carrier] = Field(min_length=1)
    """Carrier per file format."""
    signature: SignatureSpec
    """Signature over the label."""

    @field_validator("keys")
    @classmethod
    def _keys_distinct_with_label(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("keys must be distinct")
        if "Label" not in value:
            raise ValueError("keys must include 'Label'")
        return value

    @field_validator("allowed_chars")
    @classmethod
    def _ranges_ordered(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        previous = -1
        for low, high in value:
            if not 0 <= low <= high <= _MAX_CODE_POINT:
                raise ValueError(f"range {low:#x}-{high:#x} is not a valid code-point range")
            if low <= previous:
                raise ValueError(f"range {low:#x}-{high:#x} overlaps or is out of order")
            previous = high
        return value

    @field_validator("label_values")
    @classmethod
    def _values_distinct_and_allowed(
        cls, value: list[LabelValue], info: ValidationInfo
    ) -> list[LabelValue]:
        ranges: list[tuple[int, int]] = info.data.get("allowed_chars") or []
        if len({item.value for item in value}) != len(value):
            raise ValueError("label values must be distinct")
        for item in value:
            if ranges and not _within(item.value, ranges):
                raise ValueError(f"label value {item.value!r} uses characters not allowed")
        return value

    @field_validator("signature")
    @classmethod
    def _signature_key_exists(cls, value: SignatureSpec, info: ValidationInfo) -> SignatureSpec:
        keys = info.data.get("keys")
        if keys is not None and value.key not in keys:
            raise ValueError(f"signature key {value.key!r} is not one of the label keys")
        return value

    def allows(self, value: str) -> bool:
        """Whether every character of ``value`` lies in an allowed range."""
        return _within(value, self.allowed_chars)


def _within(value: str, ranges: list[tuple[int, int]]) -> bool:
    return _charset(tuple(ranges)).fullmatch(value) is not None


@functools.lru_cache(maxsize=32)
def _charset(ranges: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
    """A pattern matching strings made only of characters in ``ranges`` (compiled once)."""
    parts = "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges)
    return re.compile(f"[{parts}]*")


class UnlabeledOutput(PolicyModel):
    """Output without labels, given only on a user's request."""

    allowed_on_request: bool
    """Whether a user may ask for output without an explicit label."""
    recipient_log_min_months: PositiveInt
    """How long the log of who received unlabeled output is kept."""


class LabelSpec(PolicyModel):
    """Everything the trace module needs to label generated content."""

    explicit: ExplicitLabels
    """Visible or audible labels."""
    implicit: ImplicitLabel
    """Metadata label."""
    unlabeled_output: UnlabeledOutput
    """Rules for output without explicit labels."""
    watermark_encouraged: bool
    """Whether a digital watermark is encouraged in addition."""
