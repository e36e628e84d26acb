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


def openapi_spec(version: str) -> dict[str, Any]:
    """The spec served at ``/openapi.json``."""
    message = {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"type": "string"},
            "content": {"type": ["string", "array", "null"]},
            "name": {"type": "string"},
            "tool_calls": {"type": "array"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "hegui gateway", "version": version},
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "summary": "Guarded, labeled chat completion (streamed with stream: true)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["messages"],
                                    "properties": {
                                        "model": {"type": "string"},
                                        "messages": {"type": "array", "items": message},
                                        "stream": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Completion (JSON) or chunks (text/event-stream)",
                            "headers": {"X-AIGC": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400, 413, 502, 503, 504),
                    },
                }
            },
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
                        "200": {"description": "ok"},
                        "503": {"description": "not ready"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text format 0.0.4"}},
                }
            },
        },
        "components": {"schemas": {"Error": _ERROR}},
    }
