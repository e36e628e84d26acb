"""The model behind the gateway: an OpenAI-compatible server, or a local model.

The server is reached over one long-lived httpx client. Failures become
``GatewayError`` (502, 504 or the upstream's own 4xx), never a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import httpx

from hegui.gateway._errors import GatewayError, upstream_failed

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delta:
    """One parsed streaming chunk: new content, tool-call fragments, finish reason."""

    content: str = ""
    tool_calls: list[JSON] = field(default_factory=list)
    finish_reason: str | None = None


class UpstreamStream(Protocol):
    """An open streamed answer; ``aclose`` cancels the upstream request."""

    def deltas(self) -> AsyncIterator[Delta]:
        """The chunks, parsed, until the upstream sends ``[DONE]`` or closes."""
        ...

    async def aclose(self) -> None:
        """Stop reading and cancel the request."""
        ...


class Upstream(Protocol):
    """What the gateway needs from a model."""

    async def complete(self, body: JSON) -> JSON:
        """A whole (non-streamed) chat completion."""
        ...

    async def open_stream(self, body: JSON) -> UpstreamStream:
        """Start a streamed chat completion (status checked before returning)."""
        ...

    async def models(self) -> JSON:
        """The ``/v1/models`` list."""
        ...

    async def aclose(self) -> None:
        """Release connections or the model."""
        ...


def _upstream_error(resp: httpx.Response, body: bytes) -> GatewayError:
    """The upstream's own error (unknown model, bad parameter) relayed, or a 502."""
    try:
        err = json.loads(body)["error"]
        message, type_, code = (
            str(err["message"])[:500],
            str(err.get("type") or ""),
            err.get("code"),
        )
    except (ValueError, KeyError, TypeError):
        return upstream_failed(502, f"upstream answered HTTP {resp.status_code}", "bad_gateway")
    status = resp.status_code if 400 <= resp.status_code < 500 else 502
    return GatewayError(status, message, type_ or "upstream_error", str(code or "upstream_error"))


def parse_delta(data: str) -> Delta | None:
    """Parse the JSON of one ``data:`` line; ``None`` for a chunk without choices."""
    try:
        chunk = json.loads(data)
        choices = chunk["choices"]
        if not choices:
            return None
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content") or ""
        tool_calls = delta.get("tool_calls") or []
        if not isinstance(content, str) or not isinstance(tool_calls, list):
            raise TypeError("content or tool_calls of the wrong type")
        return Delta(content, tool_calls, choice.get("finish_reason"))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise upstream_failed(
            502, "upstream sent a malformed stream chunk", "bad_gateway"
        ) from None


class _HttpStream:
    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp

    async def deltas(self) -> AsyncIterator[Delta]:
        try:
            async for line in self._resp.aiter_lines():
                if not line.startswith("data:"):
                    continue  # comments, event names, blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                delta = parse_delta(data)
                if delta is not None:
                    yield delta
        except httpx.TimeoutException:
            raise upstream_failed(504, "upstream timed out", "upstream_timeout") from None
        except httpx.HTTPError:
            raise upstream_failed(502, "upstream connection failed", "bad_gateway") from None

    async def aclose(self) -> None:
        await self._resp.aclose()


class HttpUpstream:
    """Any OpenAI-compatible server, over one long-lived ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    async def _send(
        self, method: str, path: str, body: JSON | None, stream: bool
    ) -> httpx.Response:
        request = self.client.build_request(method, path, json=body)
        try:  # a whole answer, or a stream's headers, within the timeout
            with anyio.fail_after(self.timeout):
                return await self._receive(request, stream)
        except TimeoutError:
            raise upstream_failed(504, "upstream timed out", "upstream_timeout") from None

    async def _receive(self, request: httpx.Request, stream: bool) -> httpx.Response:
        try:
            resp = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise upstream_failed(504, "upstream timed out", "upstream_timeout") from None
        except httpx.HTTPError:
            raise upstream_failed(502, "upstream is unreachable", "bad_gateway") from None
        if resp.status_code == 200 and stream:
            return resp
        try:
            await resp.aread()
        except httpx.TimeoutException:
            raise upstream_failed(504, "upstream timed out", "upstream_timeout") from None
        except httpx.HTTPError:
            raise upstream_failed(502, "upstream connection failed", "bad_gateway") from None
        finally:
            await resp.aclose()
        if resp.status_code != 200:
            raise _upstream_error(resp, resp.content)
        return resp

    async def _json(self, method: str, path: str, body: JSON | None = None) -> JSON:
        resp = await self._send(method, path, body, stream=False)
        try:
            data = resp.json()
        except ValueError:
            raise upstream_failed(502, "upstream sent invalid JSON", "bad_gateway") from None
        if not isinstance(data, dict):
            raise upstream_failed(502, "upstream sent a non-object JSON", "bad_gateway")
        return data

    async def complete(self, body: JSON) -> JSON:
        """POST ``/chat/completions`` and return the JSON answer."""
        return await self._json("POST", "chat/completions", body)

    async def open_stream(self, body: JSON) -> UpstreamStream:
        """POST with ``stream: true``; the response is read line by line."""
        return _HttpStream(await self._send("POST", "chat/completions", body, stream=True))

    async def models(self) -> JSON:
        """GET ``/models``."""
        return await self._json("GET", "models")

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.aclose()


def http_client(base_url: str, key: str | None, timeout: float) -> httpx.AsyncClient:
    """The one client of an app: base URL ending in ``/v1/``, bearer key, timeouts."""
    root = base_url.rstrip("/")
    if not root.endswith("/v1"):
        root += "/v1"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        base_url=root + "/",
        headers=headers,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
    )


class _TextStream:
    def __init__(self, text: str, piece: int = 16) -> None:
        self._text, self._piece = text, piece

    async def deltas(self) -> AsyncIterator[Delta]:
        for i in range(0, len(self._text), self._piece):
            yield Delta(self._text[i : i + self._piece])
        yield Delta(finish_reason="stop")

    async def aclose(self) -> None:
        return None


class LocalUpstream:
    """``local:smollm2``: the embedded model, loaded on first use, one answer at a time."""

    def __init__(self, spec: str, timeout: float) -> None:
        from hegui.assess._local import LocalTarget
        from hegui.assess._targets import Limits

        self.name = spec
        self.target = LocalTarget(spec, Limits(timeout_s=timeout))

    async def _text(self, body: JSON) -> str:
        messages = [
            {"role": str(m.get("role", "user")), "content": str(m.get("content") or "")}
            for m in body.get("messages", [])
        ]
        reply = await self.target.generate(messages)
        if reply.error is not None:
            raise upstream_failed(502, "the local model failed to answer", "bad_gateway")
        return reply.text

    async def complete(self, body: JSON) -> JSON:
        """Generate and wrap the text as a chat completion."""
        text = await self._text(body)
        return {
            "id": "local",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }

    async def open_stream(self, body: JSON) -> UpstreamStream:
        """Generate the whole answer, then stream it in small pieces."""
        return _TextStream(await self._text(body))

    async def models(self) -> JSON:
        """The one local model."""
        return {
            "object": "list",
            "data": [{"id": self.name, "object": "model", "owned_by": "local"}],
        }

    async def aclose(self) -> None:
        """Drop the model."""
        await self.target.aclose()
