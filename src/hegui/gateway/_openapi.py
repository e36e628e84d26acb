"""The OpenAPI 3.1 description of the gateway, written by hand."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "OpenAI-style error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


_CALL = {
    "type": "object",
    "required": ["function"],
    "properties": {
        "function": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}},
        }
    },
}
_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string"},
        "content": {
            "description": "Text, or text parts (other parts cannot be checked: 400)",
            "anyOf": [{"type": "string"}, {"type": "null"}, {"type": "array", "items": _TEXT_PART}],
        },
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": _CALL},
    },
}
_ANSWER = {
    "description": "Completion (JSON) or chunks (text/event-stream)",
    "headers": {"X-AIGC": {"schema": {"type": "string"}}},
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/event-stream": {
            "schema": {
                "description": "One server-sent event: a JSON chunk, an error, or [DONE]",
                "type": "object",
                "required": ["data"],
                "properties": {"data": {"type": "string"}},
            }
        },
    },
}
_ANSWER_ERRORS = (400, 401, 403, 413, 502, 503, 504)


def _post(summary: str, required: str, properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": [required], "properties": properties}
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            },
            "responses": {"200": _ANSWER, **_errors(*_ANSWER_ERRORS)},
        }
    }


def _killswitch() -> dict[str, Any]:
    state = {"description": "The switch", "content": {"application/json": {}}}
    body = {
        "type": "object",
        "required": ["engaged"],
        "properties": {"engaged": {"type": "boolean"}, "reason": {"type": "string"}},
    }
    return {
        "get": {
            "summary": "Read the kill switch (admin key)",
            "responses": {"200": state, **_errors(403, 503)},
        },
        "post": {
            "summary": "Engage or release the kill switch (admin key)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": state, **_errors(400, 403, 409, 503)},
        },
    }


def openapi_spec(version: str) -> dict[str, Any]:
    """The spec served at ``/openapi.json``."""
    text = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hegui gateway", "version": version},
        "paths": {
            "/v1/chat/completions": _post(
                "Guarded, labeled chat completion (streamed with stream: true)",
                "messages",
                {
                    "model": {"type": "string"},
                    "messages": {"type": "array", "items": _MESSAGE, "minItems": 1},
                    "stream": {"type": "boolean"},
                },
            ),
            "/v1/completions": _post(
                "Guarded, labeled text completion (streamed with stream: true)",
                "prompt",
                {
                    "model": {"type": "string"},
                    "prompt": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string"}, "minItems": 1},
                        ]
                    },
                    "stream": {"type": "boolean"},
                },
            ),
            "/v1/models": {
                "get": {
                    "summary": "Models of the upstream",
                    "responses": {"200": {"description": "Model list"}, **_errors(502, 504)},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and readiness",
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": text}},
                        "503": {"description": "not ready or suspended"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text format 0.0.4"}},
                }
            },
            "/admin/killswitch": _killswitch(),
        },
        "components": {"schemas": {"Error": _ERROR}},
    }
