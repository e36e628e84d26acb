"""Gateway configuration: one pydantic model, every field documented."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_REFUSAL = "抱歉，该请求涉及违规内容，无法提供。Sorry, this request cannot be answered."


class GatewayLimits(BaseModel):
    """Hard limits on what a request may cost; breaking one is a 4xx, never a pass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=1 << 20, gt=0)
    """Largest request body accepted, in bytes (413 beyond it)."""
    max_messages: int = Field(default=256, gt=0)
    """Most chat messages in one request (400 beyond it)."""
    stream_max_seconds: float = Field(default=300.0, gt=0)
    """Longest a streamed answer may run before the gateway ends it."""
    upstream_timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for the upstream (connect, and between bytes); 504 on expiry."""
    scan_threads: int = Field(default=4, gt=0)
    """Worker threads shared by scans and ledger appends (one pool for the app)."""


class GatewayConfig(BaseModel):
    """Everything ``create_app`` needs; build it from the CLI or in code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upstream: str
    """OpenAI-compatible base URL (``http://host:port`` or ``.../v1``) or ``local:smollm2``."""
    upstream_key: SecretStr | None = None
    """Bearer key sent to the upstream (never logged, never echoed in errors)."""
    policy: str = "cn"
    """Policy pack name (``cn``) or path to a pack folder."""
    data_dir: Path | None = None
    """Ledger data directory (SQLite ``audit.db`` and ``keys/``); ``None`` with no
    ``db_url`` means no ledger (and no label signature)."""
    db_url: str | None = None
    """Ledger store URL (``postgresql://...``); overrides the SQLite file in ``data_dir``."""
    producer: str = "hegui"
    """ContentProducer code written into the implicit label (the provider's code)."""
    refusal_mode: Literal["error", "completion"] = "error"
    """How a blocked request is answered: OpenAI-style 400 error, or a refusal completion."""
    refusal_text: str = DEFAULT_REFUSAL
    """The refusal shown to the user (the pack carries no refusal wording yet)."""
    label_position: Literal["start", "end"] | None = None
    """Where the explicit text label goes; ``None`` takes the pack's position."""
    label_language: Literal["zh", "en"] = "zh"
    """Which of the pack's label wordings to add."""
    allowed_tools: frozenset[str] | None = None
    """Tool names the model may be offered and may call; ``None`` takes the pack's
    ``tools.allowed`` (and no pack list means any tool)."""
    allow_unlabeled: frozenset[str] = frozenset()
    """Principals (API key or ``user``) who may ask for answers without the explicit label
    (header ``X-Hegui-Unlabeled: 1``); the implicit label is always added."""
    limits: GatewayLimits = GatewayLimits()
    """Body, message, time and thread limits."""
    auth: Literal["none", "keys"] = "none"
    """``keys``: every request needs an API key from ``hegui keys create`` (needs a data
    dir or database). ``none``: the bearer token or ``user`` field only names the caller."""
    admin_key: SecretStr | None = None
    """Bearer key of the admin endpoints (``/admin/...``); ``None`` disables them."""
    redis_url: str | None = None
    """Redis for abuse counters shared by replicas; ``None`` counts in this process."""
    incident_clocks: tuple[str, ...] = ()
    """The pack's clocks that apply to this operator; empty means all of them."""
    watermark_key: Path | None = None
    """Key file of ``hegui watermark keygen``: the local upstream watermarks every answer
    (an HTTP upstream is opaque: the model server must apply it, see docs/trace.md)."""
    stream_evidence: Literal["first_byte", "finish"] = "first_byte"
    """When a stream's request record must be durable. ``first_byte``: before any byte of
    the answer is sent (the ledger's commit lies on the path to the first token).
    ``finish``: the commit overlaps the first tokens; the finish chunk waits for it, and a
    failed commit cuts the stream at once with an error. Either way every released byte
    has passed the output guard and no exchange completes without its evidence."""
    control_poll_seconds: float = Field(default=0.25, gt=0)
    """How often the control database is polled (PostgreSQL also pushes changes)."""

    @field_validator("upstream")
    @classmethod
    def _upstream_known(cls, value: str) -> str:
        if value.startswith(("http://", "https://")) or value == "local:smollm2":
            return value
        raise ValueError(f"upstream must be an http(s) URL or local:smollm2, got {value!r}")

    @model_validator(mode="after")
    def _watermark_needs_local(self) -> GatewayConfig:
        if self.watermark_key is not None and not self.upstream.startswith("local:"):
            raise ValueError(
                "watermark_key needs the local upstream; an HTTP model server applies"
                " the watermark itself (docs/trace.md)"
            )
        return self

    @model_validator(mode="after")
    def _keys_need_a_store(self) -> GatewayConfig:
        if self.auth == "keys" and not self.has_ledger:
            raise ValueError("auth 'keys' needs a data dir or a database URL to keep keys in")
        return self

    @property
    def has_ledger(self) -> bool:
        """Whether evidence is written (a data dir or a database URL is set)."""
        return self.data_dir is not None or self.db_url is not None
