"""GB 45438 labels on answers: the explicit text notice and the signed implicit label.

The implicit label is a JSON object with the pack's keys. ``ReservedCode1`` holds an
Ed25519 signature (base64url, no padding) over the canonical JSON of every other key,
made with the ledger's active signing key; ``ReservedCode2`` names that key. Without a
ledger both are empty. Every value is checked against the pack's allowed characters.
"""

from __future__ import annotations

import base64
import json

from hegui.audit import SigningKey, canonical_json
from hegui.policy import LabelSpec

LABEL_AI_GENERATED = "1"


class LabelError(ValueError):
    """A label value uses characters the pack does not allow."""


class Labeler:
    """Builds labels for one policy, producer and (optional) signing key."""

    def __init__(
        self,
        spec: LabelSpec,
        producer: str,
        signer: SigningKey | None,
        *,
        language: str = "zh",
        position: str | None = None,
    ) -> None:
        self.spec = spec
        self.producer = producer
        self.signer = signer
        text = spec.explicit.text
        self.notice = text.text.zh if language == "zh" else text.text.en
        self.position = position or text.position
        self.check(producer, "ContentProducer")

    def check(self, value: str, key: str) -> None:
        """Raise ``LabelError`` unless every character of ``value`` is allowed."""
        if not self.spec.implicit.allows(value):
            raise LabelError(f"label value of {key} uses characters the pack does not allow")

    def implicit(self, produce_id: str) -> dict[str, str]:
        """The implicit label of one answer, keys in the pack's order, signed if possible."""
        fields = {
            "Label": LABEL_AI_GENERATED,
            "ContentProducer": self.producer,
            "ProduceID": produce_id,
            "ContentPropagator": self.producer,
            "PropagateID": produce_id,
            "ReservedCode2": self.signer.key_id if self.signer is not None else "",
        }
        sig_key = self.spec.implicit.signature.key
        fields.pop(sig_key, None)
        signature = ""
        if self.signer is not None:
            raw = self.signer.sign(canonical_json(fields))
            signature = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        fields[sig_key] = signature
        label = {key: fields.get(key, "") for key in self.spec.implicit.keys}
        for key, value in label.items():
            self.check(value, key)
        return label

    def header(self, label: dict[str, str]) -> str:
        """The ``X-AIGC`` header value: the label as compact ASCII JSON."""
        return json.dumps(label, separators=(",", ":"), ensure_ascii=True)

    def prefix(self) -> str:
        """Text to put before the answer (the notice when the position is ``start``)."""
        return self.notice + "\n\n" if self.position == "start" else ""

    def suffix(self) -> str:
        """Text to put after the answer (the notice when the position is ``end``)."""
        return "\n\n" + self.notice if self.position == "end" else ""


def verify_label(label: dict[str, str], public: bytes, sig_key: str = "ReservedCode1") -> bool:
    """Check the Ed25519 signature of an implicit label (for tests and auditors)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    fields = {k: v for k, v in label.items() if k != sig_key}
    sig = label[sig_key]
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(raw, canonical_json(fields))
    except InvalidSignature:
        return False
    return True
