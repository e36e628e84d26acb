"""The streaming output guard: only what the ``StreamScanner`` releases is ever sent.

Each upstream delta is fed to the scanner; only ``release.text`` goes out as an SSE
delta. On a block the upstream request is cancelled, the refusal is sent with
``finish_reason: "content_filter"``, then ``[DONE]``. Tool-call fragments are held and
scanned whole at the end of the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hegui.audit import RecordKind
from hegui.detect import Action, Finding
from hegui.gateway._control import LiveStream
from hegui.gateway._errors import GatewayError, error_body
from hegui.gateway._guard import guard_tool_call
from hegui.gateway._state import GatewayState
from hegui.gateway._upstream import Delta, UpstreamStream

log = logging.getLogger("hegui.gateway")
CONTENT_FILTER = "content_filter"
KILLED_MESSAGE = "the service was suspended by its operator (kill switch); answer cut"


def sse(value: object) -> bytes:
    """One server-sent event carrying ``value`` as JSON."""
    return (
        b"data: " + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


@dataclass
class StreamJob:
    """One streamed answer: ids, the label, what was received and sent, findings."""

    state: GatewayState
    rid: str
    who: str
    model: str
    label: dict[str, str]
    unlabeled: bool
    received: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    scan_seconds: float = 0.0
    truncated: bool = False
    killed: bool = False
    blocked: bool = False
    """The output guard replaced the rest of the answer."""
    failed: bool = False
    """The stream ended on an error (upstream, guard or kill switch)."""
    recorded: asyncio.Future[None] | None = None
    """The request's ledger record, still being written when the stream opens."""
    created: int = 0
    legacy: bool = False
    """A ``/v1/completions`` stream: chunks carry ``text``, not a ``delta``."""
    _text_frame: tuple[bytes, bytes] = (b"", b"")

    def _head(self) -> dict[str, Any]:
        if self.created == 0:
            self.created = int(time.time())  # one value for every chunk of the stream
        return {
            "id": self.rid,
            "object": "text_completion" if self.legacy else "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def text(self, content: str) -> bytes:
        """A content-only delta: the hot path, so only the content is encoded each time."""
        self.sent.append(content)
        if not self._text_frame[0]:
            head = json.dumps(self._head(), ensure_ascii=False, separators=(",", ":"))
            opening = b'"text":' if self.legacy else b'"delta":{"content":'
            closing = b',"logprobs":null' if self.legacy else b"}"
            self._text_frame = (
                b"data: " + head[:-1].encode() + b',"choices":[{"index":0,' + opening,
                closing + b',"finish_reason":null}]}\n\n',
            )
        start, end = self._text_frame
        return start + json.dumps(content, ensure_ascii=False).encode() + end

    def chunk(self, content: str | None = None, finish: str | None = None, **extra: Any) -> bytes:
        """An SSE chunk with a content delta and/or a finish reason."""
        delta: dict[str, Any] = {} if content is None else {"content": content}
        if content is not None:
            self.sent.append(content)
        choice: dict[str, Any] = (
            {"index": 0, "text": content or "", "logprobs": None, "finish_reason": finish}
            if self.legacy
            else {"index": 0, "delta": delta, "finish_reason": finish}
        )
        return sse({**self._head(), "choices": [choice], **extra})

    def add_tool_calls(self, delta: Delta) -> None:
        """Merge tool-call fragments by index (held until the stream ends)."""
        for part in delta.tool_calls:
            index = part.get("index", 0) if isinstance(part, dict) else 0
            held = self.tool_calls.setdefault(
                int(index),
                {
                    "index": int(index),
                    "type": "function",
                    "function": {"name": "", "arguments": ""},
                },
            )
            if isinstance(part, dict):
                if part.get("id"):
                    held["id"] = str(part["id"])
                fn = part.get("function") or {}
                for key in ("name", "arguments"):
                    if isinstance(fn, dict) and isinstance(fn.get(key), str):
                        held["function"][key] += fn[key]


_END = object()
_WAKE = object()
RUN_AHEAD = 8
"""Upstream deltas parsed ahead of the relay before the reader yields to it."""


async def _pump(stream: UpstreamStream, queue: asyncio.Queue[Any]) -> None:
    """Read the upstream into ``queue`` (ends with ``_END`` or the exception raised)."""
    first = True
    try:
        async for delta in stream.deltas():
            await queue.put(delta)
            # In a burst of upstream events the relay gets a turn after the first (so
            # the first token does not wait for a queue's worth to be parsed) and then
            # every RUN_AHEAD events (few task switches per chunk).
            if first or queue.qsize() >= RUN_AHEAD:
                first = False
                await asyncio.sleep(0)
        await queue.put(_END)
    except Exception as exc:
        await queue.put(exc)


async def _deltas(job: StreamJob, stream: UpstreamStream) -> AsyncIterator[tuple[Delta, bool]]:
    """The upstream's deltas, read by a task the kill switch can cut at any moment.

    Each comes with whether another is already waiting, so the relay can send what a
    burst releases in one write instead of one write per delta.
    """
    control = job.state.control
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
    live = LiveStream(queue, _WAKE)
    live.task = asyncio.create_task(_pump(stream, queue))
    if control is not None:
        control.live.add(live)
        if control.switch.engaged:
            live.cut()
    try:
        while True:
            item = await queue.get()
            if live.killed:
                job.killed = True
                return
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item, not queue.empty()
    finally:
        if control is not None:
            control.live.discard(live)
        live.task.cancel()


def _raise_if_unrecorded(recorded: asyncio.Future[None]) -> None:
    """Cut the stream (``finish`` evidence) when the finished request record failed."""
    error = None if recorded.cancelled() else recorded.exception()
    if isinstance(error, GatewayError):
        raise error


async def _relay(job: StreamJob, stream: UpstreamStream) -> AsyncIterator[bytes | bool]:
    """Yield released SSE chunks; finally yield ``True`` if blocked, ``False`` if not."""
    scanner = job.state.ready()[1].stream()
    deadline = time.monotonic() + job.state.config.limits.stream_max_seconds
    out = b""  # released chunks not yet sent: flushed when no delta is waiting
    # A request record still being written (``finish`` evidence), checked once it is done.
    unrecorded = job.recorded if job.recorded is not None and not job.recorded.done() else None
    async for delta, more in _deltas(job, stream):
        if unrecorded is not None and unrecorded.done():
            _raise_if_unrecorded(unrecorded)
            unrecorded = None
        if delta.content:
            job.received.append(delta.content)
            t = time.perf_counter()
            release = scanner.feed(delta.content)
            job.scan_seconds += time.perf_counter() - t
            job.findings.extend(release.findings)
            if release.text:
                out += job.text(release.text)
            if release.blocked:
                if out:
                    yield out
                yield True
                return
        job.add_tool_calls(delta)
        if time.monotonic() > deadline:  # stream_max_seconds: end it as a length cut
            job.truncated = True
            break
        if out and not more:
            yield out
            out = b""
    if out:
        yield out
    if job.killed:  # cut by the kill switch: held text is never released
        yield False
        return
    release = scanner.close()
    job.findings.extend(release.findings)
    if release.text:
        yield job.text(release.text)
    if not release.blocked and job.tool_calls:
        scanner_ = job.state.ready()[1]
        for call in job.tool_calls.values():
            fn = call["function"]
            found = guard_tool_call(scanner_, fn["name"], fn["arguments"], job.state.allowed_tools)
            job.findings.extend(found)
            if any(f.action is Action.BLOCK for f in found):
                yield True
                return
    yield release.blocked


async def _guarded(job: StreamJob, stream: UpstreamStream, opening: bytes) -> AsyncIterator[bytes]:
    """The released text, led by ``opening`` in the same write; sets the stream's outcome.

    The opening chunk (the explicit label, or empty) goes out with the first released
    text, the first error, or alone when the stream ends before either.
    """
    lead: bytes | None = opening
    try:
        async for item in _relay(job, stream):
            if isinstance(item, bool):
                job.blocked = item
            elif lead is not None:
                yield lead + item
                lead = None
            else:
                yield item
    except GatewayError as exc:
        job.failed = True
        if exc.type == "upstream_error":
            job.state.metrics.inc("hegui_gateway_upstream_errors_total", kind=exc.code)
        lead = (lead or b"") + sse(error_body(exc.message, exc.type, exc.code))
    except Exception:
        job.failed = True
        log.exception("stream guard failed")
        error = error_body("stream stopped (fail closed)", "service_unavailable", "stream_error")
        lead = (lead or b"") + sse(error)
    finally:
        await stream.aclose()  # cancels the upstream request if it is still running
    if lead is not None:  # the opening and/or the error: still one write
        yield lead


async def stream_answer(job: StreamJob, stream: UpstreamStream) -> AsyncGenerator[bytes, None]:
    """The SSE body sent to the client."""
    labeler = job.state.ready()[2]
    if job.state.config.stream_evidence == "first_byte" and job.recorded is not None:
        try:
            await job.recorded
        except GatewayError as exc:  # not recorded: not one byte of the answer goes out
            await stream.aclose()
            yield sse(error_body(exc.message, exc.type, exc.code))
            yield b"data: [DONE]\n\n"
            return
    opening = job.chunk("" if job.unlabeled else labeler.prefix())
    async for item in _guarded(job, stream, opening):
        yield item
    if job.recorded is not None:
        try:  # "finish": the request record may still be in flight
            await job.recorded
        except GatewayError as exc:
            if not job.failed:  # else the stream was already cut, with this error
                job.failed = True
                yield sse(error_body(exc.message, exc.type, exc.code))
    field_name = labeler.spec.implicit.field_name.lower()
    tail: list[bytes] = []  # the end of the stream: sent in one write, with [DONE]
    if job.killed:
        job.failed = True
        job.state.metrics.inc("hegui_gateway_streams_cut_total")
        tail.append(sse(error_body(KILLED_MESSAGE, "service_unavailable", "kill_switch")))
    elif job.blocked:
        job.state.metrics.inc(
            "hegui_gateway_blocks_total", direction="output", detector=_blocker(job)
        )
        refusal = job.state.config.refusal_text
        tail.append(job.chunk(refusal, CONTENT_FILTER, **{field_name: job.label}))
    elif not job.failed:
        if job.tool_calls:
            tail.append(_tool_chunk(job))
        suffix = "" if job.unlabeled else labeler.suffix()
        finish = "length" if job.truncated else "tool_calls" if job.tool_calls else "stop"
        tail.append(job.chunk(suffix or None, finish, **{field_name: job.label}))
    job.state.metrics.observe_latency(job.scan_seconds)
    # The answer's record is made durable before its end goes out: the client sees the
    # exchange complete only once its evidence is kept.
    error = await _record_answer(job)
    if error is not None:
        tail.append(error)
    tail.append(b"data: [DONE]\n\n")
    yield LastChunk(b"".join(tail))


class LastChunk(bytes):
    """The final bytes of a body: ``SseResponse`` sends them with the end of the body."""


async def _record_answer(job: StreamJob) -> bytes | None:
    """Record what was received and sent (and the block); an SSE error if that fails."""
    evidence = job.state.ready()[3]
    try:
        content: dict[str, Any] = {"received": "".join(job.received), "sent": "".join(job.sent)}
        if job.killed:
            content["cut"] = "kill_switch"
        await evidence.record(RecordKind.RESPONSE, job.rid, job.who, content, job.findings)
        if job.blocked:
            await evidence.record(
                RecordKind.BLOCK, job.rid, job.who, {"direction": "output"}, job.findings
            )
            await output_blocked(job.state, job.findings)
    except GatewayError as exc:
        return sse(error_body(exc.message, exc.type, exc.code))
    return None


class SseResponse(Response):
    """A server-sent event stream, written straight to the ASGI server.

    Two differences from Starlette's ``StreamingResponse``, both for the time to first
    token: the status and headers go out with the first chunk (one wake-up of the client
    instead of two, while that chunk is still being made), and the client's disconnect
    is watched by one task started after the first chunk (no task group per request).
    When the client leaves, the stream is cancelled, so the upstream request is closed.
    """

    media_type = "text/event-stream"

    def __init__(self, body: AsyncGenerator[bytes, None], headers: dict[str, str]) -> None:
        self.status_code = 200
        self.background = None
        self.body_iterator = body
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream; return early (no error) when the client disconnects."""
        task = asyncio.current_task()
        assert task is not None
        left: list[bool] = []  # set by the watcher before it cancels the stream
        watcher: asyncio.Task[None] | None = None
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        try:
            more = True
            async for chunk in self.body_iterator:
                if start:
                    await send(start)
                    start = {}
                more = not isinstance(chunk, LastChunk)  # the last: one write with the end
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    break
                if watcher is None:
                    watcher = asyncio.ensure_future(_watch_disconnect(receive, task, left))
            if start:
                await send(start)
            if more:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not left:
                raise
            task.uncancel()  # our own cancel: the client left, the stream is over
        finally:
            if watcher is not None:
                watcher.cancel()
            await self.body_iterator.aclose()


async def _watch_disconnect(receive: Receive, task: asyncio.Task[Any], left: list[bool]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    left.append(True)
    task.cancel()


def _blocker(job: StreamJob) -> str:
    names = sorted({f.detector for f in job.findings if f.action is Action.BLOCK})
    return names[0] if names else "unknown"


def _tool_chunk(job: StreamJob) -> bytes:
    calls = [job.tool_calls[i] for i in sorted(job.tool_calls)]
    return sse(
        {
            "id": job.rid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": job.model,
            "choices": [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": None}],
        }
    )


async def output_blocked(state: GatewayState, findings: Sequence[Finding]) -> None:
    """Let the auto-incident rule count a blocked answer (logged, never raised)."""
    if state.control is None:
        return
    severities = [f.severity for f in findings if f.action is Action.BLOCK]
    try:
        incident = await state.control.output_blocked(severities)
    except Exception:  # the answer is already withheld; an incident failure is logged
        log.exception("could not open an automatic incident")
        return
    if incident is not None:
        state.metrics.inc("hegui_gateway_incidents_opened_total", source="auto_blocks")
        log.warning("incident %s opened automatically after repeated output blocks", incident)
