"""The GB 45438 Annex E implicit label: a typed value, its JSON form and the pack's rules.

The label is the object ``{"AIGC": {"Label", "ContentProducer", "ProduceID",
"ReservedCode1", "ContentPropagator", "PropagateID", "ReservedCode2"}}``. Key names are
the standard's; their order, the allowed characters, the ``Label`` values and which
reserved code carries the producer's signature come from the policy pack.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from hegui.policy import LabelSpec
from hegui.trace._errors import LabelError

LABEL = "Label"
PRODUCER = "ContentProducer"
PRODUCE_ID = "ProduceID"
PROPAGATOR = "ContentPropagator"
PROPAGATE_ID = "PropagateID"
RESERVED1 = "ReservedCode1"
RESERVED2 = "ReservedCode2"
STANDARD_KEYS = (LABEL, PRODUCER, PRODUCE_ID, RESERVED1, PROPAGATOR, PROPAGATE_ID, RESERVED2)
"""The seven keys of Annex E, in the standard's order."""

_REQUIRED = (LABEL, PRODUCER, PRODUCE_ID, PROPAGATOR, PROPAGATE_ID)
_ATTRS = {
    LABEL: "label",
    PRODUCER: "producer",
    PRODUCE_ID: "produce_id",
    RESERVED1: "reserved1",
    PROPAGATOR: "propagator",
    PROPAGATE_ID: "propagate_id",
    RESERVED2: "reserved2",
}


@dataclass(frozen=True)
class AIGCLabel:
    """One implicit label; ``reserved1``/``reserved2`` hold signatures or key ids."""

    label: str
    producer: str
    produce_id: str
    propagator: str
    propagate_id: str
    reserved1: str = ""
    reserved2: str = ""

    @property
    def propagated(self) -> bool:
        """Whether a platform has passed the content on (propagator differs from producer)."""
        return (self.propagator, self.propagate_id) != (self.producer, self.produce_id)

    def get(self, key: str) -> str:
        """The value of a standard key such as ``ContentProducer``."""
        return str(getattr(self, _ATTRS[key]))

    def with_value(self, key: str, value: str) -> AIGCLabel:
        """A copy with one standard key changed."""
        return replace(self, **{_ATTRS[key]: value})

    def fields(self) -> dict[str, str]:
        """Standard key -> value, in the standard's order."""
        return {key: self.get(key) for key in STANDARD_KEYS}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> AIGCLabel:
        """Build from standard key -> value; a missing key is an empty value."""
        return cls(**{attr: fields.get(key, "") for key, attr in _ATTRS.items()})


class LabelRules:
    """The pack's rules for implicit labels: key order, characters, values, signature key."""

    def __init__(self, spec: LabelSpec) -> None:
        implicit = spec.implicit
        unknown = [key for key in implicit.keys if key not in _ATTRS]
        missing = [key for key in STANDARD_KEYS if key not in implicit.keys]
        if unknown or missing:
            raise LabelError(
                f"the pack's label keys must be the Annex E keys; unknown {unknown}, "
                f"missing {missing}"
            )
        sig_key = implicit.signature.key
        if sig_key not in (RESERVED1, RESERVED2):
            raise LabelError(f"the signature must go in a reserved code, not {sig_key!r}")
        self.spec = spec
        self.field_name = implicit.field_name
        self.keys: tuple[str, ...] = tuple(implicit.keys)
        self.values: tuple[str, ...] = tuple(item.value for item in implicit.label_values)
        self.sig_key = sig_key
        """Reserved code holding the producer's signature."""
        self.other_key = RESERVED2 if sig_key == RESERVED1 else RESERVED1
        """Reserved code holding the producer's key id, or a propagator's signature."""

    def allows(self, value: str) -> bool:
        """Whether every character of ``value`` is allowed by the pack."""
        return self.spec.implicit.allows(value)

    def check_value(self, key: str, value: str) -> None:
        """Raise ``LabelError`` unless ``value`` only uses allowed characters."""
        if not self.allows(value):
            raise LabelError(f"label value of {key} uses characters the pack does not allow")

    def problems(self, label: AIGCLabel) -> list[str]:
        """What is wrong with ``label`` under the pack (empty when it is valid)."""
        found: list[str] = []
        if label.label not in self.values:
            found.append(f"{LABEL} {label.label!r} is not one of {', '.join(self.values)}")
        for key in self.keys:
            value = label.get(key)
            if key in _REQUIRED and not value:
                found.append(f"{key} is empty")
            elif not self.allows(value):
                found.append(f"{key} uses characters the pack does not allow")
        return found

    def ordered(self, label: AIGCLabel) -> dict[str, str]:
        """Key -> value in the pack's order (what the gateway sends as ``aigc``)."""
        return {key: label.get(key) for key in self.keys}

    def encode(self, label: AIGCLabel) -> str:
        """The metadata value: ``{"AIGC":{...}}`` as compact ASCII JSON, keys in pack order."""
        wrapped = {self.field_name: self.ordered(label)}
        return json.dumps(wrapped, separators=(",", ":"), ensure_ascii=True)

    def decode(self, text: str) -> AIGCLabel:
        """Parse a metadata value (wrapped in ``{"AIGC": ...}`` or the bare object)."""
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise LabelError(f"the label is not JSON: {exc}") from None
        if isinstance(data, dict) and set(data) == {self.field_name}:
            data = data[self.field_name]
        if not isinstance(data, dict):
            raise LabelError("the label is not a JSON object")
        unknown = sorted(str(key) for key in data if key not in self.keys)
        if unknown:
            raise LabelError(f"the label has unknown keys: {', '.join(unknown)}")
        bad = sorted(key for key, value in data.items() if not isinstance(value, str))
        if bad:
            raise LabelError(f"label values must be strings: {', '.join(bad)}")
        return AIGCLabel.from_fields(data)

    def create(
        self, producer: str, produce_id: str | None = None, *, value: str | None = None
    ) -> AIGCLabel:
        """A first-write label: the propagator fields equal the producer's (unsigned)."""
        produce_id = produce_id or new_content_id()
        label = AIGCLabel(
            label=value if value is not None else self.values[0],
            producer=producer,
            produce_id=produce_id,
            propagator=producer,
            propagate_id=produce_id,
        )
        self._raise_problems(label)
        return label

    def propagate(
        self, label: AIGCLabel, propagator: str, propagate_id: str | None = None
    ) -> AIGCLabel:
        """The label after a platform passes the content on: producer fields are kept."""
        changed = replace(
            label, propagator=propagator, propagate_id=propagate_id or new_content_id()
        )
        changed = changed.with_value(self.other_key, "")
        self._raise_problems(changed)
        return changed

    def _raise_problems(self, label: AIGCLabel) -> None:
        problems = self.problems(label)
        if problems:
            raise LabelError("; ".join(problems))


def new_content_id() -> str:
    """A fresh content id (32 hex digits; within every pack's allowed characters)."""
    return uuid.uuid4().hex
