"""The abuse throttle: the pack's rule, in memory and shared through Redis."""

from __future__ import annotations

import uuid

import pytest
from audit_support import redis_or_skip

from hegui.control import AbuseTracker, MemoryAbuse, RedisAbuse
from hegui.policy import AbuseRules, load_policy

RULES = load_policy("cn").abuse
assert RULES is not None


async def _feed(tracker: AbuseTracker, who: str, pattern: str) -> list[str | None]:
    return [await tracker.observe(who, mark == "x") for mark in pattern]


@pytest.mark.anyio
async def test_consecutive_violations_suspend_on_the_third() -> None:
    verdicts = await _feed(MemoryAbuse(RULES), "u", "xxx")
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None and "in a row" in verdicts[2]


@pytest.mark.anyio
async def test_a_clean_prompt_breaks_the_run_but_the_window_still_counts() -> None:
    tracker = MemoryAbuse(RULES)
    verdicts = await _feed(tracker, "u", "xx.xx.x")
    assert verdicts[:-1] == [None] * 6
    assert verdicts[-1] is not None and "within 24 h" in verdicts[-1]


@pytest.mark.anyio
async def test_principals_are_counted_apart_and_counting_restarts_after_suspension() -> None:
    tracker = MemoryAbuse(RULES)
    assert await _feed(tracker, "a", "xx") == [None, None]
    assert await _feed(tracker, "b", "xx") == [None, None]
    assert (await _feed(tracker, "a", "x"))[0] is not None
    assert await _feed(tracker, "a", "xx") == [None, None]


@pytest.mark.anyio
async def test_rules_are_policy_data() -> None:
    rules = AbuseRules(
        consecutive_violations=1, violations_per_window=9, window_hours=1, suspension_hours=1
    )
    assert (await _feed(MemoryAbuse(rules), "u", "x"))[0] is not None


@pytest.mark.anyio
async def test_redis_counts_are_shared_by_replicas() -> None:
    url = redis_or_skip()
    prefix = f"hegui:test:{uuid.uuid4().hex}:"
    one, two = RedisAbuse(RULES, url, prefix=prefix), RedisAbuse(RULES, url, prefix=prefix)
    try:
        assert await one.observe("u", True) is None
        assert await two.observe("u", True) is None
        third = await one.observe("u", True)
        assert third is not None and "3 violating prompts in a row" in third
        verdicts = [await t.observe("v", m) for t, m in [(one, True), (two, False)] * 2]
        assert verdicts == [None] * 4  # clean prompts on the other replica break the run
    finally:
        await one.client.delete(*[k async for k in one.client.scan_iter(prefix + "*")])
        await one.aclose()
        await two.aclose()
