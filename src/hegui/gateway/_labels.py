"""GB 45438 labels on answers: the explicit text notice and the signed implicit label.

The label itself (keys, allowed characters, signature in ``ReservedCode1`` over the
first-write label, key id in ``ReservedCode2``) is built by ``hegui.trace``; this module
binds it to one producer, signing key and notice wording. Without a ledger both reserved
codes are empty.
"""

from __future__ import annotations

import json

from hegui.audit import PublicKey, Scheme, SigningKey
from hegui.policy import LabelSpec
from hegui.trace import (
    RESERVED1,
    RESERVED2,
    LabelError,
    LabelRules,
    check_producer,
    sign_as_producer,
    text_notice,
)

__all__ = ["LabelError", "Labeler", "verify_label"]

_ED25519_PUBLIC_BYTES = 32


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
        self.rules = LabelRules(spec)
        self.producer = producer
        self.signer = signer
        self.notice = text_notice(spec, language)
        self.position = position or spec.explicit.text.position
        self.check(producer, "ContentProducer")

    def check(self, value: str, key: str) -> None:
        """Raise ``LabelError`` unless every character of ``value`` is allowed."""
        self.rules.check_value(key, value)

    def implicit(self, produce_id: str) -> dict[str, str]:
        """The implicit label of one answer, keys in the pack's order, signed if possible."""
        label = self.rules.create(self.producer, produce_id)
        return self.rules.ordered(sign_as_producer(label, self.rules, self.signer))

    def header(self, label: dict[str, str]) -> str:
        """The ``X-AIGC`` header value: the label as compact ASCII JSON."""
        return json.dumps(label, separators=(",", ":"), ensure_ascii=True)

    def prefix(self) -> str:
        """Text to put before the answer (the notice when the position is ``start``)."""
        return self.notice + "\n\n" if self.position == "start" else ""

    def suffix(self) -> str:
        """Text to put after the answer (the notice when the position is ``end``)."""
        return "\n\n" + self.notice if self.position == "end" else ""


def verify_label(label: dict[str, str], public: bytes, sig_key: str = RESERVED1) -> bool:
    """Check the producer's signature of an implicit label (Ed25519 or SM2 public key)."""
    scheme: Scheme = "ed25519" if len(public) == _ED25519_PUBLIC_BYTES else "sm2-sm3"
    other = RESERVED2 if sig_key == RESERVED1 else RESERVED1
    return check_producer(label, PublicKey(scheme, public), sig_key, other)
