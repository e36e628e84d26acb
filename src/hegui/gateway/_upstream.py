"""The model behind the gateway: an OpenAI-compatible server, or a local model.

The server is reached over pooled keep-alive connections (``_http1``). Failures become
``GatewayError`` (502, 504 or the upstream's own 4xx), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hegui.gateway._errors import GatewayError, upstream_failed
from hegui.gateway._http1 import (
    Http1Client,
    Http1Response,
    UpstreamHttpError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

if TYPE_CHECKING:
    from hegui.assess._local import LocalTarget
    from hegui.assess._targets import Reply

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

    async def complete(self, body: JSON, *, legacy: bool = False) -> JSON:
        """A whole (non-streamed) chat completion (``legacy``: a text completion)."""
        ...

    async def open_stream(
        self,
        body: JSON,
        *,
        legacy: bool = False,
        while_waiting: Callable[[], None] | None = None,
    ) -> UpstreamStream:
        """Start a streamed completion (status checked before returning).

        ``while_waiting`` is called once while the upstream starts its answer.
        """
        ...

    async def models(self) -> JSON:
        """The ``/v1/models`` list."""
        ...

    async def aclose(self) -> None:
        """Release connections or the model."""
        ...


def _upstream_error(status: int, body: bytes) -> GatewayError:
    """The upstream's own error (unknown model, bad parameter) relayed, or a 502."""
    try:
        err = json.loads(body)["error"]
        message, type_, code = (
            str(err["message"])[:500],
            str(err.get("type") or ""),
            err.get("code"),
        )
    except (ValueError, KeyError, TypeError):
        return upstream_failed(502, f"upstream answered HTTP {status}", "bad_gateway")
    status = status if 400 <= status < 500 else 502
    return GatewayError(status, message, type_ or "upstream_error", str(code or "upstream_error"))


def parse_delta(data: str, *, legacy: bool = False) -> Delta | None:
    """Parse the JSON of one ``data:`` line; ``None`` for a chunk without choices.

    ``legacy``: a ``/v1/completions`` chunk, whose text is ``choices[0].text``.
    """
    try:
        chunk = json.loads(data)
        choices = chunk["choices"]
        if not choices:
            return None
        choice = choices[0]
        delta = {"content": choice.get("text")} if legacy else (choice.get("delta") or {})
        content = delta.get("content") or ""
        tool_calls = delta.get("tool_calls") or []
        if not isinstance(content, str) or not isinstance(tool_calls, list):
            raise TypeError("content or tool_calls of the wrong type")
        return Delta(content, tool_calls, choice.get("finish_reason"))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise upstream_failed(
            502, "upstream sent a malformed stream chunk", "bad_gateway"
        ) from None


READ_BYTES = 4096
"""The most bytes of a stream read at once (a few dozen SSE events)."""
MAX_ANSWER_BYTES = 64 << 20
"""A whole (non-streamed) upstream answer larger than this is refused with 502."""


def _failed(exc: UpstreamHttpError, *, connecting: bool = False) -> GatewayError:
    """The gateway's error for a failure of the upstream connection."""
    if isinstance(exc, UpstreamTimeout):
        return upstream_failed(504, "upstream timed out", "upstream_timeout")
    if isinstance(exc, UpstreamProtocolError):
        return upstream_failed(502, "upstream sent a malformed answer", "bad_gateway")
    reason = "upstream is unreachable" if connecting else "upstream connection failed"
    return upstream_failed(502, reason, "bad_gateway")


class _HttpStream:
    """An SSE answer read from the upstream, split into lines by hand (no line limit).

    An SSE event carrying a long tool call can be longer than any fixed line buffer, so
    the bytes are split here, as they come.
    """

    def __init__(self, resp: Http1Response, legacy: bool) -> None:
        self._resp = resp
        self._legacy = legacy
        self._done = False

    async def _lines(self) -> AsyncIterator[bytes]:
        pending = b""
        while True:
            # At most READ_BYTES: in a burst, the first event must not wait for the
            # whole burst to be joined.
            chunk = await self._resp.read(READ_BYTES)  # the read timeout applies
            if not chunk:
                if pending:
                    yield pending
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line

    async def deltas(self) -> AsyncIterator[Delta]:
        try:
            async for raw in self._lines():
                if not raw.startswith(b"data:"):
                    continue  # comments, event names, blank separators
                data = raw[5:].strip()
                if data == b"[DONE]":
                    self._done = True
                    return
                delta = parse_delta(data.decode("utf-8", "replace"), legacy=self._legacy)
                if delta is not None:
                    yield delta
        except UpstreamHttpError as exc:
            raise _failed(exc) from None

    async def aclose(self) -> None:
        # A finished answer gives its connection back to the pool; one still running is
        # closed, so the upstream sees the client leave and stops generating.
        if self._done:
            self._resp.release_when_done()
        else:
            self._resp.release()


def _path(legacy: bool) -> str:
    return "completions" if legacy else "chat/completions"


