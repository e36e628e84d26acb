"""Signatures in the reserved codes: the producer's, and optionally a propagator's.

The producer signs the label as first written: every key but its signature key, with the
propagator fields equal to its own and the other reserved code holding its key id. A
verifier rebuilds that form from the producer fields, so the producer's signature still
checks after a platform has added itself as propagator. A propagator may sign the whole
label (including the producer's signature) into the other reserved code. Signatures are
base64url without padding; Ed25519 by default, SM2 with SM3 when the pack asks.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hegui.audit import (
    SCHEMES,
    AuditError,
    AuditKeyError,
    PublicKey,
    SigningKey,
    canonical_json,
    read_key_json,
)
from hegui.trace._errors import LabelError
from hegui.trace._label import (
    PRODUCE_ID,
    PRODUCER,
    PROPAGATE_ID,
    PROPAGATOR,
    STANDARD_KEYS,
    AIGCLabel,
    LabelRules,
)

SignatureStatus = Literal["valid", "invalid", "unsigned", "unknown-key", "not-checked"]
"""Outcome of checking one signature."""


@dataclass(frozen=True)
class SignatureCheck:
    """What the signatures of one label say."""

    producer: SignatureStatus
    """The producer's signature."""
    propagator: SignatureStatus | None = None
    """A propagator's signature; ``None`` when the label was not propagated."""
    producer_key: str | None = None
    """Id of the key that verified the producer's signature."""
    propagator_key: str | None = None
    """Id of the key that verified the propagator's signature."""

    @property
    def ok(self) -> bool:
        """The producer's signature verified (a propagator's must not be invalid)."""
        return self.producer == "valid" and self.propagator != "invalid"


def encode_signature(raw: bytes) -> str:
    """Base64url without padding: only characters every pack allows."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_signature(text: str) -> bytes | None:
    """The raw signature, or ``None`` when ``text`` is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def producer_message(fields: Mapping[str, str], sig_key: str, other_key: str, key_id: str) -> bytes:
    """The bytes the producer signs: the first-write label without its signature key."""
    first = dict(fields)
    first[PROPAGATOR] = first.get(PRODUCER, "")
    first[PROPAGATE_ID] = first.get(PRODUCE_ID, "")
    first[other_key] = key_id
    return canonical_json({key: first.get(key, "") for key in STANDARD_KEYS if key != sig_key})


def propagator_message(fields: Mapping[str, str], other_key: str) -> bytes:
    """The bytes a propagator signs: every key but the one that holds its signature."""
    return canonical_json({key: fields.get(key, "") for key in STANDARD_KEYS if key != other_key})


def check_producer(fields: Mapping[str, str], key: PublicKey, sig_key: str, other_key: str) -> bool:
    """Whether ``key`` made the producer signature of a label given as key -> value."""
    raw = decode_signature(fields.get(sig_key, ""))
    if not raw:
        return False
    return key.verify(raw, producer_message(fields, sig_key, other_key, key.key_id))


def _allowed(rules: LabelRules, signer: SigningKey) -> None:
    allowed = rules.spec.implicit.signature.allowed
    if signer.scheme not in allowed:
        raise LabelError(
            f"the pack allows label signatures {', '.join(allowed)}, not {signer.scheme}"
        )


def sign_as_producer(label: AIGCLabel, rules: LabelRules, signer: SigningKey | None) -> AIGCLabel:
    """A first-write label with the producer's key id and signature (unsigned: both empty)."""
    if signer is None:
        return label.with_value(rules.sig_key, "").with_value(rules.other_key, "")
    _allowed(rules, signer)
    if label.propagated:
        raise LabelError("the producer signs a label before it is propagated")
    fields = label.fields()
    message = producer_message(fields, rules.sig_key, rules.other_key, signer.key_id)
    signed = label.with_value(rules.other_key, signer.key_id)
    return signed.with_value(rules.sig_key, encode_signature(signer.sign(message)))


def sign_as_propagator(label: AIGCLabel, rules: LabelRules, signer: SigningKey | None) -> AIGCLabel:
    """A propagated label with the propagator's signature in the other reserved code."""
    if signer is None:
        return label.with_value(rules.other_key, "")
    _allowed(rules, signer)
    message = propagator_message(label.fields(), rules.other_key)
    return label.with_value(rules.other_key, encode_signature(signer.sign(message)))


def _producer_status(
    label: AIGCLabel, rules: LabelRules, keys: list[PublicKey]
) -> tuple[SignatureStatus, str | None]:
    fields = label.fields()
    if not fields[rules.sig_key]:
        return "unsigned", None
    candidates = keys
    if not label.propagated:
        named = fields[rules.other_key]
        candidates = [key for key in keys if key.key_id == named]
        if not candidates:
            return "unknown-key", None
    for key in candidates:
        if check_producer(fields, key, rules.sig_key, rules.other_key):
            return "valid", key.key_id
    return "invalid", None


def _propagator_status(
    label: AIGCLabel, rules: LabelRules, keys: list[PublicKey]
) -> tuple[SignatureStatus, str | None]:
    text = label.get(rules.other_key)
    if not text:
        return "unsigned", None
    raw = decode_signature(text)
    if raw:
        message = propagator_message(label.fields(), rules.other_key)
        for key in keys:
            if key.verify(raw, message):
                return "valid", key.key_id
    return "unknown-key", None


def verify_label(label: AIGCLabel, rules: LabelRules, keys: Iterable[PublicKey]) -> SignatureCheck:
    """Check the producer's (and any propagator's) signature against the given public keys.

    With no keys nothing is checked. A propagator signature that none of the keys made
    is ``unknown-key`` (the auditor may not hold the platform's key), not a failure.
    """
    key_list = list(keys)
    if not key_list:
        return SignatureCheck("not-checked", "not-checked" if label.propagated else None)
    producer, producer_key = _producer_status(label, rules, key_list)
    if not label.propagated:
        return SignatureCheck(producer, None, producer_key)
    propagator, propagator_key = _propagator_status(label, rules, key_list)
    return SignatureCheck(producer, propagator, producer_key, propagator_key)


def load_signing_key(path: Path) -> SigningKey:
    """A private key file as written by ``hegui audit keygen`` (``<key id>.json``)."""
    data = _read_key_json(path)
    scheme = data.get("scheme")
    if scheme not in SCHEMES or "private" not in data:
        raise LabelError(f"{path}: not a private key file (needs scheme and private)")
    try:
        key = SigningKey.from_private(scheme, bytes.fromhex(data["private"]))
    except (ValueError, TypeError) as exc:
        raise LabelError(f"{path}: unusable private key: {exc}") from None
    if data.get("key_id", key.key_id) != key.key_id:
        raise LabelError(f"{path}: the key id does not match the private key")
    return key


def load_public_keys(path: Path) -> list[PublicKey]:
    """Public keys from a ``.pub.json`` or private key file, or every one in a directory."""
    if path.is_dir():
        files = sorted(path.glob("*.pub.json"))
        if not files:
            raise LabelError(f"{path}: no *.pub.json public key files")
        return [key for file in files for key in load_public_keys(file)]
    data = _read_key_json(path)
    if "private" in data:
        return [load_signing_key(path).public_key]
    try:
        return [PublicKey.from_json(data)]
    except (KeyError, ValueError, AuditError) as exc:
        raise LabelError(f"{path}: not a public key file: {exc}") from None


def _read_key_json(path: Path) -> dict[str, str]:
    try:
        data = read_key_json(path)
    except AuditKeyError as exc:
        raise LabelError(str(exc)) from None
    return {str(k): str(v) for k, v in data.items()}
