"""Fixtures: a keyring, and a ledger over every registered store (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from audit_support import PG_URL, StoreHandle, postgres_or_skip

from hegui.audit import Keyring, Ledger, SigningKey, store_names


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({}, SigningKey.generate("ed25519"))


def _sqlite_handle(tmp_path: Path) -> StoreHandle:
    import sqlite3

    path = tmp_path / "audit.db"

    def run(statement: str) -> None:
        with sqlite3.connect(path, isolation_level=None) as conn:
            conn.executescript(statement)

    return StoreHandle("sqlite", str(path), {}, run)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    url = postgres_or_skip()
    schema = f"hegui_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _postgres_handle(schema: str) -> StoreHandle:
    def run(statement: str) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {schema}")
            conn.execute(statement)

    return StoreHandle("postgresql", PG_URL, {"schema": schema}, run)


@pytest.fixture(params=store_names())
def handle(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHandle:
    """Every registered store; the contract suite runs once per store."""
    name = request.param
    if name == "sqlite":
        return _sqlite_handle(tmp_path)
    if name == "postgresql":
        return _postgres_handle(request.getfixturevalue("pg_schema"))
    pytest.fail(f"store {name!r} is registered but has no test fixture; add one here")


@pytest.fixture
def ledger(handle: StoreHandle, keyring: Keyring) -> Iterator[Ledger]:
    with Ledger(handle.open(), keyring) as opened:
        yield opened
