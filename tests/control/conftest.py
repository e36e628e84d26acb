"""Fixtures: a control database on SQLite and on PostgreSQL, and a signing ledger."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "audit"))

from audit_support import PG_URL, postgres_or_skip  # noqa: E402

from hegui.audit import Keyring, Ledger, SigningKey, open_store, write_key  # noqa: E402
from hegui.control import ControlDB  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControlDB]:
    """A fresh control database of each engine (PostgreSQL in its own schema)."""
    if request.param == "sqlite":
        handle = ControlDB.open(None, tmp_path)
        yield handle
        handle.close()
        return
    postgres_or_skip()
    schema = f"hegui_ctl_{uuid.uuid4().hex[:12]}"
    handle = ControlDB(PG_URL, schema=schema)
    yield handle
    handle.close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A SQLite ledger with an Ed25519 signing key."""
    write_key(SigningKey.generate("ed25519"), tmp_path / "keys")
    keyring = Keyring.load(tmp_path / "keys")
    with Ledger(open_store(str(tmp_path / "audit.db")), keyring) as handle:
        yield handle
