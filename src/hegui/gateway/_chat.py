"""``POST /v1/chat/completions``: input guard, upstream, output guard, labels, evidence."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hegui.audit import RecordKind
from hegui.detect import Action, Finding
from hegui.gateway._control import SUSPENDED
from hegui.gateway._errors import GatewayError, unavailable
from hegui.gateway._evidence import Recording
from hegui.gateway._guard import (
    check_offered_tools,
    guard_input,
    guard_output,
    guard_tool_call,
    parse_body,
)
from hegui.gateway._state import GatewayState, new_response_id, principal_of, wants_unlabeled
from hegui.gateway._stream import SseResponse, StreamJob, output_blocked, sse, stream_answer

log = logging.getLogger("hegui.gateway")
JSON = dict[str, Any]
CONTENT_FILTER = "content_filter"
INLINE_SCAN_BYTES = 4096
"""Request bodies up to this size are scanned on the event loop, larger ones in a thread."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise GatewayError(413, "request body too large", "invalid_request_error", "too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, "request body too large", "invalid_request_error", "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def count_blocks(state: GatewayState, direction: str, findings: Sequence[Finding]) -> None:
    """Count one block per detector that blocked."""
    for name in sorted({f.detector for f in findings if f.action is Action.BLOCK}):
        state.metrics.inc("hegui_gateway_blocks_total", direction=direction, detector=name)


