"""Admin endpoints, behind the admin key: ``GET``/``POST /admin/killswitch``.

``POST {"engaged": true, "reason": "..."}`` engages the kill switch (an incident opens
and its clocks start); ``{"engaged": false}`` releases it. The change reaches every
replica through the control database; this replica cuts its streams at once.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hegui.gateway._control import admin_allowed, forbidden
from hegui.gateway._errors import GatewayError, bad_request, unavailable
from hegui.gateway._state import GatewayState
from hegui.incidents import IncidentError, KillSwitch, SwitchState


def _switch_json(switch: SwitchState) -> dict[str, Any]:
    return {
        "engaged": switch.engaged,
        "reason": switch.reason,
        "actor": switch.actor,
        "changed": None if switch.changed is None else switch.changed.isoformat(),
        "incident": switch.incident_id,
    }


async def _command(request: Request) -> tuple[bool, str]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("engaged"), bool):
        raise bad_request("the body needs a boolean 'engaged'", "invalid_killswitch")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 2000:
        raise bad_request("'reason' must be a string of at most 2000 characters")
    return body["engaged"], reason


async def killswitch_endpoint(request: Request) -> Response:
    """Read or set the kill switch (admin key required)."""
    state: GatewayState = request.app.state.gateway
    try:
        key = state.config.admin_key
        secret = None if key is None else key.get_secret_value()
        if not admin_allowed(request.headers.get("authorization", ""), secret):
            raise forbidden("the admin key is missing or wrong", "admin_required")
        control = state.control
        if control is None:
            raise unavailable("no control database is configured", "no_control_store")
        if request.method == "GET":
            return JSONResponse(_switch_json(control.switch))
        engaged, reason = await _command(request)
        switch = KillSwitch(control.incidents)
        action = (
            functools.partial(switch.engage, reason, actor="admin-api")
            if engaged
            else functools.partial(switch.release, reason, actor="admin-api")
        )
        try:
            await anyio.to_thread.run_sync(action)
        except IncidentError as exc:
            raise GatewayError(409, str(exc), "invalid_request_error", "conflict") from None
        await control.refresh()
        return JSONResponse(_switch_json(control.switch))
    except GatewayError as exc:
        return exc.response()
