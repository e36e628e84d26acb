"""A scripted upstream for gateway tests and helpers to build gateways against it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

Scope = dict[str, Any]


class ScriptedUpstream:
    """An OpenAI-compatible ASGI app scripted to give exact bytes.

    It answers ``/v1/chat/completions`` with ``reply`` (whole) or, when the request asks
    to stream, with one SSE event per item of ``chunks``, each sent as its own ASGI body
    message, in exactly the given chunking. ``raw`` replaces the whole answer with the
    given bytes and ``status``; ``delay`` sleeps before answering. Requests are kept in
    ``requests``; ``cancelled`` is set when the client went away before the end.
    """

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.reply = "你好，有什么可以帮你？"
        self.tool_calls: list[dict[str, Any]] | None = None
        self.raw: bytes | None = None
        self.status = 200
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self.cancelled = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if self.delay:
            await asyncio.sleep(self.delay)
        if scope["path"].endswith("/models"):
            await self._send(
                send, 200, json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
            )
            return
        request = json.loads(body)
        self.requests.append(request)
        legacy = not scope["path"].endswith("/chat/completions")
        if self.raw is not None:
            await self._send(send, self.status, self.raw)
        elif request.get("stream"):
            await self._stream(send, receive, legacy)
        elif legacy:
            choice = {"index": 0, "text": self.reply, "finish_reason": "stop"}
            answer = {"id": "up-1", "object": "text_completion", "choices": [choice]}
            await self._send(send, 200, json.dumps(answer, ensure_ascii=False).encode())
        else:
            message: dict[str, Any] = {"role": "assistant", "content": self.reply}
            if self.tool_calls is not None:
                message["tool_calls"] = self.tool_calls
            answer = {
                "id": "up-1",
                "object": "chat.completion",
                "model": request.get("model", "m"),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
            await self._send(send, 200, json.dumps(answer, ensure_ascii=False).encode())

    @staticmethod
    async def _send(send: Any, status: int, data: bytes) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _watch(self, receive: Any, gone: list[bool]) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.append(True)
        self.cancelled = True

    def _tool_fragments(self) -> list[dict[str, Any]]:
        """Each tool call streamed as OpenAI does: id and name first, then the
        arguments in two pieces."""
        out: list[dict[str, Any]] = []
        for i, call in enumerate(self.tool_calls or []):
            fn = call["function"]
            args = fn.get("arguments", "")
            half = len(args) // 2
            head = {"index": i, "id": call.get("id", f"call_{i}"), "type": "function"}
            out.append({"tool_calls": [{**head, "function": {"name": fn["name"]}}]})
            for piece in (args[:half], args[half:]):
                out.append({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
        return out

    async def _stream(self, send: Any, receive: Any, legacy: bool) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        gone: list[bool] = []  # this request's own flag: the client went away
        watcher = asyncio.ensure_future(self._watch(receive, gone))
        try:
            for piece in self.chunks:
                if gone:
                    return
                part = {"text": piece} if legacy else {"delta": {"content": piece}}
                event = {"id": "up", "choices": [{"index": 0, **part}]}
                data = b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"
                await send({"type": "http.response.body", "body": data, "more_body": True})
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            for fragment in self._tool_fragments():
                event = {"id": "up", "choices": [{"index": 0, "delta": fragment}]}
                data = b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"
                await send({"type": "http.response.body", "body": data, "more_body": True})
            end = {"id": "up", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            tail = b"data: " + json.dumps(end).encode() + b"\n\ndata: [DONE]\n\n"
            await send({"type": "http.response.body", "body": tail})
        finally:
            watcher.cancel()


def chat(content: str = "你好", *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    """A minimal chat request body."""
    return {
        "model": "m",
        "messages": [{"role": "user", "content": content}],
        "stream": stream,
        **extra,
    }


def sse_events(text: str) -> list[Any]:
    """Parse an SSE body into its JSON events (``[DONE]`` kept as a string)."""
    out: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def streamed_text(events: list[Any]) -> str:
    """The content the client assembles from the deltas."""
    return "".join(
        e["choices"][0].get("text") or e["choices"][0].get("delta", {}).get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on loopback in a thread; yield its URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
