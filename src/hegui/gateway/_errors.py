"""OpenAI-style error bodies, and the exception that carries one out of a handler."""

from __future__ import annotations

from starlette.responses import JSONResponse


class GatewayError(Exception):
    """A request the gateway answers with an error (status, type, code, message).

    The message is shown to the client, so it never holds secrets or tracebacks.
    """

    def __init__(self, status: int, message: str, type_: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code

    def response(self) -> JSONResponse:
        """The JSON error response."""
        return error_response(self.status, self.message, self.type, self.code)


def error_body(message: str, type_: str, code: str) -> dict[str, object]:
    """The body OpenAI clients parse: ``{"error": {"message", "type", "code"}}``."""
    return {"error": {"message": message, "type": type_, "code": code, "param": None}}


def error_response(status: int, message: str, type_: str, code: str) -> JSONResponse:
    """An OpenAI-style error as a response."""
    return JSONResponse(error_body(message, type_, code), status_code=status)


def bad_request(message: str, code: str = "invalid_request") -> GatewayError:
    """400 invalid_request_error."""
    return GatewayError(400, message, "invalid_request_error", code)


def unavailable(message: str, code: str = "gateway_unavailable") -> GatewayError:
    """503: the gateway cannot check this request, so it refuses it (fail closed)."""
    return GatewayError(503, message, "service_unavailable", code)


def upstream_failed(status: int, message: str, code: str) -> GatewayError:
    """502 or 504 from the upstream model."""
    return GatewayError(status, message, "upstream_error", code)