def completion(rid: str, model: str, text: str, finish: str, *, legacy: bool = False) -> JSON:
    """A one-choice chat (``legacy``: text) completion, used for refusals."""
    choice: JSON = (
        {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
        if legacy
        else {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish,
        }
    )
    kind = "text_completion" if legacy else "chat.completion"
    return {
        "id": rid,
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


def refusal(state: GatewayState, rid: str, body: JSON, *, legacy: bool = False) -> Response:
    """The answer to a blocked request, per ``refusal_mode``."""
    config = state.config
    if config.refusal_mode == "error":
        return GatewayError(400, config.refusal_text, CONTENT_FILTER, "input_blocked").response()
    model = str(body.get("model") or "")
    answer = completion(rid, model, config.refusal_text, CONTENT_FILTER, legacy=legacy)
    if body.get("stream"):
        if not legacy:  # a stream chunk carries a delta, not a message
            message = answer["choices"][0].pop("message")
            answer["choices"][0]["delta"] = message
            answer["object"] = "chat.completion.chunk"
        return Response(sse(answer) + b"data: [DONE]\n\n", media_type="text/event-stream")
    return JSONResponse(answer)


async def _answer(request: Request, *, legacy: bool) -> Response:
    """Run one guarded request; every failure is an OpenAI-style error, never a trace."""
    state: GatewayState = request.app.state.gateway
    status = 500
    try:
        response = await _chat(request, state, legacy)
        status = response.status_code
        return response
    except GatewayError as exc:
        status = exc.status
        if exc.type == "upstream_error":
            state.metrics.inc("hegui_gateway_upstream_errors_total", kind=exc.code)
        return exc.response()
    except Exception:  # unexpected: refuse, keep the reason in the server log only
        log.exception("chat request failed")
        status = 503
        return unavailable("internal gateway error; request refused (fail closed)").response()
    finally:
        route = "completions" if legacy else "chat"
        state.metrics.inc("hegui_gateway_requests_total", route=route, status=str(status))


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    return await _answer(request, legacy=False)


async def completions(request: Request) -> Response:
    """``POST /v1/completions``: the legacy text endpoint, guarded the same way."""
    return await _answer(request, legacy=True)


async def _scan_input(state: GatewayState, body: JSON, legacy: bool, size: int) -> Any:
    scanner = state.ready()[0]
    try:
        if size <= INLINE_SCAN_BYTES:  # a few microseconds: a thread hop would cost more
            return guard_input(scanner, body, legacy)
        return await anyio.to_thread.run_sync(
            guard_input, scanner, body, legacy, limiter=state.limiter
        )
    except GatewayError:
        raise
    except Exception:
        log.exception("input detector failed")
        raise unavailable(
            "a detector failed; request refused (fail closed)", "detector_error"
        ) from None


async def _chat(request: Request, state: GatewayState, legacy: bool) -> Response:
    started = time.perf_counter()
    _, _, labeler, evidence, upstream = state.ready()
    raw = await read_body(request, state.config.limits.max_body_bytes)
    body = parse_body(raw, state.config.limits, legacy=legacy)
    check_offered_tools(body, state.allowed_tools)
    rid = new_response_id(legacy)
    who = principal_of(request, body, state)
    verdict = await _scan_input(state, body, legacy, len(raw))
    streaming = bool(body.get("stream"))
    if streaming and not verdict.blocked:
        # The request record's commit runs while the upstream starts. Under load (or with
        # ``finish`` evidence, where the answer flows during the commit) it is queued for
        # the ledger's group commit now; with ``first_byte`` evidence a lone request
        # commits it on this thread once the upstream request is sent (``Recording.start``).
        # stream_answer sends no byte of the answer before the record is durable when the
        # config says so, and only an error if it fails.
        recording = evidence.prepare(
            RecordKind.REQUEST, rid, who, {"texts": verdict.texts}, verdict.findings
        )
        if state.in_flight > 1 or state.config.stream_evidence != "first_byte":
            recording.start()
        try:
            return await _open_stream(
                request, state, body, rid=rid, who=who, legacy=legacy, recording=recording
            )
        except BaseException:
            recording.start()
            await recording.done  # a ledger failure (503) wins over the upstream's own error
            raise
    await evidence.record(RecordKind.REQUEST, rid, who, {"texts": verdict.texts}, verdict.findings)
    await _throttle(state, rid, who, verdict.blocked)
    if verdict.blocked:
        count_blocks(state, "input", verdict.findings)
        await evidence.record(RecordKind.BLOCK, rid, who, {"direction": "input"}, verdict.findings)
        return refusal(state, rid, body, legacy=legacy)
    unlabeled = wants_unlabeled(request, who, state.config)
    if unlabeled:
        await evidence.record(RecordKind.LABEL, rid, who, {"unlabeled_output": True})
    label = labeler.implicit(rid)
    headers = {"X-AIGC": labeler.header(label)}
    forward = {**body, "stream": False}
    up_start = time.perf_counter()
    data = await upstream.complete(forward, legacy=legacy)
    up_time = time.perf_counter() - up_start
    if state.control is not None and state.control.switch.engaged:
        raise unavailable(SUSPENDED, "kill_switch")
    if legacy:
        _as_messages(data)
    await _guard_answer(state, data, rid, who, unlabeled=unlabeled)
    if legacy:
        _as_texts(data)
    data["id"] = rid
    data[labeler.spec.implicit.field_name.lower()] = label
    state.metrics.observe_latency(time.perf_counter() - started - up_time)
    return JSONResponse(data, headers=headers)


async def _open_stream(
    request: Request,
    state: GatewayState,
    body: JSON,
    *,
    rid: str,
    who: str,
    legacy: bool,
    recording: Recording,
) -> Response:
    """Start the upstream stream and the guarded response (the request is not blocked)."""
    _, _, labeler, evidence, upstream = state.ready()
    await _throttle(state, rid, who, False)
    unlabeled = wants_unlabeled(request, who, state.config)
    if unlabeled:
        recording.start()  # the request's record first
        await evidence.record(RecordKind.LABEL, rid, who, {"unlabeled_output": True})
    forward = {**body, "stream": True}
    forward.pop("stream_options", None)
    label: dict[str, str] = {}

    def while_waiting() -> None:  # the upstream is starting: work done here costs no latency
        recording.start(here=True)
        label.update(labeler.implicit(rid))

    stream = await upstream.open_stream(forward, legacy=legacy, while_waiting=while_waiting)
    job = StreamJob(state, rid, who, str(body.get("model") or ""), label, unlabeled)
    job.legacy = legacy
    job.recorded = recording.done
    return SseResponse(stream_answer(job, stream), headers={"X-AIGC": labeler.header(label)})


def _as_messages(data: JSON) -> None:
    """A text completion's choices in chat form, so one output guard checks both."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise GatewayError(
            502, "upstream sent a malformed completion", "upstream_error", "bad_gateway"
        )
    for choice in choices:
        choice["message"] = {"role": "assistant", "content": choice.pop("text", "")}


def _as_texts(data: JSON) -> None:
    for choice in data["choices"]:
        choice["text"] = choice.pop("message").get("content") or ""


def _choices(data: JSON) -> list[JSON]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not all(
        isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices
    ):
        raise GatewayError(
            502, "upstream sent a malformed completion", "upstream_error", "bad_gateway"
        )
    return choices


def _answer_texts(message: JSON) -> tuple[str, list[tuple[str, str]]]:
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise GatewayError(502, "upstream sent non-text content", "upstream_error", "bad_gateway")
    calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise GatewayError(
                502, "upstream sent a malformed tool call", "upstream_error", "bad_gateway"
            )
        calls.append((str(fn.get("name") or ""), str(fn.get("arguments") or "")))
    return content, calls


def _scan_answer(state: GatewayState, data: JSON) -> list[tuple[str, str, list[Finding], bool]]:
    scanner = state.ready()[1]
    out = []
    for choice in _choices(data):
        content, calls = _answer_texts(choice["message"])
        shown, found, blocked = guard_output(scanner, content)
        for name, arguments in calls:
            more = guard_tool_call(scanner, name, arguments, state.allowed_tools)
            found += more
            blocked = blocked or any(f.action is Action.BLOCK for f in more)
        out.append((content, shown, found, blocked))
    return out


async def _guard_answer(
    state: GatewayState, data: JSON, rid: str, who: str, *, unlabeled: bool
) -> None:
    """Scan, mask or replace every choice in place; record the answer and any block."""
    try:
        results = await anyio.to_thread.run_sync(_scan_answer, state, data, limiter=state.limiter)
    except GatewayError:
        raise
    except Exception:
        log.exception("output detector failed")
        raise unavailable(
            "a detector failed; answer withheld (fail closed)", "detector_error"
        ) from None
    _, _, labeler, evidence, _ = state.ready()
    all_found: list[Finding] = []
    any_block = False
    for choice, (received, shown, found, blocked) in zip(data["choices"], results, strict=True):
        message = choice["message"]
        all_found += found
        if blocked:
            any_block = True
            message.pop("tool_calls", None)
            message["content"] = state.config.refusal_text
            choice["finish_reason"] = CONTENT_FILTER
        elif not unlabeled:
            message["content"] = labeler.prefix() + shown + labeler.suffix()
        else:
            message["content"] = shown
        choice["_received"] = received
    sent = [
        {"received": c.pop("_received"), "sent": c["message"]["content"]} for c in data["choices"]
    ]
    await evidence.record(RecordKind.RESPONSE, rid, who, {"choices": sent}, all_found)
    if any_block:
        count_blocks(state, "output", all_found)
        await evidence.record(RecordKind.BLOCK, rid, who, {"direction": "output"}, all_found)
        await output_blocked(state, all_found)


async def _throttle(state: GatewayState, rid: str, who: str, violating: bool) -> None:
    """Count the prompt for the abuse rule; a suspension is recorded and takes effect."""
    if state.control is None:
        return
    info = await state.control.observe(who, violating)
    if info is not None and state.evidence is not None:
        state.metrics.inc("hegui_gateway_suspensions_total")
        content = {"suspended": True, "reason": info.suspended_reason}
        await state.evidence.record(RecordKind.ADMIN, rid, who, content)
