"""Everything one app holds, built once by ``create_app`` and kept on ``app.state``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from anyio import CapacityLimiter
from starlette.requests import Request

from hegui.audit import Ledger
from hegui.detect import Scanner
from hegui.gateway._config import GatewayConfig
from hegui.gateway._control import ControlView
from hegui.gateway._errors import unavailable
from hegui.gateway._evidence import Evidence
from hegui.gateway._labels import Labeler
from hegui.gateway._metrics import Metrics
from hegui.gateway._upstream import Upstream

UNLABELED_HEADER = "x-hegui-unlabeled"


@dataclass
class GatewayState:
    """Config, policy-derived scanners and labeler, evidence, metrics and the upstream.

    ``broken`` is set when the policy, a detector or the ledger failed to load: the
    gateway then answers chat requests with 503 and this message (fail closed).
    """

    config: GatewayConfig
    metrics: Metrics
    limiter: CapacityLimiter
    broken: str | None = None
    input_scanner: Scanner | None = None
    output_scanner: Scanner | None = None
    labeler: Labeler | None = None
    evidence: Evidence | None = None
    upstream: Upstream | None = field(default=None, repr=False)
    owned_ledger: Ledger | None = field(default=None, repr=False)
    """The ledger this app opened (and closes on shutdown)."""
    control: ControlView | None = field(default=None, repr=False)
    """Keys, principals and the kill switch (``None`` without a data dir or database)."""
    allowed_tools: frozenset[str] | None = None
    """Tool names the model may be offered and may call (``None``: any)."""
    warnings: list[str] = field(default_factory=list)
    """What the operator should know at start (shown by ``/healthz``)."""
    in_flight: int = 0
    """Completion requests being served, from their arrival to the end of the answer."""

    def ready(self) -> tuple[Scanner, Scanner, Labeler, Evidence, Upstream]:
        """The parts a chat request needs, or 503 naming what is missing."""
        if self.broken is not None:
            raise unavailable(self.broken, "gateway_misconfigured")
        if (
            self.input_scanner is None
            or self.output_scanner is None
            or self.labeler is None
            or self.evidence is None
        ):
            raise unavailable("the policy is not loaded; refused (fail closed)")
        if self.upstream is None:
            raise unavailable("the upstream is not started", "upstream_not_started")
        return self.input_scanner, self.output_scanner, self.labeler, self.evidence, self.upstream


def bearer_of(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return None


def principal_of(request: Request, body: dict[str, object], state: GatewayState) -> str:
    """Who is asking, admitted (kill switch, suspension, verification) or refused.

    With ``auth: keys`` the principal is the key's holder; otherwise the bearer token,
    else the ``user`` field, else ``anonymous``.
    """
    control = state.control
    if state.config.auth == "keys":
        assert control is not None  # the config validator requires a store
        who = control.authenticate(bearer_of(request))
        rules = state.evidence.policy.principals if state.evidence is not None else None
        control.admit(who, require_verified=rules is not None and rules.require_verified)
        return who
    who = _named(request, body)
    if control is not None:
        control.admit(who, require_verified=False)
    return who


def _named(request: Request, body: dict[str, object]) -> str:
    bearer = bearer_of(request)
    if bearer is not None:
        return "key:" + bearer
    user = body.get("user")
    return f"user:{user}" if isinstance(user, str) and user else "anonymous"


def wants_unlabeled(request: Request, who: str, config: GatewayConfig) -> bool:
    """Whether this principal asked for, and may get, output without the explicit label."""
    asked = request.headers.get(UNLABELED_HEADER, "").strip().lower() in ("1", "true", "yes")
    allowed = config.allow_unlabeled
    return asked and (who in allowed or who.partition(":")[2] in allowed)


def new_response_id(legacy: bool = False) -> str:
    """A fresh completion id (ASCII, within the label's allowed characters)."""
    return ("cmpl-" if legacy else "chatcmpl-") + uuid.uuid4().hex
