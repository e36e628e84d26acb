"""PostgreSQL ledger store (psycopg 3 + psycopg_pool): several processes, one tree.

Each write transaction first takes ``SELECT ... FOR UPDATE`` on the single state row,
so index assignment is serialised across every process and connection; leaves, the
signed head and the new state commit together or not at all. Leaves go in with COPY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from hegui.audit._errors import AuditError
from hegui.audit._sql import HEAD_COLUMNS, LEAF_COLUMNS, SqlReads, leaf_row
from hegui.audit._store import register_store
from hegui.audit._types import LeafRow, NewLeaf, SignedTreeHead, to_us

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_leaves (
    idx BIGINT PRIMARY KEY,
    leaf_hash BYTEA NOT NULL,
    data BYTEA,
    kind TEXT NOT NULL,
    time_us BIGINT NOT NULL,
    request_id TEXT,
    purged_us BIGINT
);
CREATE INDEX IF NOT EXISTS audit_leaves_time ON audit_leaves (time_us);
CREATE TABLE IF NOT EXISTS audit_heads (
    tree_size BIGINT PRIMARY KEY,
    root_hash BYTEA NOT NULL,
    timestamp_us BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    scheme TEXT NOT NULL,
    signature BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_state (
    id INT PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL,
    frontier BYTEA NOT NULL
);
INSERT INTO audit_state (id, tree_size, frontier) VALUES (1, 0, '') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS audit_holds (
    idx BIGINT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_us BIGINT NOT NULL
);
"""
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CHUNK = 10_000
_INIT_LOCK = 0x6865677569  # advisory lock key for concurrent schema creation


_WRITE = f"""
WITH leaves AS (
    INSERT INTO audit_leaves ({LEAF_COLUMNS})
    SELECT * FROM unnest(%b::bigint[], %b::bytea[], %b::bytea[], %b::text[], %b::bigint[],
                         %b::text[])
), head AS (
    INSERT INTO audit_heads ({HEAD_COLUMNS}) VALUES (%b, %b, %b, %b, %b, %b)
)
UPDATE audit_state SET tree_size = %b, frontier = %b WHERE id = 1
"""
"""Leaves, head and state in one statement (binary parameters): one round trip."""


