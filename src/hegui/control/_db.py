"""The control database: API keys, suspensions, the kill switch and incidents.

One small set of tables beside the audit ledger: SQLite (``control.db`` in the data
dir, WAL) for one node, PostgreSQL (``HEGUI_DATABASE_URL``) for several replicas. Every
change bumps a generation counter; replicas watch it (PostgreSQL also sends ``NOTIFY``
on the ``hegui_control`` channel) and reload their view of keys and switches.

SQL is written once with ``?`` placeholders and rewritten to ``%s`` for psycopg.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from hegui.audit import resolve_location

CONTROL_DB_FILE = "control.db"
CHANNEL = "hegui_control"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_INIT_LOCK = 0x68656775690C  # advisory lock: one replica creates the tables at a time

# Types spelled so both engines accept them (SQLite maps BIGINT to INTEGER affinity).
_TABLES = """
CREATE TABLE IF NOT EXISTS hegui_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS hegui_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    tenant TEXT NOT NULL,
    verified INTEGER NOT NULL,
    created_us BIGINT NOT NULL,
    revoked_us BIGINT
);
CREATE TABLE IF NOT EXISTS hegui_principals (
    principal TEXT PRIMARY KEY,
    verified INTEGER NOT NULL,
    suspended_us BIGINT,
    suspended_until_us BIGINT,
    suspended_reason TEXT
);
CREATE TABLE IF NOT EXISTS hegui_killswitch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    engaged INTEGER NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    changed_us BIGINT NOT NULL,
    incident_id TEXT
);
CREATE TABLE IF NOT EXISTS hegui_incidents (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    opened_us BIGINT NOT NULL
);
"""
_SEED = "INSERT INTO hegui_generation (id, value) VALUES (1, 0) ON CONFLICT DO NOTHING"


class ControlError(RuntimeError):
    """The control database cannot be opened or used."""


class Cursor(Protocol):
    """What both engines' cursors offer that the control code uses."""

    def fetchall(self) -> list[Any]:
        """All remaining rows."""
        ...


class ControlDB:
    """A thread-safe handle on the control tables (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, schema: str = "public") -> None:
        self.url = url
        self.is_postgres = url.startswith(("postgresql://", "postgres://"))
        self.schema = schema
        self._lock = threading.RLock()
        if self.is_postgres:
            if not _SCHEMA_NAME.match(schema):
                raise ControlError(f"schema {schema!r} is not a plain lower-case SQL name")
            self._conn: Any = self._connect_pg()
        else:
            self._conn = self._connect_sqlite(Path(url))

    @classmethod
    def open(
        cls, db_url: str | None = None, data_dir: Path | None = None, *, schema: str = "public"
    ) -> ControlDB:
        """The control DB beside the ledger: PostgreSQL by URL, else ``control.db``."""
        url, directory = resolve_location(db_url, data_dir)
        if not url.startswith(("postgresql://", "postgres://")):
            url = str(directory / CONTROL_DB_FILE)
        return cls(url, schema=schema)

    def _connect_sqlite(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(_TABLES)
            conn.execute(_SEED)
        except (OSError, sqlite3.Error) as exc:
            raise ControlError(f"cannot open the control database {path}: {exc}") from exc
        return conn

    def _connect_pg(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                conn.execute(f"SET search_path TO {self.schema}")
                for statement in _TABLES.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(_SEED)
        except psycopg.Error as exc:  # the URL may hold a password: name the type only
            raise ControlError(
                f"cannot open the control database on PostgreSQL ({type(exc).__name__})"
            ) from None
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.is_postgres else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return its rows."""
        with self._lock:
            cursor: Any = self._conn.execute(self._sql(sql), tuple(params))
            return [tuple(row) for row in cursor.fetchall()]

    @contextmanager
    def change(self, note: str = "") -> Iterator[ControlDB]:
        """A write transaction that bumps the generation and notifies the replicas."""
        with self._lock:
            if self.is_postgres:
                with self._conn.transaction():
                    yield self
                    self._conn.execute("UPDATE hegui_generation SET value = value + 1")
                    self._conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, note[:200]))
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
                self._conn.execute("UPDATE hegui_generation SET value = value + 1")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement (inside ``change()``) and return the rows it touched."""
        with self._lock:
            cursor = self._conn.execute(self._sql(sql), tuple(params))
            return int(cursor.rowcount)

    def generation(self) -> int:
        """The change counter (any replica's change raises it)."""
        return int(self.rows("SELECT value FROM hegui_generation WHERE id = 1")[0][0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
