"""The abuse throttle: count a principal's violating prompts, say when to suspend.

The pack's rule (``cn``: 3 violating prompts in a row, or 5 within 24 hours) is data.
One process keeps the counts in memory; several replicas share them in Redis
(``HEGUI_REDIS_URL``), so a user cannot spread violations across replicas.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from typing import Any, Protocol

from hegui.policy import AbuseRules

REDIS_URL_ENV = "HEGUI_REDIS_URL"


class AbuseTracker(Protocol):
    """Counts violations per principal."""

    rules: AbuseRules

    async def observe(self, principal: str, violating: bool) -> str | None:
        """Count one prompt; return why to suspend the principal now, or ``None``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _verdict(rules: AbuseRules, run: int, in_window: int) -> str | None:
    if run >= rules.consecutive_violations:
        return f"{run} violating prompts in a row (limit {rules.consecutive_violations})"
    if in_window >= rules.violations_per_window:
        return (
            f"{in_window} violating prompts within {rules.window_hours} h"
            f" (limit {rules.violations_per_window})"
        )
    return None


class MemoryAbuse:
    """Counts in this process only (one replica)."""

    def __init__(self, rules: AbuseRules) -> None:
        self.rules = rules
        self._runs: dict[str, int] = {}
        self._times: dict[str, deque[float]] = {}

    async def observe(self, principal: str, violating: bool) -> str | None:
        """Count one prompt; return why to suspend the principal now, or ``None``."""
        if not violating:
            self._runs.pop(principal, None)
            return None
        now = time.time()
        times = self._times.setdefault(principal, deque())
        times.append(now)
        horizon = now - self.rules.window_hours * 3600
        while times and times[0] <= horizon:
            times.popleft()
        run = self._runs[principal] = self._runs.get(principal, 0) + 1
        reason = _verdict(self.rules, run, len(times))
        if reason is not None:  # suspended: start counting afresh when lifted
            self._runs.pop(principal, None)
            self._times.pop(principal, None)
        return reason

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisAbuse:
    """Counts shared by every replica through Redis (one MULTI per violating prompt)."""

    def __init__(self, rules: AbuseRules, url: str, *, prefix: str = "hegui:abuse:") -> None:
        import redis.asyncio

        self.rules = rules
        self.prefix = prefix
        self.client: Any = redis.asyncio.Redis.from_url(url)

    def _keys(self, principal: str) -> tuple[str, str]:
        tag = hashlib.sha256(principal.encode("utf-8")).hexdigest()[:32]
        return f"{self.prefix}{tag}:run", f"{self.prefix}{tag}:win"

    async def observe(self, principal: str, violating: bool) -> str | None:
        """Count one prompt; return why to suspend the principal now, or ``None``."""
        run_key, window_key = self._keys(principal)
        if not violating:
            await self.client.delete(run_key)
            return None
        now = time.time()
        window = self.rules.window_hours * 3600
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(run_key)
            pipe.expire(run_key, window)
            pipe.zadd(window_key, {f"{now:.6f}:{time.perf_counter_ns()}": now})
            pipe.zremrangebyscore(window_key, "-inf", now - window)
            pipe.zcard(window_key)
            pipe.expire(window_key, window)
            run, _, _, _, in_window, _ = await pipe.execute()
        reason = _verdict(self.rules, int(run), int(in_window))
        if reason is not None:
            await self.client.delete(run_key, window_key)
        return reason

    async def aclose(self) -> None:
        """Close the Redis connection pool."""
        await self.client.aclose()


def abuse_tracker(rules: AbuseRules, redis_url: str | None) -> AbuseTracker:
    """Redis-backed when a URL is given, else in memory."""
    if redis_url:
        return RedisAbuse(rules, redis_url)
    return MemoryAbuse(rules)
