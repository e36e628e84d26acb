"""Targets: the model under assessment, behind one async ``generate(messages)``.

``openai:URL`` (any OpenAI-compatible endpoint; ``#model`` after the URL names the
model, the key comes from ``OPENAI_API_KEY`` or ``HEGUI_TARGET_KEY``), ``gateway:URL``
(the same protocol through a hegui gateway, so the assessment sees what users see),
``local:smollm2`` and ``hf:PATH`` (an in-process model, see ``_local``), and
``python:module:function`` (a function taking the chat messages and returning text,
sync or async). Errors and timeouts come back as a reply with ``error`` set; the runner
counts them apart, never as passes.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

Messages = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class Reply:
    """What a target answered, or why it did not."""

    text: str
    error: str | None = None
    latency_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


class Target(Protocol):
    """The model under assessment."""

    name: str

    async def generate(self, messages: Messages) -> Reply:
        """Answer one conversation."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """How hard to push a target."""

    concurrency: int = 8
    rpm: float | None = None  # requests per minute, None for no limit
    retries: int = 3
    timeout_s: float = 60.0
    max_tokens: int = 512
    temperature: float = 0.0


class _RateLimiter:
    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class OpenAITarget:
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint, over one aiohttp session.

    aiohttp, not httpx: at 64 concurrent requests against a local server httpx's pool
    managed 78 requests/s where aiohttp managed 3,400 (bench/assess.py's upstream).
    """

    def __init__(self, base_url: str, model: str, limits: Limits, label: str = "openai") -> None:
        self.name = f"{label}:{base_url}#{model}"
        self.model = model
        self.limits = limits
        key = os.environ.get("HEGUI_TARGET_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        root = base_url.rstrip("/")
        self.url = (root if root.endswith("/v1") else root + "/v1") + "/chat/completions"
        self.session: aiohttp.ClientSession | None = None
        self.gate = asyncio.Semaphore(limits.concurrency)
        self.rate = _RateLimiter(limits.rpm)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:  # created inside the running event loop
            self.session = aiohttp.ClientSession(
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.limits.timeout_s),
                connector=aiohttp.TCPConnector(limit=self.limits.concurrency),
            )
        return self.session

    async def generate(self, messages: Messages) -> Reply:
        """POST the conversation; retry 429, 5xx and network errors with backoff."""
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.limits.max_tokens,
            "temperature": self.limits.temperature,
        }
        last = "no attempt"
        async with self.gate:
            for attempt in range(self.limits.retries + 1):
                await self.rate.wait()
                start = time.perf_counter()
                try:
                    async with self._session().post(self.url, json=body) as resp:
                        raw = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                else:
                    took = time.perf_counter() - start
                    if status == 200:
                        return _parse(raw, took)
                    refused = _content_filter(raw, took)
                    if refused is not None:  # the service (a gateway) refused the prompt
                        return refused
                    last = f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"
                    if status not in (408, 409, 429) and status < 500:
                        break
                if attempt < self.limits.retries:
                    await asyncio.sleep(min(8.0, 0.25 * 2**attempt) * (0.5 + random.random()))
        return Reply("", error=last)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self.session is not None:
            await self.session.close()
            self.session = None


def _parse(raw: bytes, took: float) -> Reply:
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return Reply("", error=f"malformed response: {exc!r}", latency_s=took)
    meta = {"finish_reason": choice.get("finish_reason")}
    if "aigc" in data:
        meta["aigc"] = data["aigc"]
    return Reply(str(text), latency_s=took, meta=meta)


def _content_filter(raw: bytes, took: float) -> Reply | None:
    """An OpenAI-style ``content_filter`` error is the service's refusal, not a failure."""
    try:
        error = json.loads(raw)["error"]
        if error.get("type") != "content_filter":
            return None
        message = str(error.get("message") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Reply(message, latency_s=took, meta={"finish_reason": "content_filter"})


class PythonTarget:
    """A Python function ``f(messages) -> str`` (sync or async) as the model."""

    def __init__(self, spec: str, limits: Limits) -> None:
        module, _, func = spec.rpartition(":")
        if not module or not func:
            raise ValueError(f"python target needs 'module:function', got {spec!r}")
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load python target {spec!r}: {exc}") from None
        self.name = f"python:{spec}"
        self.fn: Callable[[Messages], str | Awaitable[str]] = fn
        self.gate = asyncio.Semaphore(limits.concurrency)
        self.timeout = limits.timeout_s

    async def generate(self, messages: Messages) -> Reply:
        """Call the function (in a worker thread when it is synchronous)."""
        start = time.perf_counter()
        async with self.gate:
            try:
                if inspect.iscoroutinefunction(self.fn):
                    out = await asyncio.wait_for(self.fn(messages), self.timeout)
                else:
                    out = await asyncio.wait_for(asyncio.to_thread(self.fn, messages), self.timeout)
            except TimeoutError:
                return Reply("", error=f"timeout after {self.timeout} s")
            except Exception as exc:  # the target's own failure is data, not a crash
                return Reply("", error=f"{type(exc).__name__}: {exc}")
        return Reply(str(out), latency_s=time.perf_counter() - start)

    async def aclose(self) -> None:
        """Nothing to release."""


def open_target(spec: str, limits: Limits = Limits()) -> Target:  # noqa: B008 - frozen value
    """Build a target from ``scheme:rest`` (openai, gateway, python)."""
    scheme, _, rest = spec.partition(":")
    if scheme in ("openai", "gateway"):
        url, _, model = rest.partition("#")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{scheme} target needs a URL, got {rest!r}")
        return OpenAITarget(url, model or "default", limits, scheme)
    if scheme == "python":
        return PythonTarget(rest, limits)
    if scheme in ("local", "hf"):
        from hegui.assess._local import LocalTarget

        return LocalTarget(spec, limits)
    raise ValueError(
        f"unknown target scheme {scheme!r} in {spec!r} (openai, gateway, python, local, hf)"
    )
