"""Helpers shared by the audit tests (imported by conftest and test modules)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from hegui.audit import LedgerStore, open_store

PG_URL = os.environ.get("HEGUI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HEGUI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def postgres_or_skip() -> str:
    """Return the test database URL; skip when unreachable, fail when ``CI=true``."""
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = f"PostgreSQL not reachable at {PG_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return PG_URL


@dataclass
class StoreHandle:
    """A store under test, its URL and options, and raw SQL access for tampering."""

    name: str
    url: str
    options: dict[str, Any]
    sql: Callable[[str], None]

    def open(self) -> LedgerStore:
        return open_store(self.url, **self.options)


def redis_or_skip() -> str:
    """The test Redis URL; skip when unreachable, fail when ``CI=true``."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL
