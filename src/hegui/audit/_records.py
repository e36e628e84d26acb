"""Audit records: the typed record, its canonical bytes, keyed principals, sealed content.

The leaf data of record ``i`` is the canonical JSON (sorted keys, no spaces, UTF-8) of
``{"index": i, "record": <record>}``; binding the index into the leaf makes a moved
row fail at its own index. Content may be sealed with AES-256-GCM before it is stored:
the leaf hashes the sealed envelope, so the ledger verifies without the content key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator

from hegui.audit._errors import AuditError, AuditKeyError

CONTENT_KEY_ENV = "HEGUI_AUDIT_CONTENT_KEY"
PRINCIPAL_KEY_ENV = "HEGUI_AUDIT_PRINCIPAL_KEY"
_SEAL_AAD = b"hegui-audit-content/1"


class RecordKind(StrEnum):
    """What an audit record is about."""

    REQUEST = "request"
    RESPONSE = "response"
    BLOCK = "block"
    LABEL = "label"
    ADMIN = "admin"
    KILL_SWITCH = "kill_switch"
    INCIDENT = "incident"
    ASSESSMENT = "assessment"


class SealedContent(BaseModel):
    """Content encrypted with AES-256-GCM; what the leaf hashes instead of the plaintext."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alg: Literal["A256GCM"] = "A256GCM"
    """Cipher: AES-256-GCM, 96-bit nonce, 128-bit tag appended to the ciphertext."""
    kid: str
    """First 16 hex digits of SHA-256 over the content key: which key opens it."""
    nonce: str
    """Base64 nonce."""
    ciphertext: str
    """Base64 ciphertext and tag of the canonical JSON of the content."""


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
"""One encoder, built once: ``json.dumps`` with these options builds a new one per call."""


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as sorted-key compact JSON in UTF-8."""
    return _CANONICAL.encode(value).encode("utf-8")


def _utc_text(moment: datetime) -> str:
    """Return ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (what ``strftime`` gives, several times faster)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad the year; keep its exact output
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031  (fastest form)
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


_json_str = json.encoder.encode_basestring
"""What the canonical encoder writes for a string (``ensure_ascii=False``), called directly."""


def _json_value(value: Any) -> str:
    return _json_str(value) if type(value) is str else _CANONICAL.encode(value)


class AuditRecord(BaseModel):
    """One piece of evidence: a request, an answer, a block, an incident..."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RecordKind
    """What happened."""
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    """When it happened (timezone-aware; stored as UTC)."""
    request_id: str | None = None
    """The request this record belongs to."""
    principal: str | None = None
    """Who: ``hmac-sha256:<hex>`` (keyed hash, the default) or ``plain:<id>``."""
    policy_id: str | None = None
    """Id of the policy pack in force."""
    policy_version: str | None = None
    """Version of that pack."""
    findings: list[dict[str, JsonValue]] = Field(default_factory=list)
    """Findings as plain dicts (risk id, detector, span, action...)."""
    content: JsonValue = None
    """The text or data itself, unless sealed."""
    sealed: SealedContent | None = None
    """The content, encrypted; set instead of ``content``."""

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("principal")
    @classmethod
    def _principal_is_tagged(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("hmac-sha256:", "plain:")):
            raise ValueError(
                "must be hash_principal(...) or plain_principal(...), not a raw identifier"
            )
        return value

    def to_json(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (``None`` fields left out)."""
        data: dict[str, Any] = {"kind": self.kind.value, "time": _utc_text(self.time)}
        if self.request_id is not None:
            data["request_id"] = self.request_id
        if self.principal is not None:
            data["principal"] = self.principal
        if self.policy_id is not None:
            data["policy_id"] = self.policy_id
        if self.policy_version is not None:
            data["policy_version"] = self.policy_version
        if self.findings:
            data["findings"] = self.findings
        if self.sealed is not None:
            data["sealed"] = self.sealed.model_dump()
        elif self.content is not None:
            data["content"] = self.content
        return data

    def canonical(self) -> bytes:
        """Return the canonical bytes of the record alone: ``canonical_json(to_json())``.

        Built field by field in sorted key order (the hot path of every append); a test
        holds it byte-identical to ``canonical_json(self.to_json())``.
        """
        parts: list[str] = []
        if self.sealed is None and self.content is not None:
            parts.append('"content":' + _json_value(self.content))
        if self.findings:
            parts.append('"findings":' + _CANONICAL.encode(self.findings))
        parts.append('"kind":' + _json_str(self.kind.value))
        if self.policy_id is not None:
            parts.append('"policy_id":' + _json_str(self.policy_id))
        if self.policy_version is not None:
            parts.append('"policy_version":' + _json_str(self.policy_version))
        if self.principal is not None:
            parts.append('"principal":' + _json_str(self.principal))
        if self.request_id is not None:
            parts.append('"request_id":' + _json_str(self.request_id))
        if self.sealed is not None:
            parts.append('"sealed":' + _CANONICAL.encode(self.sealed.model_dump()))
        parts.append('"time":"' + _utc_text(self.time) + '"')
        return ("{" + ",".join(parts) + "}").encode("utf-8")


