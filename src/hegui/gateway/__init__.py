"""hegui.gateway: an OpenAI-compatible proxy that screens, filters, labels and records.

``create_app(GatewayConfig(upstream=..., policy="cn"))`` returns a Starlette app: every
input message is scanned, answers (streamed or not) pass the output guard before any
byte leaves, answers carry GB 45438 labels, and with a ledger every exchange is
evidence. See ``docs/gateway.md``.
"""

from hegui.gateway._app import create_app
from hegui.gateway._config import GatewayConfig, GatewayLimits
from hegui.gateway._errors import GatewayError
from hegui.gateway._labels import Labeler, LabelError, verify_label
from hegui.gateway._metrics import Metrics

__all__ = [
    "GatewayConfig",
    "GatewayError",
    "GatewayLimits",
    "LabelError",
    "Labeler",
    "Metrics",
    "create_app",
    "verify_label",
]
