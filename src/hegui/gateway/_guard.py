"""Request parsing and the input guard: every text of every message is scanned.

Texts are message contents (strings or text parts), names, tool-call names and
arguments, and legacy ``function_call`` arguments, for every role. Parts the gateway
cannot read (images, audio) are refused rather than forwarded unchecked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hegui.detect import Action, Finding, Scanner, Severity, apply_actions
from hegui.gateway._config import GatewayLimits
from hegui.gateway._errors import GatewayError, bad_request

JSON = dict[str, Any]


@dataclass(slots=True)
class Slot:
    """One text inside the request body, and where to write its masked form."""

    holder: Any
    key: Any
    where: str

    @property
    def text(self) -> str:
        """The text itself."""
        return str(self.holder[self.key])

    def replace(self, text: str) -> None:
        """Write the masked text back into the body."""
        self.holder[self.key] = text


@dataclass(slots=True)
class InputVerdict:
    """What the input guard found and whether it blocks the request."""

    findings: list[Finding]
    blocked: bool
    texts: list[str]


def parse_body(raw: bytes, limits: GatewayLimits, *, legacy: bool = False) -> JSON:
    """Decode and shape-check a chat (``legacy``: text completion) request; 4xx if wrong."""
    if len(raw) > limits.max_body_bytes:
        raise GatewayError(413, "request body too large", "invalid_request_error", "too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("request body is not valid UTF-8", "invalid_utf8") from None
    try:
        body = json.loads(text)
    except ValueError:
        raise bad_request("request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object", "invalid_json")
    if not isinstance(body.get("stream", False), bool):
        raise bad_request("'stream' must be a boolean", "invalid_stream")
    if legacy:
        _check_prompt(body.get("prompt"), limits)
        return body
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list", "invalid_messages")
    if len(messages) > limits.max_messages:
        raise bad_request(
            f"too many messages ({len(messages)} > {limits.max_messages})", "too_many_messages"
        )
    if not all(isinstance(m, dict) for m in messages):
        raise bad_request("every message must be an object", "invalid_messages")
    return body


def _check_prompt(prompt: Any, limits: GatewayLimits) -> None:
    if isinstance(prompt, str):
        return
    if not isinstance(prompt, list) or not prompt or not all(isinstance(p, str) for p in prompt):
        raise bad_request(
            "'prompt' must be a string or a non-empty list of strings"
            " (token ids cannot be checked)",
            "invalid_prompt",
        )
    if len(prompt) > limits.max_messages:
        raise bad_request(
            f"too many prompts ({len(prompt)} > {limits.max_messages})", "too_many_messages"
        )


def _content_slots(message: JSON, where: str) -> list[Slot]:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return [] if content is None else [Slot(message, "content", where)]
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of parts", "invalid_content")
    slots = []
    for j, part in enumerate(content):
        if (
            isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ):
            slots.append(Slot(part, "text", f"{where}.content[{j}]"))
        else:
            raise bad_request(
                f"{where}.content[{j}]: only text parts can be checked", "unsupported_content"
            )
    return slots


def _call_slots(call: Any, where: str) -> list[Slot]:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict):
        raise bad_request(f"{where}: a tool call needs a 'function' object", "invalid_tool_call")
    return [
        Slot(fn, key, f"{where}.{key}")
        for key in ("name", "arguments")
        if isinstance(fn.get(key), str)
    ]


def text_slots(body: JSON, *, legacy: bool = False) -> list[Slot]:
    """Every text of the request a user or tool could have written."""
    if legacy:
        prompt = body["prompt"]
        if isinstance(prompt, str):
            return [Slot(body, "prompt", "prompt")]
        return [Slot(prompt, i, f"prompt[{i}]") for i in range(len(prompt))]
    slots: list[Slot] = []
    for i, message in enumerate(body["messages"]):
        where = f"messages[{i}]"
        slots += _content_slots(message, where)
        if isinstance(message.get("name"), str):
            slots.append(Slot(message, "name", f"{where}.name"))
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise bad_request(f"{where}.tool_calls must be a list", "invalid_tool_call")
        for k, call in enumerate(calls):
            slots += _call_slots(call, f"{where}.tool_calls[{k}]")
        if message.get("function_call") is not None:
            slots += _call_slots({"function": message["function_call"]}, f"{where}.function_call")
    return slots


def guard_input(scanner: Scanner, body: JSON, legacy: bool = False) -> InputVerdict:
    """Scan every text; apply masks in place; report a block (runs in a worker thread)."""
    findings: list[Finding] = []
    blocked = False
    texts = []
    for slot in text_slots(body, legacy=legacy):
        text = slot.text
        texts.append(text)
        found = scanner.scan(text)
        findings.extend(found)
        if any(f.action is Action.BLOCK for f in found):
            blocked = True
        elif any(f.action is Action.MASK for f in found):
            slot.replace(apply_actions(text, found)[0])
    return InputVerdict(findings, blocked, texts)


def guard_output(scanner: Scanner, text: str) -> tuple[str, list[Finding], bool]:
    """Scan a whole answer: the shown text (masked, cut at a block), findings, blocked."""
    found = scanner.scan(text)
    shown, blocked = apply_actions(text, found)
    return shown, found, blocked


def guard_tool_call(
    scanner: Scanner, name: str, arguments: str, allowed: frozenset[str] | None
) -> list[Finding]:
    """Findings of one tool call the model made.

    The name and arguments are scanned, and a name not on the allowlist (``None``: any
    tool) is a block.
    """
    found = scanner.scan(name) + scanner.scan(arguments)
    if allowed is not None and name not in allowed:
        found.append(
            Finding(
                detector="tools",
                risk="tool",
                start=0,
                end=len(name),
                matched=name,
                term=name,
                action=Action.BLOCK,
                severity=Severity.MEDIUM,
                kind="tool_not_allowed",
            )
        )
    return found


def check_offered_tools(body: JSON, allowed: frozenset[str] | None) -> None:
    """Refuse a request that offers the model a tool outside the allowlist (400)."""
    if allowed is None:
        return
    offered = body.get("tools") or []
    legacy = body.get("functions") or []
    if not isinstance(offered, list) or not isinstance(legacy, list):
        raise bad_request("'tools' and 'functions' must be lists", "invalid_tools")
    names = [
        (t.get("function") or {}).get("name") if isinstance(t, dict) else None for t in offered
    ] + [f.get("name") if isinstance(f, dict) else None for f in legacy]
    for name in names:
        if not isinstance(name, str):
            raise bad_request("every tool needs a function name", "invalid_tools")
        if name not in allowed:
            raise bad_request(f"tool {name!r} is not allowed by the policy", "tool_not_allowed")