LEAF_FORMAT = b'{"index":%d,"record":%b}'
"""``LEAF_FORMAT % (index, record_bytes)`` is the leaf data: canonical ``{"index","record"}``."""


def leaf_data(index: int, record_bytes: bytes) -> bytes:
    """Return the leaf data of a record at ``index``: canonical ``{"index","record"}``."""
    return LEAF_FORMAT % (index, record_bytes)


def parse_leaf(data: bytes) -> tuple[int, AuditRecord]:
    """Parse leaf data back into its index and record."""
    try:
        wrapper = json.loads(data)
        return int(wrapper["index"]), AuditRecord.model_validate(wrapper["record"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"leaf data is not an audit record: {exc}") from exc


def hash_principal(principal: str, key: bytes) -> str:
    """Return the keyed hash ``hmac-sha256:<hex>`` of a user or API-key identifier."""
    digest = hmac.new(key, principal.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


def plain_principal(principal: str) -> str:
    """Return ``plain:<id>``: for packs that ask for identifiers in clear."""
    return f"plain:{principal}"


def load_secret_key(path: Path | None, env: str, *, size: int = 32) -> bytes | None:
    """Read a base64 key from ``env`` or a key file; ``None`` when neither is set."""
    text = os.environ.get(env)
    source = f"${env}"
    if text is None and path is not None and path.is_file():
        text, source = path.read_text(encoding="ascii").strip(), str(path)
    if text is None:
        return None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuditKeyError(f"{source}: not base64: {exc}") from exc
    if len(key) != size:
        raise AuditKeyError(f"{source}: key is {len(key)} bytes, expected {size}")
    return key


def new_secret_key(size: int = 32) -> str:
    """Return a new random key, base64, for a key file or an env var."""
    return base64.b64encode(secrets.token_bytes(size)).decode("ascii")


class ContentCipher:
    """Seals and opens record content with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise AuditKeyError(f"content key is {len(key)} bytes, expected 32 (AES-256)")
        self._aead = AESGCM(key)
        self.kid = hashlib.sha256(key).hexdigest()[:16]

    def seal(self, record: AuditRecord) -> AuditRecord:
        """Return the record with its content replaced by a sealed envelope."""
        if record.sealed is not None or record.content is None:
            return record
        nonce = secrets.token_bytes(12)
        ciphertext = self._aead.encrypt(nonce, canonical_json(record.content), _SEAL_AAD)
        sealed = SealedContent(
            kid=self.kid,
            nonce=base64.b64encode(nonce).decode("ascii"),
            ciphertext=base64.b64encode(ciphertext).decode("ascii"),
        )
        return record.model_copy(update={"content": None, "sealed": sealed})

    def open(self, record: AuditRecord) -> AuditRecord:
        """Return the record with its sealed content decrypted."""
        sealed = record.sealed
        if sealed is None:
            return record
        if sealed.kid != self.kid:
            raise AuditKeyError(f"content was sealed with key {sealed.kid}, not {self.kid}")
        try:
            plain = self._aead.decrypt(
                base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), _SEAL_AAD
            )
        except InvalidTag as exc:
            raise AuditError("sealed content fails its authentication tag") from exc
        return record.model_copy(update={"content": json.loads(plain), "sealed": None})