class _PostgresWriter:
    """Collects the batch; ``flush`` writes it as one statement, pipelined with COMMIT.

    Round trips while the state row is locked are what limit several processes sharing
    one tree (and each one waits for this process's GIL): the lock is taken by the
    ``SELECT ... FOR UPDATE`` round trip, and the write and the commit share the next.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._leaves: Sequence[NewLeaf] = ()
        self._head: tuple[Any, ...] | None = None
        self._state: tuple[int, bytes] | None = None

    def state(self) -> tuple[int, bytes]:
        row = self._conn.execute(
            "SELECT tree_size, frontier FROM audit_state WHERE id = 1 FOR UPDATE"
        ).fetchone()
        if row is None:
            raise AuditError("the audit_state row is missing")
        return int(row[0]), bytes(row[1])

    def insert_leaves(self, rows: Sequence[NewLeaf]) -> None:
        self._leaves = rows

    def insert_head(self, head: SignedTreeHead) -> None:
        self._head = (
            head.tree_size,
            head.root_hash,
            to_us(head.timestamp),
            head.key_id,
            head.scheme,
            head.signature,
        )

    def set_state(self, size: int, frontier: bytes) -> None:
        self._state = (size, frontier)

    def flush(self) -> None:
        """Write the collected leaves, head and state (inside the open transaction)."""
        if self._head is None or self._state is None:
            raise AuditError("a ledger write needs its signed head and new state")
        columns: list[list[Any]] = [list(column) for column in zip(*self._leaves, strict=True)]
        if not columns:
            columns = [[] for _ in range(6)]
        self._conn.execute(_WRITE, (*columns, *self._head, *self._state))


class PostgresStore(SqlReads):
    PARAM = "%s"

    """Ledger tables in one PostgreSQL schema."""

    def __init__(self, url: str, *, schema: str = "public", pool_size: int = 4) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise AuditError(f"schema {schema!r} is not a plain lower-case SQL name")
        self.url, self.schema = url, schema
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (_INIT_LOCK,))
                try:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    conn.execute(f"SET search_path TO {schema}")
                    conn.execute(_SCHEMA)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_INIT_LOCK,))
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"options": f"-c search_path={schema}"},
                open=True,
            )
        except psycopg.Error as exc:
            raise AuditError(f"cannot open the audit ledger at {url}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[_PostgresWriter]:
        """One transaction holding the state row lock; commits on exit.

        Pipeline mode: ``BEGIN`` goes with the locking ``SELECT``, and the single write
        statement with ``COMMIT``, so the lock is held for one round trip after it is
        granted. An error anywhere rolls the whole transaction back.
        """
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            writer = _PostgresWriter(conn)
            yield writer
            writer.flush()

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn:
            yield conn

    def iter_leaves(self, start: int = 0, end: int | None = None) -> Iterator[LeafRow]:
        """Yield stored leaves in index order (server-side cursor)."""
        stop = end if end is not None else 2**62
        with (
            self._read() as conn,
            conn.transaction(),
            conn.cursor(name="hegui_audit_leaves") as cursor,
        ):
            cursor.itersize = _CHUNK
            cursor.execute(
                f"SELECT {LEAF_COLUMNS} FROM audit_leaves WHERE idx >= %s AND idx < %s"
                " ORDER BY idx",
                (start, stop),
            )
            for row in cursor:
                yield leaf_row(row)

    def leaf_chunks(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[list[tuple[int, bytes, bytes | None]]]:
        """Yield raw ``(index, leaf_hash, data)`` rows in index order, in chunks.

        A server-side cursor in binary format: bytea arrives as bytes, not hex text.
        """
        stop = end if end is not None else 2**62
        with (
            self._read() as conn,
            conn.transaction(),
            conn.cursor(name="hegui_audit_chunks", binary=True) as cursor,
        ):
            cursor.execute(
                "SELECT idx, leaf_hash, data FROM audit_leaves WHERE idx >= %s AND idx < %s"
                " ORDER BY idx",
                (start, stop),
            )
            while rows := cursor.fetchmany(_CHUNK):
                yield rows

    def leaf_hashes(self, start: int, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(index, leaf_hash)`` in index order."""
        stop = end if end is not None else 2**62
        with (
            self._read() as conn,
            conn.transaction(),
            conn.cursor(name="hegui_audit_hashes") as cursor,
        ):
            cursor.itersize = _CHUNK
            cursor.execute(
                "SELECT idx, leaf_hash FROM audit_leaves WHERE idx >= %s AND idx < %s ORDER BY idx",
                (start, stop),
            )
            for row in cursor:
                yield row[0], bytes(row[1])

    def leaf(self, index: int) -> LeafRow | None:
        """Return one leaf."""
        with self._read() as conn:
            sql = f"SELECT {LEAF_COLUMNS} FROM audit_leaves WHERE idx = %s"
            row = conn.execute(sql, (index,)).fetchone()
        return None if row is None else leaf_row(row)

    def purge(self, indices: Sequence[int], purged_us: int) -> int:
        """Drop data of unheld leaves, keeping their hashes."""
        with self._read() as conn, conn.transaction():
            cursor = conn.execute(
                "UPDATE audit_leaves SET data = NULL, purged_us = %s WHERE idx = ANY(%s)"
                " AND data IS NOT NULL AND idx NOT IN (SELECT idx FROM audit_holds)",
                (purged_us, list(indices)),
            )
            return cursor.rowcount

    def hold(self, indices: Sequence[int], reason: str, at_us: int) -> None:
        """Put records under legal hold."""
        with self._read() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO audit_holds (idx, reason, created_us) VALUES (%s, %s, %s)"
                " ON CONFLICT (idx) DO UPDATE SET reason = EXCLUDED.reason",
                [(index, reason, at_us) for index in indices],
            )

    def release(self, indices: Sequence[int]) -> None:
        """Lift legal holds."""
        with self._read() as conn, conn.transaction():
            conn.execute("DELETE FROM audit_holds WHERE idx = ANY(%s)", (list(indices),))

    def counts(self) -> dict[str, int]:
        """Return row, purge, hold and head counts and the time range."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT count(*), count(*) - count(data), min(time_us), max(time_us)"
                " FROM audit_leaves"
            ).fetchone()
            held = conn.execute("SELECT count(*) FROM audit_holds").fetchone()
            heads = conn.execute("SELECT count(*) FROM audit_heads").fetchone()
        assert row is not None and held is not None and heads is not None
        out = {"rows": row[0], "purged": row[1], "held": held[0], "heads": heads[0]}
        if row[2] is not None:
            out |= {"oldest_us": row[2], "newest_us": row[3]}
        return out

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()


@register_store("postgresql", schemes=("postgresql", "postgres"))
def open_postgres(url: str, **options: Any) -> PostgresStore:
    """Open ``postgresql://...``; ``schema=`` keeps separate ledgers in one database."""
    return PostgresStore(url, **options)