def _encode(body: JSON) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class HttpUpstream:
    """Any OpenAI-compatible server, over pooled keep-alive connections (``Http1Client``).

    Not aiohttp (nor httpx, whose pool managed 78 requests/s where aiohttp managed
    3,400 at 64 concurrent requests): the gateway makes one kind of request, and a
    client made for it costs less than half the CPU per request (see ``_http1``).
    """

    def __init__(self, base_url: str, key: str | None, timeout: float) -> None:
        root = base_url.rstrip("/")
        if not root.endswith("/v1"):
            root += "/v1"
        self.root = root + "/"
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = Http1Client(
            root, headers=headers, connect_timeout=timeout, read_timeout=timeout
        )

    async def _open(
        self, method: str, path: str, body: JSON | None, while_waiting: Callable[[], None] | None
    ) -> Http1Response:
        try:
            resp = await self.client.send(method, path, None if body is None else _encode(body))
        except UpstreamHttpError as exc:
            raise _failed(exc, connecting=True) from None
        try:
            if while_waiting is not None:
                while_waiting()
        except BaseException:
            resp.release()
            raise
        try:
            await resp.head()
        except UpstreamHttpError as exc:
            raise _failed(exc, connecting=True) from None
        return resp

    async def _read(self, resp: Http1Response) -> bytes:
        try:
            return await resp.read_all(MAX_ANSWER_BYTES)
        except UpstreamHttpError as exc:
            raise _failed(exc) from None
        finally:
            resp.release()

    async def _json(self, method: str, path: str, body: JSON | None = None) -> JSON:
        resp = await self._open(method, path, body, None)
        raw = await self._read(resp)
        if resp.status != 200:
            raise _upstream_error(resp.status, raw)
        try:
            data = json.loads(raw)
        except ValueError:
            raise upstream_failed(502, "upstream sent invalid JSON", "bad_gateway") from None
        if not isinstance(data, dict):
            raise upstream_failed(502, "upstream sent a non-object JSON", "bad_gateway")
        return data

    async def complete(self, body: JSON, *, legacy: bool = False) -> JSON:
        """POST ``/chat/completions`` (or ``/completions``) and return the JSON answer."""
        return await self._json("POST", _path(legacy), body)

    async def open_stream(
        self,
        body: JSON,
        *,
        legacy: bool = False,
        while_waiting: Callable[[], None] | None = None,
    ) -> UpstreamStream:
        """POST with ``stream: true``; the status is checked before the stream is read.

        ``while_waiting`` runs once the request is on its way, before the answer's head
        is awaited: work the caller needs anyway costs no latency there.
        """
        resp = await self._open("POST", _path(legacy), body, while_waiting)
        if resp.status != 200:
            raise _upstream_error(resp.status, await self._read(resp))
        return _HttpStream(resp, legacy)

    async def models(self) -> JSON:
        """GET ``/models``."""
        return await self._json("GET", "models")

    async def aclose(self) -> None:
        """Close the connections."""
        await self.client.aclose()


def _local_request(body: JSON) -> tuple[list[dict[str, str]], int | None]:
    """The chat messages (a text completion's prompt as one user turn) and token limit."""
    if "prompt" in body:  # a text completion: the chat model answers the prompt
        prompt = body["prompt"]
        text = prompt if isinstance(prompt, str) else "\n".join(map(str, prompt))
        messages = [{"role": "user", "content": text}]
    else:
        messages = [
            {"role": str(m.get("role", "user")), "content": str(m.get("content") or "")}
            for m in body.get("messages", [])
        ]
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    return messages, asked if isinstance(asked, int) and asked > 0 else None


class _LocalStream:
    """The local model's answer, piece by piece as its worker thread generates it.

    ``aclose`` (the client left, the output guard blocked, the kill switch) stops the
    generation at the next token, so a cut answer costs no more model time.
    """

    def __init__(self, target: LocalTarget, messages: list[dict[str, str]], limit: int | None):
        self._target = target
        self._messages = messages
        self._limit = limit
        self._stop = threading.Event()
        self._worker: asyncio.Future[Reply] | None = None

    async def deltas(self) -> AsyncIterator[Delta]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        def run() -> Reply:
            try:
                return self._target.stream(
                    self._messages, on_text, self._stop, max_tokens=self._limit
                )
            finally:
                loop.call_soon_threadsafe(pieces.put_nowait, None)

        self._worker = asyncio.ensure_future(asyncio.to_thread(run))
        while (piece := await pieces.get()) is not None:
            yield Delta(piece)
        reply = await self._worker
        if reply.error is not None:
            raise upstream_failed(502, "the local model failed to answer", "bad_gateway")
        yield Delta(finish_reason="stop")

    async def aclose(self) -> None:
        self._stop.set()
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._worker)  # ends at the next token


class LocalUpstream:
    """``local:smollm2``: the embedded model, loaded on first use, one answer at a time."""

    def __init__(self, spec: str, timeout: float, watermark: Path | None = None) -> None:
        from hegui.assess._local import LocalTarget
        from hegui.assess._targets import Limits

        key = None
        if watermark is not None:
            from hegui.trace import WatermarkKey

            key = WatermarkKey.load(watermark)
        self.name = spec
        self.target = LocalTarget(spec, Limits(timeout_s=timeout), watermark=key)

    async def _text(self, body: JSON) -> str:
        messages, limit = _local_request(body)
        reply = await self.target.generate(messages, max_tokens=limit)
        if reply.error is not None:
            raise upstream_failed(502, "the local model failed to answer", "bad_gateway")
        return reply.text

    async def complete(self, body: JSON, *, legacy: bool = False) -> JSON:
        """Generate and wrap the text as a chat (or text) completion."""
        text = await self._text(body)
        if legacy:
            return {
                "id": "local",
                "object": "text_completion",
                "created": int(time.time()),
                "model": self.name,
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            }
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

    async def open_stream(
        self,
        body: JSON,
        *,
        legacy: bool = False,
        while_waiting: Callable[[], None] | None = None,
    ) -> UpstreamStream:
        """Stream the answer as the model generates it, token by token."""
        messages, limit = _local_request(body)
        if while_waiting is not None:
            while_waiting()
        return _LocalStream(self.target, messages, limit)

    async def models(self) -> JSON:
        """The one local model."""
        return {
            "object": "list",
            "data": [{"id": self.name, "object": "model", "owned_by": "local"}],
        }

    async def aclose(self) -> None:
        """Drop the model."""
        await self.target.aclose()
