"""The app factory: ``create_app(config)`` returns a Starlette app with its state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator

from anyio import CapacityLimiter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from hegui import __version__
from hegui.audit import Ledger, resolve_location
from hegui.control import REDIS_URL_ENV, ControlDB, abuse_tracker
from hegui.detect import Scanner
from hegui.gateway._admin import killswitch_endpoint
from hegui.gateway._chat import chat_completions, completions
from hegui.gateway._config import GatewayConfig
from hegui.gateway._control import ControlView
from hegui.gateway._errors import GatewayError
from hegui.gateway._evidence import Evidence, principal_key
from hegui.gateway._labels import Labeler
from hegui.gateway._metrics import Metrics
from hegui.gateway._openapi import openapi_spec
from hegui.gateway._state import GatewayState
from hegui.gateway._upstream import HttpUpstream, LocalUpstream, Upstream
from hegui.policy import Policy, load_policy


def _open_ledger(config: GatewayConfig) -> tuple[Ledger | None, bytes | None]:
    if not config.has_ledger:
        return None, None
    from hegui.audit import open_ledger

    _, directory = resolve_location(config.db_url, config.data_dir)
    return open_ledger(config.db_url, config.data_dir), principal_key(directory)


def _build(state: GatewayState, ledger: Ledger | None) -> None:
    """Load the policy, scanners, ledger and labeler; on failure set ``state.broken``."""
    config = state.config
    try:
        policy = load_policy(config.policy)
    except Exception as exc:  # any load failure: serve 503 with the reason, never pass
        state.broken = f"policy {config.policy!r} could not be loaded: {exc}"
        return
    try:
        state.input_scanner = Scanner.from_policy(policy, "input")
        state.output_scanner = Scanner.from_policy(policy, "output")
    except Exception as exc:
        state.broken = f"a detector of policy {policy.id!r} could not be built: {exc}"
        return
    key = None
    if ledger is None:
        try:
            ledger, key = _open_ledger(config)
            state.owned_ledger = ledger
        except Exception as exc:  # the reason's type only: store URLs may hold passwords
            state.broken = f"the audit ledger could not be opened ({type(exc).__name__})"
            return
    else:  # an injected ledger: hash principals with the data dir's key, else a fresh one
        key = principal_key(config.data_dir) if config.data_dir else secrets.token_bytes(32)
    if policy.labels is None:
        state.broken = f"policy {policy.id!r} has no label spec; the gateway cannot label answers"
        return
    signer = ledger.keyring.signer if ledger is not None else None
    try:
        state.labeler = Labeler(
            policy.labels,
            config.producer,
            signer,
            language=config.label_language,
            position=config.label_position,
        )
    except ValueError as exc:
        state.broken = str(exc)
        return
    state.evidence = Evidence(ledger, policy, key, state.limiter)
    if config.allowed_tools is not None:
        state.allowed_tools = config.allowed_tools
    elif policy.tools is not None:
        state.allowed_tools = frozenset(policy.tools.allowed)
    _build_control(state, policy, ledger)


def _build_control(state: GatewayState, policy: Policy, ledger: Ledger | None) -> None:
    """Open the control view (keys, suspensions, kill switch) beside the ledger."""
    config = state.config
    rules = policy.principals
    if rules is not None and rules.require_verified and config.auth == "none":
        state.warnings.append(
            f"policy {policy.id!r} requires verified principals, but auth is 'none':"
            " callers are not identified (use --auth keys)"
        )
    if not config.has_ledger:
        state.warnings.append("no data dir or database: no keys, kill switch or abuse throttle")
        return
    try:
        db = ControlDB.open(config.db_url, config.data_dir)
    except Exception as exc:  # the URL may hold a password: name the type only
        state.broken = f"the control database could not be opened ({type(exc).__name__})"
        return
    redis_url = config.redis_url or os.environ.get(REDIS_URL_ENV)
    abuse = None if policy.abuse is None else abuse_tracker(policy.abuse, redis_url)
    try:
        state.control = ControlView(
            db,
            policy,
            ledger,
            abuse,
            poll_seconds=config.control_poll_seconds,
            clocks=list(config.incident_clocks) or None,
        )
    except Exception as exc:
        db.close()
        state.broken = f"the control database could not be read ({type(exc).__name__})"


def _make_upstream(config: GatewayConfig) -> Upstream:
    if config.upstream.startswith("local:"):
        return LocalUpstream(config.upstream, config.limits.upstream_timeout, config.watermark_key)
    key = config.upstream_key.get_secret_value() if config.upstream_key else None
    return HttpUpstream(config.upstream, key, config.limits.upstream_timeout)


async def _models(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    try:
        if state.upstream is None:
            raise GatewayError(
                503, "the upstream is not started", "service_unavailable", "upstream_not_started"
            )
        return JSONResponse(await state.upstream.models())
    except GatewayError as exc:
        return exc.response()


async def _healthz(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    if state.broken is not None or state.upstream is None:
        reason = state.broken or "upstream not started"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    body: dict[str, object] = {"status": "ok", "policy": state.config.policy}
    if state.control is not None and state.control.switch.engaged:
        body = {**body, "status": "suspended", "kill_switch": state.control.switch.reason}
    if state.warnings:
        body["warnings"] = state.warnings
    return JSONResponse(body, status_code=503 if body["status"] != "ok" else 200)


async def _metrics(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi_spec(__version__))


_HOT_ROUTES = {"/v1/chat/completions": chat_completions, "/v1/completions": completions}


class GatewayApp(Starlette):
    """The gateway's Starlette app, with a direct path for the two completion routes.

    Every completion request and every chunk of its answer would otherwise pass through
    Starlette's error and exception middleware, its router and its send wrappers; the
    handlers already turn every failure into an OpenAI-style response, so for ``POST`` on
    these routes the app calls them directly. Everything else takes the usual way.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            handler = _HOT_ROUTES.get(scope["path"])
            if handler is not None:
                scope["app"] = self
                state: GatewayState = self.state.gateway
                state.in_flight += 1
                try:
                    response = await handler(Request(scope, receive))
                    await response(scope, receive, send)
                finally:
                    state.in_flight -= 1
                return
        await super().__call__(scope, receive, send)


def create_app(
    config: GatewayConfig,
    *,
    ledger: Ledger | None = None,
) -> Starlette:
    """Build the gateway app; all its state lives on ``app.state.gateway``.

    ``ledger`` overrides the one named by the config (tests inject a failing one).
    A policy, detector or ledger that fails to load does not raise: the app starts and
    answers chat requests with 503 naming the failure.
    """
    state = GatewayState(config, Metrics(), CapacityLimiter(config.limits.scan_threads))
    _build(state, ledger)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.upstream = _make_upstream(config)
        control = state.control
        watcher = None if control is None else asyncio.create_task(control.watch())
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            upstream, state.upstream = state.upstream, None
            await upstream.aclose()
            if control is not None:
                if control.abuse is not None:
                    await control.abuse.aclose()
                control.db.close()
            if state.owned_ledger is not None:
                state.owned_ledger.close()

    app = GatewayApp(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/models", _models, methods=["GET"]),
            Route("/healthz", _healthz, methods=["GET"]),
            Route("/metrics", _metrics, methods=["GET"]),
            Route("/openapi.json", _openapi, methods=["GET"]),
            Route("/admin/killswitch", killswitch_endpoint, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = state
    return app
